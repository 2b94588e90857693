//! The pcapng blocks of an annotated capture, built and serialised by
//! pcap-parser (`serialize` feature): lengths, padding and end-of-options
//! are its business, not ours.

use super::frames::Iface;
use super::AnnotateError;
use pcap_parser::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, Linktype, OptionCode, PcapNGOption,
    SectionHeaderBlock, ToVec,
};
use std::borrow::Cow;

/// Nanosecond timestamps (`if_tsresol` 9: 10^-9 s).
const TSRESOL_NS: u8 = 9;

/// A string option, cut at a character boundary to the 65,535 bytes an option holds.
fn text<'a>(code: OptionCode, s: &'a str) -> PcapNGOption<'a> {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let value = s.as_bytes().get(..end).unwrap_or_default();
    PcapNGOption {
        code,
        len: value.len() as u16,
        value: Cow::Borrowed(value),
    }
}

fn encode(mut block: impl ToVec) -> Result<Vec<u8>, AnnotateError> {
    block
        .to_vec()
        .map_err(|e| AnnotateError::Encode(format!("{e:?}")))
}

/// The section header: one `shb_comment` per line of `comments`.
pub(super) fn section_header(comments: &[String]) -> Result<Vec<u8>, AnnotateError> {
    let app = format!("wgtrace {}", env!("CARGO_PKG_VERSION"));
    let mut options: Vec<PcapNGOption<'_>> = comments
        .iter()
        .map(|c| text(OptionCode::Comment, c))
        .collect();
    options.push(text(OptionCode::ShbUserAppl, &app));
    encode(SectionHeaderBlock {
        block_type: 0,
        block_len1: 0,
        bom: 0,
        major_version: 1,
        minor_version: 0,
        // Unknown: the section is written as it goes.
        section_len: -1,
        options,
        block_len2: 0,
    })
}

/// One interface, named after its capture (`if_name`), with the capture's
/// link type and snap length, nanosecond timestamps.
pub(super) fn interface(i: &Iface, name: &str) -> Result<Vec<u8>, AnnotateError> {
    let description = format!("{name} ({})", i.link.name());
    encode(InterfaceDescriptionBlock {
        block_type: 0,
        block_len1: 0,
        linktype: Linktype(i32::from(i.link.0)),
        reserved: 0,
        snaplen: i.snaplen,
        options: vec![
            text(OptionCode::IfName, name),
            text(OptionCode::IfDescription, &description),
            PcapNGOption {
                code: OptionCode::IfTsresol,
                len: 1,
                value: Cow::Owned(vec![TSRESOL_NS, 0, 0, 0]),
            },
        ],
        block_len2: 0,
        if_tsresol: TSRESOL_NS,
        if_tsoffset: 0,
    })
}

/// One packet: its original bytes and wire length, at `ts_ns` (ns since
/// the epoch; earlier times are written as the epoch), with comments.
pub(super) fn packet(
    if_id: u32,
    ts_ns: i64,
    data: &[u8],
    wire_len: u32,
    comments: &[String],
) -> Result<Vec<u8>, AnnotateError> {
    let ts = u64::try_from(ts_ns).unwrap_or(0);
    encode(EnhancedPacketBlock {
        block_type: 0,
        block_len1: 0,
        if_id,
        ts_high: (ts >> 32) as u32,
        ts_low: ts as u32,
        caplen: data.len() as u32,
        origlen: wire_len.max(data.len() as u32),
        data,
        options: comments
            .iter()
            .map(|c| text(OptionCode::Comment, c))
            .collect(),
        block_len2: 0,
    })
}
