//! Inside the tunnel, against truth: the inner<->outer matching at each host
//! checked with tshark (an inner packet matched at the sender and the one
//! matched at the receiver, through the outer packet's WireGuard receiver
//! and counter as tshark reads them, must be the same IP packet by tshark's
//! own fields), and the findings against `truth.json` of the recordings
//! (any-both healthy, any-blackhole, mtu-blackhole). Never against what
//! wgtrace printed before. The tshark parts are skipped where tshark is not
//! installed, except in CI.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use wgtrace::capture::Input;
use wgtrace::decode::{decode_capture, DecodedCapture, Flags, PacketKind};
use wgtrace::diagnose::{FindingKind, InnerProtocol};
use wgtrace::flow::inner::NONE;
use wgtrace::flow::{facts, inner_packets};
use wgtrace::pipeline::analyze_files;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn truth(scenario: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(testdata(scenario).join("truth.json")).unwrap())
        .unwrap()
}

fn tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs tshark");
    ok
}

/// One frame as tshark dissects it (first occurrence of each field).
#[derive(Debug, Default, Clone)]
struct Frame {
    hatype: String,
    /// (src, dst, proto, id, len, checksum): the inner packet's identity.
    ip: Option<(String, String, String, String, u32, String)>,
    /// (receiver, counter) of a WireGuard transport message.
    wg: Option<(String, String)>,
}

fn dissect(path: &Path) -> BTreeMap<u32, Frame> {
    let fields = [
        "frame.number",
        "frame.time_epoch",
        "sll.hatype",
        "ip.src",
        "ip.dst",
        "ip.proto",
        "ip.id",
        "ip.len",
        "ip.checksum",
        "wg.receiver",
        "wg.counter",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path);
    for p in [51820, 51821] {
        cmd.args(["-d", &format!("udp.port=={p},wg")]);
    }
    cmd.args(["-T", "fields", "-E", "occurrence=f"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let g = |i: usize| c.get(i).copied().unwrap_or("").to_string();
            let ip = (!g(3).is_empty())
                .then(|| (g(3), g(4), g(5), g(6), g(7).parse().unwrap_or(0), g(8)));
            let wg = (!g(9).is_empty() && !g(10).is_empty()).then(|| (g(9), g(10)));
            (
                g(0).parse().unwrap(),
                Frame {
                    hatype: g(2),
                    ip,
                    wg,
                },
            )
        })
        .collect()
}

fn decode(path: &Path) -> DecodedCapture {
    decode_capture(Input::open(path).unwrap()).unwrap()
}

/// At each end of a pair captured with `-i any`: every inner packet that
/// wgtrace matched to an outer packet at one host, followed through that
/// outer packet's (receiver, counter) to the other capture and its inner
/// packet there, is the same IP packet for tshark (src, dst, protocol, IP
/// id, length, checksum), and has the same [`wgtrace::decode::PacketId`].
fn chains_agree(scenario: &str) -> usize {
    let paths = [
        testdata(&format!("{scenario}/vps.pcap")),
        testdata(&format!("{scenario}/laptop.pcap")),
    ];
    let caps = paths.clone().map(|p| decode(&p));
    let links = [inner_packets(&caps[0]), inner_packets(&caps[1])];
    let ts = paths.clone().map(|p| dissect(&p));
    // Per capture: outer frame -> inner frame, from wgtrace's links.
    let mut inner_of: [HashMap<u32, (u32, u32)>; 2] = Default::default();
    for s in 0..2 {
        for l in links[s].links.iter().filter(|l| l.outer != NONE) {
            let (o, i) = (
                &caps[s].records[l.outer as usize],
                &caps[s].records[l.inner as usize],
            );
            inner_of[s].insert(o.frame.0, (i.frame.0, l.inner));
        }
    }
    // tshark's (receiver, counter) -> outer frame, per capture.
    let by_wg: [HashMap<(String, String), u32>; 2] = [0, 1].map(|s| {
        ts[s]
            .iter()
            .filter(|(_, f)| f.hatype != "65534")
            .filter_map(|(n, f)| Some((f.wg.clone()?, *n)))
            .collect()
    });
    let mut chains = 0;
    for s in 0..2 {
        let o = 1 - s;
        for (outer, (inner, rec)) in &inner_of[s] {
            let key = ts[s][outer]
                .wg
                .clone()
                .expect("tshark reads the outer packet");
            let Some(far_outer) = by_wg[o].get(&key) else {
                continue; // lost, or outside the far capture
            };
            let Some((far_inner, far_rec)) = inner_of[o].get(far_outer) else {
                continue;
            };
            let (a, b) = (&ts[s][inner], &ts[o][far_inner]);
            assert_eq!(
                a.hatype, "65534",
                "{scenario}: frame {inner} is no wg0 frame"
            );
            assert!(
                a.ip.is_some() && a.ip == b.ip,
                "{scenario}: {inner} vs {far_inner}"
            );
            let id = |c: &DecodedCapture, r: u32| match c.records[r as usize].kind {
                PacketKind::Tcp { id, .. } | PacketKind::Icmp { id, .. } => Some(id),
                _ => None,
            };
            assert_eq!(id(&caps[s], *rec), id(&caps[o], *far_rec));
            chains += 1;
        }
    }
    chains
}

