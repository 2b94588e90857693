//! Focus (`--from`/`--until`, `--quiet`) and the terminal (width, colour,
//! unbroken filters), end to end through the binary on the recordings.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use serde_json::Value;

const DIR: &str = "testdata/mtu-blackhole";

/// Timestamps (ns) of a classic pcap's records, read here from the bytes
/// (independently of wgtrace's reader), frame 1 first.
fn pcap_times(path: &str) -> Vec<i64> {
    let b = std::fs::read(path).unwrap();
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let nsec = match magic {
        0xa1b2_c3d4 => false,
        0xa1b2_3c4d => true,
        m => panic!("{path}: not a little-endian pcap ({m:#x})"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let u = |o: usize| {
            i64::from(u32::from_le_bytes(
                b[at + o..at + o + 4].try_into().unwrap(),
            ))
        };
        let frac = if nsec { u(4) } else { u(4) * 1000 };
        out.push(u(0) * 1_000_000_000 + frac);
        at += 16 + u(8) as usize;
    }
    out
}

/// Frames of the tshark TSV beside a capture whose UDP length is at least `min`.
fn big_frames(path: &str, min: u32) -> Vec<usize> {
    let tsv = std::fs::read_to_string(format!("{path}.tshark.tsv")).unwrap();
    let mut lines = tsv.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (frame, udp) = (col("frame.number"), col("udp.length"));
    lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[udp].parse::<u32>().is_ok_and(|u| u >= min))
        .map(|f| f[frame].parse().unwrap())
        .collect()
}

fn wgtrace() -> Command {
    let mut c = Command::cargo_bin("wgtrace").unwrap();
    c.env_remove("NO_COLOR").env_remove("COLUMNS");
    c
}

