//! The HTML report of `wgtrace analyze` (issue 6): its structure (snapshot),
//! that it is self-contained, that the blackhole's lost packets are in the
//! plot, and that headless Chromium renders it (skipped, visibly, where
//! Chromium is not installed). Tests that need testdata fail
//! when it is absent.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wgtrace::pipeline::{analyze_files_with, Options};

fn testdata() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    // Committed with the crate: without it these tests would pass vacuously.
    assert!(d.is_dir(), "{} is missing", d.display());
    d
}

/// Every scenario with two tunnel ends (captures of WireGuard hosts on the
/// outer interface), as named in its truth.json: (scenario, [a, b]).
fn pairs(root: &Path) -> Vec<(String, [PathBuf; 2])> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let Ok(text) = std::fs::read_to_string(d.join("truth.json")) else {
            continue;
        };
        let truth: Value = serde_json::from_str(&text).unwrap();
        let mut ends = Vec::new();
        for c in truth["captures"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
        {
            if c["wg_listen_port"].is_null() || c["link_type"] == "RAW" {
                continue;
            }
            ends.push(d.join(c["file"].as_str().unwrap_or_default()));
        }
        if let [a, b] = ends.as_slice() {
            let name = d.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, [a.clone(), b.clone()]));
        }
    }
    out
}

fn blackhole(root: &Path) -> [PathBuf; 2] {
    pairs(root)
        .into_iter()
        .find(|(n, _)| n == "mtu-blackhole")
        .map(|(_, p)| p)
        .expect("the mtu-blackhole pair in testdata")
}

fn html(paths: &[PathBuf; 2]) -> String {
    analyze_files_with(
        paths,
        &Options {
            plots: true,
            ..Options::default()
        },
    )
    .unwrap()
    .report
    .to_html()
}

/// The page's skeleton: headings, element ids and finding rows, in order;
/// not the points, so it changes only when the layout does.
fn structure(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let tag: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let end = rest.find('>').unwrap_or(rest.len());
        let attrs = &rest[..end];
        if matches!(tag.as_str(), "h1" | "h2" | "h3") {
            let text = &rest[end + 1..];
            let text = &text[..text.find('<').unwrap_or(text.len())];
            out.push(format!("{tag}: {text}"));
        }
        if let Some(j) = attrs.find(" id=\"") {
            let v = &attrs[j + 5..];
            out.push(format!("{tag}#{}", &v[..v.find('"').unwrap_or(0)]));
        }
        if tag == "tr" {
            if let Some(j) = attrs.find("class=\"finding ") {
                let v = &attrs[j + 7..];
                out.push(format!("tr.{}", &v[..v.find('"').unwrap_or(0)]));
            }
        }
    }
    out
}

#[test]
fn html_structure_snapshot() {
    let root = testdata();
    let pair = blackhole(&root);
    let got = structure(&html(&pair)).join("\n") + "\n";
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/html_mtu_blackhole.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &got).unwrap();
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1)", file.display()));
    assert_eq!(
        got, want,
        "HTML structure changed; if intended, rerun with UPDATE_SNAPSHOTS=1"
    );
}

