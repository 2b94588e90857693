//! `wgtrace analyze` on the real two-ended captures in `testdata/` (recorded by
//! `testdata/record.sh`), checked against each scenario's `truth.json`; and the
//! command line (exit codes, formats). Tests that need testdata fail when it
//! is not there.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use wgtrace::capture::Input;
use wgtrace::correlate::{correlate, Correlation};
use wgtrace::decode::decode_capture;
use wgtrace::diagnose::{diagnose_pair, Capture, Finding, Severity};
use wgtrace::flow::facts;

fn testdata() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    // Committed with the crate: without it these tests would pass vacuously.
    assert!(d.is_dir(), "{} is missing", d.display());
    d
}

/// A scenario with its truth and the two tunnel ends' captures (host, file).
struct Scenario {
    name: String,
    truth: Value,
    ends: Vec<(String, PathBuf)>,
}

fn scenarios(root: &Path) -> Vec<Scenario> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for d in dirs {
        let Ok(text) = std::fs::read_to_string(d.join("truth.json")) else {
            continue;
        };
        let truth: Value = serde_json::from_str(&text).expect("truth.json parses");
        // The tunnel's ends: captures of hosts that run WireGuard, on the outer
        // interface (not a RAW wg0 capture of inner packets).
        let mut ends = Vec::new();
        if let Some(caps) = truth["captures"].as_object() {
            for c in caps.values() {
                if c["wg_listen_port"].is_null() || c["link_type"] == "RAW" {
                    continue;
                }
                let host = c["host"].as_str().unwrap_or_default().to_string();
                let file = d.join(c["file"].as_str().unwrap_or_default());
                ends.push((host, file));
            }
        }
        if ends.len() == 2 {
            out.push(Scenario {
                name: d.file_name().unwrap_or_default().to_string_lossy().into(),
                truth,
                ends,
            });
        }
    }
    out
}

