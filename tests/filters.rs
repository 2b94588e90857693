//! Every Wireshark filter a report prints selects exactly the frames its
//! finding lists, checked with tshark on every recorded capture and pair.
//! Skipped where tshark is not installed, except in CI (`CI` set), which
//! installs it.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use wgtrace::pipeline::analyze_files;

fn tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs tshark");
    ok
}

fn selected(file: &str, filter: &str) -> BTreeSet<u32> {
    let o = Command::new("tshark")
        .args([
            "-n",
            "-r",
            file,
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{file}: {filter}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn inputs() -> Vec<Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).unwrap().flatten() {
        if !d.path().join("truth.json").exists() {
            continue;
        }
        let mut caps: Vec<PathBuf> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.to_string_lossy();
                n.ends_with(".pcap") || n.ends_with(".pcapng")
            })
            .collect();
        caps.sort();
        for c in &caps {
            out.push(vec![c.clone()]);
        }
        for (i, a) in caps.iter().enumerate() {
            for b in &caps[i + 1..] {
                out.push(vec![a.clone(), b.clone()]);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_filter_selects_exactly_its_frames() {
    if !tshark() {
        return;
    }
    let mut checked = 0;
    for paths in inputs() {
        let a = analyze_files(&paths).unwrap();
        for f in &a.report.findings {
            for fr in &f.frames {
                let path = &a.report.captures[fr.side as usize].path;
                let want: BTreeSet<u32> = fr.frames.iter().map(|n| n.0).collect();
                let filter = fr.filter.as_ref().expect("small frame sets have a filter");
                assert_eq!(selected(path, filter), want, "{paths:?} {}", f.kind.name());
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} filters checked");
}
