//! Whether the fragments of a datagram all reached a capture.
//!
//! A fragmented datagram's first fragment carries its WireGuard header, so
//! it is what the join matches; the datagram was delivered only if its other
//! fragments are in the capture too. Records keep no IP identification (the
//! record layout is full), so the other fragments are found by what does
//! identify them within a capture: the same addresses, the offset where the
//! previous fragment ends, and time, within Linux's 30 s reassembly limit,
//! nearest first.

use crate::decode::{DecodedCapture, Flags, PacketKind};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// Linux's `ipfrag_time`: fragments further apart are never reassembled.
const REASSEMBLY_NS: i64 = 30_000_000_000;
/// Fragments one datagram can have (64 KiB in 1 KiB pieces, with room).
const MAX_PIECES: usize = 128;

/// Per record of `cap`: whether it is the first fragment of a datagram
/// whose other fragments are not (all) in the capture.
pub fn incomplete_datagrams(cap: &DecodedCapture) -> Vec<bool> {
    let recs = &cap.records;
    let mut out = vec![false; recs.len()];
    if !recs.iter().any(|r| r.flags.has(Flags::FIRST_FRAGMENT)) {
        return out;
    }
    let ip = |id| cap.endpoints.get(id).ip;
    // Non-first fragments by (source, destination, offset), in capture order.
    let mut pieces: HashMap<(IpAddr, IpAddr, u16), Vec<usize>> = HashMap::default();
    for (i, r) in recs.iter().enumerate() {
        if let PacketKind::Fragment { offset, .. } = r.kind {
            pieces
                .entry((ip(r.src), ip(r.dst), offset))
                .or_default()
                .push(i);
        }
    }
    let mut used = vec![false; recs.len()];
    for (i, r) in recs.iter().enumerate() {
        if !r.flags.has(Flags::FIRST_FRAGMENT) {
            continue;
        }
        let v6 = r.flags.has(Flags::IPV6);
        let udp_total = u32::from(r.udp_len) + 8;
        // ip_len is the reassembled datagram: header (without IPv6's fragment header) + UDP.
        let header = r.ip_len.saturating_sub(udp_total) + if v6 { 8 } else { 0 };
        let piece_header = if v6 { 48 } else { 20 };
        let mut covered = u32::from(r.frag_len).saturating_sub(header);
        let (src, dst) = (ip(r.src), ip(r.dst));
        let mut complete = covered >= udp_total;
        for _ in 0..MAX_PIECES {
            if complete || covered == 0 || covered > u32::from(u16::MAX) {
                break;
            }
            let Some(list) = pieces.get(&(src, dst, covered as u16)) else {
                break;
            };
            let next = list
                .iter()
                .copied()
                .filter(|&j| !used[j])
                .filter(|&j| (recs[j].ts.0.saturating_sub(r.ts.0)).abs() <= REASSEMBLY_NS)
                .min_by_key(|&j| (recs[j].ts.0.saturating_sub(r.ts.0)).unsigned_abs());
            let Some(j) = next else { break };
            used[j] = true;
            let bytes = u32::from(recs[j].frag_len).saturating_sub(piece_header);
            if bytes == 0 {
                break;
            }
            covered += bytes;
            complete = covered >= udp_total;
        }
        out[i] = !complete;
    }
    out
}
