//! `analyze` recovers what the synthetic generator (examples/gen_pair.rs) put
//! into a pair: delivered and lost counts per direction, the blackhole
//! threshold, and the clock offset.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

#[allow(dead_code)]
#[path = "../examples/gen_pair.rs"]
mod gen_pair;

use serde_json::Value;
use wgtrace::pipeline::analyze_files;

fn generated(name: &str, threshold: u16, loss: f64, offset_ms: i64) -> (Value, Value) {
    let out = std::env::temp_dir().join(format!("wgtrace-gen-{}-{name}", std::process::id()));
    let truth = gen_pair::generate(&gen_pair::Args {
        out: out.clone(),
        packets: 6000,
        tunnels: 1,
        threshold,
        loss,
        offset_ns: offset_ms * 1_000_000,
        seed: 7,
        gso: 0,
    })
    .unwrap();
    let a = analyze_files(&[out.join("vps.pcap"), out.join("laptop.pcap")]).unwrap();
    assert!(a.damaged.is_empty());
    (truth, serde_json::to_value(&a.report).unwrap())
}

/// The kinds of the report's findings.
fn kinds(report: &Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

fn direction<'a>(report: &'a Value, from: &str) -> &'a Value {
    report["directions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["from"] == from)
        .unwrap()
}

#[test]
fn recovers_counts_threshold_and_offset() {
    let (truth, report) = generated("blackhole", 1424, 0.002, -1800);
    let kinds = kinds(&report);
    assert!(kinds.contains(&"mtu_blackhole"), "{kinds:?}");
    for t in truth["directions"].as_array().unwrap() {
        let d = direction(&report, t["from"].as_str().unwrap());
        // Every delivered message is seen at both ends: exact.
        assert_eq!(d["delivered"], t["delivered"], "{}", t["from"]);
        // A lost message near the edge of the far capture's window cannot be told
        // from one sent after it stopped; wgtrace leaves out the packets within one
        // maximum delay (+5 ms) of the edges, ~22 ms here: at most a few dozen.
        let (tm, gm) = (
            t["missing"].as_i64().unwrap(),
            d["missing"].as_i64().unwrap(),
        );
        assert!(
            gm <= tm && tm - gm <= 40,
            "missing: truth {tm}, wgtrace {gm}"
        );
    }
    let blackhole = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "mtu_blackhole")
        .unwrap();
    let text = blackhole.to_string();
    // Sizes on the grid below 1424 arrive, 1424 and 1452 are lost.
    assert!(text.contains("1424"), "{text}");
    // The offset is how far the second capture's clock (laptop) is ahead of the first's.
    let offset = report["clock"]["offset_ns"].as_i64().unwrap();
    let want = truth["clock_offset_ns"].as_i64().unwrap();
    assert!(
        (offset - want).abs() < 2_000_000,
        "offset {offset}, truth {want}"
    );
}

#[test]
fn random_loss_alone_is_not_a_blackhole() {
    let (_, report) = generated("random", 0, 0.01, 700);
    let kinds = kinds(&report);
    assert!(!kinds.contains(&"mtu_blackhole"), "{kinds:?}");
    assert!(kinds.contains(&"random_loss"), "{kinds:?}");
}
