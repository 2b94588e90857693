//! Stage 2: frames to compact packet records.
//!
//! [`decode_frame`] is a pure function of one frame; [`decode_capture`]
//! drives the reader and decodes each small batch of frames right after it
//! was read, while its bytes are still in the CPU cache, interning addresses
//! into a per-capture table. Parallelism is across captures (the two ends of
//! a pair, the incidents of a batch): decoding a batch on other cores than
//! the one that just read it was slower (1 GiB capture: 247 ms against 203
//! ms), because reading is bound by memory latency, not by decoding.

mod anonymize;
mod link;
mod net;
mod record;
pub mod wireguard;

pub use anonymize::Anonymizer;
pub use link::network_layer;
pub use record::{
    DecodeIssue, Endpoint, EndpointId, Endpoints, Flags, IcmpError, PacketKind, PacketRecord,
    QuotedPacket,
};
pub use wireguard::{Counter, Message, PeerIndex};

use crate::capture::{read_frames_at, CaptureError, CaptureInfo, Frame, Input};
use std::path::PathBuf;

/// A frame decoded, with its endpoints not yet interned.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The record (its `src`/`dst` are [`EndpointId::NONE`] until interned).
    pub record: PacketRecord,
    /// Source and destination, for IP packets.
    pub endpoints: Option<(Endpoint, Endpoint)>,
}

impl EndpointId {
    /// Placeholder for packets without IP endpoints.
    pub const NONE: EndpointId = EndpointId(u32::MAX);
}

/// Decodes one frame. Never fails: what cannot be read becomes [`PacketKind::Undecodable`].
pub fn decode_frame(frame: &Frame<'_>) -> Decoded {
    let base = PacketRecord {
        ts: frame.ts,
        kind: PacketKind::Undecodable(DecodeIssue::UnsupportedLinkType),
        frame: frame.no,
        ip_len: frame.wire_len,
        src: EndpointId::NONE,
        dst: EndpointId::NONE,
        udp_len: 0,
        frag_len: 0,
        ttl: 0,
        flags: Flags::default(),
        iface: frame.iface,
    };
    match network_layer(frame.link, frame.data) {
        Err(issue) => Decoded {
            record: PacketRecord {
                kind: PacketKind::Undecodable(issue),
                ..base
            },
            endpoints: None,
        },
        Ok(link::Network::NonIp(ethertype)) => Decoded {
            record: PacketRecord {
                kind: PacketKind::NonIp { ethertype },
                ..base
            },
            endpoints: None,
        },
        Ok(link::Network::Ip { packet, direction }) => {
            let mut d = net::decode_ip(packet, base);
            d.record.flags.0 |= direction;
            d
        }
    }
}

/// A capture file decoded into records.
#[derive(Debug)]
pub struct DecodedCapture {
    /// The file as the user named it.
    pub path: PathBuf,
    /// Format, interfaces, statistics, damage.
    pub info: CaptureInfo,
    /// One record per frame, in frame order.
    pub records: Vec<PacketRecord>,
    /// The endpoints the records refer to.
    pub endpoints: Endpoints,
}

impl DecodedCapture {
    /// Replaces every IP address (endpoints, and the addresses quoted in ICMP
    /// errors) by its anonymised form; see [`Anonymizer`].
    pub fn anonymize(&mut self, an: &Anonymizer) {
        self.endpoints.map_ips(|ip| an.map(ip));
        for r in &mut self.records {
            if let PacketKind::IcmpError(e) = &mut r.kind {
                if let Some(q) = &mut e.quoted {
                    q.src.ip = an.map(q.src.ip);
                    q.dst.ip = an.map(q.dst.ip);
                }
            }
        }
    }
}

/// Reads and decodes a whole capture.
pub fn decode_capture(input: Input) -> Result<DecodedCapture, CaptureError> {
    decode_capture_with(input, &|_| {})
}

/// [`decode_capture`], calling `progress` with the bytes consumed after each batch.
pub fn decode_capture_with(
    input: Input,
    progress: &dyn Fn(u64),
) -> Result<DecodedCapture, CaptureError> {
    let path = input.path.clone();
    let mut records: Vec<PacketRecord> = Vec::new();
    let mut endpoints = Endpoints::default();
    let mut last: Option<((Endpoint, Endpoint), (EndpointId, EndpointId))> = None;
    let info = read_frames_at(input, |frames, consumed| {
        // Grow by a quarter rather than doubling: records are most of what
        // wgtrace allocates, and doubling would leave up to half unused.
        if records.capacity() - records.len() < frames.len() {
            records.reserve_exact(frames.len().max(records.len() / 4));
        }
        for d in frames.iter().map(decode_frame) {
            let mut r = d.record;
            if let Some(pair) = d.endpoints {
                // Packets come in runs of one flow: most need no table lookup.
                let ids = match last {
                    Some((p, ids)) if p == pair => ids,
                    _ => {
                        let ids = (endpoints.intern(pair.0), endpoints.intern(pair.1));
                        last = Some((pair, ids));
                        ids
                    }
                };
                (r.src, r.dst) = ids;
            }
            records.push(r);
        }
        progress(consumed);
    })?;
    records.shrink_to_fit();
    Ok(DecodedCapture {
        path,
        info,
        records,
        endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stay_compact() {
        // Issue budget: under 64 bytes allocated per packet, the record included.
        assert!(std::mem::size_of::<PacketRecord>() <= 48);
        assert!(std::mem::size_of::<PacketKind>() <= 16);
    }
}
