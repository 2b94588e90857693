//! `wgtrace batch`: directory and manifest input, JSON Lines output, resume, shards.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// Incidents from the recorded pairs, plus one whose capture is cut short.
fn incident_dir(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("wgtrace-batch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for scenario in [
        "healthy",
        "mtu-blackhole",
        "wrong-key",
        "random-loss",
        "nat-rewrite",
    ] {
        let dir = root.join(scenario);
        std::fs::create_dir_all(&dir).unwrap();
        for end in ["vps.pcap", "laptop.pcap"] {
            std::fs::copy(testdata(&format!("{scenario}/{end}")), dir.join(end)).unwrap();
        }
    }
    let cut = root.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let bytes = std::fs::read(testdata("healthy/vps.pcap")).unwrap();
    std::fs::write(cut.join("vps.pcap"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::copy(testdata("healthy/laptop.pcap"), cut.join("laptop.pcap")).unwrap();
    root
}

/// What each incident of [`incident_dir`] is, from its scenario's truth.json:
/// an error (the cut capture), or the verdict.
const OUTCOMES: [(&str, &str); 6] = [
    ("cut", "error"),
    ("healthy", "healthy"),
    ("mtu-blackhole", "problems"),
    ("nat-rewrite", "healthy"), // NAT rewriting is reported, but is no problem
    ("random-loss", "problems"),
    ("wrong-key", "problems"),
];

/// The exit code of a run over `ids`: 2 if any failed, 1 if any has problems.
fn exit_code(ids: &[&str]) -> i32 {
    let of = |id: &&str| OUTCOMES.iter().find(|(i, _)| i == id).unwrap().1;
    if ids.iter().any(|i| of(i) == "error") {
        2
    } else if ids.iter().any(|i| of(i) == "problems") {
        1
    } else {
        0
    }
}

/// Shard of an id, computed here independently of wgtrace: the sorted ids
/// cut into `count` contiguous runs, sizes within one.
fn shard_of(id: &str, count: u64) -> u64 {
    let n = OUTCOMES.len() as u64;
    let pos = OUTCOMES.iter().position(|(i, _)| *i == id).unwrap() as u64;
    (0..count).find(|s| pos < (s + 1) * n / count).unwrap()
}

fn ids(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn batch(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("wgtrace")
        .unwrap()
        .arg("batch")
        .args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap()
}

#[test]
fn one_line_per_incident_in_order_with_the_batch_schema() {
    let dir = incident_dir("order");
    let out = dir.join("results.jsonl");
    let o = batch(&[dir.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "the cut capture is an error");
    let rows = lines(&out);
    let all: Vec<&str> = OUTCOMES.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids(&rows), all);
    for (r, (id, outcome)) in rows.iter().zip(OUTCOMES) {
        assert_eq!(r["schema"], "wgtrace.batch/1");
        assert_eq!(r["verdict"], outcome, "{id}");
        if outcome == "error" {
            assert!(r["error"].is_string(), "{id}");
        } else {
            assert!(r["error"].is_null(), "{id}: {}", r["error"]);
            assert_eq!(r["report"]["schema"], "wgtrace.analyze/3");
            assert_eq!(r["report"]["verdict"], outcome, "{id}");
            assert_eq!(r["captures"].as_array().unwrap().len(), 2);
        }
    }
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(by_id("healthy")["verdict"], "healthy");
    assert_eq!(by_id("mtu-blackhole")["verdict"], "problems");
    assert!(by_id("cut")["error"]
        .as_str()
        .unwrap()
        .contains("cut short at byte"));
    // The partial analysis is kept, but the incident is an error, never healthy.
    assert_eq!(by_id("cut")["verdict"], "error");
    assert!(by_id("cut")["report"].is_object());
    // Nor does its kind list claim health.
    assert!(!by_id("cut")["kinds"]
        .as_array()
        .unwrap()
        .contains(&Value::from("healthy")));
    assert!(by_id("mtu-blackhole")["kinds"]
        .as_array()
        .unwrap()
        .contains(&Value::from("mtu_blackhole")));
    let summary = String::from_utf8_lossy(&o.stderr);
    assert!(
        summary.contains("mtu_blackhole") && summary.contains("errors"),
        "{summary}"
    );
}

#[test]
fn resume_skips_what_is_done_and_appends_the_rest() {
    let dir = incident_dir("resume");
    let out = dir.join("results.jsonl");
    // As if an earlier run stopped after two incidents, mid-line.
    let full = {
        let o = dir.join("full.jsonl");
        let run = batch(&[dir.to_str().unwrap(), "-o", o.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(2), "the cut capture is an error");
        std::fs::read_to_string(&o).unwrap()
    };
    let mut partial: String = full.lines().take(2).map(|l| format!("{l}\n")).collect();
    partial.push_str("{\"id\":\"torn");
    std::fs::write(&out, partial).unwrap();
    let run = batch(&[
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--resume",
    ]);
    // "cut" and "healthy" were done; the four analysed now have problems, no error.
    assert_eq!(
        run.status.code(),
        Some(exit_code(&[
            "mtu-blackhole",
            "nat-rewrite",
            "random-loss",
            "wrong-key"
        ])),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = String::from_utf8_lossy(&run.stderr);
    let count = |row: &str| -> u64 {
        let line = summary.lines().find(|l| l.contains(row)).unwrap();
        let cell = line.rsplit('┆').next().unwrap();
        cell.trim_matches(|c: char| c == '│' || c.is_whitespace())
            .parse()
            .unwrap()
    };
    assert_eq!(count("skipped (--resume)"), 2, "{summary}");
    assert_eq!(count("analysed"), 4, "{summary}");
    // The torn line is gone and the rest appended in order: the same as one full run.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), full);
}

#[test]
fn shards_split_the_incidents_and_merge_by_concatenation() {
    let dir = incident_dir("shards");
    let mut all = BTreeSet::new();
    for i in 0..3 {
        let out = dir.join(format!("shard{i}.jsonl"));
        let shard = format!("{i}/3");
        let run = batch(&[
            dir.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--shard",
            &shard,
        ]);
        let want: Vec<&str> = OUTCOMES
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| shard_of(id, 3) == i)
            .collect();
        let rows = lines(&out);
        assert_eq!(ids(&rows), want, "shard {shard}");
        assert_eq!(run.status.code(), Some(exit_code(&want)), "shard {shard}");
        for id in want {
            assert!(all.insert(id.to_string()), "{id} in two shards");
        }
    }
    assert_eq!(all.len(), 6);
    // Concatenated in shard order, the shards are one run over all incidents.
    let whole = dir.join("whole.jsonl");
    batch(&[dir.to_str().unwrap(), "-o", whole.to_str().unwrap()]);
    let merged: String = (0..3)
        .map(|i| std::fs::read_to_string(dir.join(format!("shard{i}.jsonl"))).unwrap())
        .collect();
    assert_eq!(merged, std::fs::read_to_string(&whole).unwrap());
    // The Kubernetes Indexed Job environment selects the same slice as --shard.
    let a = dir.join("k8s.jsonl");
    let o = Command::cargo_bin("wgtrace")
        .unwrap()
        .args([
            "batch",
            dir.to_str().unwrap(),
            "-o",
            a.to_str().unwrap(),
            "--shards",
            "3",
        ])
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    let want: Vec<&str> = OUTCOMES
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| shard_of(id, 3) == 1)
        .collect();
    assert_eq!(o.status.code(), Some(exit_code(&want)));
    assert!(o.stdout.is_empty(), "the lines go to the file");
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(dir.join("shard1.jsonl")).unwrap()
    );
}

#[test]
fn manifests_csv_and_json_lines() {
    let dir = incident_dir("manifest");
    let csv = dir.join("incidents.csv");
    std::fs::write(
        &csv,
        "id,a,b\nt1,healthy/vps.pcap,healthy/laptop.pcap\nt2,wrong-key/vps.pcap,wrong-key/laptop.pcap\n",
    )
    .unwrap();
    let o = batch(&[csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "t2 has problems");
    let rows: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["verdict"], "healthy");
    assert_eq!(rows[1]["verdict"], "problems");
    let jl = dir.join("incidents.jsonl");
    std::fs::write(&jl, "{\"id\":\"x\",\"captures\":[\"missing.pcap\"]}\n").unwrap();
    let o = batch(&[jl.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let row: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(row["error"].as_str().unwrap().contains("missing.pcap"));
    assert_eq!(row["verdict"], "error");
    assert!(row["report"].is_null());
}

#[test]
fn shards_with_one_anonymisation_key_map_addresses_alike() {
    let dir = incident_dir("anon");
    let key = dir.join("wgtrace.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let run = |args: &[&str]| -> String {
        let o = Command::cargo_bin("wgtrace")
            .unwrap()
            .args(["--anonymize-key", key.to_str().unwrap(), "batch"])
            .arg(&dir)
            .args(args)
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let whole = run(&[]);
    let merged: String = (0..3)
        .map(|i| run(&["--shard", &format!("{i}/3")]))
        .collect();
    assert_eq!(
        merged, whole,
        "same key: the shards map every address alike"
    );
    for real in ["198.51.100.2", "203.0.113.2"] {
        assert!(!whole.contains(real), "{real} left in the output");
    }
    assert!(whole.contains("\"anonymized\":true"));
    // A key of the wrong size: one line, exit 2.
    std::fs::write(&key, [7u8; 31]).unwrap();
    let o = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["--anonymize-key", key.to_str().unwrap(), "batch"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("exactly 32 bytes") && err.contains("has 31"),
        "{err}"
    );
}