#[test]
fn html_of_every_pair_is_self_contained() {
    let root = testdata();
    let all = pairs(&root);
    assert!(all.len() >= 2, "testdata pairs: {all:?}");
    for (name, pair) in &all {
        let h = html(pair);
        assert!(h.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(h.trim_end().ends_with("</html>"), "{name}");
        for bad in [
            "http://", "https://", "src=", "<script", "@import", "url(", "<link", "href=",
        ] {
            assert!(!h.contains(bad), "{name}: HTML contains {bad:?}");
        }
        for id in [
            "id=\"verdict\"",
            "id=\"findings\"",
            "id=\"scatter-0\"",
            "id=\"histogram-0\"",
            "id=\"timeline-0\"",
            "id=\"scatter-1\"",
            "id=\"evidence\"",
        ] {
            assert!(h.contains(id), "{name}: no {id}");
        }
    }
}

#[test]
fn blackhole_scatter_shows_the_lost_1452_byte_packets() {
    let root = testdata();
    let pair = blackhole(&root);
    let h = html(&pair);
    // The direction that lost them (the pair's order follows truth.json).
    let section = &h[h.find("<h2>vps.pcap → laptop.pcap</h2>").unwrap()..];
    let scatter = &section[section.find("<svg id=\"scatter-").unwrap()..];
    let scatter = &scatter[..scatter.find("</svg>").unwrap()];
    let lost: Vec<&str> = scatter
        .match_indices("<rect class=\"lost\" data-udp=\"")
        .map(|(i, m)| {
            let v = &scatter[i + m.len()..];
            &v[..v.find('"').unwrap()]
        })
        .collect();
    assert!(
        !lost.is_empty(),
        "no lost points in the vps → laptop scatter"
    );
    assert!(lost.iter().all(|s| *s == "1452"), "lost sizes: {lost:?}");
    // Every lost packet is in the plot: the cells' counts add up to 17.
    let n: u64 = scatter
        .split("<rect class=\"lost\" data-udp=\"1452\" data-n=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse::<u64>().unwrap())
        .sum();
    assert_eq!(n, 17);
    assert!(scatter.contains("circle class=\"delivered\" data-udp=\"1424\""));
    assert!(scatter.contains("<line id=\"threshold-"), "threshold drawn");
    assert!(h.contains("MTU = 1392"), "fix at the top");
    let fix = h.find("id=\"fixes\"").unwrap();
    assert!(fix < h.find("id=\"scatter-0\"").unwrap());
}

#[test]
fn html_flag_and_output_file_leave_other_formats_alone() {
    let root = testdata();
    let [a, b] = blackhole(&root);
    let dir = std::env::temp_dir().join(format!("wgtrace-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("r.html");
    let plain = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["analyze", "--format", "json"])
        .arg(&a)
        .arg(&b)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let with_html = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["analyze", "--format", "json", "--html"])
        .arg(&page)
        .arg(&a)
        .arg(&b)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(plain, with_html, "--html changes the JSON");
    let page_text = std::fs::read_to_string(&page).unwrap();
    assert!(page_text.contains("id=\"scatter-0\""));
    let out = dir.join("o.html");
    Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["analyze", "-f", "html", "-o"])
        .arg(&out)
        .arg(&a)
        .arg(&b)
        .assert()
        .code(1)
        .stdout("");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), page_text);
    let _ = std::fs::remove_dir_all(&dir);
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs headless Chromium on `page` with `extra` arguments; its stdout.
fn headless(chrome: &Path, profile: &Path, page: &Path, extra: &[String]) -> String {
    let mut child = std::process::Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

#[test]
fn chromium_renders_every_pair() {
    let Some(chrome) = chromium() else {
        println!("SKIPPED: chromium not installed (apt-get install chromium to run this test)");
        return;
    };
    let root = testdata();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, pair) in pairs(&root) {
        let page = dir.join(format!("{name}.html"));
        std::fs::write(&page, html(&pair)).unwrap();
        let profile = dir.join(format!("profile-{name}"));
        let dom = headless(&chrome, &profile, &page, &["--dump-dom".to_string()]);
        assert!(
            dom.contains("<body"),
            "{name}: chromium gave no DOM: {dom:.200}"
        );
        assert!(
            dom.contains("PROBLEMS: ") || dom.contains("HEALTHY: "),
            "{name}: no verdict in the rendered page"
        );
        for id in ["scatter-0", "histogram-0", "timeline-0", "scatter-1"] {
            assert!(
                dom.contains(&format!("<svg id=\"{id}\"")),
                "{name}: no {id} in the rendered DOM"
            );
        }
        if name == "mtu-blackhole" {
            assert!(dom.contains("Set `MTU = 1392`"), "fix not rendered");
            assert!(dom.contains("<rect class=\"lost\" data-udp=\"1452\""));
            let png = dir.join("mtu-blackhole.png");
            let _ = std::fs::remove_file(&png);
            headless(
                &chrome,
                &profile,
                &page,
                &[
                    format!("--screenshot={}", png.display()),
                    "--window-size=1200,2400".to_string(),
                ],
            );
            let len = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
            assert!(len > 10_000, "screenshot {} is {len} bytes", png.display());
            println!("screenshot: {}", png.display());
        }
        let _ = std::fs::remove_dir_all(&profile);
    }
}

#[test]
fn plot_data_counts_every_sent_packet_once() {
    let root = testdata();
    for (name, pair) in pairs(&root) {
        let report = analyze_files_with(
            &pair,
            &Options {
                plots: true,
                ..Options::default()
            },
        )
        .unwrap()
        .report;
        let plots = report.plots.as_ref().unwrap();
        assert_eq!(plots.directions.len(), report.directions.len(), "{name}");
        for (p, d) in plots.directions.iter().zip(&report.directions) {
            assert_eq!((&p.from, &p.to), (&d.from, &d.to), "{name}");
            let (del, lost) = p
                .scatter
                .iter()
                .fold((0, 0), |(a, b), c| (a + c.delivered, b + c.lost));
            assert_eq!((del, lost), (d.delivered, d.missing), "{name}");
            assert!(p
                .scatter
                .iter()
                .all(|c| c.bin < wgtrace::report::plots::TIME_BINS));
        }
        // Not asked for: not computed, and never in the JSON.
        let plain = wgtrace::pipeline::analyze_files(&pair).unwrap().report;
        assert!(plain.plots.is_none());
        assert_eq!(plain.to_json(), report.to_json(), "{name}");
    }
}
