//! One end written as several files (tcpdump `-C`/`-W`, dumpcap ring
//! buffers): a directory end and the files concatenated on standard input
//! read like the files one after the other. Checked against the recorded
//! rotations of `testdata/rotated` (counts from capinfos in `counts.json`,
//! and tshark) and against the analysis of the unsplit capture.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn has(tool: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs {tool}");
    ok
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgtrace-rot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The truth of one rotated set: (file, packets) in time order, and the total.
fn truth(set: &str) -> (Vec<(String, u64)>, u64) {
    let t: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("rotated/counts.json")).unwrap())
            .unwrap();
    let s = &t["sets"][set];
    let files = s["files_in_time_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["packets"].as_u64().unwrap(),
            )
        })
        .collect();
    (files, s["packets"].as_u64().unwrap())
}

/// Packets tshark reads from one file.
fn tshark_count(file: &Path) -> u64 {
    let o = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().count() as u64
}

fn inspect(arg: &Path, stdin: Option<Vec<u8>>) -> Value {
    let mut cmd = Command::cargo_bin("wgtrace").unwrap();
    cmd.args(["inspect", "--format", "json"]).arg(arg);
    if let Some(bytes) = stdin {
        cmd.write_stdin(bytes);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Per-interface packets (one interface per file here) and the total.
fn counts(v: &Value) -> (Vec<u64>, u64) {
    let c = &v["captures"][0];
    let per = c["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["packets"].as_u64().unwrap())
        .collect();
    (per, c["packets"].as_u64().unwrap())
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn a_directory_end_reads_every_file_in_time_order() {
    for set in ["tcpdump", "dumpcap"] {
        let (files, total) = truth(set);
        let dir = testdata(&format!("rotated/{set}"));
        let (per, all) = counts(&inspect(&dir, None));
        let want: Vec<u64> = files.iter().map(|f| f.1).collect();
        assert_eq!(per, want, "{set}: packets per file, in time order");
        assert_eq!(all, total, "{set}");
        assert_eq!(all, want.iter().sum::<u64>());
        if has("tshark") {
            let by_tshark: Vec<u64> = files
                .iter()
                .map(|f| tshark_count(&dir.join(&f.0)))
                .collect();
            assert_eq!(per, by_tshark, "{set}: tshark");
        }
    }
}

#[test]
fn rotated_files_concatenated_on_stdin_read_as_one_capture() {
    for set in ["tcpdump", "dumpcap"] {
        let (files, total) = truth(set);
        let dir = testdata(&format!("rotated/{set}"));
        let want: Vec<u64> = files.iter().map(|f| f.1).collect();
        // `cat` in time order: decompressed, and as they are (gzip members).
        let mut plain = Vec::new();
        let mut raw = Vec::new();
        for (f, _) in &files {
            let p = dir.join(f);
            raw.extend(std::fs::read(&p).unwrap());
            if f.ends_with(".gz") {
                plain.extend(gunzip(&p));
            } else {
                plain.extend(std::fs::read(&p).unwrap());
            }
        }
        for bytes in [plain.clone(), raw] {
            let (per, all) = counts(&inspect(Path::new("-"), Some(bytes)));
            assert_eq!(per, want, "{set} on stdin");
            assert_eq!(all, total);
        }
        // The same bytes as one (mapped) file.
        let one = scratch(&format!("cat-{set}")).join("all.cap");
        std::fs::write(&one, &plain).unwrap();
        let (per, all) = counts(&inspect(&one, None));
        assert_eq!((per, all), (want.clone(), total), "{set} as one file");
    }
}

/// The analysis of a pair whose first end is split into several files (by
/// editcap, as a rotation would) equals the analysis of the whole capture,
/// and every frame it names is found in the file it names.
#[test]
fn a_split_end_analyses_like_the_whole_capture() {
    if !has("editcap") {
        return;
    }
    let mut spanning = 0;
    for scenario in ["healthy", "mtu-blackhole", "random-loss"] {
        let whole = testdata(&format!("{scenario}/vps.pcap"));
        let other = testdata(&format!("{scenario}/laptop.pcap"));
        let dir = scratch(&format!("split-{scenario}")).join("vps");
        std::fs::create_dir_all(&dir).unwrap();
        let n = capinfos_count(&whole);
        let ok = std::process::Command::new("editcap")
            .args(["-c", &(n / 3 + 1).to_string()])
            .arg(&whole)
            .arg(dir.join("vps.pcap"))
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(std::fs::read_dir(&dir).unwrap().count() >= 3);
        let a = analyze(&whole, &other);
        let b = analyze(&dir, &other);
        assert_eq!(a["verdict"], b["verdict"], "{scenario}");
        assert_eq!(a["matched"], b["matched"]);
        assert_eq!(a["captures"][0]["packets"], b["captures"][0]["packets"]);
        let files = b["captures"][0]["files"].as_array().unwrap();
        assert_eq!(files.len(), 3);
        let key = |d: &Value| {
            d["directions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["sent"].clone(),
                        d["delivered"].clone(),
                        d["missing"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b), "{scenario}: directions");
        let fa = a["findings"].as_array().unwrap();
        let fb = b["findings"].as_array().unwrap();
        assert_eq!(fa.len(), fb.len(), "{scenario}");
        for (x, y) in fa.iter().zip(fb) {
            assert_eq!(x["kind"], y["kind"]);
            let in_a = y["frames"].as_array().unwrap().iter();
            spanning += usize::from(in_a.filter(|r| r["side"] == "a").count() > 1);
            assert_eq!(x["severity"], y["severity"]);
            // Side a's frames, mapped back to the whole file, are the whole's.
            let side_a = |f: &Value, split: bool| -> Vec<u64> {
                f["frames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["side"] == "a")
                    .flat_map(|r| {
                        let base = if split {
                            let file = files.iter().find(|f| f["file"] == r["file"]).unwrap();
                            file["first_frame"].as_u64().unwrap() - 1
                        } else {
                            0
                        };
                        r["frames"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(move |n| n.as_u64().unwrap() + base)
                    })
                    .collect()
            };
            assert_eq!(
                side_a(x, false),
                side_a(y, true),
                "{scenario}: {}",
                x["kind"]
            );
            // Side b (a single file) is untouched.
            let side_b = |f: &Value| {
                f["frames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["side"] == "b")
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(side_b(x), side_b(y));
            // Each filter selects exactly its frames in the file it names.
            if has("tshark") {
                for r in y["frames"].as_array().unwrap() {
                    let Some(filter) = r["filter"].as_str() else {
                        continue;
                    };
                    let path = Path::new(
                        files
                            .iter()
                            .find(|f| f["file"] == r["file"])
                            .map_or(other.to_str().unwrap(), |f| f["path"].as_str().unwrap()),
                    );
                    let want: Vec<u64> = r["frames"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_u64().unwrap())
                        .collect();
                    assert_eq!(selected(path, filter), want, "{scenario}: {filter}");
                }
            }
        }
    }
    assert!(spanning > 0, "no finding's frames span several files");
}

fn capinfos_count(file: &Path) -> u64 {
    let o = std::process::Command::new("capinfos")
        .args(["-c", "-M", "-T", "-r"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    text.split('\t').nth(1).unwrap().trim().parse().unwrap()
}

fn selected(file: &Path, filter: &str) -> Vec<u64> {
    let o = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn analyze(a: &Path, b: &Path) -> Value {
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["analyze", "--format", "json"])
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A file cut short in the middle of a ring: the error names that file and
/// its byte offset, and the files after it are still read.
#[test]
fn damage_in_one_file_names_it_and_the_rest_is_read() {
    if !has("tshark") {
        return;
    }
    let (files, _) = truth("tcpdump");
    let dir = scratch("damaged");
    let src = testdata("rotated/tcpdump");
    for (f, _) in &files {
        let plain = dir.join(f.trim_end_matches(".gz"));
        std::fs::write(&plain, gunzip(&src.join(f))).unwrap();
    }
    // The second file in time order, cut 100 bytes into a record.
    let cut = dir.join(files[1].0.trim_end_matches(".gz"));
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // tshark reads the complete records before the cut (and fails after).
    let o = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&cut)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    let kept = String::from_utf8_lossy(&o.stdout).lines().count() as u64;
    assert!(kept > 0 && kept < files[1].1);
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["inspect", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&cut.display().to_string()) && err.contains("record cut short at byte"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (per, all) = counts(&v);
    assert_eq!(per, [files[0].1, kept, files[2].1]);
    assert_eq!(all, files[0].1 + kept + files[2].1);
}