fn analyze(s: &Scenario) -> (Correlation, Vec<Finding>) {
    let a = decode_capture(Input::open(&s.ends[0].1).expect("open")).expect("decode");
    let b = decode_capture(Input::open(&s.ends[1].1).expect("open")).expect("decode");
    let (fa, fb) = (facts(&a), facts(&b));
    let (na, nb) = (
        wgtrace::correlate::file_name(&a),
        wgtrace::correlate::file_name(&b),
    );
    let c = correlate(&a, &b);
    let f = diagnose_pair(
        [
            Capture {
                side: wgtrace::correlate::Side::A,
                name: &na,
                cap: &a,
                facts: &fa,
            },
            Capture {
                side: wgtrace::correlate::Side::B,
                name: &nb,
                cap: &b,
                facts: &fb,
            },
        ],
        &c,
    );
    (c, f)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Per-direction counts in `counted`, wherever they are nested: maps keyed
/// "host->host" whose name says what they count.
fn direction_counts(v: &Value, name: &str, out: &mut Vec<(String, String, String, u64)>) {
    if let Some(obj) = v.as_object() {
        let arrows = !obj.is_empty() && obj.keys().all(|k| k.contains("->"));
        if arrows {
            for (k, n) in obj {
                if let (Some((from, to)), Some(n)) = (k.split_once("->"), n.as_u64()) {
                    out.push((name.to_string(), from.into(), to.into(), n));
                }
            }
        } else {
            for (k, x) in obj {
                direction_counts(x, k, out);
            }
        }
    }
}

/// Of the lost packets `counted.outer_from_captures_tshark` lists for the
/// direction `from` -> `to` (capture file names), those sent after the
/// receiver's capture had recorded its last packet. 0 when the receiver's
/// capture ran past the sender's last packet; `None` when it did not and
/// truth lists no lost frames.
fn late_losses(s: &Scenario, from: &str, to: &str) -> Option<u64> {
    let open = |file: &str| {
        let path = &s
            .ends
            .iter()
            .find(|e| e.1.file_name().is_some_and(|n| n == file))?
            .1;
        decode_capture(Input::open(path).ok()?).ok()
    };
    let (a, b) = (open(from)?, open(to)?);
    let end = b.records.iter().map(|r| r.ts).max();
    if a.records.iter().map(|r| r.ts).max() <= end {
        return Some(0);
    }
    let dirs = s.truth["counted"]["outer_from_captures_tshark"].as_object()?;
    let mut late = None;
    for d in dirs.values() {
        if d["sender_capture"] != from || d["receiver_capture"] != to {
            continue;
        }
        let late = late.get_or_insert(0);
        for f in d["lost_frames_in_sender_capture"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let frame = f.as_u64().unwrap_or(0) as usize;
            let ts = a
                .records
                .iter()
                .find(|r| r.frame.0 as usize == frame)
                .map(|r| r.ts);
            *late += u64::from(ts > end);
        }
    }
    late
}

#[test]
fn findings_and_counts_agree_with_truth() {
    let root = testdata();
    let all = scenarios(&root);
    assert!(!all.is_empty(), "no two-ended scenarios in testdata");
    for s in &all {
        let (c, findings) = analyze(s);
        let kinds: Vec<&str> = findings.iter().map(|f| f.kind.name()).collect();
        let expected = strings(&s.truth["expected_findings"]);
        let mut acceptable = strings(&s.truth["also_acceptable_findings"]);
        // Recordings older than the inner findings: where the loss is
        // expected, naming its inner flows, and the MSS that does not fit
        // the MTU found, is part of the same diagnosis (tests/inner.rs checks
        // them against the truth of the recordings that list them).
        if expected.iter().any(|e| e == "mtu_blackhole") {
            acceptable.extend(["affected_flows".into(), "tcp_mss_too_large".into()]);
        }
        for e in &expected {
            assert!(
                kinds.contains(&e.as_str()),
                "{}: expected {e} in {kinds:?}",
                s.name
            );
        }
        if expected == ["healthy"] {
            assert_eq!(kinds, ["healthy"], "{}: healthy gives only healthy", s.name);
        }
        // Nothing wrong beyond what the truth expects or accepts.
        for f in &findings {
            if matches!(f.severity, Severity::Error | Severity::Warning) {
                let k = f.kind.name();
                assert!(
                    expected.iter().any(|e| e == k) || acceptable.iter().any(|e| e == k),
                    "{}: unexpected {k}: {}",
                    s.name,
                    wgtrace::report::words::summary(f, &findings, &[])
                );
            }
        }
        // Counted ground truth per direction. No tolerance: every scenario's
        // captures ran from before the first to after the last packet, and
        // each drop the routers counted is one packet the receiver lacks.
        let file_of = |host: &str| -> Option<String> {
            s.truth["captures"][host]["file"].as_str().map(String::from)
        };
        let dir = |from: &str, to: &str| {
            let (f, t) = (file_of(from)?, file_of(to)?);
            c.directions.iter().find(|d| d.from == f && d.to == t)
        };
        let mut counts = Vec::new();
        direction_counts(&s.truth["counted"], "counted", &mut counts);
        for (what, from, to, n) in counts {
            let Some(d) = dir(&from, &to) else { continue };
            if what.starts_with("router_dropped") {
                // A drop of a packet sent after the receiver's capture had
                // stopped (truth lists the lost frames, tshark's) is outside
                // the window, neither lost nor delivered.
                match late_losses(s, &d.from, &d.to) {
                    Some(late) => {
                        assert_eq!(d.missing, n - late, "{}: {what} {from}->{to}", s.name);
                        assert!(d.outside_window >= late, "{}", s.name);
                    }
                    // The receiver stopped first and truth does not say which
                    // drops came after: those are among the packets outside
                    // the window.
                    None => assert!(
                        d.missing <= n && n <= d.missing + d.outside_window,
                        "{}: {what} {from}->{to}: {} missing, {} outside, {n} dropped",
                        s.name,
                        d.missing,
                        d.outside_window
                    ),
                }
            } else if what == "router_forwarded_udp" {
                assert_eq!(d.delivered, n, "{}: {what} {from}->{to}", s.name);
            }
        }
        let counted = &s.truth["counted"];
        if let Some(obj) = counted.as_object() {
            for (k, v) in obj {
                // "vps_to_laptop_offered" / "_passed", "laptop_to_vps_forwarded_udp"
                let Some(n) = v.as_u64() else { continue };
                let Some((from, rest)) = k.split_once("_to_") else {
                    continue;
                };
                let Some((to, what)) = rest.split_once('_') else {
                    continue;
                };
                let Some(d) = dir(from, to) else { continue };
                match what {
                    "offered" => assert_eq!(d.sent, n, "{}: {k}", s.name),
                    "passed" | "forwarded_udp" => assert_eq!(d.delivered, n, "{}: {k}", s.name),
                    _ => {}
                }
            }
            if let (Some(n), Some(offered)) = (
                obj.get("netem_dropped").and_then(Value::as_u64),
                obj.keys().find(|k| k.ends_with("_offered")),
            ) {
                if let Some((from, rest)) = offered.split_once("_to_") {
                    let to = rest.trim_end_matches("_offered");
                    if let Some(d) = dir(from, to) {
                        assert_eq!(d.missing, n, "{}: netem_dropped", s.name);
                    }
                }
            }
        }
        // True clock offset is 0 (one kernel clock); allow the one-way delay.
        assert!(
            c.clock.offset_ns.abs() < 5_000_000,
            "{}: offset {}",
            s.name,
            c.clock.offset_ns
        );
    }
}

#[test]
fn mtu_blackhole_story_numbers() {
    let root = testdata();
    let s = scenarios(&root)
        .into_iter()
        .find(|s| s.name == "mtu-blackhole")
        .expect("the mtu-blackhole scenario in testdata");
    let (_, findings) = analyze(&s);
    let bh = findings
        .iter()
        .find_map(|f| match &f.kind {
            wgtrace::diagnose::FindingKind::MtuBlackhole {
                direction,
                smallest_lost,
                largest_delivered,
                tunnel_mtu,
                path_mtu_min,
                ..
            } if direction.from == "vps.pcap" => Some((
                *smallest_lost,
                *largest_delivered,
                *tunnel_mtu,
                *path_mtu_min,
                wgtrace::report::words::fix(f, &findings),
            )),
            _ => None,
        })
        .expect("blackhole vps -> laptop");
    assert_eq!(bh.0.udp, 1452);
    assert_eq!(bh.0.ip, 1480);
    // The configured path MTU (1454) lies in the bracket; the advice fits it.
    let path_mtu = s.truth["configured"]["path_mtu"].as_u64().unwrap_or(1454) as u32;
    assert!(bh.3 <= path_mtu && path_mtu < bh.0.ip);
    let max = s.truth["configured"]["recommended_tunnel_mtu_max"]
        .as_u64()
        .unwrap_or(1394) as u32;
    assert!(bh.2 <= max, "tunnel MTU {} > {max}", bh.2);
    assert!(bh.1.is_some());
    assert!(bh.4.unwrap_or_default().contains("MTU = "));
}

fn bin() -> Command {
    Command::cargo_bin("wgtrace").expect("binary")
}

/// The two ends of a scenario, and the end captured on host `vps`.
fn pair(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let s = scenarios(root)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no two-ended scenario {name} in testdata"));
    (s.ends[0].1.clone(), s.ends[1].1.clone())
}

fn vps_end(root: &Path, name: &str) -> PathBuf {
    let s = scenarios(root)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no two-ended scenario {name} in testdata"));
    s.ends
        .into_iter()
        .find(|(host, _)| host == "vps")
        .map(|(_, f)| f)
        .expect("a vps end")
}

#[test]
fn cli_exit_codes_and_formats() {
    let root = testdata();
    let (healthy, bh) = (pair(&root, "healthy"), pair(&root, "mtu-blackhole"));
    bin()
        .args(["analyze"])
        .arg(&healthy.0)
        .arg(&healthy.1)
        .assert()
        .code(0)
        .stdout(predicates::str::starts_with("HEALTHY"));
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(&bh.0)
        .arg(&bh.1)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(v["schema"], "wgtrace.analyze/3");
    assert_eq!(v["verdict"], "problems");
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"mtu_blackhole"));
    for f in v["findings"].as_array().into_iter().flatten() {
        for key in [
            "kind", "severity", "summary", "evidence", "frames", "filter", "fix",
        ] {
            assert!(f.get(key).is_some(), "finding lacks {key}");
        }
    }
    let dirs = v["directions"].as_array().expect("directions");
    assert_eq!(dirs.len(), 2);
    for d in dirs {
        for key in [
            "from",
            "to",
            "sent",
            "delivered",
            "missing",
            "missing_by_size",
            "delivered_by_size",
        ] {
            assert!(d.get(key).is_some(), "direction lacks {key}");
        }
    }
    assert!(v["clock"]["offset_ns"].is_i64());
    bin()
        .args(["analyze", "-f", "markdown"])
        .arg(&bh.0)
        .arg(&bh.1)
        .assert()
        .code(1)
        .stdout(predicates::str::starts_with("## wgtrace: PROBLEMS"))
        .stdout(predicates::str::contains("| `mtu_blackhole` |"));
    // The sending end alone shows the blackhole: big packets retransmitted, never answered.
    bin()
        .args(["analyze", "-f", "markdown"])
        .arg(vps_end(&root, "mtu-blackhole"))
        .assert()
        .code(1)
        .stdout(predicates::str::starts_with("## wgtrace: PROBLEMS"))
        .stdout(predicates::str::contains("| `mtu_blackhole` |"));
}

