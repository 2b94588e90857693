//! Broken captures (testdata/broken, made by its make.sh) and inputs the fuzzers
//! found (testdata/fuzz-regressions): each gives exit code 2 and one stderr line
//! naming the file, the problem and the byte offset, and still reports the
//! packets read before the damage.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use wgtrace::report::inspect::{CaptureEntry, InspectReport};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

struct Run {
    code: i32,
    stderr: String,
    json: Value,
}

fn inspect(path: &Path) -> Run {
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .args(["inspect", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    }
}

/// Exit code 2 and exactly one stderr line with the path and every `want` fragment.
fn one_line_error(path: &Path, want: &[&str]) -> Run {
    let run = inspect(path);
    assert_eq!(run.code, 2, "{}: {}", path.display(), run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(
        run.stderr.contains(&path.display().to_string()),
        "names the file: {}",
        run.stderr
    );
    for w in want {
        assert!(run.stderr.contains(w), "wants {w:?}: {}", run.stderr);
    }
    run
}

/// A file nothing could be read from: an error entry, no packet report.
fn unreadable(name: &str, want: &[&str]) {
    let run = one_line_error(&testdata(&format!("broken/{name}")), want);
    let c = &run.json["captures"][0];
    assert!(c["error"].is_string(), "{name}: {c}");
    assert!(c["packets"].is_null(), "{name}: {c}");
}

/// A file damaged after `packets` good packets: they are reported, with `damage` set.
fn partial(name: &str, packets: u64, want: &[&str]) {
    let run = one_line_error(&testdata(&format!("broken/{name}")), want);
    let c = &run.json["captures"][0];
    assert_eq!(c["packets"].as_u64(), Some(packets), "{name}: {c}");
    let damage = c["damage"].as_str().unwrap();
    for w in want {
        assert!(damage.contains(w), "damage wants {w:?}: {damage}");
    }
    assert!(
        run.stderr
            .contains(&format!("the report covers the {packets} packets")),
        "{}",
        run.stderr
    );
}

#[test]
fn empty_file() {
    unreadable("empty.pcap", &["empty file (0 bytes)"]);
}

#[test]
fn not_a_capture_text_elf_png() {
    let at0 = "not a pcap or pcapng capture at byte 0";
    unreadable("text.pcap", &[at0, "(text)"]);
    unreadable("elf.pcap", &[at0, "7f454c46", "ELF executable"]);
    unreadable("png.pcap", &[at0, "89504e47", "PNG image"]);
}

#[test]
fn header_cut_short() {
    unreadable(
        "header-cut.pcap",
        &["file header cut short at byte 0", "4 more bytes needed"],
    );
}

/// Decided: a valid pcap header and no packets is an empty capture (what tcpdump
/// writes when it saw nothing), reported with 0 packets and exit code 0.
#[test]
fn header_only_is_an_empty_capture() {
    let run = inspect(&testdata("broken/header-only.pcap"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let c = &run.json["captures"][0];
    assert_eq!(c["packets"], 0);
    assert_eq!(c["format"], "pcap");
    assert!(c["damage"].is_null());
}

#[test]
fn cut_mid_record() {
    partial(
        "cut-mid-record.pcap",
        20,
        &["record cut short at byte 5296", "572 bytes too early"],
    );
}

#[test]
fn record_longer_than_snap_length() {
    partial(
        "caplen-over-snaplen.pcap",
        20,
        &[
            "corrupt record at byte 5296",
            "claims 1048576 captured bytes, more than the snap length allows (262144)",
        ],
    );
}

#[test]
fn record_longer_than_the_file() {
    partial(
        "caplen-over-file.pcap",
        20,
        &["record cut short at byte 5296", "59940 bytes too early"],
    );
}

#[test]
fn pcapng_block_lengths_that_lie() {
    let at = "corrupt record at byte 1704";
    partial(
        "block-too-small.pcapng",
        10,
        &[at, "block length 8 is smaller than the 12-byte minimum"],
    );
    partial(
        "block-too-big.pcapng",
        10,
        &[at, "block length 33554432 exceeds the 16777216-byte limit"],
    );
    partial(
        "block-unaligned.pcapng",
        10,
        &[at, "block length 254 is not a multiple of 4"],
    );
}

#[test]
fn pcapng_interface_that_does_not_exist() {
    partial(
        "bad-interface-id.pcapng",
        10,
        &[
            "corrupt record at byte 1704",
            "refers to interface 7, but the section describes 1 interface(s)",
        ],
    );
}

#[test]
fn truncated_gzip_keeps_the_packets_before_the_break() {
    let run = one_line_error(
        &testdata("broken/truncated.pcap.gz"),
        &["read error at byte 63749", "incomplete deflate stream"],
    );
    let c = &run.json["captures"][0];
    assert_eq!(c["gzip"], true);
    assert_eq!(c["packets"], 78);
    assert!(c["damage"].as_str().unwrap().contains("read error"));
}

/// A gzip stream claiming a 16 MiB record and ending 100 bytes later: a clean
/// error (the reader grows its buffer with the bytes that arrive, not the claim).
#[test]
fn gzip_claiming_a_16_mib_record() {
    partial(
        "claims-16mib.pcap.gz",
        0,
        &["record cut short at byte 24", "16777116 bytes too early"],
    );
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgtrace-broken-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_directory_without_captures() {
    let dir = scratch("dir");
    std::fs::write(dir.join("notes.txt"), b"not a capture\n").unwrap();
    let run = one_line_error(&dir, &["directory holds no pcap or pcapng capture files"]);
    assert!(run.json["captures"][0]["error"].is_string());
}

#[test]
fn a_missing_file() {
    let missing = scratch("missing").join("nope.pcap");
    one_line_error(&missing, &["cannot open", "No such file"]);
}

/// The fuzz targets' path through the library, without the fuzzer.
fn read_like_the_fuzzer(bytes: Vec<u8>) {
    if let Ok(input) = wgtrace::capture::Input::from_bytes("regression", bytes) {
        if let Ok(cap) = wgtrace::decode::decode_capture(input) {
            let facts = wgtrace::flow::facts(&cap);
            let report = InspectReport::new(vec![CaptureEntry::Read(Box::new(facts))]);
            let _ = (report.to_json(), report.to_table(80));
        }
    }
}

/// fuzz/fuzz_targets/decode_frame.rs without the fuzzer: byte 0 picks the link
/// type, bytes 1..5 are the wire length, the rest is the frame.
fn decode_like_the_fuzzer(data: &[u8]) {
    use wgtrace::capture::{Frame, FrameNo, LinkType, Timestamp};
    const LINKS: [u16; 12] = [0, 1, 9, 12, 14, 101, 108, 113, 228, 229, 276, 147];
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (wire, frame) = match rest.split_first_chunk::<4>() {
        Some((w, f)) => (u32::from_le_bytes(*w), f),
        None => (0, rest),
    };
    let _ = wgtrace::decode::decode_frame(&Frame {
        no: FrameNo(1),
        ts: Timestamp(0),
        wire_len: wire.max(frame.len() as u32),
        link: LinkType(LINKS[usize::from(pick) % LINKS.len()]),
        iface: 0,
        data: frame,
    });
}

/// Every input a fuzzer found (`<target>-<name>`) is replayed here.
#[test]
fn fuzz_regressions() {
    let dir = testdata("fuzz-regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.starts_with("capture_file-") || name.starts_with("capture_gzip-") {
            read_like_the_fuzzer(bytes);
        } else if name.starts_with("decode_frame-") {
            decode_like_the_fuzzer(&bytes);
        } else {
            panic!("unknown fuzz target in {name}");
        }
        seen += 1;
    }
    assert!(seen > 0);
}

/// capture_file found it: an IPv6 packet whose extension-header chain is damaged
/// after a good hop-by-hop header; etherparse's extension iterator then read past
/// its slice. It decodes now; the record after it (at byte 170) claims 132352
/// captured bytes of a 1050-byte file, which is damage reported as such.
#[test]
fn ipv6_damaged_extension_chain() {
    let path = testdata("fuzz-regressions/capture_file-ipv6-ext-iter-oob");
    let run = one_line_error(
        &path,
        &[
            "record cut short at byte 170",
            "131488 bytes too early",
            "the report covers the 1 packets",
        ],
    );
    let c = &run.json["captures"][0];
    assert_eq!(c["packets"], 1, "{c}");
    assert_eq!(c["format"], "pcap-nsec");
    assert!(c["damage"].as_str().unwrap().contains("at byte 170"));
}

/// Found by reading (the report is now fuzzed too): pcapng timestamps span all
/// of i64 (`if_tsoffset`), and the table's time span subtracted them in i64.
#[test]
fn timestamps_at_both_ends_of_i64() {
    let path = testdata("fuzz-regressions/capture_file-ts-span-overflow");
    let out = Command::cargo_bin("wgtrace")
        .unwrap()
        .arg("inspect")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("UTC, 18223372036.855"));
}

/// Record boundaries of a classic little-endian pcap (offsets where a cut loses nothing).
fn pcap_boundaries(b: &[u8]) -> Vec<usize> {
    let mut at = vec![24];
    let mut pos = 24;
    while let Some(len) = b.get(pos + 8..pos + 12) {
        pos += 16 + u32::from_le_bytes(len.try_into().unwrap()) as usize;
        if pos > b.len() {
            break;
        }
        at.push(pos);
    }
    at
}

/// Truncating a capture at every offset: the packets before the cut, and the cut
/// reported as damage at the start of the record it falls in (plain and gzip).
#[test]
fn truncated_at_every_offset() {
    let full = std::fs::read(testdata("broken/cut-mid-record.pcap")).unwrap();
    let bounds = pcap_boundaries(&full);
    for cut in 0..=full.len() {
        let head = full[..cut].to_vec();
        let complete = bounds.iter().filter(|&&b| b <= cut).count();
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&head).unwrap();
            e.finish().unwrap()
        };
        for bytes in [head, gz] {
            let input = wgtrace::capture::Input::from_bytes("cut", bytes).unwrap();
            let got = wgtrace::capture::read_frames(input, |_| {});
            // Inside the 24-byte file header nothing is readable: which error is
            // exact. The magic (4 bytes) comes first; it says how long the header is.
            let info = match (cut, got) {
                (0, Err(wgtrace::capture::CaptureError::Empty)) => continue,
                (
                    1..24,
                    Err(wgtrace::capture::CaptureError::TruncatedHeader { offset: 0, needed }),
                ) if needed == if cut < 4 { 4 - cut } else { 24 - cut } => continue,
                (24.., Ok(info)) => info,
                (_, Err(e)) => panic!("cut {cut}: {e}"),
                (_, Ok(info)) => panic!("cut {cut}: read {} frames", info.frames),
            };
            assert_eq!(info.frames, complete as u64 - 1, "cut {cut}");
            match &info.damage {
                None => assert!(bounds.contains(&cut), "cut {cut}"),
                Some(wgtrace::capture::CaptureError::TruncatedRecord { offset, .. }) => {
                    assert_eq!(*offset as usize, bounds[complete - 1], "cut {cut}");
                }
                Some(other) => panic!("cut {cut}: {other}"),
            }
        }
    }
}
