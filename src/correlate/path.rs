//! Along the path: three or more captures taken at points along one path, in
//! path order. Each hop (two consecutive points) is correlated as a pair
//! ([`correlate`], the hops in parallel); a message is followed from hop to
//! hop through the partners those correlations found, which is how the given
//! order is checked against the TTLs.

use super::{correlate, Correlation, DUPLICATE};
use crate::capture::FrameNo;
use crate::decode::DecodedCapture;
use rayon::prelude::*;
use serde::Serialize;

/// The pairwise correlations of consecutive points: hop `k` is between point
/// `k` (its side A) and point `k + 1` (its side B). The hops run in parallel;
/// their order is the path's.
pub fn correlate_path(caps: &[&DecodedCapture]) -> Vec<Correlation> {
    caps.par_windows(2).map(|w| correlate(w[0], w[1])).collect()
}

/// How the TTLs of messages seen at a point and at both its neighbours agree
/// with the given order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TtlOrder {
    /// The middle point (index in path order).
    pub point: usize,
    /// Messages seen at this point and, with another TTL, at a point on
    /// each side, whose TTL falls (or rises) through the point: consistent
    /// with the order.
    pub consistent: u64,
    /// Messages whose TTL at the point is above both sides' or below both:
    /// the point is not between them on the message's way.
    pub contradicting: u64,
    /// The first contradicting message: its frame at the nearest point
    /// before with another TTL, at this one, and at the nearest after.
    pub example: Option<[FrameNo; 3]>,
    /// Its TTLs there.
    pub example_ttls: Option<[u8; 3]>,
}

/// The TTL check of every middle point: a packet's TTL falls by one per
/// router in its direction of travel, so along a correctly ordered path it
/// is monotonic through every point. Points on one link see the same TTL,
/// so each side is read at the nearest point (following the message hop by
/// hop) whose TTL differs from this point's.
pub fn ttl_order(caps: &[&DecodedCapture], hops: &[Correlation]) -> Vec<TtlOrder> {
    (1..caps.len().saturating_sub(1))
        .into_par_iter()
        .map(|k| {
            let mut o = TtlOrder {
                point: k,
                ..TtlOrder::default()
            };
            for (j, r) in caps[k].records.iter().enumerate() {
                let differing = |back: bool| {
                    let (mut at, mut rec) = (k, j);
                    loop {
                        let (hop, side, next) = if back {
                            (at.checked_sub(1)?, 1, at - 1)
                        } else {
                            (at, 0, at + 1)
                        };
                        let &p = hops.get(hop)?.partner[side].get(rec)?;
                        if p >= DUPLICATE {
                            return None;
                        }
                        let there = caps.get(next)?.records.get(p as usize)?;
                        if there.ttl != r.ttl {
                            return Some(there);
                        }
                        (at, rec) = (next, p as usize);
                    }
                };
                let (Some(p), Some(n)) = (differing(true), differing(false)) else {
                    continue;
                };
                let (t0, t1, t2) = (p.ttl, r.ttl, n.ttl);
                if (t0 > t1) == (t2 > t1) {
                    o.contradicting += 1;
                    if o.example.is_none() {
                        o.example = Some([p.frame, r.frame, n.frame]);
                        o.example_ttls = Some([t0, t1, t2]);
                    }
                } else {
                    o.consistent += 1;
                }
            }
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureInfo, Timestamp};
    use crate::decode::{Counter, Endpoint, Endpoints, Flags, PacketKind, PacketRecord, PeerIndex};
    use std::net::{IpAddr, Ipv4Addr};

    /// A capture of `n` transport messages laptop → vps at TTL `ttl`.
    fn point(name: &str, ttl: u8, n: u64) -> DecodedCapture {
        let mut endpoints = Endpoints::default();
        let ep = |a: [u8; 4], port| Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from(a)),
            port,
        };
        let (src, dst) = (
            endpoints.intern(ep([192, 0, 2, 1], 51821)),
            endpoints.intern(ep([198, 51, 100, 2], 51820)),
        );
        let records = (0..n)
            .map(|i| PacketRecord {
                ts: Timestamp(i as i64 * 1_000_000 + i64::from(64 - ttl)),
                kind: PacketKind::WgTransport {
                    receiver: PeerIndex(7),
                    counter: Counter(i),
                },
                frame: FrameNo(i as u32 + 1),
                ip_len: 148,
                src,
                dst,
                udp_len: 120,
                frag_len: 148,
                ttl,
                flags: Flags::default(),
                iface: 0,
            })
            .collect();
        DecodedCapture {
            path: name.into(),
            info: CaptureInfo::default(),
            records,
            endpoints,
        }
    }

    #[test]
    fn ttls_agree_with_the_path_order_and_not_with_another() {
        let (a, b, c) = (point("a", 64, 5), point("b", 63, 5), point("c", 62, 5));
        let good = [&a, &b, &c];
        let order = ttl_order(&good, &correlate_path(&good));
        assert_eq!(order.len(), 1);
        assert_eq!((order[0].consistent, order[0].contradicting), (5, 0));
        // c given in the middle: its TTL is below both neighbours'.
        let bad = [&a, &c, &b];
        let order = ttl_order(&bad, &correlate_path(&bad));
        assert_eq!((order[0].consistent, order[0].contradicting), (0, 5));
        assert_eq!(order[0].example_ttls, Some([64, 62, 63]));
        assert_eq!(order[0].example, Some([FrameNo(1); 3]));
    }
}
