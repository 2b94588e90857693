//! Captures taken with UDP GSO on (examples/gen_pair.rs `--gso N`): wgtrace
//! splits each super-packet into its WireGuard messages, and what it counts
//! — super-packets, messages, delivered and lost, by size — is the
//! generator's truth.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

#[allow(dead_code)]
#[path = "../examples/gen_pair.rs"]
mod gen_pair;

use serde_json::Value;
use std::path::PathBuf;
use wgtrace::pipeline::analyze_files;

fn generated(name: &str, packets: u64, gso: usize, seed: u64) -> (PathBuf, Value) {
    let out = std::env::temp_dir().join(format!("wgtrace-gso-{}-{name}", std::process::id()));
    let truth = gen_pair::generate(&gen_pair::Args {
        out: out.clone(),
        packets,
        tunnels: 1,
        threshold: 1440,
        loss: 0.002,
        offset_ns: 1_200_000_000,
        seed,
        gso,
    })
    .unwrap();
    (out, truth)
}

fn finding<'a>(r: &'a Value, kind: &str) -> Option<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
}

fn direction<'a>(r: &'a Value, from: &str) -> &'a Value {
    r["directions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["from"] == from)
        .unwrap()
}

/// `[{udp_payload, packets}]` as a map, to compare with the truth's.
fn by_size(v: &Value) -> serde_json::Map<String, Value> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| (e["udp_payload"].to_string(), e["packets"].clone()))
        .collect()
}

