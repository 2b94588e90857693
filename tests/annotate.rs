//! `wgtrace analyze A B --annotate OUT.pcapng` on recorded captures, read
//! back with pcap-parser (and tshark where installed): every packet of both
//! captures once, in time order, one interface per capture named after it,
//! a `wgtrace:` comment on every WireGuard packet, and exactly the packets
//! the recording's truth says were dropped commented `wgtrace: lost`.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
#![allow(clippy::print_stderr)] // says which checks were skipped

use assert_cmd::Command;
use pcap_parser::pcapng::Block;
use pcap_parser::{OptionCode, PcapBlockOwned, PcapNGSlice};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgtrace-annot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn has(tool: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs {tool}");
    if !ok {
        eprintln!("{tool} not installed: its checks are skipped");
    }
    ok
}

/// What the annotated file holds.
#[derive(Debug, Default)]
struct Out {
    section_comments: Vec<String>,
    ifaces: Vec<String>,
    /// (interface, ts ns, bytes, comments)
    packets: Vec<(u32, u64, Vec<u8>, Vec<String>)>,
}

fn comments(opts: &[pcap_parser::PcapNGOption<'_>], code: OptionCode) -> Vec<String> {
    opts.iter()
        .filter(|o| o.code == code)
        .map(|o| String::from_utf8(o.value[..usize::from(o.len)].to_vec()).unwrap())
        .collect()
}

fn read_back(path: &Path) -> Out {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Out::default();
    for block in PcapNGSlice::from_slice(&bytes).unwrap() {
        let block = match block {
            Ok(b) => b,
            Err(e) => panic!("{e:?}"),
        };
        let PcapBlockOwned::NG(b) = block else {
            panic!("not pcapng")
        };
        match b {
            Block::SectionHeader(s) => {
                out.section_comments = comments(&s.options, OptionCode::Comment)
            }
            Block::InterfaceDescription(i) => {
                assert_eq!(i.if_tsresol, 9);
                out.ifaces.extend(comments(&i.options, OptionCode::IfName));
            }
            Block::EnhancedPacket(e) => out.packets.push((
                e.if_id,
                (u64::from(e.ts_high) << 32) | u64::from(e.ts_low),
                e.data[..e.caplen as usize].to_vec(),
                comments(&e.options, OptionCode::Comment),
            )),
            other => panic!("unexpected block {other:?}"),
        }
    }
    out
}

/// Runs the analysis with --annotate; returns the JSON report.
fn annotate(a: &Path, b: &Path, out: &Path) -> Value {
    let o = Command::cargo_bin("wgtrace")
        .unwrap()
        .arg("analyze")
        .arg(a)
        .arg(b)
        .args(["-f", "json", "--annotate"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.code().unwrap() < 2, "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Packets of a plain pcap file read with pcap-parser.
fn input_packets(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let (_, file) = pcap_parser::parse_pcap(&bytes).unwrap();
    file.blocks.iter().map(|b| b.data.to_vec()).collect()
}

fn tshark_lost(path: &Path) -> u64 {
    let o = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-Y", "frame.comment contains \"wgtrace: lost\""])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout).unwrap().lines().count() as u64
}

/// Checks the file against its inputs; returns the lost comments per interface.
fn check(scenario: &str, truth_lost: u64) -> (Out, Value) {
    let (a, b) = (
        testdata(&format!("{scenario}/vps.pcap")),
        testdata(&format!("{scenario}/laptop.pcap")),
    );
    let file = scratch(scenario).join("out.pcapng");
    let report = annotate(&a, &b, &file);
    let out = read_back(&file);
    assert_eq!(out.ifaces, ["vps.pcap", "laptop.pcap"], "{scenario}");
    let (ia, ib) = (input_packets(&a), input_packets(&b));
    assert_eq!(out.packets.len(), ia.len() + ib.len(), "{scenario}");
    assert!(
        out.packets.windows(2).all(|w| w[0].1 <= w[1].1),
        "{scenario}: timestamps go back"
    );
    // Each capture's packets, with their own bytes, in their order.
    for (i, input) in [ia, ib].iter().enumerate() {
        let got: Vec<&Vec<u8>> = out
            .packets
            .iter()
            .filter(|p| p.0 == i as u32)
            .map(|p| &p.2)
            .collect();
        assert_eq!(got.len(), input.len());
        assert!(got.iter().zip(input).all(|(g, w)| *g == w), "{scenario}");
    }
    // Every WireGuard packet (UDP to or from a WireGuard port) is commented.
    for p in &out.packets {
        if let Some(udp) = wg_udp(&p.2) {
            assert!(
                p.3.iter().any(|c| c.starts_with("wgtrace: ")),
                "{scenario}: uncommented WireGuard packet {udp:?}"
            );
        }
    }
    let lost = out
        .packets
        .iter()
        .filter(|p| p.3.iter().any(|c| c.contains("wgtrace: lost")))
        .count() as u64;
    assert_eq!(lost, truth_lost, "{scenario}: lost vs truth");
    let json_missing: u64 = report["directions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["missing"].as_u64().unwrap())
        .sum();
    assert_eq!(lost, json_missing, "{scenario}: lost vs the report");
    assert!(out.section_comments[0].starts_with("wgtrace: "));
    assert!(out
        .section_comments
        .iter()
        .any(|c| c.starts_with("clock: timestamps on vps.pcap's clock")));
    for f in report["findings"].as_array().unwrap() {
        let kind = f["kind"].as_str().unwrap();
        assert!(
            out.section_comments
                .iter()
                .any(|c| c.starts_with(&format!("- {kind} ("))),
            "{scenario}: {kind} not in the section comments"
        );
    }
    if has("tshark") {
        assert_eq!(tshark_lost(&file), truth_lost, "{scenario}: tshark");
    }
    (out, report)
}

/// The UDP ports of an Ethernet/IPv4 or Linux-cooked-v2/IPv4 frame to or
/// from a port in 51820..=51830 (the recordings' WireGuard ports).
fn wg_udp(frame: &[u8]) -> Option<(u16, u16)> {
    let ip = [14usize, 20].into_iter().find_map(|off| {
        let ip = frame.get(off..)?;
        (ip.first()? >> 4 == 4 && *ip.get(9)? == 17).then_some(ip)
    })?;
    let ihl = usize::from(ip[0] & 15) * 4;
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
    if frag != 0 {
        return None;
    }
    let udp = ip.get(ihl..ihl + 4)?;
    let (s, d) = (
        u16::from_be_bytes([udp[0], udp[1]]),
        u16::from_be_bytes([udp[2], udp[3]]),
    );
    let wg = |p: u16| (51820..=51830).contains(&p);
    (wg(s) || wg(d)).then_some((s, d))
}

fn truth(scenario: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(testdata(&format!("{scenario}/truth.json"))).unwrap(),
    )
    .unwrap()
}

#[test]
fn mtu_blackhole_lost_packets_are_the_routers_drops() {
    let t = truth("mtu-blackhole");
    let dropped = &t["counted"]["router_dropped_too_big"];
    let (ab, ba) = (
        dropped["vps->laptop"].as_u64().unwrap(),
        dropped["laptop->vps"].as_u64().unwrap(),
    );
    let (out, report) = check("mtu-blackhole", ab + ba);
    // Per direction: the sender's interface carries its losses.
    let lost_on = |i: u32| {
        out.packets
            .iter()
            .filter(|p| p.0 == i && p.3.iter().any(|c| c.contains("wgtrace: lost")))
            .count() as u64
    };
    assert_eq!((lost_on(0), lost_on(1)), (ab, ba));
    // The lost packets are the frames the mtu_blackhole findings list
    // (frame numbers: each capture's packets keep their order).
    for (i, side) in [(0u32, "a"), (1, "b")] {
        let lost: Vec<u64> = out
            .packets
            .iter()
            .filter(|p| p.0 == i)
            .enumerate()
            .filter(|(_, p)| p.3.iter().any(|c| c.contains("wgtrace: lost")))
            .map(|(n, _)| n as u64 + 1)
            .collect();
        let listed: Vec<u64> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "mtu_blackhole")
            .flat_map(|f| f["frames"].as_array().unwrap().clone())
            .filter(|r| r["side"] == side)
            .flat_map(|r| r["frames"].as_array().unwrap().clone())
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(lost, listed, "side {side}");
    }
    // A delivered packet names its copy, and that copy names it back.
    assert!(out.packets.iter().any(|p| p
        .3
        .iter()
        .any(|c| c.starts_with("wgtrace: delivered as laptop.pcap frame "))));
    assert!(out.packets.iter().any(|p| p
        .3
        .iter()
        .any(|c| c.starts_with("wgtrace: received from vps.pcap frame "))));
}

