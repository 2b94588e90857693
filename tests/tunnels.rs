//! Real deployments recorded by `testdata/record.sh`: two tunnels between the
//! same hosts, a server with two peers, a rekey with NAT rebindings, and both
//! ends captured with `-i any`. Every count is compared with the recording's
//! truth (router counters, tshark), never with an earlier wgtrace output.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::path::PathBuf;
use wgtrace::pipeline::{analyze_files, analyze_files_with, Options};

fn dir(s: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(s)
}

fn truth(s: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir(s).join("truth.json")).unwrap()).unwrap()
}

fn report(s: &str, a: &str, b: &str) -> Value {
    let r = analyze_files(&[dir(s).join(a), dir(s).join(b)]).unwrap();
    serde_json::to_value(&r.report).unwrap()
}

/// The direction of tunnel `t` from `from`.
fn direction<'a>(r: &'a Value, t: &Value, from: &str) -> &'a Value {
    r["directions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["tunnel"] == *t && d["from"] == from)
        .unwrap_or_else(|| panic!("no direction {from} in tunnel {t}"))
}

/// The tunnel whose first capture's own endpoint has this port.
fn tunnel_on_port(r: &Value, port: u16) -> &Value {
    r["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["local"][0]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.as_str().unwrap().ends_with(&format!(":{port}")))
        })
        .unwrap_or_else(|| panic!("no tunnel on port {port}: {}", r["tunnels"]))
}

fn kinds_of(r: &Value, tunnel: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tunnel"] == *tunnel)
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_tunnels_between_the_same_hosts_are_analysed_apart() {
    let t = truth("two-tunnels");
    let r = report("two-tunnels", "vps.pcap", "laptop.pcap");
    assert_eq!(r["tunnels"].as_array().unwrap().len(), 2);
    for (key, port) in [("51820<->51821", 51820), ("51822<->51823", 51822)] {
        let per = &t["counted"]["per_tunnel"][key];
        let tu = tunnel_on_port(&r, port);
        let id = &tu["id"];
        for (dir, from) in [("vps->laptop", "vps.pcap"), ("laptop->vps", "laptop.pcap")] {
            let d = direction(&r, id, from);
            let fwd = per["forwarded_udp"][dir].as_u64().unwrap();
            let dropped = per["dropped_too_big"][dir].as_u64().unwrap();
            assert_eq!(d["delivered"].as_u64().unwrap(), fwd, "{key} {dir}");
            assert_eq!(d["missing"].as_u64().unwrap(), dropped, "{key} {dir}");
            assert_eq!(d["sent"].as_u64().unwrap(), fwd + dropped, "{key} {dir}");
        }
        let kinds = kinds_of(&r, id);
        let fits = t["configured"]["tunnels"][key]["fits_path"]
            .as_bool()
            .unwrap();
        if fits {
            assert!(kinds.is_empty(), "{key}: {kinds:?}");
            assert_eq!(tu["verdict"], "healthy");
        } else {
            for k in t["expected_findings"].as_array().unwrap() {
                assert!(
                    kinds.iter().any(|x| x == k.as_str().unwrap()),
                    "{key}: {kinds:?}"
                );
            }
            assert_eq!(tu["verdict"], "problems");
            // The fix is for this tunnel, and keeps its packets within the path.
            let bh = r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["tunnel"] == *id && f["kind"] == "mtu_blackhole")
                .unwrap();
            let mtu = bh["evidence"]["tunnel_mtu"].as_u64().unwrap();
            let path = t["configured"]["path_mtu"].as_u64().unwrap();
            assert!(
                mtu + 60 <= path && mtu + 60 + 16 > path,
                "MTU {mtu} for path {path}"
            );
            assert!(r["headline"].as_str().unwrap().contains(":51822"));
        }
    }
    // --tunnel and --peer pick one; the other tunnel's packets are not counted.
    let paths = [
        dir("two-tunnels").join("vps.pcap"),
        dir("two-tunnels").join("laptop.pcap"),
    ];
    let healthy = tunnel_on_port(&r, 51820)["id"].as_u64().unwrap() as u32;
    for sel in [
        wgtrace::correlate::TunnelSelect::Id(healthy),
        "198.51.100.2:51820".parse().unwrap(),
    ] {
        let opts = Options {
            select: Some(sel.clone()),
            ..Options::default()
        };
        let one = serde_json::to_value(analyze_files_with(&paths, &opts).unwrap().report).unwrap();
        assert_eq!(one["verdict"], "healthy", "{sel}");
        assert_eq!(one["tunnels"].as_array().unwrap().len(), 1);
        let per = &t["counted"]["per_tunnel"]["51820<->51821"];
        let sent: u64 = one["directions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["sent"].as_u64().unwrap())
            .sum();
        let fwd = per["forwarded_udp"]["vps->laptop"].as_u64().unwrap()
            + per["forwarded_udp"]["laptop->vps"].as_u64().unwrap();
        assert_eq!(sent, fwd);
    }
    let opts = Options {
        select: Some("192.0.2.99".parse().unwrap()),
        ..Options::default()
    };
    let none = serde_json::to_value(analyze_files_with(&paths, &opts).unwrap().report).unwrap();
    assert_eq!(none["verdict"], "inconclusive");
    assert_eq!(none["findings"][0]["kind"], "tunnel_not_found");
}

#[test]
fn a_server_with_two_peers_names_the_other_and_its_big_packets() {
    let t = truth("two-peers");
    let c = &t["counted"];
    // vps + laptop: the blackhole, counted like the routers.
    let r = report("two-peers", "vps.pcap", "laptop.pcap");
    let id = &r["tunnels"][0]["id"];
    assert_eq!(r["tunnels"].as_array().unwrap().len(), 1);
    for (dir, from) in [("vps->laptop", "vps.pcap"), ("laptop->vps", "laptop.pcap")] {
        let d = direction(&r, id, from);
        assert_eq!(d["delivered"], c["router_forwarded_udp"][dir], "{dir}");
        assert_eq!(d["missing"], c["router_dropped_too_big"][dir], "{dir}");
    }
    let kinds: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for k in t["pairs"]["vps+laptop"]["expected_findings"]
        .as_array()
        .unwrap()
    {
        assert!(kinds.contains(&k.as_str().unwrap()), "{kinds:?}");
    }
    // The phone is named, with the big packets it was sent.
    let phone = t["configured"]["endpoints"]["phone"].as_str().unwrap();
    let op = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "other_peers")
        .unwrap();
    assert_eq!(op["tunnel"], Value::Null);
    let peers = op["evidence"]["peers"].as_array().unwrap();
    let p = peers.iter().find(|p| p["endpoint"] == phone).unwrap();
    // At or above the smallest size lost towards the laptop (tshark's sizes).
    let sizes = &c["udp_payload_sizes_from_captures_tshark"];
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    let lost_from = sizes["vps->laptop"]["sent_at_vps"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| {
            n(&sizes["vps->laptop"]["sent_at_vps"], k)
                > n(&sizes["vps->laptop"]["received_at_laptop"], k)
        })
        .map(|k| k.parse::<u64>().unwrap())
        .min()
        .unwrap();
    let big: u64 = sizes["vps->phone"]["received_at_phone"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.parse::<u64>().unwrap() >= lost_from)
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(p["big_sent"].as_u64().unwrap(), big);
    // vps + phone: healthy, the laptop is the other peer.
    let r = report("two-peers", "vps.pcap", "phone.pcap");
    assert_eq!(r["verdict"], "healthy", "{}", r["headline"]);
    let id = &r["tunnels"][0]["id"];
    for (dir, from) in [("vps->phone", "vps.pcap"), ("phone->vps", "phone.pcap")] {
        let d = direction(&r, id, from);
        assert_eq!(d["delivered"], c["router_forwarded_udp"][dir], "{dir}");
        assert_eq!(d["missing"], 0, "{dir}");
    }
}

