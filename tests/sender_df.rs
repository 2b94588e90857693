//! `sender_df`: what the DF bits of a side's outer packets say about its
//! WireGuard implementation, against the recordings' truth (every recorded
//! peer runs wireguard-go; `configured.outer_df` says where path-MTU
//! discovery was switched off, so DF is clear) and tshark's own DF counts.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use wgtrace::pipeline::analyze_files;

fn tshark_count(file: &str, filter: &str) -> Option<u64> {
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
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).lines().count() as u64)
}

/// Every recorded scenario with its captures, alone and as the pair of NICs.
fn inputs() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).unwrap().flatten() {
        let d = d.path();
        if !d.join("truth.json").exists() {
            continue;
        }
        let mut caps: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.to_string_lossy();
                (n.ends_with(".pcap") || n.ends_with(".pcapng")) && !n.contains("wg0")
            })
            .collect();
        caps.sort();
        for c in &caps {
            out.push((d.clone(), vec![c.clone()]));
        }
        if caps.len() >= 2 {
            out.push((d.clone(), caps[..2].to_vec()));
        }
    }
    out.sort();
    out
}

#[test]
fn sender_df_names_what_the_recordings_ran() {
    let tshark = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        tshark || std::env::var_os("CI").is_none(),
        "CI needs tshark"
    );
    let mut checked_with_tshark = 0;
    let (mut userspace, mut no_df) = (0, 0);
    for (dir, paths) in inputs() {
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap())
                .unwrap();
        let a = analyze_files(&paths).unwrap();
        let r = serde_json::to_value(&a.report).unwrap();
        for f in r["findings"].as_array().unwrap() {
            if f["kind"] != "sender_df" {
                continue;
            }
            let e = &f["evidence"];
            let side = e["side"].as_str().unwrap();
            let path = paths[usize::from(side == "b")]
                .to_string_lossy()
                .into_owned();
            let host = Path::new(&path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let (set, clear) = (
                e["df_set"].as_u64().unwrap(),
                e["df_clear"].as_u64().unwrap(),
            );
            assert_eq!(set + clear, e["ipv4_sent"].as_u64().unwrap(), "{path}");
            // wireguard-go everywhere: DF unless the recording switched PMTU discovery off.
            let df_off = truth["configured"]["outer_df"][&host] == false;
            if df_off {
                assert_eq!(e["likely"], "kernel_or_no_pmtud", "{path}: {e}");
                assert_eq!(set, 0, "{path}");
                no_df += 1;
            } else {
                assert_eq!(e["likely"], "userspace", "{path}: {e}");
                userspace += 1;
            }
            // The words claim DF only when it was counted.
            let summary = f["summary"].as_str().unwrap();
            assert_eq!(summary.starts_with("None of"), set == 0, "{summary}");
            if tshark {
                // tshark sees at least as many whole WireGuard packets of each kind in the file.
                let whole = "wg && ip && ip.flags.mf == 0 && ip.frag_offset == 0";
                let with = tshark_count(&path, &format!("{whole} && ip.flags.df == 1")).unwrap();
                let without = tshark_count(&path, &format!("{whole} && ip.flags.df == 0")).unwrap();
                assert!(
                    set <= with && clear <= without,
                    "{path}: {e} vs tshark {with}/{without}"
                );
                checked_with_tshark += 1;
            }
        }
    }
    assert!(
        userspace >= 6 && no_df >= 2,
        "{userspace} userspace, {no_df} without DF"
    );
    assert!(!tshark || checked_with_tshark == userspace + no_df);
}