#[test]
fn inner_packets_are_matched_to_their_outer_packets_in_healthy_any_both() {
    let t = truth("any-both");
    for host in ["vps", "laptop"] {
        let cap = decode(&testdata(&format!("any-both/{host}.pcap")));
        let inner = inner_packets(&cap);
        let want = t["counted"]["frames_by_arphrd_type_tshark"][host]["65534"]
            .as_u64()
            .unwrap();
        assert_eq!(inner.seen, want, "{host}: wg0 frames");
        // Healthy: every inner packet with a unicast destination has its
        // outer packet at that host.
        let recs = &cap.records;
        let unmatched: Vec<u32> = inner
            .links
            .iter()
            .filter(|l| l.outer == NONE)
            .filter(|l| {
                let r = &recs[l.inner as usize];
                !wgtrace::flow::inner::local_scope(cap.endpoints.get(r.dst).ip)
            })
            .map(|l| recs[l.inner as usize].frame.0)
            .collect();
        assert!(
            unmatched.is_empty(),
            "{host}: unmatched inner frames {unmatched:?}"
        );
        // One outer packet per inner one.
        let outers: BTreeSet<u32> = inner.links.iter().map(|l| l.outer).collect();
        let matched = inner.links.iter().filter(|l| l.outer != NONE).count();
        assert_eq!(outers.iter().filter(|o| **o != NONE).count(), matched);
        assert!(recs.iter().any(|r| r.flags.has(Flags::TUNNEL_IF)));
    }
    if tshark() {
        // Both directions' data packets, each followed once from each end.
        let chains = chains_agree("any-both");
        assert!(chains >= 2 * 300, "only {chains} chains");
    }
}

#[test]
fn healthy_any_both_has_no_inner_findings() {
    let a = analyze_files(&[
        testdata("any-both/vps.pcap"),
        testdata("any-both/laptop.pcap"),
    ])
    .unwrap();
    let kinds: Vec<&str> = a.report.findings.iter().map(|f| f.kind.name()).collect();
    for k in [
        "affected_flows",
        "local_drop",
        "tcp_mss_too_large",
        "inner_pmtud",
    ] {
        assert!(!kinds.contains(&k), "{kinds:?}");
    }
    assert_eq!(
        kinds,
        ["healthy"],
        "truth: {}",
        truth("any-both")["expected_findings"]
    );
    for side in ["vps", "laptop"] {
        let one = analyze_files(&[testdata(&format!("any-both/{side}.pcap"))]).unwrap();
        assert!(
            one.report
                .findings
                .iter()
                .all(|f| f.kind.name() != "local_drop"),
            "{side} alone"
        );
    }
}

