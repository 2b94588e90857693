//! Stage 1: capture files to frames.
//!
//! [`read_frames`] reads pcap or pcapng (detected from the magic bytes),
//! plain or gzip-compressed, from a memory map or a stream, and hands the
//! frames to a sink in small batches, so the next stage decodes each batch
//! while its bytes are borrowed and still in the CPU cache. Damage after the file header
//! stops reading but keeps what was read (`CaptureInfo::damage`).
//! Concatenated captures (`cat a.pcap b.pcap`, several pcapng sections) read
//! as one: a file header where a record was expected starts the next file.

mod error;
mod frame;
mod info;
mod names;
mod parser;
mod source;
mod window;

pub use error::{CaptureError, FileError};
pub use frame::{Frame, FrameNo, LinkType, Timestamp};
pub use info::{CaptureFormat, CaptureInfo, CapturePart, Interface};
pub use names::display_names;
pub use parser::{pcapng_ts, Parser, Stop, MAX_RECORD};
pub use source::{capture_files, Input, Source};
pub use window::{TimeBound, TimeBoundError, TimeWindow};

use std::io::Read;

/// How many frames the reader hands to the sink at once: few enough (about
/// 200 KiB of packets) that the sink finds their bytes still in the CPU cache.
pub const BATCH: usize = 1 << 8;

