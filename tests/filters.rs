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

#[allow(dead_code)]
#[path = "../examples/gen_pair.rs"]
mod gen_pair;

/// A capture with UDP GSO super-packets: several records share a frame, and
/// each filter still selects exactly its (distinct) frames; the
/// `offload_superpackets` filter selects exactly the generator's super-packets.
#[test]
fn filters_of_split_superpackets_select_their_frames() {
    if !tshark() {
        return;
    }
    let out = std::env::temp_dir().join(format!("wgtrace-filters-gso-{}", std::process::id()));
    let truth = gen_pair::generate(&gen_pair::Args {
        out: out.clone(),
        packets: 6000,
        tunnels: 1,
        threshold: 1440,
        loss: 0.01,
        offset_ns: 300_000_000,
        seed: 9,
        gso: 16,
    })
    .unwrap();
    let paths = [out.join("vps.pcap"), out.join("laptop.pcap")];
    let a = analyze_files(&paths).unwrap();
    let mut offload = false;
    for f in &a.report.findings {
        for fr in &f.frames {
            let Some(filter) = fr.filter.as_ref() else {
                continue; // too many ranges for a filter
            };
            let path = a.report.captures[fr.side as usize].path.clone();
            let want: BTreeSet<u32> = fr.frames.iter().map(|n| n.0).collect();
            assert_eq!(
                want.len(),
                fr.frames.len(),
                "{}: frames repeat",
                f.kind.name()
            );
            assert_eq!(selected(&path, filter), want, "{}", f.kind.name());
            if f.kind.name() == "offload_superpackets" {
                let truth: BTreeSet<u32> = truth["superpackets"]["frames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u32)
                    .collect();
                assert_eq!(want, truth);
                offload = true;
            }
        }
    }
    assert!(offload, "the super-packets' finding had a filter");
    let _ = std::fs::remove_dir_all(&out);
}
