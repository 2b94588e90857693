//! Incremental parser of pcap and pcapng: fed a byte slice, returns one record at a time.
//!
//! It never reads past the slice and never allocates in proportion to a
//! length field: a record that claims more bytes than [`MAX_RECORD`] is
//! corrupt, one that claims more than the slice holds asks for more input.
//! The same parser serves memory-mapped files (the slice is the whole file)
//! and streams (the slice is a refillable buffer).

use super::error::CaptureError;
use super::frame::{Frame, FrameNo, LinkType, Timestamp};
use super::info::{CaptureFormat, CaptureInfo, Interface};
use pcap_parser::nom;
use pcap_parser::pcapng::{self, Block};
use pcap_parser::{PcapError, SHB_MAGIC};

/// Largest record or block accepted, in bytes. Real captures stay far below
/// (tcpdump's largest snap length is 262144); anything above is a lying length.
pub const MAX_RECORD: usize = 16 << 20;

/// The four fields of a classic pcap record header (`h` holds at least 16
/// bytes): seconds, fraction, captured length, original length.
fn record_header(h: &[u8], big_endian: bool) -> [u32; 4] {
    let mut f = [0u32; 4];
    for (i, v) in f.iter_mut().enumerate() {
        let b = [h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]];
        *v = if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
    }
    f
}

/// The most bytes a record may claim: the snap length, but never less than
/// tcpdump's 262144 (some writers put 0 or 65535 there and exceed it) nor
/// more than [`MAX_RECORD`].
fn caplen_limit(snaplen: u32) -> usize {
    (snaplen as usize).clamp(262_144, MAX_RECORD)
}

/// Plausible record headers in a row that make a piece boundary (see [`Parser::pcap_cuts`]).
const CHAIN: usize = 8;
/// How far past a cut the search for a record boundary goes before giving up that cut.
const SCAN: usize = 1 << 20;

/// Why the parser stopped before producing a record.
#[derive(Debug)]
pub enum Stop {
    /// The slice ends inside a record; this many more bytes are needed (at least).
    NeedMore(usize),
    /// The input is damaged.
    Damaged(CaptureError),
}

#[derive(Clone, Copy, Debug)]
enum State {
    Start,
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link: LinkType,
        snaplen: u32,
    },
    Pcapng {
        big_endian: bool,
    },
}

/// The parser's state between records.
#[derive(Debug)]
pub struct Parser {
    state: State,
    /// Absolute offset of the next unconsumed byte.
    offset: u64,
    next_no: u32,
    /// Index in `info.interfaces` of the current pcapng section's interface 0.
    section_base: usize,
    last_ts: Timestamp,
    info: CaptureInfo,
}