fn json(args: &[&str]) -> (Value, i32) {
    let out = wgtrace()
        .arg("analyze")
        .args(args)
        .args(["-f", "json"])
        .output()
        .unwrap();
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn a_window_before_the_lossy_part_has_no_missing_packets() {
    let (vps, laptop) = (format!("{DIR}/vps.pcap"), format!("{DIR}/laptop.pcap"));
    let (tv, tl) = (pcap_times(&vps), pcap_times(&laptop));
    let start = tv[0].min(tl[0]);
    // The big packets (UDP 1448+ bytes: the lost sizes, from tshark's view).
    let big: Vec<i64> = big_frames(&vps, 1448)
        .iter()
        .map(|f| tv[f - 1])
        .chain(big_frames(&laptop, 1448).iter().map(|f| tl[f - 1]))
        .collect();
    assert_eq!(big.len(), 20, "17 + 3 big packets sent");
    let first_big = *big.iter().min().unwrap();
    let until_ms = (first_big - start - 1_000_000) / 1_000_000;
    let until_arg = format!("{}.{:03}", until_ms / 1000, until_ms % 1000);
    let (whole, code) = json(&[&vps, &laptop]);
    assert_eq!(code, 1);
    let missing = |v: &Value| -> u64 {
        v["directions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["missing"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(missing(&whole), 20);
    let (cut, code) = json(&[&vps, &laptop, "--until", &until_arg]);
    let until_ns = start + until_ms * 1_000_000;
    assert_eq!(cut["focus"]["until_ns"], until_ns);
    assert_eq!(cut["focus"]["reference_ns"], start);
    // Kept: the frames at or before the bound, counted from the bytes.
    for (i, t) in [&tv, &tl].iter().enumerate() {
        let n = t.iter().filter(|ts| **ts <= until_ns).count() as u64;
        assert_eq!(cut["focus"]["packets"][i]["kept"], n);
        assert_eq!(cut["focus"]["packets"][i]["read"], t.len() as u64);
    }
    let in_window = big.iter().filter(|t| **t <= until_ns).count() as u64;
    assert_eq!(missing(&cut), in_window);
    assert_eq!(in_window, 0);
    assert_eq!(cut["verdict"], "healthy", "{}", cut["headline"]);
    assert_eq!(code, 0);

    // From just before the first big packet: the lossy part, all of it lost.
    let from = until_arg.clone();
    let (late, code) = json(&[&vps, &laptop, "--from", &from]);
    assert_eq!(code, 1);
    // The big packets sent before the receiver's first kept packet count
    // as outside the window, not as lost.
    let outside: u64 = late["directions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outside_window"].as_u64().unwrap())
        .sum();
    assert!(
        missing(&late) <= 20 && missing(&late) + outside >= 20,
        "{late}"
    );
    assert_eq!(late["findings"][0]["kind"], "mtu_blackhole");
    let html = wgtrace()
        .args(["analyze", "-f", "html", &vps, &laptop, "--from", &from])
        .output()
        .unwrap();
    assert!(String::from_utf8(html.stdout).unwrap().contains(
        "<p id=\"focus\" class=\"focus\">focus (--from/--until): only packets from 2026-11-22"
    ));
    let out = wgtrace()
        .args(["analyze", &vps, &laptop, "--from", &from])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("focus (--from/--until): only packets from 2026-11-22"),
        "{text}"
    );
}

#[test]
fn rfc3339_bounds_and_bad_values() {
    let (vps, laptop) = (format!("{DIR}/vps.pcap"), format!("{DIR}/laptop.pcap"));
    // The whole recording is inside this window: the report is the full one.
    let (v, code) = json(&[
        &vps,
        &laptop,
        "--from",
        "2026-11-22T03:43:00Z",
        "--until",
        "2026-11-22T04:43:59+01:00",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        v["focus"]["packets"][0]["kept"],
        v["focus"]["packets"][0]["read"]
    );
    for bad in [
        vec!["--from", "yesterday"],
        vec!["--until", "2026-11-22T03:43:00"],
        vec!["--from", "10", "--until", "5"],
        vec!["--from", "-3"],
        // Mixed forms, told only once read: nothing is left.
        vec!["--from", "2030-01-01T00:00:00Z", "--until", "5"],
    ] {
        let out = wgtrace()
            .args(["analyze", &vps, &laptop])
            .args(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn window_combines_with_the_tunnel_selection() {
    let d = "testdata/two-tunnels";
    let (a, b) = (format!("{d}/vps.pcap"), format!("{d}/laptop.pcap"));
    let (all, _) = json(&[&a, &b, "--tunnel", "1"]);
    let (cut, _) = json(&[&a, &b, "--tunnel", "1", "--until", "5"]);
    assert_eq!(cut["selection"], "--tunnel 1");
    assert!(cut["focus"].is_object());
    let sent = |v: &Value| {
        v["directions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["sent"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert!(sent(&all) > 0);
    assert!(sent(&cut) < sent(&all), "{} vs {}", sent(&cut), sent(&all));
}

#[test]
fn quiet_is_one_line_with_the_full_reports_exit_code() {
    for (dir, expect) in [
        ("mtu-blackhole", "problems: "),
        ("healthy", "healthy"),
        ("hairpin-nat", "problems: "),
        ("random-loss", "problems: "),
    ] {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("testdata/{dir}/truth.json")).unwrap(),
        )
        .unwrap();
        let mut caps: Vec<String> = std::fs::read_dir(format!("testdata/{dir}"))
            .unwrap()
            .flatten()
            .map(|e| e.path().display().to_string())
            .filter(|p| p.ends_with(".pcap") && !p.contains("router"))
            .collect();
        caps.sort();
        let full = wgtrace().arg("analyze").args(&caps).output().unwrap();
        let quiet = wgtrace()
            .args(["analyze", "-q"])
            .args(&caps)
            .output()
            .unwrap();
        assert_eq!(quiet.status.code(), full.status.code(), "{dir}");
        let line = String::from_utf8(quiet.stdout).unwrap();
        assert_eq!(line.lines().count(), 1, "{dir}: {line}");
        assert!(line.starts_with(expect), "{dir}: {line}");
        // The truth's expected kinds are named.
        let kinds: Vec<String> = truth["expected"]["findings"]
            .as_array()
            .or_else(|| truth["expected_findings"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().or_else(|| k["kind"].as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for k in kinds.iter().filter(|k| {
            ![
                "healthy",
                "nat_rewrite",
                "sender_df",
                "largest_packets",
                "other_peers",
            ]
            .contains(&k.as_str())
        }) {
            assert!(line.contains(k.as_str()), "{dir}: {k} missing from {line}");
        }
    }
    let out = wgtrace()
        .args([
            "analyze",
            "-q",
            &format!("{DIR}/vps.pcap"),
            &format!("{DIR}/laptop.pcap"),
        ])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("mtu_blackhole vps.pcap→laptop.pcap"),
        "{line}"
    );
    assert!(line.trim_end().ends_with("; set MTU = 1392"), "{line}");
    let out = wgtrace()
        .args([
            "analyze",
            "-q",
            "testdata/healthy/vps.pcap",
            &format!("{DIR}/laptop.pcap"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "inconclusive: captures_disjoint\n"
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn filters_names_and_addresses_never_break() {
    for dir in [
        "mtu-blackhole",
        "hairpin-nat",
        "two-tunnels",
        "nat-rewrite",
        "ipv6-underlay",
    ] {
        let mut caps: Vec<String> = std::fs::read_dir(format!("testdata/{dir}"))
            .unwrap()
            .flatten()
            .map(|e| e.path().display().to_string())
            .filter(|p| p.ends_with(".pcap") && !p.contains("wg0") && !p.contains("router"))
            .collect();
        caps.sort();
        let refs: Vec<&str> = caps.iter().map(String::as_str).collect();
        let (v, _) = json(&refs);
        let mut tokens: Vec<String> = Vec::new();
        for f in v["findings"].as_array().unwrap() {
            tokens.push(f["kind"].as_str().unwrap().to_string());
            for fr in f["frames"].as_array().unwrap() {
                if let Some(x) = fr["filter"].as_str() {
                    tokens.push(x.to_string());
                }
            }
        }
        for m in v["nat"].as_array().unwrap() {
            for k in ["sent_src", "sent_dst", "recv_src", "recv_dst"] {
                tokens.push(m[k].as_str().unwrap().to_string());
            }
        }
        assert!(
            tokens.iter().any(|t| t.starts_with("frame.number in")),
            "{dir}"
        );
        for width in ["60", "80", "120"] {
            let out = wgtrace()
                .env("COLUMNS", width)
                .arg("analyze")
                .args(&caps)
                .output()
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            for t in &tokens {
                assert!(
                    text.lines().any(|l| l.contains(t.as_str())),
                    "{dir} at {width} columns: {t:?} broken or missing in\n{text}"
                );
            }
            let widest = text
                .lines()
                .filter(|l| l.starts_with('┌') || l.starts_with('│'))
                .map(|l| l.chars().count())
                .max()
                .unwrap();
            assert!(
                widest <= width.parse().unwrap(),
                "{dir}: tables wider than {width}"
            );
        }
    }
}

#[test]
fn colour_on_request_and_never_in_json_or_markdown() {
    let caps = [format!("{DIR}/vps.pcap"), format!("{DIR}/laptop.pcap")];
    let run = |args: &[&str], no_color: Option<&str>| {
        let mut c = wgtrace();
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.args(args).arg("analyze").args(&caps).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let always = run(&["--color", "always"], None);
    assert!(always.starts_with("\x1b[1;31mPROBLEMS\x1b[0m"), "{always}");
    assert!(always.contains("\x1b["));
    // Red error cells in the findings table.
    assert!(
        always
            .lines()
            .any(|l| l.contains("error") && l.contains("\x1b[")),
        "{always}"
    );
    assert!(!run(&["--color", "never"], None).contains('\x1b'));
    // Piped (auto) and NO_COLOR: none.
    assert!(!run(&[], None).contains('\x1b'));
    assert!(!run(&["--color", "auto"], Some("1")).contains('\x1b'));
    for f in ["json", "markdown", "html"] {
        let out = wgtrace()
            .args(["--color", "always", "analyze", "-f", f])
            .args(&caps)
            .output()
            .unwrap();
        assert!(!out.stdout.contains(&0x1b), "{f} has colour codes");
    }
    let healthy = wgtrace()
        .args([
            "--color",
            "always",
            "analyze",
            "testdata/healthy/vps.pcap",
            "testdata/healthy/laptop.pcap",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8(healthy.stdout)
        .unwrap()
        .starts_with("\x1b[1;32mHEALTHY"));
}

/// With two tunnels, the quiet line sets the MTU on the one the truth says
/// does not fit the path, and names no other.
#[test]
fn quiet_names_the_tunnel_to_fix() {
    let d = "testdata/two-tunnels";
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{d}/truth.json")).unwrap()).unwrap();
    let out = wgtrace()
        .args([
            "analyze",
            "-q",
            &format!("{d}/vps.pcap"),
            &format!("{d}/laptop.pcap"),
        ])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let tunnels = truth["configured"]["tunnels"].as_object().unwrap();
    for t in tunnels.values() {
        let vps = t["endpoints"]["vps"].as_str().unwrap();
        let named = line.contains("on tunnel") && line.contains(vps);
        let broken = !t["fits_path"].as_bool().unwrap();
        assert_eq!(named, broken, "{vps}: {line}");
    }
    assert_eq!(line.matches("set MTU = ").count(), 1, "{line}");
}
