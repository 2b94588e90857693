//! Container-format edge cases the recorded captures do not cover: byte orders,
//! pcapng sections, statistics blocks, truncation at every offset, lying lengths.
//! The packets inside are built with etherparse; the containers by hand, per the specs.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use etherparse::PacketBuilder;
use proptest::prelude::*;
use std::io::Write;
use wgtrace::capture::{read_frames, CaptureError, Input, LinkType, Timestamp};
use wgtrace::decode::{decode_capture, PacketKind};

/// A WireGuard transport message (receiver 0x01020304, counter `n`) in IPv4/UDP, no link header.
fn wg_ip(n: u64, payload_len: usize) -> Vec<u8> {
    let mut wg = vec![0u8; payload_len];
    wg[0] = 4;
    wg[4..8].copy_from_slice(&0x0102_0304u32.to_le_bytes());
    wg[8..16].copy_from_slice(&n.to_le_bytes());
    let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(51820, 40000);
    let mut out = Vec::with_capacity(b.size(wg.len()));
    b.write(&mut out, &wg).expect("in-memory write");
    out
}

fn pcap(big_endian: bool, nanos: bool, link: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend(w16(2));
    out.extend(w16(4));
    out.extend(w32(0));
    out.extend(w32(0));
    out.extend(w32(262_144));
    out.extend(w32(link));
    for (sec, frac, data) in records {
        out.extend(w32(*sec));
        out.extend(w32(*frac));
        out.extend(w32(data.len() as u32));
        out.extend(w32(data.len() as u32));
        out.extend_from_slice(data);
    }
    out
}

