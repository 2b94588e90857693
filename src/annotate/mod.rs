//! After the report: the two captures written back as one pcapng file for
//! Wireshark (`wgtrace analyze A B --annotate OUT.pcapng`).
//!
//! Every frame of both captures, with its original bytes, in time order on
//! A's clock (B's timestamps minus the clock offset the correlation
//! estimated, so one-way delays read as they are); one interface per
//! capture named after it; on each packet whose fate the correlation knows,
//! a comment in the words of [`report::annotate`](crate::report::annotate)
//! (`wgtrace: lost (never reached laptop.pcap)`); the report's headline,
//! fixes and findings in the section header. Nothing is decided here: the
//! fates are the correlation's ([`Correlation::fate`]), the words the report's.

mod frames;
mod pcapng;

use crate::capture::FileError;
use crate::correlate::{Correlation, Side};
use crate::decode::DecodedCapture;
use crate::report::analyze::AnalyzeReport;
use crate::report::annotate::{packet_comment, section_comments};
use std::io::{self, Write};
use std::path::PathBuf;

/// Why the annotated capture could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnnotateError {
    /// A capture came from standard input, which cannot be read a second time.
    #[error("--annotate needs the captures as files: standard input cannot be read again")]
    Stdin,
    /// A capture could not be read again.
    #[error("{0}")]
    Read(#[from] FileError),
    /// A capture holds other frames than when it was analysed.
    #[error("{}: changed since it was analysed ({was} frames then, {read} now)", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// Frames the analysis read.
        was: u64,
        /// Frames read now.
        read: u64,
    },
    /// A block could not be encoded.
    #[error("cannot encode a pcapng block: {0}")]
    Encode(String),
    /// Writing failed.
    #[error("{0}")]
    Write(#[from] io::Error),
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Annotated {
    /// Packets (both captures).
    pub packets: u64,
    /// Packets that carry a `wgtrace:` comment.
    pub commented: u64,
    /// Interfaces (one per capture and link type).
    pub interfaces: u32,
}

/// Writes the annotated pcapng of the pair `caps` to `out` (buffered here).
///
/// `correlation` and `report` are the pair's, as the pipeline made them
/// (restricted by a selection, if any); `caps` are read again from their
/// files, which must not have changed since.
pub fn write_annotated(
    out: impl Write,
    caps: [&DecodedCapture; 2],
    correlation: &Correlation,
    report: &AnalyzeReport,
) -> Result<Annotated, AnnotateError> {
    let held = frames::hold(caps)?;
    let offset = correlation.clock.offset_ns;
    let (packets, ifaces) = frames::merged(&held, offset, caps.map(|c| c.info.frames))?;
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(&pcapng::section_header(&section_comments(report))?)?;
    let name = |side: Side| {
        report.captures.iter().find(|c| c.side == side).map_or_else(
            || caps[side.idx()].path.display().to_string(),
            |c| c.file.clone(),
        )
    };
    for i in &ifaces {
        out.write_all(&pcapng::interface(i, &name(i.side))?)?;
    }
    let mut done = Annotated {
        interfaces: ifaces.len() as u32,
        ..Annotated::default()
    };
    let mut comments: Vec<String> = Vec::new();
    for p in &packets {
        let if_id = ifaces
            .iter()
            .position(|i| i.side == p.side && i.link == p.frame.link)
            .unwrap_or(0) as u32;
        comments.clear();
        let recs = &caps[p.side.idx()].records;
        let first = recs.partition_point(|r| r.frame < p.no);
        // A super-packet split into its messages has several records.
        for (i, r) in recs.iter().enumerate().skip(first) {
            if r.frame != p.no {
                break;
            }
            let fate = correlation.fate(p.side, caps, i);
            if let Some(c) = packet_comment(fate, r.kind.is_wireguard(), p.side, report) {
                if !comments.contains(&c) {
                    comments.push(c);
                }
            }
        }
        done.commented += u64::from(!comments.is_empty());
        done.packets += 1;
        out.write_all(&pcapng::packet(
            if_id,
            frames::corrected(p, offset),
            p.frame.data,
            p.frame.wire_len,
            &comments,
        )?)?;
    }
    out.flush()?;
    Ok(done)
}
