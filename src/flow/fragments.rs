//! Whether the fragments of a datagram all reached a capture.
//!
//! A fragmented datagram's first fragment carries its WireGuard header, so
//! it is what the join matches; the datagram was delivered only if its other
//! fragments are in the capture too. Records keep no IP identification (the
//! record layout is full), so the other fragments are found by what does
//! identify them within a capture: the same addresses, the offset where the
//! previous fragment ends, and order. A router sends a datagram's fragments
//! back to back, first fragment first, so a datagram's other fragments are
//! looked for after its first fragment and before the next first fragment
//! between the same addresses; then, for reordered ones, just before it. All
//! within Linux's 30 s reassembly limit.

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
    // Per first fragment: the previous and the next first fragment between
    // the same addresses (the bounds of where its pieces can be).
    let firsts: Vec<usize> = (0..recs.len())
        .filter(|&i| recs[i].flags.has(Flags::FIRST_FRAGMENT))
        .collect();
    let mut bounds: HashMap<usize, (usize, usize)> = HashMap::default();
    let mut last_of: HashMap<(IpAddr, IpAddr), usize> = HashMap::default();
    for &i in &firsts {
        let k = (ip(recs[i].src), ip(recs[i].dst));
        let prev = last_of.insert(k, i);
        bounds.insert(i, (prev.map_or(0, |p| p + 1), recs.len()));
        if let Some(p) = prev {
            if let Some(b) = bounds.get_mut(&p) {
                b.1 = i;
            }
        }
    }
    let mut used = vec![false; recs.len()];
    for &i in &firsts {
        let r = &recs[i];
        let (lo, hi) = bounds.get(&i).copied().unwrap_or((0, recs.len()));
        let v6 = r.flags.has(Flags::IPV6);
        let udp_total = u32::from(r.udp_len) + 8;
        // ip_len is the reassembled datagram: header (without IPv6's fragment header) + UDP.
        let header = r.ip_len.saturating_sub(udp_total) + if v6 { 8 } else { 0 };
        let piece_header = if v6 { 48 } else { 20 };
        let mut covered = u32::from(r.frag_len).saturating_sub(header);
        let (src, dst) = (ip(r.src), ip(r.dst));
        let mut complete = covered >= udp_total;
        let near = |j: usize| (recs[j].ts.0.saturating_sub(r.ts.0)).abs() <= REASSEMBLY_NS;
        for _ in 0..MAX_PIECES {
            if complete || covered == 0 || covered > u32::from(u16::MAX) {
                break;
            }
            let Some(list) = pieces.get(&(src, dst, covered as u16)) else {
                break;
            };
            // After the first fragment and before the next one; else the
            // latest reordered one before it.
            // `list` is in capture order: start where `i` would be.
            let free = |j: &usize| !used[*j] && near(*j);
            let at = list.partition_point(|&j| j < i);
            let next = list[at..]
                .iter()
                .copied()
                .take_while(|&j| j < hi)
                .find(free)
                .or_else(|| {
                    list[..at]
                        .iter()
                        .rev()
                        .copied()
                        .take_while(|&j| j >= lo)
                        .find(free)
                });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureInfo, FrameNo, Timestamp};
    use crate::decode::{Counter, Endpoint, Endpoints, PacketRecord, PeerIndex};
    use std::net::Ipv4Addr;

    fn cap(records: Vec<PacketRecord>, endpoints: Endpoints) -> DecodedCapture {
        DecodedCapture {
            path: "x.pcap".into(),
            info: CaptureInfo::default(),
            records,
            endpoints,
        }
    }

    /// A 1480-byte datagram cut at 1452: first fragment (1452 bytes) and the
    /// rest (20 + 28 bytes at offset 1432), at the given times (s); `None`: not captured.
    fn datagrams(times: &[(i64, Option<i64>)]) -> DecodedCapture {
        let mut eps = Endpoints::default();
        let ep = |a: [u8; 4], port| Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from(a)),
            port,
        };
        let (src, dst) = (
            eps.intern(ep([198, 51, 100, 2], 51820)),
            eps.intern(ep([203, 0, 113, 2], 51821)),
        );
        let mut recs = Vec::new();
        for (n, &(first, rest)) in times.iter().enumerate() {
            let base = PacketRecord {
                ts: Timestamp(first * 1_000_000_000),
                kind: PacketKind::WgTransport {
                    receiver: PeerIndex(1),
                    counter: Counter(n as u64),
                },
                frame: FrameNo(0),
                ip_len: 1480,
                src,
                dst,
                udp_len: 1452,
                frag_len: 1452,
                ttl: 62,
                flags: Flags(Flags::FIRST_FRAGMENT),
                iface: 0,
            };
            recs.push(base.clone());
            if let Some(t) = rest {
                recs.push(PacketRecord {
                    ts: Timestamp(t * 1_000_000_000),
                    kind: PacketKind::Fragment {
                        id: n as u32,
                        offset: 1432,
                    },
                    frag_len: 48,
                    ip_len: 48,
                    flags: Flags(0),
                    ..base
                });
            }
        }
        recs.sort_by_key(|r| r.ts);
        for (i, r) in recs.iter_mut().enumerate() {
            r.frame = FrameNo(i as u32 + 1);
        }
        cap(recs, eps)
    }

    fn incomplete_firsts(c: &DecodedCapture) -> Vec<bool> {
        let inc = incomplete_datagrams(c);
        c.records
            .iter()
            .zip(inc)
            .filter(|(r, _)| r.flags.has(Flags::FIRST_FRAGMENT))
            .map(|(_, x)| x)
            .collect()
    }

    #[test]
    fn a_datagram_is_complete_only_with_all_its_fragments() {
        let c = datagrams(&[(0, Some(0)), (1, None), (2, Some(2))]);
        assert_eq!(incomplete_firsts(&c), vec![false, true, false]);
    }

    #[test]
    fn one_fragment_completes_one_datagram() {
        // Two first fragments, one second fragment: one stays incomplete.
        let c = datagrams(&[(0, Some(0)), (0, None)]);
        assert_eq!(incomplete_firsts(&c).iter().filter(|x| **x).count(), 1);
    }

    #[test]
    fn fragments_beyond_the_reassembly_time_do_not_complete() {
        let c = datagrams(&[(0, Some(31))]);
        assert_eq!(incomplete_firsts(&c), vec![true]);
        let c = datagrams(&[(0, Some(29))]);
        assert_eq!(incomplete_firsts(&c), vec![false]);
    }

    #[test]
    fn a_capture_without_fragments_has_nothing_incomplete() {
        let c = cap(Vec::new(), Endpoints::default());
        assert!(incomplete_datagrams(&c).is_empty());
    }
}
