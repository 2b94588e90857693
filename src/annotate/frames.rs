//! The frames of both captures read again, with their original bytes, and
//! put in one time order on A's clock.

use super::AnnotateError;
use crate::capture::{CaptureError, FileError, Frame, FrameNo, Input, LinkType, Parser, Source};
use crate::correlate::Side;
use crate::decode::DecodedCapture;
use memmap2::Mmap;
use rayon::slice::ParallelSliceMut;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The bytes of one capture file: mapped, or decompressed into memory (gzip).
pub(super) enum Held {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        match self {
            Held::Mapped(m) => m,
            Held::Owned(v) => v,
        }
    }
}

/// One file of one capture end, held for reading.
pub(super) struct HeldFile {
    side: Side,
    path: PathBuf,
    /// Frames of the end's earlier files (its frame `n` is the end's `before + n`).
    before: u64,
    bytes: Held,
}

/// One frame of the merged captures.
pub(super) struct Packet<'a> {
    pub side: Side,
    /// The frame number in its end, as the records name it.
    pub no: FrameNo,
    pub frame: Frame<'a>,
}

/// An output interface: one per capture and link type (one per capture as
/// a rule: a capture of several link types has one per type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Iface {
    pub side: Side,
    pub link: LinkType,
    pub snaplen: u32,
}

/// Opens every file of both ends again. Standard input, read once by the
/// analysis, cannot be.
pub(super) fn hold(caps: [&DecodedCapture; 2]) -> Result<Vec<HeldFile>, AnnotateError> {
    let mut out = Vec::new();
    for (cap, side) in caps.into_iter().zip([Side::A, Side::B]) {
        let files: Vec<(PathBuf, u64)> = if cap.info.parts.is_empty() {
            vec![(cap.path.clone(), 0)]
        } else {
            cap.info
                .parts
                .iter()
                .map(|p| (p.path.clone(), p.before))
                .collect()
        };
        for (path, before) in files {
            if path == Path::new("-") {
                return Err(AnnotateError::Stdin);
            }
            let bytes = load(&path).map_err(|error| FileError {
                path: path.clone(),
                error,
            })?;
            out.push(HeldFile {
                side,
                path,
                before,
                bytes,
            });
        }
    }
    Ok(out)
}

fn load(path: &Path) -> Result<Held, CaptureError> {
    let input = Input::open(path)?;
    Ok(match input.source {
        Source::Mapped(m) => Held::Mapped(m),
        Source::Bytes(b) => Held::Owned(b),
        Source::Stream(mut r) => {
            let mut v = Vec::new();
            // Damage mid-stream ends the bytes where the analysis stopped too.
            if let Err(source) = r.read_to_end(&mut v) {
                if v.is_empty() {
                    return Err(CaptureError::Read { offset: 0, source });
                }
            }
            Held::Owned(v)
        }
    })
}

/// Every frame of the held files, and the interfaces they need, in time
/// order on A's clock (B's timestamps minus `offset_ns`; ties: A first,
/// then frame order). `frames` are the analysis's counts per end, which the
/// files must still hold.
pub(super) fn merged<'a>(
    files: &'a [HeldFile],
    offset_ns: i64,
    frames: [u64; 2],
) -> Result<(Vec<Packet<'a>>, Vec<Iface>), AnnotateError> {
    let mut packets = Vec::new();
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut counted = [0u64; 2];
    for f in files {
        let data = f.bytes.as_ref();
        let mut parser = Parser::new();
        let mut pos = 0;
        while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
            // Damage stops reading here as it stopped the analysis.
            let Ok((n, frame)) = parser.next(rest) else {
                break;
            };
            pos += n;
            if let Some(frame) = frame {
                packets.push(Packet {
                    side: f.side,
                    no: FrameNo((f.before + u64::from(frame.no.0)) as u32),
                    frame,
                });
                counted[f.side.idx()] += 1;
            }
        }
        for i in &parser.info().interfaces {
            match ifaces
                .iter_mut()
                .find(|x| x.side == f.side && x.link == i.link)
            {
                Some(x) => x.snaplen = x.snaplen.max(i.snaplen),
                None => ifaces.push(Iface {
                    side: f.side,
                    link: i.link,
                    snaplen: i.snaplen,
                }),
            }
        }
    }
    for side in [Side::A, Side::B] {
        let (read, was) = (counted[side.idx()], frames[side.idx()]);
        if read != was {
            let path = files
                .iter()
                .find(|f| f.side == side)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            return Err(AnnotateError::Changed { path, was, read });
        }
    }
    ifaces.sort_by_key(|i| i.side);
    // (time, side, frame) is unique per packet: an unstable sort is deterministic.
    packets.par_sort_unstable_by_key(|p| (corrected(p, offset_ns), p.side, p.no));
    Ok((packets, ifaces))
}

/// The corrected time of a packet (ns since the epoch on A's clock).
pub(super) fn corrected(p: &Packet<'_>, offset_ns: i64) -> i64 {
    match p.side {
        Side::A => p.frame.ts.0,
        Side::B => p.frame.ts.0.saturating_sub(offset_ns),
    }
}
