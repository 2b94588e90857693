//! `--anonymize`: no real address in any output, the same diagnosis, the same
//! mapping in both captures of a run, subnets kept.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn run(args: &[&str], files: &[PathBuf]) -> String {
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(args)
        .args(files)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Every IPv4 address written in a text.
fn addresses(text: &str) -> BTreeSet<IpAddr> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.trim_matches('.').parse::<std::net::Ipv4Addr>().ok())
        .map(IpAddr::V4)
        .collect()
}

fn prefix(a: IpAddr, b: IpAddr) -> u32 {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x) ^ u32::from(y)).leading_zeros(),
        _ => 0,
    }
}

#[test]
fn no_real_address_survives_and_the_diagnosis_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for (n, pair) in [
        &["mtu-blackhole/vps.pcap", "mtu-blackhole/laptop.pcap"][..],
        &["hairpin-nat/phone.pcap", "hairpin-nat/pi.pcap"],
        // Inner flows, SYNs and their MSS (affected_flows, tcp_mss_too_large).
        &["any-blackhole/vps.pcap", "any-blackhole/laptop.pcap"],
        // Along a path: SNAT, DNAT, the reflection and the martian chain.
        &[
            "hairpin-nat/phone.pcap",
            "hairpin-nat/router.pcap",
            "hairpin-nat/pi.pcap",
        ],
        // Inner ICMP frag-needed: its flows and sources (inner_pmtud).
        &["inner-pmtud/vps.pcap", "inner-pmtud/laptop.pcap"],
    ]
    .into_iter()
    .enumerate()
    {
        let files: Vec<PathBuf> = pair.iter().map(|p| testdata(p)).collect();
        // A fixed key, so that the expected addresses are known: an
        // anonymised address may by chance equal another real one (the kept
        // private prefixes leave few bits), which is no leak.
        let key_bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(7) ^ n as u8);
        let key = dir.path().join(format!("key{n}"));
        std::fs::write(&key, key_bytes).unwrap();
        let k = key.to_str().unwrap();
        let an = wgtrace::anonymize::Anonymizer::from_key(&key_bytes);
        let plain = run(&["analyze", "-f", "json"], &files);
        let anon = run(&["--anonymize-key", k, "analyze", "-f", "json"], &files);
        let mut real = addresses(&plain);
        assert!(real.len() >= 2, "{real:?}");
        for fmt in ["json", "table"] {
            real.extend(addresses(&run(&["inspect", "-f", fmt], &files)));
        }
        let images: BTreeSet<IpAddr> = real.iter().map(|ip| an.map(*ip)).collect();
        for ip in &real {
            // Only the addresses that mean something by themselves stay.
            let special = ip.is_loopback()
                || ip.is_multicast()
                || ip.is_unspecified()
                || *ip == IpAddr::from([255, 255, 255, 255]);
            assert!(an.map(*ip) != *ip || special, "{ip} kept as it is");
        }
        for fmt in ["json", "table", "markdown", "html"] {
            let text = run(&["--anonymize-key", k, "analyze", "-f", fmt], &files);
            // Every address shown is the image of a real one.
            let shown = addresses(&text);
            assert!(
                shown.is_subset(&images),
                "{fmt}: {shown:?} not all in {images:?}"
            );
            assert!(!shown.is_empty(), "{fmt}: no address at all");
            // The filters say they go with anonymised addresses.
            let note = if fmt == "json" {
                "\"anonymized\": true"
            } else {
                "anonymised"
            };
            assert!(text.contains(note), "{fmt}: no note");
        }
        for fmt in ["json", "table"] {
            let inspect = run(&["--anonymize-key", k, "inspect", "-f", fmt], &files);
            let shown = addresses(&inspect);
            assert!(
                shown.is_subset(&images),
                "inspect {fmt}: {shown:?} not all in {images:?}"
            );
            // Not vacuous: inspect names addresses.
            assert!(!addresses(&inspect).is_empty());
        }
        let (p, a): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(&plain).unwrap(),
            serde_json::from_str(&anon).unwrap(),
        );
        let kinds = |v: &serde_json::Value| -> Vec<String> {
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["kind"].to_string())
                .collect()
        };
        assert_eq!(kinds(&p), kinds(&a));
        assert_eq!(p["verdict"], a["verdict"]);
        assert_eq!(a["anonymized"], true);
        assert!(p.get("anonymized").is_none(), "additive: absent when plain");
        assert_eq!(p["matched"], a["matched"]);
        for d in 0..2 {
            for k in ["sent", "delivered", "missing", "outside_window"] {
                assert_eq!(p["directions"][d][k], a["directions"][d][k]);
            }
        }
    }
}

#[test]
fn one_mapping_for_both_captures_and_subnets_kept() {
    let files = [
        testdata("hairpin-nat/phone.pcap"),
        testdata("hairpin-nat/pi.pcap"),
    ];
    let v: serde_json::Value =
        serde_json::from_str(&run(&["--anonymize", "analyze", "-f", "json"], &files)).unwrap();
    // The phone addressed the router's public address; the Pi received the
    // hairpinned packets for the same public address in its NAT mapping: the
    // two captures must agree on the fake address.
    let nat = &v["nat"][0];
    let sent_dst = nat["sent_dst"].as_str().unwrap();
    let recv_dst = nat["recv_dst"].as_str().unwrap();
    assert_eq!(sent_dst, recv_dst, "{nat}");
    let ip = |s: &str| s.rsplit_once(':').unwrap().0.parse::<IpAddr>().unwrap();
    // 192.168.2.10 (phone) and 192.168.1.2 (Pi) share exactly 22 leading bits.
    let (phone, pi) = (
        ip(nat["sent_src"].as_str().unwrap()),
        ip(nat["recv_src"].as_str().unwrap()),
    );
    assert_eq!(
        prefix(phone, pi),
        prefix(
            "192.168.2.10".parse().unwrap(),
            "192.168.1.2".parse().unwrap()
        )
    );
    assert_ne!(phone, "192.168.2.10".parse::<IpAddr>().unwrap());
}

#[test]
fn a_key_file_makes_the_map_reproducible() {
    let files = [
        testdata("mtu-blackhole/vps.pcap"),
        testdata("mtu-blackhole/laptop.pcap"),
    ];
    let dir = std::env::temp_dir().join(format!("wgtrace-anon-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("k");
    std::fs::write(&key, (0u8..32).collect::<Vec<u8>>()).unwrap();
    let k = key.to_str().unwrap();
    let one = run(&["--anonymize-key", k, "analyze", "-f", "json"], &files);
    let two = run(&["--anonymize-key", k, "analyze", "-f", "json"], &files);
    assert_eq!(one, two);
    let random = run(&["--anonymize", "analyze", "-f", "json"], &files);
    assert_ne!(one, random, "without a key file the key is random per run");
    assert!(!one.contains("198.51.100.2") && !one.contains("203.0.113.2"));
    std::fs::write(&key, b"short").unwrap();
    let o = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["--anonymize-key", k, "analyze"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