/// Reads every frame of `input`, calling `sink` with batches of frames in file order.
///
/// Returns `Err` when nothing could be read at all (not a capture, empty,
/// header cut short). Damage later in the file ends reading and is returned
/// in [`CaptureInfo::damage`], together with everything read before it.
pub fn read_frames<F>(input: Input, mut sink: F) -> Result<CaptureInfo, CaptureError>
where
    F: FnMut(&[Frame<'_>]),
{
    read_frames_at(input, |frames, _| sink(frames))
}

/// [`read_frames`], also telling the sink how many bytes of the (decompressed)
/// capture have been consumed after each batch, for progress displays.
pub fn read_frames_at<F>(input: Input, mut sink: F) -> Result<CaptureInfo, CaptureError>
where
    F: FnMut(&[Frame<'_>], u64),
{
    let mut parser = Parser::new();
    let gzip = input.gzip;
    let damage = match input.source {
        Source::Mapped(map) => drive_slice(&mut parser, &map, &mut sink),
        Source::Bytes(bytes) => drive_slice(&mut parser, &bytes, &mut sink),
        Source::Stream(reader) => drive_stream(&mut parser, reader, &mut sink),
    };
    let header_done = parser.header_done();
    let bytes = parser.offset();
    let mut info = parser.into_info();
    info.gzip = gzip;
    info.bytes = bytes;
    match damage {
        Some(e) if !header_done => Err(e),
        other => {
            info.damage = other;
            Ok(info)
        }
    }
}

fn drive_slice<F>(parser: &mut Parser, data: &[u8], sink: &mut F) -> Option<CaptureError>
where
    F: FnMut(&[Frame<'_>], u64),
{
    if data.is_empty() {
        return Some(CaptureError::Empty);
    }
    let (pos, stop) = parse_available(parser, data, sink);
    match stop {
        Some(Stop::Damaged(e)) => Some(e),
        Some(Stop::NeedMore(n)) => Some(parser.truncated(n)),
        None => {
            debug_assert_eq!(pos, data.len());
            None
        }
    }
}

/// Parses complete records from `data`, handing frames to `sink`; returns the bytes consumed
/// and why it stopped (`None`: the data ended exactly at a record boundary).
fn parse_available<F>(parser: &mut Parser, data: &[u8], sink: &mut F) -> (usize, Option<Stop>)
where
    F: FnMut(&[Frame<'_>], u64),
{
    let mut pos = 0;
    let mut batch: Vec<Frame<'_>> = Vec::with_capacity(BATCH.min(data.len() / 64 + 1));
    let mut warmed = 0;
    let stop = loop {
        warmed = warm_ahead(data, pos, warmed);
        let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) else {
            break None;
        };
        match parser.next(rest) {
            Ok((n, frame)) => {
                pos += n;
                if let Some(f) = frame {
                    batch.push(f);
                    if batch.len() == BATCH {
                        sink(&batch, parser.offset());
                        batch.clear();
                    }
                }
            }
            Err(stop) => break Some(stop),
        }
    };
    if !batch.is_empty() {
        sink(&batch, parser.offset());
    }
    (pos, stop)
}

/// How far ahead of the parser the bytes are touched.
const WARM_AHEAD: usize = 4096;

/// Touches one byte per cache line up to [`WARM_AHEAD`] bytes past `pos`,
/// starting where the previous call stopped; returns where this one stopped.
///
/// Walking records is a chain of dependent loads (each record's length says
/// where the next begins), one cache miss per record: 1.2 M records of a
/// 1 GiB capture took 280 ms. Independent loads ahead of the chain overlap
/// those misses (and the page faults of a fresh mapping): 60 ms.
#[inline]
fn warm_ahead(data: &[u8], pos: usize, warmed: usize) -> usize {
    let until = pos.saturating_add(WARM_AHEAD).min(data.len());
    let mut at = warmed.max(pos);
    while at < until {
        std::hint::black_box(data[at]);
        at += 64;
    }
    at
}

/// How one piece of a capture (see [`Parser::pcap_cuts`]) was read.
#[derive(Debug)]
pub struct PieceEnd {
    /// Frames and per-interface packet counts of the piece.
    pub info: CaptureInfo,
    /// Whether its records ended exactly at the end of the piece, so the cut
    /// after it was a true record boundary.
    pub clean: bool,
}

/// Reads the records in `data[range]` with a parser forked from `header`
/// (which has read the file header of `data`), handing frames to `sink` in
/// batches with the bytes of the piece consumed so far. Frame numbers start
/// at 1 in every piece.
pub fn read_piece<F>(
    header: &Parser,
    data: &[u8],
    range: std::ops::Range<usize>,
    mut sink: F,
) -> PieceEnd
where
    F: FnMut(&[Frame<'_>], u64),
{
    let start = range.start;
    let mut parser = header.fork_at(start as u64);
    let piece = data.get(range).unwrap_or_default();
    let (pos, stop) = parse_available(&mut parser, piece, &mut |frames, offset| {
        sink(frames, offset - start as u64)
    });
    PieceEnd {
        clean: stop.is_none() && pos == piece.len(),
        info: parser.into_info(),
    }
}

/// Streams: keep a buffer of at least one record, refill it, never hold the whole input.
fn drive_stream<F>(
    parser: &mut Parser,
    mut reader: Box<dyn Read + Send>,
    sink: &mut F,
) -> Option<CaptureError>
where
    F: FnMut(&[Frame<'_>], u64),
{
    const CHUNK: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut eof = false;
    let mut seen_any = false;
    // A read error ends the stream like EOF, after the bytes before it are parsed.
    let mut failed: Option<(u64, std::io::Error)> = None;
    let read_error = |failed: Option<(u64, std::io::Error)>| {
        failed.map(|(offset, source)| CaptureError::Read { offset, source })
    };
    loop {
        let mut need = 1;
        if !buf.is_empty() {
            let (pos, stop) = parse_available(parser, &buf, sink);
            buf.drain(..pos);
            match stop {
                Some(Stop::Damaged(e)) => return Some(e),
                Some(Stop::NeedMore(n)) => {
                    if eof {
                        return read_error(failed).or_else(|| Some(parser.truncated(n)));
                    }
                    need = n;
                }
                None if eof => return read_error(failed),
                None => {}
            }
        } else if eof {
            return if seen_any || failed.is_some() {
                read_error(failed)
            } else {
                Some(CaptureError::Empty)
            };
        }
        // Read until the record in progress is complete, a chunk at a time. The
        // buffer grows with the bytes that really arrive, never to the length a
        // record claims: a stream that claims a 16 MiB record and ends after 100
        // bytes costs a chunk, not 16 MiB.
        let want = buf.len() + need;
        while buf.len() < want && !eof {
            match (&mut reader).take(CHUNK as u64).read_to_end(&mut buf) {
                // `read_to_end` stops early only at the end of the stream.
                Ok(n) => {
                    eof = n < CHUNK;
                    seen_any |= n > 0;
                }
                // `read_to_end` keeps what it read before the error.
                Err(source) => {
                    failed = Some((parser.offset() + buf.len() as u64, source));
                    eof = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Serves `data` and remembers the largest buffer the reader was offered.
    struct Watch {
        data: std::io::Cursor<Vec<u8>>,
        largest: Arc<AtomicUsize>,
    }

    impl Read for Watch {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.largest.fetch_max(buf.len(), Ordering::Relaxed);
            self.data.read(buf)
        }
    }

    /// A classic pcap file: header (micro- or nanosecond magic, little-endian)
    /// and one record per payload, at second `sec` and fraction 5.
    fn pcap(nanos: bool, link: u32, sec: u32, payloads: &[&[u8]]) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut f = magic.to_le_bytes().to_vec();
        f.extend([2, 0, 4, 0]);
        f.extend([0; 8]);
        f.extend(65_535u32.to_le_bytes());
        f.extend(link.to_le_bytes());
        for p in payloads {
            f.extend(sec.to_le_bytes());
            f.extend(5u32.to_le_bytes());
            f.extend((p.len() as u32).to_le_bytes());
            f.extend((p.len() as u32).to_le_bytes());
            f.extend(*p);
        }
        f
    }

    fn read_all(bytes: Vec<u8>, stream: bool) -> (CaptureInfo, Vec<(u32, i64, LinkType, u16)>) {
        let source = if stream {
            Source::Stream(Box::new(std::io::Cursor::new(bytes)))
        } else {
            Source::Bytes(bytes)
        };
        let input = Input {
            path: "-".into(),
            source,
            gzip: false,
        };
        let mut seen = Vec::new();
        let info = read_frames(input, |fs| {
            seen.extend(fs.iter().map(|f| (f.no.0, f.ts.0, f.link, f.iface)))
        })
        .expect("header read");
        (info, seen)
    }

    #[test]
    fn concatenated_pcap_files_read_as_one_capture() {
        let mut bytes = pcap(false, 1, 10, &[&[1; 60], &[2; 70]]);
        bytes.extend(pcap(true, 101, 20, &[&[0x45; 40]]));
        for stream in [false, true] {
            let (info, seen) = read_all(bytes.clone(), stream);
            assert!(info.damage.is_none(), "{:?}", info.damage);
            assert_eq!(info.frames, 3);
            assert_eq!(info.interfaces.len(), 2);
            assert_eq!(info.interfaces[1].section, 1);
            assert_eq!(info.bytes, bytes.len() as u64);
            // The second file's own precision (nanoseconds) and link type.
            assert_eq!(
                seen,
                [
                    (1, 10_000_005_000, LinkType::EN10MB, 0),
                    (2, 10_000_005_000, LinkType::EN10MB, 0),
                    (3, 20_000_000_005, LinkType::RAW, 1),
                ]
            );
        }
    }

    #[test]
    fn real_corruption_after_a_concatenation_is_still_reported() {
        let first = pcap(false, 1, 10, &[&[1; 60]]);
        let mut bytes = first.clone();
        bytes.extend(pcap(false, 1, 11, &[&[2; 60]]));
        let at = bytes.len();
        // A record claiming 1.8 GB: what a file header used to be read as.
        bytes.extend(11u32.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(0x6b00_0000u32.to_le_bytes());
        bytes.extend(0x6b00_0000u32.to_le_bytes());
        bytes.extend([0; 32]);
        for stream in [false, true] {
            let (info, _) = read_all(bytes.clone(), stream);
            assert_eq!(info.frames, 2);
            match info.damage {
                Some(CaptureError::Corrupt { offset, .. }) => assert_eq!(offset, at as u64),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_stream_claiming_16_mib_costs_no_16_mib_buffer() {
        // pcap header (snaplen 16 MiB), one record header claiming 16 MiB, 100 bytes.
        let mut data = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        data.extend([0; 8]);
        data.extend((MAX_RECORD as u32).to_le_bytes());
        data.extend(1u32.to_le_bytes());
        data.extend([0; 8]);
        data.extend((MAX_RECORD as u32).to_le_bytes());
        data.extend((MAX_RECORD as u32).to_le_bytes());
        data.extend([0; 100]);
        let largest = Arc::new(AtomicUsize::new(0));
        let input = Input {
            path: "-".into(),
            source: Source::Stream(Box::new(Watch {
                data: std::io::Cursor::new(data),
                largest: Arc::clone(&largest),
            })),
            gzip: false,
        };
        let info = read_frames(input, |_| {}).expect("header read");
        assert!(matches!(
            info.damage,
            Some(CaptureError::TruncatedRecord { offset: 24, .. })
        ));
        let offered = largest.load(Ordering::Relaxed);
        assert!(offered <= 2 << 20, "reader offered {offered} bytes");
    }
}