#[test]
fn a_rekey_and_nat_rebindings_stay_one_tunnel() {
    let t = truth("rekey-rebind");
    let c = &t["counted"];
    let r = report("rekey-rebind", "vps.pcap", "laptop.pcap");
    assert_eq!(r["verdict"], "healthy", "{}", r["headline"]);
    let tunnels = r["tunnels"].as_array().unwrap();
    assert_eq!(tunnels.len(), 1);
    let id = &tunnels[0]["id"];
    for (dir, from) in [("vps->laptop", "vps.pcap"), ("laptop->vps", "laptop.pcap")] {
        let d = direction(&r, id, from);
        assert_eq!(d["delivered"], c["homegw_forwarded_udp"][dir], "{dir}");
        assert_eq!(d["missing"], 0);
    }
    // The handshakes (first session, then the rekey) at both ends.
    let responses = |host: &str| -> Vec<u64> {
        c["from_captures_tshark"][host]["handshake_messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "response")
            .map(|m| m["frame"].as_u64().unwrap())
            .collect()
    };
    let got: Vec<(u64, u64)> = tunnels[0]["handshakes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["frames"][0].as_u64().unwrap(),
                h["frames"][1].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(u64, u64)> = responses("vps")
        .into_iter()
        .zip(responses("laptop"))
        .collect();
    assert_eq!(got, want);
    // Each rebinding is a roam in vps.pcap, at the first frame from the new port.
    let seen = c["from_captures_tshark"]["vps"]["peer_as_source"]
        .as_array()
        .unwrap();
    let roam = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "endpoint_roaming")
        .unwrap();
    let roams = roam["evidence"]["changes"].as_array().unwrap();
    assert_eq!(roams.len(), seen.len() - 1, "{roams:?}");
    for (w, r) in seen.windows(2).zip(roams) {
        assert_eq!(r["from"], w[0]["endpoint"]);
        assert_eq!(r["to"], w[1]["endpoint"]);
        assert_eq!(r["frame"], w[1]["first_frame"]);
    }
}

#[test]
fn both_ends_captured_on_any_interface() {
    let t = truth("any-both");
    let c = &t["counted"];
    let r = report("any-both", "vps.pcap", "laptop.pcap");
    assert_eq!(r["verdict"], "healthy", "{}", r["headline"]);
    assert_eq!(r["tunnels"].as_array().unwrap().len(), 1);
    let id = &r["tunnels"][0]["id"];
    for (dir, from) in [("vps->laptop", "vps.pcap"), ("laptop->vps", "laptop.pcap")] {
        let d = direction(&r, id, from);
        assert_eq!(d["delivered"], c["router_forwarded_udp"][dir], "{dir}");
        assert_eq!(d["missing"], 0);
    }
}
