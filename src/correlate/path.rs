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
    /// Messages seen at the three points whose TTL never rises then falls
    /// (or falls then rises) through the point: consistent with the order.
    pub consistent: u64,
    /// Messages whose TTL at the point is above both neighbours' or below
    /// both: the point is not between them on the message's way.
    pub contradicting: u64,
    /// The first contradicting message: its frame at the previous point, at
    /// this one and at the next.
    pub example: Option<[FrameNo; 3]>,
    /// Its TTLs there.
    pub example_ttls: Option<[u8; 3]>,
}

/// The TTL check of every middle point: a packet's TTL falls by one per
/// router in its direction of travel, so along a correctly ordered path it
/// is monotonic through every point.
pub fn ttl_order(caps: &[&DecodedCapture], hops: &[Correlation]) -> Vec<TtlOrder> {
    (1..caps.len().saturating_sub(1))
        .into_par_iter()
        .map(|k| {
            let mut o = TtlOrder {
                point: k,
                ..TtlOrder::default()
            };
            let (Some(prev), Some(next)) = (hops.get(k - 1), hops.get(k)) else {
                return o;
            };
            let here = &caps[k].records;
            for (j, r) in here.iter().enumerate() {
                let (Some(&i), Some(&l)) = (prev.partner[1].get(j), next.partner[0].get(j)) else {
                    continue;
                };
                if i >= DUPLICATE || l >= DUPLICATE {
                    continue;
                }
                let (Some(p), Some(n)) = (
                    caps[k - 1].records.get(i as usize),
                    caps[k + 1].records.get(l as usize),
                ) else {
                    continue;
                };
                let (t0, t1, t2) = (p.ttl, r.ttl, n.ttl);
                if (t0 > t1 && t2 > t1) || (t0 < t1 && t2 < t1) {
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
