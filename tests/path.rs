//! `analyze P1 P2 … Pn` along one path, checked against what the recordings'
//! truth.json and tshark TSV files say (never against earlier output):
//! the dropping hop, per-hop lost counts and sizes, TTL drops, the NAT
//! mapping, where the martians appear; a wrong order is called out; every
//! filter selects exactly its frames (`--anonymize` along a path: tests/anonymize.rs).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use wgtrace::pipeline::analyze_files;

fn dir(story: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(story)
}

fn truth(story: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir(story).join("truth.json")).unwrap()).unwrap()
}

fn analyze(story: &str, files: &[&str]) -> Value {
    let paths: Vec<PathBuf> = files.iter().map(|f| dir(story).join(f)).collect();
    let a = analyze_files(&paths).unwrap();
    serde_json::from_str(&a.report.to_json()).unwrap()
}

/// One TSV file: a map per row from column name to value.
fn tsv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            head.iter()
                .zip(l.split('\t').chain(std::iter::repeat("")))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn frames(list: &Value) -> BTreeSet<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .flat_map(|fr| fr["frames"].as_array().unwrap().iter())
        .map(|f| f.as_u64().unwrap())
        .collect()
}

fn kinds(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(r: &'a Value, kind: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(r)))
}

const BLACKHOLE: [&str; 4] = ["laptop.pcap", "rtr-lan.pcap", "rtr-wan.pcap", "vps.pcap"];

#[test]
fn blackhole_path_names_the_dropping_hop() {
    let t = truth("path-blackhole");
    let order: Vec<&str> = t["path"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(order, BLACKHOLE, "the truth's path order");
    let r = analyze("path-blackhole", &order);
    let p = &r["path"];
    assert_eq!(p["points"], serde_json::json!(BLACKHOLE));
    let hops = p["hops"].as_array().unwrap();
    let want = t["counted"]["path_from_captures_tshark"]["hops"]
        .as_array()
        .unwrap();
    assert_eq!(hops.len(), want.len());
    for (h, w) in hops.iter().zip(want) {
        let between = |i: usize| format!("{}.pcap", w["between"][i].as_str().unwrap());
        assert_eq!(
            (h["a"].as_str().unwrap(), h["b"].as_str().unwrap()),
            (between(0).as_str(), between(1).as_str())
        );
        // laptop->vps runs a -> b; vps->laptop b -> a. A packet seen
        // upstream is delivered, lost, or sent after the downstream capture
        // stopped (the truth's count ignores capture windows).
        let up = &w["laptop->vps"];
        assert_eq!(h["lost_a_to_b"], up["never_downstream"], "{h}");
        assert_eq!(
            h["sent_a_to_b"].as_u64().unwrap() + h["outside_window_a_to_b"].as_u64().unwrap(),
            up["seen_upstream"].as_u64().unwrap()
        );
        let down = &w["vps->laptop"];
        let never = down["never_downstream"].as_u64().unwrap();
        let lost = h["lost_b_to_a"].as_u64().unwrap();
        let outside = h["outside_window_b_to_a"].as_u64().unwrap();
        assert_eq!(lost + outside, never, "{h}");
        assert!(never == 0 || lost > 0, "{h}");
        assert_eq!(
            h["sent_b_to_a"].as_u64().unwrap() + outside,
            down["seen_upstream"].as_u64().unwrap()
        );
        // Lost sizes: the truth's UDP payload sizes.
        let sizes: BTreeSet<String> = h["lost_b_to_a_by_size"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["size"]["udp"].to_string())
            .collect();
        let want_sizes: BTreeSet<String> = down["never_downstream_sizes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(sizes.is_subset(&want_sizes), "{sizes:?} {want_sizes:?}");
    }
    // TTL drops per hop, from the truth's TTLs at each point.
    let at = &t["counted"]["path_from_captures_tshark"]["at_point"];
    let ttl = |point: &str, dir: &str| -> u64 {
        let m = at[point][dir]["ttl"].as_object().unwrap();
        assert_eq!(m.len(), 1);
        m.keys().next().unwrap().parse().unwrap()
    };
    let names = ["laptop", "rtr-lan", "rtr-wan", "vps"];
    for (k, h) in hops.iter().enumerate() {
        let (a, b) = (names[k], names[k + 1]);
        let ab = ttl(a, "laptop->vps") - ttl(b, "laptop->vps");
        let ba = ttl(b, "vps->laptop") - ttl(a, "vps->laptop");
        assert_eq!(h["ttl_drops_a_to_b"], serde_json::json!([ab]), "hop {k}");
        assert_eq!(h["ttl_drops_b_to_a"], serde_json::json!([ba]), "hop {k}");
    }
    // The dropping hop and what the finding claims.
    let drop = &t["path"]["dropping_hop"];
    let f = finding(&r, "path_loss");
    let ev = &f["evidence"];
    assert_eq!(f["severity"], "error");
    assert_eq!(ev["from"], drop["between"][0]);
    assert_eq!(ev["to"], drop["between"][1]);
    assert_eq!(ev["origin"], "vps.pcap");
    assert_eq!(ev["size_dependent"], true);
    assert_eq!(ev["routers"], 1);
    let icmp: u64 = t["counted"]["icmp_frag_needed_in_captures_tshark"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(ev["icmp_seen"].as_u64().unwrap(), icmp);
    assert!(f["summary"]
        .as_str()
        .unwrap()
        .contains(drop["at"].as_str().unwrap()));
    assert!(
        r["headline"].as_str().unwrap().contains("never leave it"),
        "{}",
        r["headline"]
    );
    // Only one hop loses anything.
    assert_eq!(kinds(&r).iter().filter(|k| *k == "path_loss").count(), 1);
    // Its frames: 1452-byte payloads from vps at rtr-wan that rtr-lan never shows.
    let key =
        |row: &BTreeMap<String, String>| (row["wg.receiver"].clone(), row["wg.counter"].clone());
    let lan: BTreeSet<_> = tsv(&dir("path-blackhole").join("rtr-lan.pcap.tshark.tsv"))
        .iter()
        .filter(|row| row["wg.type"] == "4")
        .map(key)
        .collect();
    let vanished: BTreeSet<u64> = tsv(&dir("path-blackhole").join("rtr-wan.pcap.tshark.tsv"))
        .iter()
        .filter(|row| row["wg.type"] == "4" && row["ip.src"] == "198.51.100.2")
        .filter(|row| !lan.contains(&key(row)))
        .map(|row| row["frame.number"].parse().unwrap())
        .collect();
    let lost = frames(&f["frames"]);
    assert!(lost.is_subset(&vanished), "{lost:?} {vanished:?}");
    assert_eq!(vanished.len() as u64, drop_count(&t));
    assert_eq!(frames(&hops[1]["lost_b_to_a_frames"]), lost);
    // NAT: before and after, between the truth's two points.
    let nat = &t["path"]["nat_at"];
    let h = &hops[1];
    assert_eq!(
        (h["a"].clone(), h["b"].clone()),
        (nat["between"][0].clone(), nat["between"][1].clone())
    );
    let snat = h["rewritten"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["heading"] == "a_to_b")
        .unwrap();
    assert_eq!(snat["before_src"], nat["before"]);
    assert_eq!(snat["after_src"], nat["after"]);
    assert_eq!(snat["snat"], true);
    for k in [0, 2] {
        assert_eq!(hops[k]["rewritten"], serde_json::json!([]), "hop {k}");
    }
    // What the whole path should show.
    for k in t["path"]["expected_findings"].as_array().unwrap() {
        assert!(
            kinds(&r).contains(&k.as_str().unwrap().to_string()),
            "{k}: {:?}",
            kinds(&r)
        );
    }
    assert_eq!(r["verdict"], "problems");
}

/// The packets the router counted as dropped for being too big.
fn drop_count(t: &Value) -> u64 {
    t["counted"]["router_dropped_too_big"]["vps->laptop"]
        .as_u64()
        .unwrap()
}

/// The TTL (by tshark) of path-blackhole's packets at a point, one direction.
fn truth_ttl(point: &str, direction: &str) -> u64 {
    truth("path-blackhole")["counted"]["path_from_captures_tshark"]["at_point"][point][direction]
        ["ttl"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every order of the four points: path_order exactly when the truth's TTLs
/// along that order rise somewhere and fall elsewhere in one direction
/// (points on one link have the same TTLs, so swapping them cannot be told).
#[test]
fn every_order_the_ttls_contradict_is_called_out() {
    let ttl = |p: &str, d: &str| truth_ttl(p, d) as i64;
    let points = ["laptop", "rtr-lan", "rtr-wan", "vps"];
    let mut orders = vec![vec![]];
    for _ in 0..points.len() {
        orders = orders
            .into_iter()
            .flat_map(|o: Vec<&str>| {
                points
                    .iter()
                    .filter(|p| !o.contains(p))
                    .map(|p| [o.clone(), vec![*p]].concat())
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    assert_eq!(orders.len(), 24);
    let mut called = 0;
    for order in &orders {
        let monotone = |d: &str| {
            let steps: Vec<i64> = order
                .windows(2)
                .map(|w| (ttl(w[1], d) - ttl(w[0], d)).signum())
                .filter(|s| *s != 0)
                .collect();
            steps.windows(2).all(|w| w[0] == w[1])
        };
        let contradicted = !(monotone("laptop->vps") && monotone("vps->laptop"));
        let files: Vec<String> = order.iter().map(|p| format!("{p}.pcap")).collect();
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        let r = analyze("path-blackhole", &refs);
        assert_eq!(
            kinds(&r).contains(&"path_order".to_string()),
            contradicted,
            "{order:?}"
        );
        called += usize::from(contradicted);
    }
    // The given order, its reverse and the same-link swaps pass; the rest not.
    assert_eq!(called, 20);
}

#[test]
fn a_wrong_order_is_called_out_not_judged() {
    let r = analyze(
        "path-blackhole",
        &["laptop.pcap", "rtr-wan.pcap", "rtr-lan.pcap", "vps.pcap"],
    );
    assert_eq!(r["verdict"], "inconclusive");
    let f = finding(&r, "path_order");
    assert_eq!(f["evidence"]["file"], "rtr-wan.pcap");
    assert!(!kinds(&r).contains(&"path_loss".to_string()));
    // The example's TTLs are the truth's at those points.
    let ttl = truth_ttl;
    let ex = f["evidence"]["example_ttls"].as_array().unwrap();
    let seen: Vec<u64> = ex.iter().map(|x| x.as_u64().unwrap()).collect();
    let either = |d: &str| vec![ttl("laptop", d), ttl("rtr-wan", d), ttl("rtr-lan", d)];
    assert!(
        seen == either("laptop->vps") || seen == either("vps->laptop"),
        "{seen:?}"
    );
}

#[test]
fn hairpin_path_shows_snat_dnat_and_where_the_martians_appear() {
    let t = truth("hairpin-nat");
    let cfg = &t["configured"];
    let pi = cfg["pi_address"].as_str().unwrap();
    // The phone sends; the router's LAN port and the Pi's legacy port are
    // the two ends of one link (README: each initiation twice on both).
    let r = analyze("hairpin-nat", &["phone.pcap", "router.pcap", "pi.pcap"]);
    let hops = r["path"]["hops"].as_array().unwrap();
    assert_eq!(
        hops[1]["ttl_drops_a_to_b"],
        serde_json::json!([0]),
        "same link"
    );
    for h in hops {
        assert_eq!(h["lost_a_to_b"], 0);
        assert_eq!(h["lost_b_to_a"], 0);
    }
    let phone_init = tsv(&dir("hairpin-nat").join("phone.pcap.tshark.tsv"))
        .into_iter()
        .filter(|row| row["wg.type"] == "1")
        .collect::<Vec<_>>();
    assert_eq!(
        hops[0]["delivered_a_to_b"].as_u64().unwrap(),
        phone_init.len() as u64
    );
    // SNAT between the phone and the router's link: the phone's source
    // becomes the Pi's address, the destination stays the public endpoint.
    let w = &hops[0]["rewritten"][0];
    let src = format!(
        "{}:{}",
        phone_init[0]["ip.src"], phone_init[0]["udp.srcport"]
    );
    assert_eq!(w["before_src"], src);
    assert_eq!(w["before_dst"], cfg["phone_endpoint"]);
    assert!(w["after_src"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{pi}:")));
    assert_eq!(
        (w["snat"].clone(), w["dnat"].clone()),
        (true.into(), false.into())
    );
    // DNAT back onto the same link, seen at router.pcap.
    let refl = &hops[0]["reflected"][0];
    assert_eq!(refl["file"], "router.pcap");
    assert_eq!(refl["before_dst"], cfg["phone_endpoint"]);
    assert_eq!(refl["after_dst"], format!("{pi}:51820"));
    assert_eq!(refl["packets"], t["counted"]["router_hairpinned"]);
    // The martians: first at router.pcap (in this order), and at pi.pcap.
    let m = finding(&r, "path_martian");
    assert_eq!(m["evidence"]["file"], "router.pcap");
    assert_eq!(
        m["evidence"]["seen_at"],
        serde_json::json!(["router.pcap", "pi.pcap"])
    );
    assert_eq!(
        m["evidence"]["packets"],
        t["counted"]["pi_received_src_eq_dst"]
    );
    assert_eq!(m["evidence"]["response_seen"], false);
    let martian_rows: BTreeSet<u64> = tsv(&dir("hairpin-nat").join("router.pcap.tshark.tsv"))
        .iter()
        .filter(|row| !row["wg.type"].is_empty() && row["ip.src"] == row["ip.dst"])
        .map(|row| row["frame.number"].parse().unwrap())
        .collect();
    assert_eq!(frames(&m["frames"]), martian_rows);
    let s = m["summary"].as_str().unwrap();
    assert!(
        s.starts_with("Hairpin NAT:") && s.contains("SNAT between phone.pcap and router.pcap"),
        "{s}"
    );
    for k in t["expected_findings"].as_array().unwrap() {
        assert!(
            kinds(&r).contains(&k.as_str().unwrap().to_string()),
            "{k}: {:?}",
            kinds(&r)
        );
    }
}

#[test]
fn the_same_capture_as_two_points_loses_nothing_between_them() {
    // mtu-blackhole: vps, vps again, laptop. Nothing vanishes between the
    // two copies; the big packets vanish after them.
    let r = analyze("mtu-blackhole", &["vps.pcap", "vps.pcap", "laptop.pcap"]);
    let hops = r["path"]["hops"].as_array().unwrap();
    assert_eq!(
        (
            hops[0]["lost_a_to_b"].clone(),
            hops[0]["lost_b_to_a"].clone()
        ),
        (0.into(), 0.into())
    );
    assert_eq!(hops[0]["ttl_drops_a_to_b"], serde_json::json!([0]));
    let f = finding(&r, "path_loss");
    assert_eq!(f["evidence"]["hop"], 1);
    let lost = hops[1]["lost_a_to_b"].as_u64().unwrap();
    let counted = truth("mtu-blackhole")["counted"]["router_dropped_too_big"]["vps->laptop"]
        .as_u64()
        .unwrap();
    assert!(lost > 0 && lost <= counted, "{lost} of {counted}");
}

fn tshark() -> bool {
    let ok = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs tshark");
    ok
}

fn selected(file: &Path, filter: &str) -> BTreeSet<u64> {
    let o = std::process::Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{filter}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Every `{file, frames, filter}` object anywhere in the report.
fn frame_lists(v: &Value, out: &mut Vec<(String, BTreeSet<u64>, String)>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(file)), Some(Value::String(filter))) =
                (m.get("file"), m.get("filter"))
            {
                let mut all = BTreeSet::new();
                for key in ["frames", "first_frames"] {
                    if let Some(Value::Array(a)) = m.get(key) {
                        all.extend(a.iter().filter_map(Value::as_u64));
                    }
                }
                out.push((file.clone(), all, filter.clone()));
            }
            m.values().for_each(|x| frame_lists(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| frame_lists(x, out)),
        _ => {}
    }
}

#[test]
fn every_path_filter_selects_exactly_its_frames() {
    if !tshark() {
        return;
    }
    for (story, files) in [
        ("path-blackhole", &BLACKHOLE[..]),
        ("hairpin-nat", &["phone.pcap", "router.pcap", "pi.pcap"][..]),
    ] {
        let r = analyze(story, files);
        let mut lists = Vec::new();
        frame_lists(&r["path"], &mut lists);
        frame_lists(&r["findings"], &mut lists);
        assert!(lists.len() > 3, "{story}: {lists:?}");
        for (file, frames, filter) in lists {
            assert_eq!(
                selected(&dir(story).join(&file), &filter),
                frames,
                "{story} {file}: {filter}"
            );
        }
    }
}

#[test]
fn a_middle_point_made_by_tshark_drops_the_big_packets_on_a_link() {
    if !tshark() {
        return;
    }
    // vps, vps without its 1452-byte payloads, laptop: the copy loses them,
    // with no router between the two points (TTL unchanged).
    let tmp = tempfile::tempdir().unwrap();
    let mid = tmp.path().join("vps-small.pcap");
    let vps = dir("mtu-blackhole").join("vps.pcap");
    let o = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&vps)
        .args(["-Y", "!(udp.length == 1460)", "-w"])
        .arg(&mid)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let big: BTreeSet<u64> = tsv(&dir("mtu-blackhole").join("vps.pcap.tshark.tsv"))
        .iter()
        .filter(|row| row["udp.length"] == "1460")
        .map(|row| row["frame.number"].parse().unwrap())
        .collect();
    let paths = vec![vps.clone(), mid, dir("mtu-blackhole").join("laptop.pcap")];
    let a = analyze_files(&paths).unwrap();
    let r: Value = serde_json::from_str(&a.report.to_json()).unwrap();
    let h = &r["path"]["hops"][0];
    assert_eq!(frames(&h["lost_a_to_b_frames"]), big);
    assert_eq!(h["ttl_drops_a_to_b"], serde_json::json!([0]));
    let f = finding(&r, "path_loss");
    assert_eq!(f["evidence"]["hop"], 0);
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("on the link between them"),
        "{}",
        f["summary"]
    );
    assert_eq!(r["path"]["hops"][1]["lost_a_to_b"], 0);
}

#[test]
fn html_starts_with_the_ladder() {
    let d = dir("path-blackhole");
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .current_dir(&d)
        .args(["analyze", "-f", "html"])
        .args(BLACKHOLE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8(out.stdout).unwrap();
    let ladder = html.find("<svg id=\"ladder\"").unwrap();
    assert!(ladder < html.find("id=\"findings\"").unwrap());
    assert!(!html.contains("<script"));
    // One column per point, one lost group (1480 bytes) ending at hop 1, b -> a.
    for (k, p) in BLACKHOLE.iter().enumerate() {
        assert!(html.contains(&format!("id=\"point-{k}\"")) && html.contains(p));
    }
    let lost: Vec<&str> = html
        .match_indices("class=\"lost\" id=\"lost-")
        .map(|(i, _)| &html[i..i + 80])
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(
        lost[0].contains("lost-b-to-a-1-0") && lost[0].contains("data-ip=\"1480\""),
        "{lost:?}"
    );
}

#[test]
fn cli_takes_points_in_order_and_refuses_pair_only_options() {
    let d = dir("hairpin-nat");
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .current_dir(&d)
        .args([
            "analyze",
            "--color",
            "never",
            "phone.pcap",
            "router.pcap",
            "pi.pcap",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("PROBLEMS: phone.pcap → router.pcap → pi.pcap"),
        "{text}"
    );
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .current_dir(&d)
        .args([
            "analyze",
            "--tunnel",
            "0",
            "phone.pcap",
            "router.pcap",
            "pi.pcap",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_hop_nothing_crossed_is_inconclusive_not_healthy() {
    // The hairpin phone, then a capture of another story, then the Pi.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let paths = vec![
        root.join("hairpin-nat/phone.pcap"),
        root.join("healthy/laptop.pcap"),
        root.join("hairpin-nat/pi.pcap"),
    ];
    let r: Value = serde_json::from_str(&analyze_files(&paths).unwrap().report.to_json()).unwrap();
    assert_eq!(r["verdict"], "inconclusive");
    let f = finding(&r, "path_hop_silent");
    assert_eq!(f["evidence"]["hop"], 0);
    assert!(!kinds(&r).contains(&"path_healthy".to_string()));
}
