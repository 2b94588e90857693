//! Path-MTU discovery inside the tunnel (`inner_pmtud`), against truth: the
//! inner-pmtud recording's `truth.json` (the ICMP frag-needed frames at both
//! ends and the flows they quote, the MTU, the vps's segment sizes before
//! and after the first frag-needed reached its wg0, from tshark) and
//! tshark's dissection in the `.tshark.tsv` files (the frames of the later
//! segments). Never against what wgtrace printed before. Recordings without
//! inner ICMP have no such finding.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use wgtrace::diagnose::{FindingKind, InnerProtocol, InnerReaction, Severity};
use wgtrace::pipeline::analyze_files;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn truth() -> Value {
    let p = testdata("inner-pmtud/truth.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// One row of a `.tshark.tsv`: its first value of each column (an ICMP
/// error's quoted packet comes second).
struct Row {
    frame: u32,
    len: u32,
    src: String,
    dst: String,
    icmp: (String, String),
}

fn tsv(file: &str) -> Vec<Row> {
    let text =
        std::fs::read_to_string(testdata(&format!("inner-pmtud/{file}.tshark.tsv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (fr, len, src, dst, ty, code) = (
        col("frame.number"),
        col("frame.len"),
        col("ip.src"),
        col("ip.dst"),
        col("icmp.type"),
        col("icmp.code"),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let first = |i: usize| {
                f.get(i)
                    .and_then(|x| x.split(',').next())
                    .unwrap_or("")
                    .to_string()
            };
            Row {
                frame: first(fr).parse().unwrap(),
                len: first(len).parse().unwrap(),
                src: first(src),
                dst: first(dst),
                icmp: (first(ty), first(code)),
            }
        })
        .collect()
}

/// Linux cooked v2 header in front of every IP packet of these captures.
const SLL2: u32 = 20;

struct Pmtud<'a> {
    kind: &'a FindingKind,
    severity: Severity,
    /// Frames per capture file.
    frames: BTreeMap<String, BTreeSet<u32>>,
}

fn pmtud_findings(a: &wgtrace::pipeline::Analysis) -> Vec<Pmtud<'_>> {
    a.report
        .findings
        .iter()
        .filter(|f| f.kind.name() == "inner_pmtud")
        .map(|f| Pmtud {
            kind: &f.kind,
            severity: f.severity,
            frames: f
                .frames
                .iter()
                .map(|r| (r.file.clone(), r.frames.iter().map(|n| n.0).collect()))
                .collect(),
        })
        .collect()
}

/// The quoted flow of truth's frag-needed entry: (src, dst, protocol, ports).
fn quoted(v: &Value) -> (String, String, String, Option<(u16, u16)>) {
    let q = &v["quoted"];
    let ports = q["src_port"]
        .as_u64()
        .map(|s| (s as u16, q["dst_port"].as_u64().unwrap() as u16));
    (
        q["src"].as_str().unwrap().to_string(),
        q["dst"].as_str().unwrap().to_string(),
        q["protocol"].as_str().unwrap().to_string(),
        ports,
    )
}

fn flow_key(kind: &FindingKind) -> (String, String, String, Option<(u16, u16)>) {
    let FindingKind::InnerPmtud {
        protocol, src, dst, ..
    } = kind
    else {
        unreachable!()
    };
    let (p, ports) = match protocol {
        InnerProtocol::Tcp => ("tcp", Some((src.port, dst.port))),
        InnerProtocol::EchoRequest | InnerProtocol::Icmp => ("icmp", None),
        other => panic!("{other:?}"),
    };
    (src.ip.to_string(), dst.ip.to_string(), p.to_string(), ports)
}

/// Truth's frag-needed at the vps, with the laptop's frame of each (pairs).
fn truth_icmps(t: &Value) -> Vec<(Value, u32)> {
    let i = &t["counted"]["inner_pmtud_from_captures_tshark"];
    let pairs: BTreeMap<u64, u64> = i["pairs_laptop_to_vps"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["vps_wg0"].as_u64().unwrap(),
                p["laptop_wg0"].as_u64().unwrap(),
            )
        })
        .collect();
    i["frag_needed"]["vps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let lap = pairs[&v["frame"].as_u64().unwrap()] as u32;
            (v.clone(), lap)
        })
        .collect()
}