#[test]
fn damaged_capture_reports_partially_and_exits_2() {
    let root = testdata();
    let healthy = pair(&root, "healthy");
    let bytes = std::fs::read(&healthy.0).expect("read");
    let cut = std::env::temp_dir().join(format!("wgtrace-cut-{}.pcap", std::process::id()));
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    bin()
        .args(["analyze", "-f", "json"])
        .arg(&cut)
        .arg(&healthy.1)
        .assert()
        .code(2)
        .stdout(predicates::str::contains("\"schema\""))
        .stderr(predicates::str::contains("wgtrace-cut-"))
        .stderr(predicates::str::contains("at byte"));
    let _ = std::fs::remove_file(&cut);
}

#[test]
fn unreadable_input_exits_2() {
    bin()
        .args(["analyze", "/nonexistent/a.pcap", "/nonexistent/b.pcap"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("/nonexistent/a.pcap"));
    bin().args(["analyze"]).assert().code(2);
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let root = testdata();
    for name in ["mtu-blackhole", "random-loss", "hairpin-nat"] {
        let (a, b) = pair(&root, name);
        let run = |threads: &str| {
            bin()
                .args(["--threads", threads, "analyze", "-f", "json"])
                .arg(&a)
                .arg(&b)
                .output()
                .unwrap()
                .stdout
        };
        let one = run("1");
        assert!(!one.is_empty(), "{name}");
        assert_eq!(one, run("2"), "{name}");
        assert_eq!(one, run("3"), "{name}");
    }
}

#[test]
fn extreme_timestamps_do_not_overflow_the_correlation() {
    // A pcapng whose timestamps span all of i64 (found by fuzzing inspect):
    // analyze it against itself and against a real capture, in a debug build
    // where any arithmetic overflow would panic.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let odd = base.join("fuzz-regressions/capture_file-ts-span-overflow");
    let real = base.join("healthy/vps.pcap");
    // It holds no WireGuard message: whatever it is paired with, the
    // captures cannot tell (inconclusive, 3).
    for (a, b, code) in [(&odd, &odd, 3), (&odd, &real, 3), (&real, &odd, 3)] {
        for fmt in ["json", "html", "table"] {
            let out = bin()
                .args(["analyze", "-f", fmt])
                .arg(a)
                .arg(b)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{fmt}: {err}");
            assert_eq!(out.status.code(), Some(code), "{fmt}: {err}");
            assert_eq!(err, "", "{fmt}");
        }
    }
}
