//! `wgtrace inspect` end to end: formats, exit codes, stdin, gzip, and damaged
//! files derived from the recorded captures.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn wgtrace() -> Command {
    Command::cargo_bin("wgtrace").expect("binary built")
}

fn inspect_json(args: &[&str]) -> (Value, i32) {
    let out = wgtrace()
        .arg("inspect")
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("valid JSON on stdout");
    (v, out.status.code().unwrap_or(-1))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgtrace-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn json_contract_fields_for_the_healthy_pair() {
    let vps = testdata("healthy/vps.pcap");
    let laptop = testdata("healthy/laptop.pcap");
    let (v, code) = inspect_json(&[vps.to_str().unwrap(), laptop.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "wgtrace.inspect/1");
    let caps = v["captures"].as_array().expect("captures");
    assert_eq!(caps.len(), 2, "one entry per file, in argument order");
    assert!(caps[0]["path"].as_str().unwrap().ends_with("vps.pcap"));
    assert!(caps[1]["path"].as_str().unwrap().ends_with("laptop.pcap"));
    for c in caps {
        assert_eq!(c["format"], "pcap");
        assert_eq!(c["link_types"], serde_json::json!(["EN10MB"]));
        assert!(c["packets"].as_u64().unwrap() > 100);
        let wg = &c["wireguard"];
        for k in [
            "initiation",
            "response",
            "cookie_reply",
            "transport",
            "keepalive",
        ] {
            assert!(wg[k].is_u64(), "wireguard.{k} present");
        }
        assert!(wg["transport"].as_u64().unwrap() > 50);
        assert!(
            wg["keepalive"].as_u64().unwrap() >= 1,
            "persistent keepalive 5 s"
        );
        assert!(c["damage"].is_null());
        assert_eq!(c["sessions"]["unanswered"].as_array().unwrap().len(), 0);
    }
}

#[test]
fn gzip_and_stdin_give_the_same_facts_as_the_file() {
    let plain = testdata("healthy/vps.pcap");
    let gz = testdata("healthy/vps.pcap.gz");
    let (a, _) = inspect_json(&[plain.to_str().unwrap()]);
    let (b, code) = inspect_json(&[gz.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(b["captures"][0]["gzip"], true);
    let out = wgtrace()
        .args(["inspect", "--format", "json", "-"])
        .pipe_stdin(&gz)
        .expect("stdin")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let c: Value = serde_json::from_slice(&out.stdout).expect("json");
    for v in [&b, &c] {
        for k in [
            "packets",
            "wireguard",
            "directions",
            "sessions",
            "first_ts",
            "last_ts",
        ] {
            assert_eq!(a["captures"][0][k], v["captures"][0][k], "{k}");
        }
    }
}

#[test]
fn table_names_the_story_numbers() {
    wgtrace()
        .args(["inspect"])
        .arg(testdata("mtu-blackhole/vps.pcap"))
        .assert()
        .success()
        .stdout(predicate::str::contains("pcap-nsec"))
        .stdout(predicate::str::contains("1452"))
        .stdout(predicate::str::contains("1,480"));
}

#[test]
fn missing_directory_empty_and_text_files_are_one_line_errors() {
    let dir = tmpdir("bad");
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.pcap");
    std::fs::write(&text, b"tcpdump: listening on eth0\n").unwrap();
    let cases: [(PathBuf, &str); 4] = [
        (dir.join("does-not-exist.pcap"), "cannot open"),
        (
            dir.clone(),
            "directory holds no pcap or pcapng capture files",
        ),
        (empty, "empty file"),
        (text, "not a pcap or pcapng capture at byte 0"),
    ];
    for (path, want) in cases {
        let out = wgtrace().arg("inspect").arg(&path).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains(want),
            "{err}"
        );
    }
}

#[test]
fn a_capture_cut_short_still_reports_what_was_read() {
    let whole = testdata("mtu-blackhole/vps.pcap");
    let (full, _) = inspect_json(&[whole.to_str().unwrap()]);
    let all_packets = full["captures"][0]["packets"].as_u64().unwrap();
    let src = std::fs::read(&whole).unwrap();
    let dir = tmpdir("cut");
    let cut = dir.join("cut.pcap");
    // Cut in the middle of the file: inside some record.
    let at = src.len() / 2 + 7;
    std::fs::write(&cut, &src[..at]).unwrap();
    let out = wgtrace()
        .args(["inspect", "--format", "json"])
        .arg(&cut)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcap") && err.contains("record cut short at byte"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("partial report");
    let c = &v["captures"][0];
    assert!(c["damage"].as_str().unwrap().contains("cut short"));
    let packets = c["packets"].as_u64().unwrap();
    assert!(
        packets > 10 && packets < all_packets,
        "{packets} of {all_packets}"
    );
}

#[test]
fn one_bad_file_does_not_hide_the_good_one() {
    let dir = tmpdir("mixed");
    let bad = dir.join("bad.pcap");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n").unwrap();
    let good = testdata("healthy/laptop.pcap");
    let (v, code) = inspect_json(&[bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(v["captures"][0]["error"].as_str().unwrap().contains("PNG"));
    assert!(v["captures"][1]["wireguard"]["transport"].as_u64().unwrap() > 0);
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let files = [
        testdata("random-loss/vps.pcap"),
        testdata("mtu-blackhole/laptop.pcap"),
        testdata("pmtud-working/vps.pcapng"),
    ];
    let run = |threads: &str| {
        wgtrace()
            .args(["--threads", threads, "inspect", "--format", "json"])
            .args(&files)
            .output()
            .expect("runs")
            .stdout
    };
    let one = run("1");
    assert!(!one.is_empty());
    assert_eq!(one, run("2"));
    assert_eq!(one, run("4"));
}