fn block(ty: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    let mut out = Vec::new();
    out.extend(ty.to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(8 + padded, 0);
    out.extend(len.to_le_bytes());
    out
}

fn shb() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(0x1a2b_3c4du32.to_le_bytes());
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend((-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &body)
}

fn idb(link: u16, tsresol: Option<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(link.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend(0u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend(9u16.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend([r, 0, 0, 0]);
        body.extend([0u8; 4]);
    }
    block(1, &body)
}

fn epb(iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(iface.to_le_bytes());
    body.extend(((ts >> 32) as u32).to_le_bytes());
    body.extend((ts as u32).to_le_bytes());
    body.extend((data.len() as u32).to_le_bytes());
    body.extend((data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    body.resize(20 + data.len().div_ceil(4) * 4, 0);
    block(6, &body)
}

fn spb(data: &[u8]) -> Vec<u8> {
    let mut body = (data.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(data);
    block(3, &body)
}

fn isb(iface: u32, ifdrop: u64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(iface.to_le_bytes());
    body.extend([0u8; 8]);
    body.extend(5u16.to_le_bytes()); // isb_ifdrop
    body.extend(8u16.to_le_bytes());
    body.extend(ifdrop.to_le_bytes());
    body.extend([0u8; 4]);
    block(5, &body)
}

fn frames_of(
    bytes: Vec<u8>,
) -> (
    Vec<(u32, Timestamp, LinkType, u16)>,
    wgtrace::capture::CaptureInfo,
) {
    let mut got = Vec::new();
    let info = read_frames(Input::from_bytes("t", bytes).expect("input"), |fs| {
        got.extend(fs.iter().map(|f| (f.no.0, f.ts, f.link, f.iface)))
    })
    .expect("readable");
    (got, info)
}

#[test]
fn classic_pcap_both_byte_orders_and_precisions() {
    let p = wg_ip(1, 96);
    for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let bytes = pcap(be, nanos, 101, &[(10, 500, &p), (11, 7, &p)]);
        let (frames, info) = frames_of(bytes);
        let unit = if nanos { 1 } else { 1000 };
        assert_eq!(
            frames,
            vec![
                (1, Timestamp(10_000_000_000 + 500 * unit), LinkType::RAW, 0),
                (2, Timestamp(11_000_000_000 + 7 * unit), LinkType::RAW, 0)
            ],
            "be={be} nanos={nanos}"
        );
        assert!(info.damage.is_none());
    }
}

#[test]
fn pcapng_sections_interfaces_resolution_and_statistics() {
    let p = wg_ip(9, 1452);
    let mut f = shb();
    f.extend(idb(101, None)); // microseconds
    f.extend(idb(228, Some(9))); // nanoseconds
    f.extend(epb(1, 5, &p));
    f.extend(epb(0, 2_000_000, &p));
    f.extend(isb(0, 3));
    // A second section restarts interface numbering.
    f.extend(shb());
    f.extend(idb(229, None));
    f.extend(idb(101, None));
    f.extend(epb(1, 1, &p));
    f.extend(spb(&p));
    let (frames, info) = frames_of(f);
    assert_eq!(
        frames,
        vec![
            (1, Timestamp(5), LinkType::IPV4, 1),
            (2, Timestamp(2_000_000_000), LinkType::RAW, 0),
            (3, Timestamp(1000), LinkType::RAW, 3),
            // Simple packet blocks use interface 0 of their section and carry no time.
            (4, Timestamp(1000), LinkType::IPV6, 2),
        ]
    );
    assert_eq!(info.sections, 2);
    assert_eq!(info.capture_drops(), Some(3));
    assert!(info.damage.is_none());
}

#[test]
fn lying_lengths_and_missing_interfaces_are_damage_with_offsets() {
    let p = wg_ip(1, 96);
    // pcap record claiming 100 MB.
    let mut bytes = pcap(false, false, 101, &[(1, 0, &p)]);
    let good_len = bytes.len() as u64;
    bytes.extend(1u32.to_le_bytes());
    bytes.extend(0u32.to_le_bytes());
    bytes.extend(100_000_000u32.to_le_bytes());
    bytes.extend(100_000_000u32.to_le_bytes());
    let (frames, info) = frames_of(bytes);
    assert_eq!(frames.len(), 1);
    assert!(
        matches!(info.damage, Some(CaptureError::Corrupt { offset, .. }) if offset == good_len),
        "{:?}",
        info.damage
    );

    // pcapng block lengths: too small, not a multiple of 4.
    for bad_len in [8u32, 30] {
        let mut f = shb();
        f.extend(idb(101, None));
        let at = f.len() as u64;
        f.extend(6u32.to_le_bytes());
        f.extend(bad_len.to_le_bytes());
        f.extend([0u8; 40]);
        let (_, info) = frames_of(f);
        assert!(
            matches!(&info.damage, Some(CaptureError::Corrupt { offset, .. }) if *offset == at),
            "{:?}",
            info.damage
        );
    }

    // An interface that does not exist.
    let mut f = shb();
    f.extend(idb(101, None));
    let at = f.len() as u64;
    f.extend(epb(4, 0, &p));
    let (_, info) = frames_of(f);
    let msg = info
        .damage
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        msg.contains(&format!("byte {at}")) && msg.contains("interface 4"),
        "{msg}"
    );
}

#[test]
fn not_a_capture_and_empty_are_errors() {
    for (bytes, want) in [
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "text"),
        (b"\x7fELF\x02\x01\x01\0\0\0\0\0".to_vec(), "ELF"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "PNG"),
    ] {
        let err = read_frames(Input::from_bytes("x", bytes).expect("input"), |_| {})
            .expect_err("not a capture");
        let msg = err.to_string();
        assert!(msg.contains("byte 0") && msg.contains(want), "{msg}");
    }
    assert!(matches!(
        read_frames(Input::from_bytes("x", Vec::new()).expect("input"), |_| {}),
        Err(CaptureError::Empty)
    ));
}

#[test]
fn gzip_stream_gives_the_same_records_as_the_map() {
    let recs: Vec<Vec<u8>> = (0..500)
        .map(|i| wg_ip(i, 32 + 16 * (i as usize % 90)))
        .collect();
    let refs: Vec<(u32, u32, &[u8])> = recs.iter().map(|r| (1, 2, r.as_slice())).collect();
    let plain = pcap(false, true, 101, &refs);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).expect("in-memory gzip");
    let gz = gz.finish().expect("in-memory gzip");
    let a = decode_capture(Input::from_bytes("a", plain).expect("input")).expect("plain");
    let b = decode_capture(Input::from_bytes("b.gz", gz).expect("input")).expect("gzip");
    assert!(b.info.gzip);
    assert_eq!(a.records, b.records);
    assert_eq!(a.records.len(), 500);
    assert!(a
        .records
        .iter()
        .all(|r| matches!(r.kind, PacketKind::WgTransport { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Cutting a capture anywhere keeps every record before the cut and reports the cut.
    #[test]
    fn truncation_anywhere_keeps_the_records_before_it(cut_frac in 0.0f64..1.0, ng in any::<bool>()) {
        let p = wg_ip(3, 200);
        let (bytes, ends, mut boundaries) = if ng {
            let mut f = shb();
            let mut boundaries = vec![f.len()];
            f.extend(idb(101, None));
            boundaries.push(f.len());
            let mut ends = Vec::new();
            for i in 0..20 {
                f.extend(epb(0, i, &p));
                ends.push(f.len());
            }
            (f, ends, boundaries)
        } else {
            let f = pcap(false, false, 101, &[(1u32, 1u32, p.as_slice()); 20]);
            let ends: Vec<usize> = (1..=20).map(|i| 24 + i * (16 + p.len())).collect();
            (f, ends, vec![24])
        };
        boundaries.extend(&ends);
        let cut = ((bytes.len() as f64) * cut_frac) as usize;
        let truncated = bytes[..cut].to_vec();
        let whole_records = ends.iter().filter(|&&e| e <= cut).count();
        match read_frames(Input::from_bytes("t", truncated).expect("input"), |_| {}) {
            Ok(info) => {
                prop_assert_eq!(info.frames as usize, whole_records);
                prop_assert_eq!(info.damage.is_none(), boundaries.contains(&cut));
            }
            Err(e) => {
                // Only a cut inside the file header makes the file unreadable.
                prop_assert_eq!(whole_records, 0);
                let header_cut = matches!(e, CaptureError::TruncatedHeader { .. } | CaptureError::Empty);
                prop_assert!(header_cut, "{}", e);
            }
        }
    }

    /// Arbitrary bytes as any link type decode to a record or a typed issue, never a panic.
    #[test]
    fn arbitrary_frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200), link in prop::sample::select(vec![0u16, 1, 9, 101, 108, 113, 228, 229, 276, 147])) {
        let frame = wgtrace::capture::Frame {
            no: wgtrace::capture::FrameNo(1),
            ts: Timestamp(0),
            wire_len: data.len() as u32,
            link: LinkType(link),
            iface: 0,
            data: &data,
        };
        let d = wgtrace::decode::decode_frame(&frame);
        prop_assert_eq!(d.record.frame.0, 1);
    }
}

/// An interface statistics block with `isb_ifdrop` (option 5) and `isb_osdrop` (option 7).
fn isb_drops(iface: u32, ifdrop: u64, osdrop: u64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(iface.to_le_bytes());
    body.extend([0u8; 8]);
    for (code, v) in [(5u16, ifdrop), (7, osdrop)] {
        body.extend(code.to_le_bytes());
        body.extend(8u16.to_le_bytes());
        body.extend(v.to_le_bytes());
    }
    body.extend([0u8; 4]); // opt_endofopt
    block(5, &body)
}

/// A hostile pcapng whose statistics say u64::MAX drops, on two interfaces and
/// in both counters: the sums saturate instead of overflowing (which panics in
/// this debug build), through the reader and every command and format.
#[test]
fn statistics_counters_at_u64_max_saturate() {
    let p = wg_ip(1, 96);
    let mut f = shb();
    f.extend(idb(101, None));
    f.extend(idb(101, None));
    f.extend(epb(0, 1, &p));
    f.extend(epb(1, 2, &p));
    f.extend(isb_drops(0, u64::MAX, u64::MAX));
    f.extend(isb_drops(1, u64::MAX, 1));
    let (frames, info) = frames_of(f.clone());
    assert_eq!(frames.len(), 2);
    assert!(info.damage.is_none());
    assert_eq!(info.interfaces[0].if_drops, Some(u64::MAX));
    assert_eq!(info.interfaces[0].os_drops, Some(u64::MAX));
    assert_eq!(info.interfaces[1].capture_drops(), Some(u64::MAX));
    assert_eq!(info.capture_drops(), Some(u64::MAX));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drops.pcapng");
    std::fs::write(&file, &f).unwrap();
    let run = |args: &[&str], two: bool| {
        let mut c = assert_cmd::Command::cargo_bin("wgtrace").unwrap();
        c.args(args).arg(&file);
        if two {
            c.arg(&file);
        }
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(err, "", "{args:?}");
        (o.status.code(), o.stdout)
    };
    let (code, out) = run(&["inspect", "-f", "json"], false);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["captures"][0]["capture_drops"].as_u64(), Some(u64::MAX));
    assert_eq!(run(&["inspect"], false).0, Some(0));
    for two in [false, true] {
        for fmt in ["table", "markdown", "json", "html"] {
            // The drops are reported: a warning, so exit code 1; the file
            // paired with itself cannot be compared (3), and what it shows
            // alone is still reported.
            let (code, out) = run(&["analyze", "-f", fmt], two);
            assert_eq!(code, Some(if two { 3 } else { 1 }), "{fmt} two={two}");
            assert!(
                String::from_utf8_lossy(&out).contains("18446744073709551615")
                    || String::from_utf8_lossy(&out).contains("18,446,744,073,709,551,615"),
                "{fmt} two={two}: the count is shown"
            );
        }
    }
}