type Step<'a> = Result<(usize, Option<Frame<'a>>), Stop>;

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser at the start of a file.
    pub fn new() -> Parser {
        Parser {
            state: State::Start,
            offset: 0,
            next_no: 1,
            section_base: 0,
            last_ts: Timestamp(0),
            info: CaptureInfo::default(),
        }
    }

    /// Absolute offset of the next byte the parser will read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the file header has been read (so later damage leaves a partial result).
    pub fn header_done(&self) -> bool {
        !matches!(self.state, State::Start)
    }

    /// What the parser learnt about the capture so far.
    pub fn info(&self) -> &CaptureInfo {
        &self.info
    }

    /// Ends parsing and hands over what was learnt.
    pub fn into_info(self) -> CaptureInfo {
        self.info
    }

    /// The error for input that ends `needed` bytes too early.
    pub fn truncated(&self, needed: usize) -> CaptureError {
        if self.header_done() {
            CaptureError::TruncatedRecord {
                offset: self.offset,
                needed,
            }
        } else {
            CaptureError::TruncatedHeader {
                offset: self.offset,
                needed,
            }
        }
    }

    /// Reads the next record from `buf` (which starts at [`Parser::offset`]).
    ///
    /// Returns the bytes consumed and, for packet records, the frame.
    /// Metadata records (headers, interface descriptions, statistics) return `None`.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        let step = match self.state {
            State::Start => self.file_header(buf),
            State::Pcap {
                big_endian,
                nanos,
                modified,
                link,
                snaplen,
            } => self.pcap_record(buf, big_endian, nanos, modified, link, snaplen),
            State::Pcapng { big_endian } => self.pcapng_block(buf, big_endian),
        };
        if let Ok((n, _)) = &step {
            self.offset += *n as u64;
        }
        step
    }

    /// Whether this parser has read a classic pcap file header.
    pub fn is_pcap(&self) -> bool {
        matches!(self.state, State::Pcap { .. })
    }

    /// A parser for the records of the same classic pcap file that start at
    /// `offset`: same format, frame numbers counted from 1 again, nothing
    /// learnt yet (the caller adds the pieces up).
    pub fn fork_at(&self, offset: u64) -> Parser {
        let mut info = CaptureInfo {
            format: self.info.format,
            interfaces: self.info.interfaces.clone(),
            ..CaptureInfo::default()
        };
        for i in &mut info.interfaces {
            i.packets = 0;
        }
        Parser {
            state: self.state,
            offset,
            next_no: 1,
            section_base: self.section_base,
            last_ts: Timestamp(0),
            info,
        }
    }

    /// Cuts the records of a classic pcap file (`data` is the whole file,
    /// whose header this parser has read) into about `pieces` ranges that
    /// start at record boundaries, to be read in parallel.
    ///
    /// A pcap record does not say where the next one starts except through
    /// the chain from the file header, so each cut is moved forward to the
    /// first offset where eight consecutive record headers are plausible.
    /// That is a guess: the reader checks that each piece ends exactly where
    /// the next begins and reads the file in one piece otherwise.
    pub fn pcap_cuts(&self, data: &[u8], pieces: usize) -> Vec<std::ops::Range<usize>> {
        let start = (self.offset as usize).min(data.len());
        // Records near a cut must carry times near the first record's (zeros
        // in a padded payload look like a chain of empty records otherwise).
        let big_endian = matches!(
            self.state,
            State::Pcap {
                big_endian: true,
                ..
            }
        );
        let Some(first_sec) = data
            .get(start..start + 16)
            .map(|h| record_header(h, big_endian)[0])
        else {
            return std::iter::once(start..data.len()).collect();
        };
        let mut bounds = vec![start];
        let span = data.len() - start;
        for k in 1..pieces.max(1) {
            let at = start + span / pieces * k;
            let last = *bounds.last().unwrap_or(&start);
            if at <= last {
                continue;
            }
            let until = at.saturating_add(SCAN).min(data.len());
            if let Some(b) = (at..until).find(|&p| self.chain_at(data, p, first_sec)) {
                bounds.push(b);
            }
        }
        bounds.push(data.len());
        bounds.windows(2).map(|w| w[0]..w[1]).collect()
    }

    /// Whether [`CHAIN`] plausible record headers follow each other from `p`
    /// (or fewer that end exactly at the end of the file): non-empty, no
    /// larger than the snap length allows, no more than the original length,
    /// a valid fraction of a second, and within a year of `first_sec`.
    fn chain_at(&self, data: &[u8], mut p: usize, first_sec: u32) -> bool {
        let State::Pcap {
            big_endian,
            nanos,
            modified,
            snaplen,
            ..
        } = self.state
        else {
            return false;
        };
        let hdr_len = if modified { 24 } else { 16 };
        let limit = caplen_limit(snaplen);
        let frac_max = if nanos { 1_000_000_000 } else { 1_000_000 };
        let mut prev_sec: Option<u32> = None;
        for _ in 0..CHAIN {
            if p == data.len() {
                return true;
            }
            let Some(h) = data.get(p..p + hdr_len) else {
                return false;
            };
            let [sec, frac, caplen, origlen] = record_header(h, big_endian);
            let plausible = frac < frac_max
                && caplen > 0
                && (caplen as usize) <= limit
                && origlen >= caplen
                && sec.abs_diff(first_sec) <= 366 * 86_400
                && prev_sec.is_none_or(|s| s.abs_diff(sec) <= 86_400);
            if !plausible {
                return false;
            }
            prev_sec = Some(sec);
            p += hdr_len + caplen as usize;
        }
        true
    }

    fn corrupt(&self, reason: impl Into<String>) -> Stop {
        Stop::Damaged(CaptureError::Corrupt {
            offset: self.offset,
            reason: reason.into(),
        })
    }

    fn file_header<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        let Some(magic) = buf.first_chunk::<4>() else {
            return Err(Stop::NeedMore(4 - buf.len()));
        };
        let le = u32::from_le_bytes(*magic);
        match le {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
                if buf.len() < 24 {
                    return Err(Stop::NeedMore(24 - buf.len()));
                }
                let (_, hdr) = pcap_parser::parse_pcap_header(buf)
                    .map_err(|_| self.corrupt("unreadable pcap file header"))?;
                let big_endian = hdr.is_bigendian();
                let nanos = hdr.is_nanosecond_precision();
                let modified = hdr.is_modified_format();
                // The upper 16 bits of the link-type field carry FCS flags.
                let link = LinkType((hdr.network.0 as u32 & 0xffff) as u16);
                self.info.format = Some(CaptureFormat::Pcap {
                    nanosecond: nanos,
                    big_endian,
                });
                self.info
                    .interfaces
                    .push(Interface::new(link, hdr.snaplen, 0));
                self.state = State::Pcap {
                    big_endian,
                    nanos,
                    modified,
                    link,
                    snaplen: hdr.snaplen,
                };
                Ok((24, None))
            }
            SHB_MAGIC => {
                self.info.format = Some(CaptureFormat::Pcapng);
                self.section_header(buf)
            }
            _ => Err(Stop::Damaged(not_a_capture(buf))),
        }
    }

    fn pcap_record<'a>(
        &mut self,
        buf: &'a [u8],
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link: LinkType,
        snaplen: u32,
    ) -> Step<'a> {
        let hdr_len = if modified { 24 } else { 16 };
        let Some(hdr) = buf.get(..hdr_len) else {
            return Err(Stop::NeedMore(hdr_len - buf.len()));
        };
        let [sec, frac, caplen, origlen] = record_header(hdr, big_endian);
        let limit = caplen_limit(snaplen);
        if caplen as usize > limit {
            return Err(self.corrupt(format!(
                "record claims {caplen} captured bytes, more than the snap length allows ({snaplen})"
            )));
        }
        let total = hdr_len + caplen as usize;
        let Some(data) = buf.get(hdr_len..total) else {
            return Err(Stop::NeedMore(total - buf.len()));
        };
        let frac_ns = if nanos {
            frac as i64
        } else {
            frac as i64 * 1000
        };
        let ts = Timestamp(sec as i64 * 1_000_000_000 + frac_ns);
        let frame = self.frame(ts, origlen.max(caplen), link, 0, data);
        Ok((total, Some(frame)))
    }

    fn frame<'a>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        link: LinkType,
        iface: u16,
        data: &'a [u8],
    ) -> Frame<'a> {
        let no = FrameNo(self.next_no);
        self.next_no = self.next_no.saturating_add(1);
        self.last_ts = ts;
        self.info.frames += 1;
        if let Some(i) = self.info.interfaces.get_mut(iface as usize) {
            i.packets += 1;
        }
        Frame {
            no,
            ts,
            wire_len,
            link,
            iface,
            data,
        }
    }

    /// Reads a block's type and length and checks the length before anything trusts it.
    fn block_len(&self, buf: &[u8], big_endian: bool) -> Result<usize, Stop> {
        let Some(head) = buf.get(..8) else {
            return Err(Stop::NeedMore(8 - buf.len()));
        };
        let len_bytes = [head[4], head[5], head[6], head[7]];
        let len = if big_endian {
            u32::from_be_bytes(len_bytes)
        } else {
            u32::from_le_bytes(len_bytes)
        } as usize;
        if len < 12 {
            return Err(self.corrupt(format!(
                "pcapng block length {len} is smaller than the 12-byte minimum"
            )));
        }
        if !len.is_multiple_of(4) {
            return Err(self.corrupt(format!("pcapng block length {len} is not a multiple of 4")));
        }
        if len > MAX_RECORD {
            return Err(self.corrupt(format!(
                "pcapng block length {len} exceeds the {MAX_RECORD}-byte limit"
            )));
        }
        if buf.len() < len {
            return Err(Stop::NeedMore(len - buf.len()));
        }
        Ok(len)
    }

    fn section_header<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        // The byte-order magic after the length decides how to read the length itself.
        let Some(bom) = buf.get(8..12) else {
            return Err(Stop::NeedMore(12 - buf.len()));
        };
        let big_endian = match bom {
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            _ => {
                return Err(self.corrupt(format!(
                    "pcapng section header has an invalid byte-order magic {}",
                    hex(bom)
                )))
            }
        };
        let len = self.block_len(buf, big_endian)?;
        let block = buf.get(..len).unwrap_or_default();
        pcapng::parse_sectionheaderblock(block).map_err(|e| self.nom_error(&e))?;
        self.state = State::Pcapng { big_endian };
        self.section_base = self.info.interfaces.len();
        self.info.sections += 1;
        Ok((len, None))
    }

    fn pcapng_block<'a>(&mut self, buf: &'a [u8], big_endian: bool) -> Step<'a> {
        if buf.get(..4) == Some(&SHB_MAGIC.to_le_bytes()[..]) {
            return self.section_header(buf);
        }
        let len = self.block_len(buf, big_endian)?;
        let bytes = buf.get(..len).unwrap_or_default();
        let parsed = if big_endian {
            pcapng::parse_block_be(bytes)
        } else {
            pcapng::parse_block_le(bytes)
        };
        let (_, block) = parsed.map_err(|e| self.nom_error(&e))?;
        let frame = match block {
            Block::InterfaceDescription(idb) => {
                let section = self.info.sections.saturating_sub(1);
                let mut iface = Interface::new(
                    LinkType((idb.linktype.0 as u32 & 0xffff) as u16),
                    idb.snaplen,
                    section,
                );
                iface.name = idb.if_name().and_then(Result::ok).map(str::to_string);
                iface.ts_resol = idb.if_tsresol;
                iface.ts_offset = idb.if_tsoffset;
                if self.info.interfaces.len() >= u16::MAX as usize {
                    return Err(self.corrupt("more than 65535 interfaces"));
                }
                self.info.interfaces.push(iface);
                None
            }
            Block::EnhancedPacket(epb) => {
                let iface = self.interface_index(epb.if_id)?;
                let (link, resol, tsoffset) = {
                    let i = &self.info.interfaces[iface];
                    (i.link, i.ts_resol, i.ts_offset)
                };
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = pcapng_ts(units, resol, tsoffset)
                    .ok_or_else(|| self.corrupt(format!("invalid timestamp resolution {resol}")))?;
                let data = epb.data.get(..epb.caplen as usize).ok_or_else(|| {
                    self.corrupt(format!(
                        "packet claims {} captured bytes but its block holds {}",
                        epb.caplen,
                        epb.data.len()
                    ))
                })?;
                Some(self.frame(ts, epb.origlen.max(epb.caplen), link, iface as u16, data))
            }
            Block::SimplePacket(spb) => {
                let iface = self.interface_index(0)?;
                let (link, snaplen) = {
                    let i = &self.info.interfaces[iface];
                    (i.link, i.snaplen)
                };
                let mut keep = spb.origlen as usize;
                if snaplen > 0 {
                    keep = keep.min(snaplen as usize);
                }
                let data = spb.data.get(..keep.min(spb.data.len())).unwrap_or_default();
                // Simple packet blocks carry no time: the previous packet's stands in.
                let ts = self.last_ts;
                Some(self.frame(ts, spb.origlen, link, iface as u16, data))
            }
            Block::InterfaceStatistics(isb) => {
                let iface = self.interface_index(isb.if_id)?;
                let stats = &mut self.info.interfaces[iface];
                if let Some(Ok(v)) = isb.isb_ifdrop() {
                    stats.if_drops = Some(v);
                }
                if let Some(Ok(v)) = isb.isb_osdrop() {
                    stats.os_drops = Some(v);
                }
                if let Some(Ok(v)) = isb.isb_ifrecv() {
                    stats.received = Some(v);
                }
                None
            }
            _ => None,
        };
        Ok((len, frame))
    }

    fn interface_index(&self, if_id: u32) -> Result<usize, Stop> {
        let idx = self.section_base + if_id as usize;
        if if_id as usize >= u16::MAX as usize || idx >= self.info.interfaces.len() {
            let known = self.info.interfaces.len() - self.section_base;
            return Err(self.corrupt(format!(
                "packet refers to interface {if_id}, but the section describes {known} interface(s)"
            )));
        }
        Ok(idx)
    }

    fn nom_error(&self, e: &nom_err::Err<'_>) -> Stop {
        let reason = match e {
            nom::Err::Incomplete(_) => "block content is shorter than its fields".to_string(),
            nom::Err::Error(pe) | nom::Err::Failure(pe) => match pe {
                PcapError::NomError(_, kind) => {
                    format!("malformed pcapng block ({})", kind.description())
                }
                other => format!("malformed pcapng block ({})", short(other)),
            },
        };
        self.corrupt(reason)
    }
}