fn flow_of(v: &Value) -> (InnerProtocol, String, String) {
    let p = match v["proto"].as_str().unwrap() {
        "tcp" => InnerProtocol::Tcp,
        "icmp" => InnerProtocol::EchoRequest,
        other => panic!("{other}"),
    };
    (
        p,
        v["src"].as_str().unwrap().to_string(),
        v["dst"].as_str().unwrap().to_string(),
    )
}

/// any-blackhole: the lost inner flows, their lost frames and sizes are
/// truth's (tshark matched inner packets by IP identity across the ends),
/// except packets sent after the receiver's capture had stopped, which are
/// neither lost nor delivered; every SYN's MSS is reported, with the MSS
/// that fits truth's largest inner packet crossing the path.
#[test]
fn any_blackhole_names_the_lost_inner_flows_and_the_mss() {
    let t = truth("any-blackhole");
    let paths = [
        testdata("any-blackhole/vps.pcap"),
        testdata("any-blackhole/laptop.pcap"),
    ];
    let a = analyze_files(&paths).unwrap();
    let kinds: BTreeSet<&str> = a.report.findings.iter().map(|f| f.kind.name()).collect();
    for k in t["expected_findings"].as_array().unwrap() {
        assert!(kinds.contains(k.as_str().unwrap()), "{kinds:?} lacks {k}");
    }
    // Every IPv4 inner packet to a unicast address left its host.
    assert!(!kinds.contains("local_drop"), "{kinds:?}");
    // The end of each capture (receivers stop before a late retransmission).
    let caps = paths.clone().map(|p| decode(&p));
    let last = |name: &str| {
        let i = usize::from(name == "laptop.pcap");
        caps[i].records.iter().map(|r| r.ts.0).max().unwrap()
    };
    type Flow = (InnerProtocol, String, String);
    /// Lost, the finding's frames, lost sizes.
    type Seen = (u64, Vec<u32>, BTreeMap<u32, u64>);
    let mut found: BTreeMap<Flow, Seen> = BTreeMap::new();
    for f in &a.report.findings {
        if let FindingKind::AffectedFlows { flows, .. } = &f.kind {
            let frames: BTreeSet<u32> = f.frames[0].frames.iter().map(|n| n.0).collect();
            for fl in flows {
                let ep = |e: &wgtrace::decode::Endpoint| {
                    if fl.protocol == InnerProtocol::Tcp {
                        e.to_string()
                    } else {
                        e.ip.to_string()
                    }
                };
                let sizes = fl.lost_sizes.iter().map(|s| (s.ip, s.packets)).collect();
                let mine: Vec<u32> = frames.iter().copied().collect();
                found.insert(
                    (fl.protocol, ep(&fl.src), ep(&fl.dst)),
                    (fl.lost, mine, sizes),
                );
            }
        }
    }
    let flows = t["counted"]["inner_from_captures_tshark"]["flows_with_loss"]
        .as_array()
        .unwrap();
    assert_eq!(found.len(), flows.len(), "{found:?}");
    for tf in flows {
        let key = flow_of(tf);
        let (lost, frames, sizes) = found.get(&key).unwrap_or_else(|| panic!("{key:?}"));
        let sender = tf["sender_capture"].as_str().unwrap();
        let receiver = tf["receiver_capture"].as_str().unwrap();
        let s = usize::from(sender == "laptop.pcap");
        let end = last(receiver);
        let in_window: Vec<u32> = tf["lost_frames_in_sender_capture"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .filter(|n| caps[s].records[*n as usize - 1].ts.0 <= end)
            .collect();
        assert_eq!(*lost as usize, in_window.len(), "{key:?}");
        assert!(
            in_window.iter().all(|n| frames.contains(n)),
            "{key:?}: {in_window:?} not all in {frames:?}"
        );
        let want: BTreeMap<u32, u64> = tf["lost_inner_sizes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            sizes.keys().collect::<Vec<_>>()
        );
    }
    // The MSS of every SYN and SYN-ACK, and the one that fits.
    let mss = a
        .report
        .findings
        .iter()
        .find_map(|f| match &f.kind {
            FindingKind::TcpMssTooLarge {
                mss_fits_v4, flows, ..
            } => Some((*mss_fits_v4, flows.clone())),
            _ => None,
        })
        .unwrap();
    let c = &t["configured"];
    assert_eq!(
        u64::from(mss.0),
        c["tcp_mss_fitting_path"].as_u64().unwrap()
    );
    let want: BTreeSet<(String, String, u64, bool)> = t["counted"]["inner_from_captures_tshark"]
        ["tcp_syn_mss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            // "tcp SRC -> DST"
            let flow: Vec<&str> = s["flow"].as_str().unwrap().split(' ').collect();
            let (src, dst) = (flow[1].to_string(), flow[3].to_string());
            (
                src,
                dst,
                s["mss"].as_u64().unwrap(),
                s["syn_ack"].as_bool().unwrap(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String, u64, bool)> = mss
        .1
        .iter()
        .map(|f| {
            (
                f.src.to_string(),
                f.dst.to_string(),
                u64::from(f.mss),
                f.syn_ack,
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(want
        .iter()
        .all(|w| w.2 == c["tcp_mss_announced"].as_u64().unwrap()));
    if tshark() {
        assert!(chains_agree("any-blackhole") > 50);
    }
}

/// mtu-blackhole: only the laptop captured `-i any`, so only its lost
/// packets have inner flows: its 1372-byte pings (truth: 0/3 answered,
/// inner 1400 bytes); the vps's lost packets have no inner packets to name.
#[test]
fn mtu_blackhole_names_the_laptops_lost_pings_only() {
    let t = truth("mtu-blackhole");
    assert_eq!(t["counted"]["ping_results_laptop_to_vps"]["1372"], "0/3");
    let a = analyze_files(&[
        testdata("mtu-blackhole/vps.pcap"),
        testdata("mtu-blackhole/laptop.pcap"),
    ])
    .unwrap();
    let affected: Vec<_> = a
        .report
        .findings
        .iter()
        .filter_map(|f| match &f.kind {
            FindingKind::AffectedFlows {
                direction, flows, ..
            } => Some((direction, flows)),
            _ => None,
        })
        .collect();
    assert_eq!(affected.len(), 1);
    let (dir, flows) = affected[0];
    assert_eq!(dir.from, "laptop.pcap");
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.protocol, InnerProtocol::EchoRequest);
    assert_eq!((f.lost, f.sent), (3, 3), "{f:?}");
    assert_eq!(f.lost_sizes.len(), 1);
    assert_eq!(f.lost_sizes[0].ip, 1372 + 28);
    // The laptop alone has no local drops either.
    let facts = facts(&decode(&testdata("mtu-blackhole/laptop.pcap")));
    assert!(!facts.inner.is_empty());
}

/// The HTML report lists the affected inner flows in the section of the
/// direction that lost them, after its loss plot.
#[test]
fn html_lists_the_affected_flows_beside_the_loss_plot() {
    let opts = wgtrace::pipeline::Options {
        plots: true,
        ..Default::default()
    };
    let a = wgtrace::pipeline::analyze_files_with(
        &[
            testdata("any-blackhole/vps.pcap"),
            testdata("any-blackhole/laptop.pcap"),
        ],
        &opts,
    )
    .unwrap();
    let html = a.report.to_html();
    // Truth's lossy flows, as the report labels them.
    let t = truth("any-blackhole");
    let flows = t["counted"]["inner_from_captures_tshark"]["flows_with_loss"]
        .as_array()
        .unwrap();
    assert!(!flows.is_empty());
    for tf in flows {
        let (p, src, dst) = flow_of(tf);
        let label = match p {
            InnerProtocol::Tcp => format!("TCP {src} → {dst}"),
            _ => format!("ICMP echo request {src} → {dst}"),
        };
        // In the section of a direction, after its loss plot.
        let found = html.split("id=\"direction-").skip(1).any(|section| {
            let section = section.split("</section>").next().unwrap();
            match (
                section.find("Delivered vs lost by size"),
                section.find("class=\"affected\""),
            ) {
                (Some(plot), Some(table)) => plot < table && section[table..].contains(&label),
                _ => false,
            }
        });
        assert!(found, "{label}");
    }
}

/// Frames of `tsv` (tshark's dissection) whose IP destination is `dst`.
fn tsv_frames_to(tsv: &Path, dst: &str) -> BTreeSet<u32> {
    let text = std::fs::read_to_string(tsv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = header.iter().position(|h| *h == "ip.dst").unwrap();
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // The first value: an ICMP error's quoted packet comes after it.
            let d = f.get(col)?.split(',').next()?;
            (d == dst).then(|| f[0].parse().unwrap())
        })
        .collect()
}

/// local-drop: the vps's inner packets to 10.0.0.99 (no peer) and 10.0.0.3
/// (a peer without endpoint) are every packet truth counts, with tshark's
/// frames; from the pair and from the vps's capture alone; the laptop's end
/// has none, and nothing is lost on the path.
#[test]
fn local_drop_counts_each_destination_as_truth() {
    let t = truth("local-drop");
    let kinds = &t["configured"]["local_drop_kinds"];
    let counted = &t["counted"]["local_drop"];
    let want: BTreeMap<String, u64> = ["no_peer", "no_endpoint"]
        .iter()
        .map(|k| {
            (
                kinds[k]["destination"].as_str().unwrap().to_string(),
                counted[k]["inner_packets_on_vps_wg0_tshark"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect();
    let tsv = testdata("local-drop/vps.pcap.tshark.tsv");
    let want_frames: BTreeSet<u32> = want.keys().flat_map(|d| tsv_frames_to(&tsv, d)).collect();
    let vps = testdata("local-drop/vps.pcap");
    let laptop = testdata("local-drop/laptop.pcap");
    for paths in [vec![vps.clone(), laptop.clone()], vec![vps.clone()]] {
        let a = analyze_files(&paths).unwrap();
        let drops: Vec<_> = a
            .report
            .findings
            .iter()
            .filter(|f| f.kind.name() == "local_drop")
            .collect();
        assert_eq!(drops.len(), 1, "{paths:?}");
        let FindingKind::LocalDrop {
            file,
            dropped,
            groups,
            ..
        } = &drops[0].kind
        else {
            unreachable!()
        };
        assert_eq!(file, "vps.pcap");
        let got: BTreeMap<String, u64> = groups
            .iter()
            .map(|g| (g.dst.to_string(), g.dropped))
            .collect();
        assert_eq!(got, want, "{paths:?}");
        assert_eq!(*dropped, want.values().sum::<u64>());
        // Nothing of either destination ever left: no peer took them.
        assert!(groups
            .iter()
            .all(|g| g.cause == wgtrace::diagnose::LocalDropCause::NoPeer && g.left == 0));
        let frames: BTreeSet<u32> = drops[0].frames[0].frames.iter().map(|n| n.0).collect();
        assert_eq!(frames, want_frames);
        let kinds: BTreeSet<&str> = a.report.findings.iter().map(|f| f.kind.name()).collect();
        for k in ["affected_flows", "mtu_blackhole", "healthy"] {
            assert!(!kinds.contains(k), "{kinds:?}");
        }
    }
    let alone = analyze_files(&[laptop]).unwrap();
    assert!(alone
        .report
        .findings
        .iter()
        .all(|f| f.kind.name() != "local_drop"));
    assert_eq!(t["expected_findings"], serde_json::json!(["local_drop"]));
    if tshark() {
        // The laptop-bound inner packets: 21 each way through wg0 (truth).
        let n = t["counted"]["vps_wg0_inner_to_laptop_tshark"]
            .as_u64()
            .unwrap() as usize;
        assert!(chains_agree("local-drop") >= n);
    }
}

/// tshark's frame times and sizes of a capture: frame -> (epoch seconds,
/// ip.len or ipv6 payload + 40, udp.length).
fn times_and_sizes(path: &Path) -> BTreeMap<u32, (f64, Option<u32>, Option<u32>)> {
    let o = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-d", "udp.port==51820,wg", "-d", "udp.port==51821,wg"])
        .args(["-T", "fields", "-E", "occurrence=f"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.len",
        ])
        .args(["-e", "ipv6.plen", "-e", "udp.length"])
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| c.get(i).and_then(|x| x.parse::<u32>().ok());
            let ip = n(2).or(n(3).map(|p| p + 40));
            (n(0).unwrap(), (c[1].parse().unwrap(), ip, n(4)))
        })
        .collect()
}

/// `--inner-a`: ipv6-underlay's separate raw capture of the vps's wg0
/// (no direction in it) matched to the vps's eth0 capture. By tshark's own
/// times and sizes, every pair it makes is an inner packet whose size
/// WireGuard turns into that outer payload (32 + the size padded to 16, at
/// most 32 + 1420), on the right side in time within 100 ms; nearly all
/// inner packets find one. The report names that file, and its filters
/// select its frames.
#[test]
fn a_separate_wg0_capture_is_matched_to_the_nic_capture() {
    if !tshark() {
        return;
    }
    let t = truth("ipv6-underlay");
    let wg0 = testdata("ipv6-underlay/vps-wg0.pcap");
    let eth0 = testdata("ipv6-underlay/vps.pcap");
    let inner = std::sync::Arc::new(decode(&wg0));
    let outer = decode(&eth0);
    assert_eq!(
        inner.records.len() as u64,
        t["captures"]["vps-wg0"]["packets"].as_u64().unwrap()
    );
    let links = wgtrace::flow::inner_packets_from(&outer, inner.clone(), "vps-wg0.pcap".into());
    let (ti, to) = (times_and_sizes(&wg0), times_and_sizes(&eth0));
    let mut pairs = 0;
    for l in links.links.iter().filter(|l| l.outer != NONE) {
        let (i, o) = (
            inner.records[l.inner as usize].frame.0,
            outer.records[l.outer as usize].frame.0,
        );
        let ((t_in, ip, _), (t_out, _, udp)) = (ti[&i], to[&o]);
        let ip = ip.unwrap();
        if let Some(udp) = udp {
            // udp.length counts the 8-byte header.
            let plain = udp - 8 - 32;
            assert!(
                ip <= plain && plain <= ip.div_ceil(16) * 16 && plain <= 1420,
                "{i}->{o}"
            );
        }
        let gap = if l.sent { t_out - t_in } else { t_in - t_out };
        assert!((0.0..0.1).contains(&gap), "{i} <-> {o}: {gap} s");
        pairs += 1;
    }
    assert!(
        pairs as u64 >= inner.records.len() as u64 * 95 / 100,
        "{pairs}"
    );
    let a = wgtrace::pipeline::analyze_files_with(
        &[eth0.clone(), testdata("ipv6-underlay/laptop.pcap")],
        &wgtrace::pipeline::Options {
            inner: [Some(wg0.clone()), None],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        a.report.captures[0].inner.as_ref().unwrap().file,
        "vps-wg0.pcap"
    );
    let mut checked = 0;
    for f in &a.report.findings {
        for fr in f.frames.iter().filter(|fr| fr.file == "vps-wg0.pcap") {
            let want: BTreeSet<u32> = fr.frames.iter().map(|n| n.0).collect();
            let filter = fr.filter.as_ref().unwrap();
            let o = Command::new("tshark")
                .args(["-n", "-r"])
                .arg(&wg0)
                .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
                .output()
                .unwrap();
            let got: BTreeSet<u32> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().parse().unwrap())
                .collect();
            assert_eq!(got, want, "{}", f.kind.name());
            checked += 1;
        }
    }
    assert!(checked >= 1);
    // The one packet lost before the packet-too-big arrived was a full-size
    // inner segment of the download (1420 bytes by tshark).
    let lost = a
        .report
        .findings
        .iter()
        .find(|f| f.kind.name() == "affected_flows")
        .unwrap();
    for n in &lost.frames[0].frames {
        assert_eq!(ti[&n.0].1, Some(1420));
    }
}
