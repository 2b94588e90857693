//! What a capture file says about itself: format, interfaces, the capture's own drop counters.

use super::error::CaptureError;
use super::frame::FrameNo;
use super::frame::LinkType;
use serde::Serialize;
use std::path::PathBuf;

/// The container format, detected from the magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap.
    Pcap {
        /// Timestamps in nanoseconds (magic `a1b23c4d`) rather than microseconds.
        nanosecond: bool,
        /// Written by a big-endian host.
        big_endian: bool,
    },
    /// pcapng.
    Pcapng,
}

impl CaptureFormat {
    /// Short stable name: `pcap`, `pcap-nsec` or `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            CaptureFormat::Pcap {
                nanosecond: false, ..
            } => "pcap",
            CaptureFormat::Pcap {
                nanosecond: true, ..
            } => "pcap-nsec",
            CaptureFormat::Pcapng => "pcapng",
        }
    }
}

/// One capture interface (classic pcap has exactly one).
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    /// Link-layer header type of its packets.
    pub link: LinkType,
    /// Snap length: packets were cut to at most this many bytes.
    pub snaplen: u32,
    /// pcapng section the interface belongs to; for classic pcap, which file
    /// of concatenated files (0 for the first, and for a single file).
    pub section: u32,
    /// `if_name`, when the capture recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Packets read from this interface.
    pub packets: u64,
    /// Packets the interface dropped (`isb_ifdrop`), when a statistics block says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_drops: Option<u64>,
    /// Packets the OS/capture buffer dropped (`isb_osdrop`), when a statistics block says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_drops: Option<u64>,
    /// Packets the interface received (`isb_ifrecv`), when a statistics block says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    #[serde(skip)]
    pub(crate) ts_resol: u8,
    #[serde(skip)]
    pub(crate) ts_offset: i64,
}

impl Interface {
    pub(crate) fn new(link: LinkType, snaplen: u32, section: u32) -> Interface {
        Interface {
            link,
            snaplen,
            section,
            name: None,
            packets: 0,
            if_drops: None,
            os_drops: None,
            received: None,
            ts_resol: 6,
            ts_offset: 0,
        }
    }

    /// Drops the capture itself reported for this interface, if any statistics were recorded.
    pub fn capture_drops(&self) -> Option<u64> {
        match (self.if_drops, self.os_drops) {
            (None, None) => None,
            // The counters come from the file: a hostile one may say u64::MAX.
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        }
    }
}

/// Everything the reader learnt about a capture besides its packets.
#[derive(Debug, Default)]
pub struct CaptureInfo {
    /// Container format (`None` only before the header is read).
    pub format: Option<CaptureFormat>,
    /// The input was gzip-compressed.
    pub gzip: bool,
    /// Interfaces in file order, over all pcapng sections.
    pub interfaces: Vec<Interface>,
    /// Number of pcapng sections (0 for classic pcap).
    pub sections: u32,
    /// Packet records read.
    pub frames: u64,
    /// Bytes of (decompressed) capture consumed.
    pub bytes: u64,
    /// Damage that stopped reading early; the packets before it were still read.
    /// For an end of several files, the first damaged file's (see [`CapturePart::damaged`]).
    pub damage: Option<CaptureError>,
    /// The files of an end given as a directory, in the order read (time
    /// order); empty for a single file or stream.
    pub parts: Vec<CapturePart>,
}

/// One file of a capture end made of several files (rotated captures).
///
/// Frames are numbered across the files: the file's frame `n` (as Wireshark
/// numbers it in that file) is the end's frame `before + n`.
#[derive(Clone, Debug)]
pub struct CapturePart {
    /// The file's path.
    pub path: PathBuf,
    /// Frames of the end's earlier files.
    pub before: u64,
    /// Frames read from this file.
    pub frames: u64,
    /// Whether reading this file stopped at damage.
    pub damaged: bool,
}

impl CaptureInfo {
    /// Which file of a multi-file end holds the end's frame `no`, and its
    /// number in that file; `None` for single files and unknown frames.
    pub fn locate(&self, no: FrameNo) -> Option<(usize, FrameNo)> {
        let no = u64::from(no.0);
        let i = self.parts.partition_point(|p| p.before < no);
        let i = i.checked_sub(1)?;
        let p = &self.parts[i];
        (no <= p.before + p.frames).then(|| (i, FrameNo((no - p.before) as u32)))
    }

    /// The path of the damaged file of a multi-file end, if any.
    pub fn damaged_part(&self) -> Option<&std::path::Path> {
        self.parts
            .iter()
            .find(|p| p.damaged)
            .map(|p| p.path.as_path())
    }

    /// Distinct link types of the interfaces, in first-seen order.
    pub fn link_types(&self) -> Vec<LinkType> {
        let mut out: Vec<LinkType> = Vec::new();
        for i in &self.interfaces {
            if !out.contains(&i.link) {
                out.push(i.link);
            }
        }
        out
    }

    /// Sum of the drops the capture's statistics blocks report, `None` when there were none.
    pub fn capture_drops(&self) -> Option<u64> {
        self.interfaces
            .iter()
            .filter_map(Interface::capture_drops)
            .reduce(u64::saturating_add)
    }
}