mod nom_err {
    pub type Err<'a> = pcap_parser::nom::Err<pcap_parser::PcapError<&'a [u8]>>;
}

fn short(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, k) => k.description().to_string(),
        PcapError::OwnedNomError(_, k) => k.description().to_string(),
        other => other.to_string(),
    }
}

/// pcapng time units to nanoseconds (integer arithmetic, per `if_tsresol` and `if_tsoffset`).
pub fn pcapng_ts(units: u64, tsresol: u8, tsoffset_secs: i64) -> Option<Timestamp> {
    let units = u128::from(units);
    let ns: u128 = if tsresol & 0x80 == 0 {
        let n = u32::from(tsresol);
        if n > 19 {
            return None;
        }
        if n <= 9 {
            units * 10u128.pow(9 - n)
        } else {
            units / 10u128.pow(n - 9)
        }
    } else {
        let n = u32::from(tsresol & 0x7f);
        if n > 63 {
            return None;
        }
        (units * 1_000_000_000) >> n
    };
    let total = ns as i128 + i128::from(tsoffset_secs) * 1_000_000_000;
    Some(Timestamp(
        total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the "not a capture" error, with a guess at what the file is.
pub fn not_a_capture(buf: &[u8]) -> CaptureError {
    let head = buf.get(..buf.len().min(4)).unwrap_or_default();
    let guess = if head.starts_with(b"\x7fELF") {
        "an ELF executable"
    } else if head.starts_with(b"\x89PNG") {
        "a PNG image"
    } else if head.starts_with(b"PK\x03\x04") {
        "a zip archive"
    } else if head.starts_with(b"%PDF") {
        "a PDF document"
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd-compressed data; decompress it first"
    } else if buf
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "text"
    } else {
        "unknown binary data"
    };
    CaptureError::NotACapture {
        magic: hex(head),
        guess,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_conversions() {
        assert_eq!(pcapng_ts(1_500_000, 6, 0), Some(Timestamp(1_500_000_000)));
        assert_eq!(pcapng_ts(7, 9, 0), Some(Timestamp(7)));
        assert_eq!(pcapng_ts(1_000, 12, 0), Some(Timestamp(1)));
        assert_eq!(
            pcapng_ts(1 << 20, 0x80 | 20, 3),
            Some(Timestamp(4_000_000_000))
        );
        assert_eq!(pcapng_ts(1, 20, 0), None);
    }

    #[test]
    fn guesses_what_a_file_is() {
        assert!(matches!(
            not_a_capture(b"hello world"),
            CaptureError::NotACapture { guess: "text", .. }
        ));
        assert!(matches!(
            not_a_capture(b"\x7fELF\x02\x01"),
            CaptureError::NotACapture {
                guess: "an ELF executable",
                ..
            }
        ));
    }
}