#[test]
fn random_loss_lost_packets_are_netems_drops() {
    let t = truth("random-loss");
    check(
        "random-loss",
        t["counted"]["netem_dropped"].as_u64().unwrap(),
    );
}

#[test]
fn a_healthy_pair_has_no_lost_packet() {
    let (out, _) = check("healthy", 0);
    assert!(out.section_comments[0].starts_with("wgtrace: HEALTHY"));
}

/// A directory end (the vps capture split by editcap, as a rotation
/// would) names the receiving frames `file:frame`, and loses the same packets.
#[test]
fn a_directory_end_is_one_interface_with_file_frames() {
    if !has("editcap") {
        return;
    }
    let whole = testdata("mtu-blackhole/vps.pcap");
    let dir = scratch("dir").join("vps");
    std::fs::create_dir_all(&dir).unwrap();
    let ok = std::process::Command::new("editcap")
        .args(["-c", "30"])
        .arg(&whole)
        .arg(dir.join("vps.pcap"))
        .status()
        .unwrap();
    assert!(ok.success());
    let file = dir.parent().unwrap().join("out.pcapng");
    let laptop = testdata("mtu-blackhole/laptop.pcap");
    annotate(&dir, &laptop, &file);
    let out = read_back(&file);
    assert_eq!(out.ifaces, ["vps", "laptop.pcap"]);
    let n = input_packets(&whole).len() + input_packets(&laptop).len();
    assert_eq!(out.packets.len(), n);
    let all: Vec<&String> = out.packets.iter().flat_map(|p| &p.3).collect();
    assert_eq!(
        all.iter().filter(|c| c.contains("wgtrace: lost")).count(),
        20
    );
    assert!(all
        .iter()
        .any(|c| c.starts_with("wgtrace: received from vps frame vps/vps_")));
}

#[test]
fn annotate_refuses_to_overwrite_an_input_and_stdin() {
    let a = testdata("healthy/vps.pcap");
    let b = testdata("healthy/laptop.pcap");
    let before = std::fs::read(&b).unwrap();
    let o = Command::cargo_bin("wgtrace")
        .unwrap()
        .arg("analyze")
        .arg(&a)
        .arg(&b)
        .arg("--annotate")
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&b).unwrap(), before);
    let o = Command::cargo_bin("wgtrace")
        .unwrap()
        .arg("analyze")
        .arg("-")
        .arg(&b)
        .arg("--annotate")
        .arg(scratch("stdin").join("x.pcapng"))
        .write_stdin(std::fs::read(&a).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8(o.stderr).unwrap().lines().count(), 1);
}