/// The pair: one finding per ping run and per TCP flow, each with truth's
/// ICMP frames at both ends, MTU and ICMP source; the download whose sender
/// lowered its segments reacted, the one whose sender's firewall dropped
/// the ICMP did not, with tshark's later segments; no ICMP was lost.
#[test]
fn the_pair_shows_each_flows_icmp_and_whether_its_sender_reacted() {
    let t = truth();
    let a = analyze_files(&[
        testdata("inner-pmtud/vps.pcap"),
        testdata("inner-pmtud/laptop.pcap"),
    ])
    .unwrap();
    let kinds: BTreeSet<&str> = a.report.findings.iter().map(|f| f.kind.name()).collect();
    let allowed: BTreeSet<&str> = t["expected_findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(t["also_acceptable_findings"].as_array().unwrap())
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(kinds.contains("inner_pmtud"), "{kinds:?}");
    assert!(kinds.is_subset(&allowed), "{kinds:?} not in {allowed:?}");
    let found = pmtud_findings(&a);
    let icmps = truth_icmps(&t);
    // Truth's ICMPs by experiment; each ping run of ping_flushed is its own
    // flow (its own echo id), so its ICMPs come one per finding.
    let mut by_exp: BTreeMap<String, Vec<&(Value, u32)>> = BTreeMap::new();
    for x in &icmps {
        by_exp
            .entry(x.0["experiment"].as_str().unwrap().to_string())
            .or_default()
            .push(x);
    }
    let runs = by_exp["ping_flushed"].len();
    assert_eq!(found.len(), by_exp.len() - 1 + runs);
    let mut claimed = BTreeSet::new();
    for (exp, list) in &by_exp {
        let key = quoted(&list[0].0);
        let mine: Vec<&Pmtud> = found.iter().filter(|f| flow_key(f.kind) == key).collect();
        let want_count = if exp == "ping_flushed" { runs } else { 1 };
        assert_eq!(mine.len(), want_count, "{exp}");
        for f in &mine {
            let FindingKind::InnerPmtud {
                router,
                announced_mtu,
                icmp,
                lost_in_tunnel,
                sender_side,
                sender_file,
                seen,
                ..
            } = f.kind
            else {
                unreachable!()
            };
            assert_eq!(router.to_string(), list[0].0["src"].as_str().unwrap());
            assert_eq!(
                u64::from(*announced_mtu),
                list[0].0["mtu"].as_u64().unwrap()
            );
            assert_eq!(*lost_in_tunnel, 0, "truth: every frag-needed paired");
            assert_eq!(*sender_side, Some(wgtrace::correlate::Side::A));
            assert_eq!(sender_file.as_deref(), Some("vps.pcap"));
            assert_eq!(seen.len(), 2);
            // The ICMP frames: truth's at the vps (coming out of wg0) and
            // their pairs at the laptop (going in).
            let vps_icmp: BTreeSet<u32> = list
                .iter()
                .map(|x| x.0["frame"].as_u64().unwrap() as u32)
                .filter(|n| f.frames["vps.pcap"].contains(n))
                .collect();
            let lap_icmp: BTreeSet<u32> = list
                .iter()
                .filter(|x| vps_icmp.contains(&(x.0["frame"].as_u64().unwrap() as u32)))
                .map(|x| x.1)
                .collect();
            assert_eq!(lap_icmp, f.frames["laptop.pcap"], "{exp}");
            assert_eq!(vps_icmp.len() as u64, *icmp);
            claimed.extend(vps_icmp);
        }
        let all: BTreeSet<u32> = list
            .iter()
            .map(|x| x.0["frame"].as_u64().unwrap() as u32)
            .collect();
        let mine_all: BTreeSet<u32> = mine
            .iter()
            .flat_map(|f| f.frames["vps.pcap"].iter().copied())
            .filter(|n| all.contains(n))
            .collect();
        assert_eq!(
            mine_all, all,
            "{exp}: truth's frag-needed, each in one finding"
        );
        if exp.starts_with("ping") {
            // After the first frag-needed the vps sent no more of the run
            // (ping_df's other two failed locally; ping_flushed is one ping a run).
            for f in &mine {
                assert!(matches!(
                    f.kind,
                    FindingKind::InnerPmtud {
                        reaction: InnerReaction::NoLaterPackets,
                        ..
                    }
                ));
                assert_eq!(f.severity, Severity::Info);
            }
        }
    }
    // Every frag-needed on the vps's wg0 (tshark) is in one finding.
    let vps_rows = tsv("vps.pcap");
    let tshark_icmp: BTreeSet<u32> = vps_rows
        .iter()
        .filter(|r| r.icmp == ("3".into(), "4".into()))
        .map(|r| r.frame)
        .collect();
    assert_eq!(claimed, tshark_icmp);
    // The two downloads, against truth's segment sizes and tshark's frames.
    let flows = &t["counted"]["inner_pmtud_from_captures_tshark"]["tcp_flows"];
    for (name, reacted) in [("flow_pmtud", true), ("flow_nopmtud", false)] {
        let tf = &flows[name];
        let first = tf["first_frag_needed_frame_on_vps_wg0"].as_u64().unwrap() as u32;
        let f = found
            .iter()
            .find(|f| f.frames["vps.pcap"].iter().next() == Some(&first))
            .unwrap();
        let FindingKind::InnerPmtud {
            src,
            dst,
            announced_mtu,
            reaction,
            largest_before,
            largest_after,
            fit_after,
            too_big_after,
            too_big_sizes,
            ..
        } = f.kind
        else {
            unreachable!()
        };
        let mtu = *announced_mtu;
        let before = &tf["vps_wg0_before_first_frag_needed"];
        let after = &tf["vps_wg0_after_first_frag_needed"];
        assert_eq!(
            u64::from(largest_before.unwrap()),
            before["max_inner_len"].as_u64().unwrap()
        );
        // Truth's later data segments larger than the MTU, by size.
        let truth_big: Vec<(u32, u64)> = after["inner_sizes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse::<u32>().unwrap(), v.as_u64().unwrap()))
            .filter(|(k, _)| *k > mtu)
            .rev()
            .collect();
        let got_big: Vec<(u32, u64)> = too_big_sizes.iter().map(|s| (s.ip, s.packets)).collect();
        assert_eq!(got_big, truth_big, "{name}");
        // tshark: the vps's later packets of the flow on wg0 (inner source
        // 10.0.0.1 is only ever on wg0), by frame and size.
        let later: Vec<&Row> = vps_rows
            .iter()
            .filter(|r| {
                r.frame > first
                    && r.src == src.ip.to_string()
                    && r.dst == dst.ip.to_string()
                    && r.icmp.0.is_empty()
            })
            .collect();
        let big: BTreeSet<u32> = later
            .iter()
            .filter(|r| r.len - SLL2 > mtu)
            .map(|r| r.frame)
            .collect();
        assert_eq!(*too_big_after, big.len() as u64, "{name}");
        assert_eq!(*fit_after, (later.len() - big.len()) as u64, "{name}");
        let icmp_frames: BTreeSet<u32> = f.frames["vps.pcap"]
            .iter()
            .copied()
            .filter(|n| tshark_icmp.contains(n))
            .collect();
        let rest: BTreeSet<u32> = f.frames["vps.pcap"]
            .difference(&icmp_frames)
            .copied()
            .collect();
        assert_eq!(rest, big, "{name}: the later too-big segments");
        assert_eq!(tf["tcp"].as_str().unwrap(), format!("{src} -> {}", dst.ip));
        if reacted {
            assert_eq!(*reaction, InnerReaction::Reacted);
            assert_eq!(f.severity, Severity::Info);
            assert_eq!(
                u64::from(largest_after.unwrap()),
                after["max_inner_len"].as_u64().unwrap()
            );
            assert!(t["configured"]["experiments"][name]["vps_reacts_to_icmp"]
                .as_bool()
                .unwrap());
        } else {
            assert_eq!(*reaction, InnerReaction::NotReacted);
            assert_eq!(f.severity, Severity::Warning);
            assert!(!t["configured"]["experiments"][name]["vps_reacts_to_icmp"]
                .as_bool()
                .unwrap());
            let fix = a
                .report
                .findings
                .iter()
                .find(|x| &x.kind == f.kind)
                .unwrap();
            let fix = fix.fix.as_deref().unwrap();
            assert!(
                fix.contains("ip_no_pmtu_disc") && fix.contains(&src.ip.to_string()),
                "{fix}"
            );
        }
        let words = &a
            .report
            .findings
            .iter()
            .find(|x| &x.kind == f.kind)
            .unwrap()
            .summary;
        if reacted {
            assert!(
                words.starts_with("Path-MTU discovery inside the tunnel works"),
                "{words}"
            );
            assert!(
                words.contains(&format!("carries at most {mtu} bytes")),
                "{words}"
            );
        }
    }
}

/// Each end alone: the vps's capture shows the ICMPs arrive and the same
/// reactions; the laptop's shows them leave and cannot tell. The retries of
/// the download that did not react are no outer blackhole (truth: the
/// underlay lost nothing), so neither end reports one.
#[test]
fn each_end_alone() {
    let t = truth();
    assert_eq!(
        t["counted"]["outer_from_captures_tshark"]["A->B"]["lost"],
        0
    );
    let vps = analyze_files(&[testdata("inner-pmtud/vps.pcap")]).unwrap();
    let found = pmtud_findings(&vps);
    let reactions: BTreeMap<Option<(u16, u16)>, InnerReaction> = found
        .iter()
        .filter_map(|f| match f.kind {
            FindingKind::InnerPmtud {
                protocol: InnerProtocol::Tcp,
                src,
                dst,
                reaction,
                ..
            } => Some((Some((src.port, dst.port)), *reaction)),
            _ => None,
        })
        .collect();
    let flows = &t["counted"]["inner_pmtud_from_captures_tshark"]["frag_needed"]["vps"];
    let port_of = |exp: &str| {
        flows
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["experiment"] == exp)
            .map(|v| quoted(v).3)
            .unwrap()
    };
    assert_eq!(reactions[&port_of("flow_pmtud")], InnerReaction::Reacted);
    assert_eq!(
        reactions[&port_of("flow_nopmtud")],
        InnerReaction::NotReacted
    );
    for a in [
        &vps,
        &analyze_files(&[testdata("inner-pmtud/laptop.pcap")]).unwrap(),
    ] {
        let kinds: BTreeSet<&str> = a.report.findings.iter().map(|f| f.kind.name()).collect();
        for k in [
            "mtu_blackhole",
            "icmp_frag_needed_absent",
            "pmtud_working",
            "tcp_mss_too_large",
        ] {
            assert!(!kinds.contains(k), "{kinds:?}");
        }
    }
    let laptop = analyze_files(&[testdata("inner-pmtud/laptop.pcap")]).unwrap();
    let found = pmtud_findings(&laptop);
    assert_eq!(found.len(), pmtud_findings(&vps).len());
    for f in &found {
        let FindingKind::InnerPmtud {
            reaction,
            sender_side,
            seen,
            ..
        } = f.kind
        else {
            unreachable!()
        };
        assert_eq!((*reaction, *sender_side), (InnerReaction::Unknown, None));
        assert_eq!(seen[0].received, 0);
    }
    // No outer path-MTU signal: the ICMPs are inner.
    for side in ["vps", "laptop"] {
        let input = wgtrace::capture::Input::open(&testdata(&format!("inner-pmtud/{side}.pcap")));
        let cap = wgtrace::decode::decode_capture(input.unwrap()).unwrap();
        let f = wgtrace::flow::facts(&cap);
        assert!(f.pmtu_signals.is_empty(), "{side}");
    }
}

/// Recordings without inner ICMP frag-needed: no `inner_pmtud`, from the
/// pair or from either end.
#[test]
fn no_inner_icmp_no_finding() {
    for dir in ["any-both", "any-blackhole", "local-drop"] {
        let (v, l) = (
            testdata(&format!("{dir}/vps.pcap")),
            testdata(&format!("{dir}/laptop.pcap")),
        );
        for paths in [vec![v.clone(), l.clone()], vec![v.clone()], vec![l.clone()]] {
            let a = analyze_files(&paths).unwrap();
            assert!(pmtud_findings(&a).is_empty(), "{paths:?}");
        }
    }
}

fn editcap() -> bool {
    let ok = std::process::Command::new("editcap")
        .arg("-h")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs editcap");
    ok
}

/// The vps's capture without the download's frag-needed on wg0 (truth's
/// frames; `editcap` deletes them): as if the vps's WireGuard had dropped
/// them, so each is lost in the tunnel although its outer packet (truth's
/// carrier, kept) arrived. Deleting the carriers too makes them lost
/// before the vps's host. (`editcap` comes with Debian's tshark, from
/// wireshark-common, which CI installs.)
#[test]
fn an_icmp_removed_at_the_sender_is_lost_in_the_tunnel() {
    if !editcap() {
        return;
    }
    let t = truth();
    let exp: Vec<Value> = truth_icmps(&t)
        .into_iter()
        .map(|x| x.0)
        .filter(|v| v["experiment"] == "flow_pmtud")
        .collect();
    let inner: Vec<String> = exp.iter().map(|v| v["frame"].to_string()).collect();
    let carriers: Vec<String> = exp
        .iter()
        .map(|v| v["carried_by_eth0_frame"]["frame"].to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for (cut, arrived) in [
        (inner.clone(), exp.len() as u64),
        ([inner, carriers].concat(), 0),
    ] {
        let out = dir.path().join("vps.pcap");
        let ok = std::process::Command::new("editcap")
            .arg(testdata("inner-pmtud/vps.pcap"))
            .arg(&out)
            .args(&cut)
            .status()
            .unwrap();
        assert!(ok.success());
        let a = analyze_files(&[out, testdata("inner-pmtud/laptop.pcap")]).unwrap();
        let key = quoted(&exp[0]);
        let found = pmtud_findings(&a);
        let f = found.iter().find(|f| flow_key(f.kind) == key).unwrap();
        let FindingKind::InnerPmtud {
            icmp,
            lost_in_tunnel,
            lost_arrived,
            reaction,
            ..
        } = f.kind
        else {
            unreachable!()
        };
        assert_eq!(*icmp, exp.len() as u64);
        assert_eq!(*lost_in_tunnel, exp.len() as u64);
        assert_eq!(*lost_arrived, arrived);
        assert_eq!(*reaction, InnerReaction::Unknown);
        assert_eq!(f.severity, Severity::Warning);
    }
}