#[test]
fn split_counts_and_loss_equal_the_truth() {
    for (gso, seed) in [(2usize, 21u64), (8, 22), (44, 23)] {
        let what = format!("--gso {gso}");
        let (out, truth) = generated(&format!("g{gso}"), 12_000, gso, seed);
        let paths = [out.join("vps.pcap"), out.join("laptop.pcap")];
        let a = analyze_files(&paths).unwrap();
        let r = serde_json::to_value(&a.report).unwrap();
        let sp = &truth["superpackets"];
        assert!(sp["datagrams"].as_u64().unwrap() > 100, "{what}: {sp}");

        // The finding: counts and every super-packet frame, at the vps only.
        let f = finding(&r, "offload_superpackets").unwrap_or_else(|| panic!("{what}"));
        assert_eq!(f["severity"], "warning");
        let e = &f["evidence"];
        assert_eq!(e["file"], "vps.pcap", "{what}");
        assert_eq!(e["split"], sp["datagrams"], "{what}");
        assert_eq!(e["messages"], sp["messages"], "{what}");
        assert_eq!(e["unsplittable"], 0, "{what}");
        let frames = f["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 1, "{what}: the laptop capture has none");
        assert_eq!(frames[0]["frames"], sp["frames"], "{what}");
        let n = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "offload_superpackets")
            .count();
        assert_eq!(n, 1, "{what}");

        // Delivered and lost, by size: each message counted on its own.
        for t in truth["directions"].as_array().unwrap() {
            let from = t["from"].as_str().unwrap();
            let d = direction(&r, from);
            assert_eq!(d["delivered"], t["delivered"], "{what} {from}");
            assert_eq!(
                by_size(&d["delivered_by_size"]),
                *t["delivered_by_size"].as_object().unwrap(),
                "{what} {from}"
            );
            let (tm, gm) = (
                t["missing"].as_u64().unwrap(),
                d["missing"].as_u64().unwrap(),
            );
            let edge = t["missing_near_edges"].as_u64().unwrap();
            assert!(
                gm <= tm && tm - gm <= edge,
                "{what} {from}: missing: truth {tm} ({edge} near the edges), wgtrace {gm}"
            );
        }
        // No message of an impossible size: the largest is the generator's 1452.
        let vps = direction(&r, "vps.pcap");
        let sizes = by_size(&vps["missing_by_size"]);
        assert!(
            sizes.keys().all(|k| k.parse::<u32>().unwrap() <= 1452),
            "{what}: {sizes:?}"
        );
        // The blackhole at 1440 is still found, by message size.
        let bh = finding(&r, "mtu_blackhole").unwrap_or_else(|| panic!("{what}"));
        assert_eq!(bh["evidence"]["smallest_lost"]["udp"], 1440, "{what}");

        // `inspect` counts the same, and a message per message.
        let o = assert_cmd::Command::cargo_bin("wgtrace")
            .unwrap()
            .args(["inspect", "--format", "json"])
            .arg(&paths[0])
            .output()
            .unwrap();
        let j: Value = serde_json::from_slice(&o.stdout).unwrap();
        let c = &j["captures"][0];
        assert_eq!(c["superpackets"]["split"], sp["datagrams"], "{what}");
        assert_eq!(c["superpackets"]["messages"], sp["messages"], "{what}");
        assert_eq!(c["superpackets"]["unsplittable"], 0, "{what}");
        assert_eq!(c["superpackets"]["first_frame"], sp["frames"][0], "{what}");
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// Without `--gso` nothing is a super-packet (and the generator writes what it always did).
#[test]
fn no_offload_no_finding() {
    let (out, truth) = generated("none", 6000, 0, 5);
    assert_eq!(truth["superpackets"]["datagrams"], 0);
    let a = analyze_files(&[out.join("vps.pcap"), out.join("laptop.pcap")]).unwrap();
    let r = serde_json::to_value(&a.report).unwrap();
    assert!(finding(&r, "offload_superpackets").is_none());
    let _ = std::fs::remove_dir_all(&out);
}

/// Classic pcap (as gen_pair writes it) with the given frames (1-based) recorded twice,
/// as `tcpdump -i any` records a packet on two interfaces.
fn with_frames_twice(pcap: &[u8], twice: &std::collections::BTreeSet<u64>) -> Vec<u8> {
    let mut out = pcap[..24].to_vec();
    let (mut at, mut no) = (24, 0u64);
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let rec = &pcap[at..at + 16 + caplen];
        no += 1;
        out.extend_from_slice(rec);
        if twice.contains(&no) {
            out.extend_from_slice(rec);
        }
        at += 16 + caplen;
    }
    out
}

/// A super-packet recorded twice: each of its messages is a duplicate once,
/// the messages of one super-packet are never duplicates of each other, and
/// what was delivered is still the truth.
#[test]
fn superpackets_recorded_twice_are_duplicates_once() {
    let (out, truth) = generated("twice", 6000, 8, 31);
    let sp = &truth["superpackets"];
    let twice: std::collections::BTreeSet<u64> = sp["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let vps = std::fs::read(out.join("vps.pcap")).unwrap();
    let doubled = out.join("vps-twice.pcap");
    std::fs::write(&doubled, with_frames_twice(&vps, &twice)).unwrap();
    let a = analyze_files(&[doubled, out.join("laptop.pcap")]).unwrap();
    let r = serde_json::to_value(&a.report).unwrap();
    assert_eq!(r["duplicates"][0], sp["messages"]);
    assert_eq!(r["duplicates"][1], 0);
    for t in truth["directions"].as_array().unwrap() {
        let from = t["from"]
            .as_str()
            .unwrap()
            .replace("vps.pcap", "vps-twice.pcap");
        assert_eq!(direction(&r, &from)["delivered"], t["delivered"], "{from}");
    }
    let f = finding(&r, "offload_superpackets").unwrap();
    assert_eq!(
        f["evidence"]["split"],
        2 * sp["datagrams"].as_u64().unwrap()
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Super-packets that cannot be split (here: the first message's counter is
/// not below the next one's) are named as such, counted once, and no size of
/// theirs reaches the size statistics.
#[test]
fn unsplittable_superpackets_are_named_and_have_no_size() {
    let (out, truth) = generated("broken", 6000, 8, 41);
    let sp = &truth["superpackets"];
    let broken: std::collections::BTreeSet<u64> = sp["frames"]
        .as_array()
        .unwrap()
        .iter()
        .step_by(3)
        .map(|v| v.as_u64().unwrap())
        .collect();
    let mut pcap = std::fs::read(out.join("vps.pcap")).unwrap();
    let (mut at, mut no) = (24, 0u64);
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        no += 1;
        if broken.contains(&no) {
            // Ethernet 14 + IPv4 20 + UDP 8, then the counter at 8..16.
            let c = at + 16 + 42 + 8;
            pcap[c..c + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        }
        at += 16 + caplen;
    }
    let path = out.join("vps-broken.pcap");
    std::fs::write(&path, pcap).unwrap();
    let a = analyze_files(&[path, out.join("laptop.pcap")]).unwrap();
    let r = serde_json::to_value(&a.report).unwrap();
    let f = finding(&r, "offload_superpackets").unwrap();
    let e = &f["evidence"];
    let n = broken.len() as u64;
    assert_eq!(e["unsplittable"], n);
    assert_eq!(e["split"], sp["datagrams"].as_u64().unwrap() - n);
    assert!(f["summary"]
        .as_str()
        .unwrap()
        .contains("could not be split"));
    // Every super-packet frame, split or not, each once.
    assert_eq!(f["frames"][0]["frames"], sp["frames"]);
    let vps = direction(&r, "vps-broken.pcap");
    for k in ["missing_by_size", "delivered_by_size"] {
        let sizes = by_size(&vps[k]);
        assert!(
            sizes.keys().all(|s| s.parse::<u32>().unwrap() <= 1452),
            "{k}: {sizes:?}"
        );
    }
    let bh = finding(&r, "mtu_blackhole").unwrap();
    assert_eq!(bh["evidence"]["smallest_lost"]["udp"], 1440);
    let _ = std::fs::remove_dir_all(&out);
}
