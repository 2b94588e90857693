//! Stage 1: capture files to frames.
//!
//! [`read_frames`] reads pcap or pcapng (detected from the magic bytes),
//! plain or gzip-compressed, from a memory map or a stream, and hands the
//! frames to a sink in batches, so the next stage can decode a batch in
//! parallel while the bytes are still borrowed. Damage after the file header
//! stops reading but keeps what was read (`CaptureInfo::damage`).

mod error;
mod frame;
mod info;
mod parser;
mod source;

pub use error::{CaptureError, FileError};
pub use frame::{Frame, FrameNo, LinkType, Timestamp};
pub use info::{CaptureFormat, CaptureInfo, Interface};
pub use parser::{pcapng_ts, Parser, Stop, MAX_RECORD};
pub use source::{Input, Source};

use std::io::Read;

/// How many frames the reader hands to the sink at once.
pub const BATCH: usize = 1 << 14;

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
    let stop = loop {
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
    loop {
        let mut need = 1;
        if !buf.is_empty() {
            let (pos, stop) = parse_available(parser, &buf, sink);
            buf.drain(..pos);
            match stop {
                Some(Stop::Damaged(e)) => return Some(e),
                Some(Stop::NeedMore(n)) => {
                    if eof {
                        return Some(parser.truncated(n));
                    }
                    need = n;
                }
                None if eof => return None,
                None => {}
            }
        } else if eof {
            return if seen_any {
                None
            } else {
                Some(CaptureError::Empty)
            };
        }
        // Read until the record in progress is complete, a chunk at a time.
        let want = buf.len() + need;
        while buf.len() < want {
            let old = buf.len();
            buf.resize(old + CHUNK.max(want - old), 0);
            match reader.read(&mut buf[old..]) {
                Ok(0) => {
                    buf.truncate(old);
                    eof = true;
                    break;
                }
                Ok(n) => {
                    buf.truncate(old + n);
                    seen_any = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(old),
                Err(source) => {
                    buf.truncate(old);
                    return Some(CaptureError::Read {
                        offset: parser.offset() + buf.len() as u64,
                        source,
                    });
                }
            }
        }
    }
}
