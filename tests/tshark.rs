//! wgtrace's decoder against an independent dissector: tshark's WireGuard
//! fields, recorded once beside each capture (`<capture>.tshark.tsv`, see
//! testdata/record.sh). Message counts and the (receiver, counter) multiset
//! must be equal. CI needs no tshark: the tsv files are committed.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wgtrace::capture::Input;
use wgtrace::decode::{decode_capture, PacketKind};

#[derive(Debug, Default, PartialEq, Eq)]
struct Messages {
    by_type: BTreeMap<u8, u64>,
    keepalives: u64,
    /// (receiver, counter) -> occurrences, transport messages only.
    transport: BTreeMap<(u32, u64), u32>,
    /// sender index -> occurrences, initiations only.
    initiations: BTreeMap<u32, u32>,
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn from_tshark(tsv: &Path) -> Messages {
    let text = std::fs::read_to_string(tsv).expect("readable tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (ty, recv, ctr, send, udp_len) = (
        col("wg.type").expect("wg.type column"),
        col("wg.receiver"),
        col("wg.counter"),
        col("wg.sender"),
        col("udp.length"),
    );
    let icmp: Vec<usize> = ["icmp.type", "icmpv6.type"]
        .iter()
        .filter_map(|n| col(n))
        .collect();
    let mut m = Messages::default();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: Option<usize>| i.and_then(|i| f.get(i)).copied().unwrap_or("");
        // tshark also dissects the WireGuard header quoted inside an ICMP error:
        // that is not a message of its own.
        if icmp.iter().any(|&i| !get(Some(i)).is_empty()) {
            continue;
        }
        let Some(t) = parse_u64(get(Some(ty))) else {
            continue;
        };
        *m.by_type.entry(t as u8).or_default() += 1;
        if t == 4 {
            // udp.length includes the 8-byte UDP header; may list the outer value only.
            let ulen = get(udp_len).split(',').next().and_then(parse_u64);
            if ulen == Some(40) {
                m.keepalives += 1;
            }
            let r = parse_u64(get(recv)).expect("receiver") as u32;
            let c = parse_u64(get(ctr)).expect("counter");
            *m.transport.entry((r, c)).or_default() += 1;
        }
        if t == 1 {
            let s = parse_u64(get(send)).expect("sender") as u32;
            *m.initiations.entry(s).or_default() += 1;
        }
    }
    m
}

fn from_wgtrace(capture: &Path) -> Messages {
    let cap = decode_capture(Input::open(capture).expect("open")).expect("decode");
    let mut m = Messages::default();
    // tshark sees a fragmented message once, when reassembled: a first
    // fragment whose other fragments never came is no message to it.
    let incomplete = wgtrace::flow::incomplete_datagrams(&cap);
    for (r, gone) in cap.records.iter().zip(incomplete) {
        if gone {
            continue;
        }
        let t = match r.kind {
            PacketKind::WgInitiation { sender, .. } => {
                *m.initiations.entry(sender.0).or_default() += 1;
                1
            }
            PacketKind::WgResponse { .. } => 2,
            PacketKind::WgCookieReply { .. } => 3,
            PacketKind::WgTransport { receiver, counter } => {
                *m.transport.entry((receiver.0, counter.0)).or_default() += 1;
                if r.udp_len == 32 {
                    m.keepalives += 1;
                }
                4
            }
            _ => continue,
        };
        *m.by_type.entry(t).or_default() += 1;
    }
    m
}

fn tsv_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = f.path();
            if p.to_string_lossy().ends_with(".tshark.tsv") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn message_counts_and_identities_equal_tshark() {
    let files = tsv_files();
    assert!(
        files.len() >= 18,
        "expected the recorded captures in testdata/, found {} tsv files",
        files.len()
    );
    let mut total = 0;
    for tsv in files {
        let capture = PathBuf::from(tsv.to_string_lossy().trim_end_matches(".tshark.tsv"));
        let want = from_tshark(&tsv);
        let got = from_wgtrace(&capture);
        assert_eq!(
            got.by_type,
            want.by_type,
            "message counts differ for {}",
            capture.display()
        );
        assert_eq!(got.keepalives, want.keepalives, "{}", capture.display());
        assert_eq!(got.initiations, want.initiations, "{}", capture.display());
        assert!(
            got.transport == want.transport,
            "(receiver, counter) sets differ for {}: {} vs {} entries",
            capture.display(),
            got.transport.len(),
            want.transport.len()
        );
        total += want.by_type.values().sum::<u64>();
    }
    assert!(total > 100, "too few WireGuard messages compared: {total}");
}
