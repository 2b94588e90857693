//! Who sent each matched pair: TTL first (the sender's copy has the higher
//! TTL), then the endpoints TTL taught, Linux cooked direction, and time.

use super::{Side, DUPLICATE};
use crate::decode::{DecodedCapture, EndpointId, Flags, PacketRecord};
use rustc_hash::FxHashSet as HashSet;

/// TTLs hosts start with: a packet carrying one was captured where it was sent.
const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// Whether the capturing host sent this record, judged from the record alone
/// (Linux cooked `OUTGOING`, or an initial TTL value).
pub fn looks_locally_sent(r: &PacketRecord) -> bool {
    if r.flags.has(Flags::OUTGOING) {
        return true;
    }
    if r.flags.has(Flags::INCOMING) {
        return false;
    }
    INITIAL_TTLS.contains(&r.ttl)
}

/// Matched pairs (A record, B record), in A's order.
pub(super) fn matched_pairs(partner: &[Vec<u32>; 2]) -> impl Iterator<Item = (u32, u32)> + '_ {
    partner[0]
        .iter()
        .enumerate()
        .filter(|(_, &j)| j < DUPLICATE)
        .map(|(i, &j)| (i as u32, j))
}

/// The side whose copy has the higher TTL, if they differ.
pub(super) fn ttl_sender(ra: &PacketRecord, rb: &PacketRecord) -> Option<Side> {
    match ra.ttl.cmp(&rb.ttl) {
        std::cmp::Ordering::Greater => Some(Side::A),
        std::cmp::Ordering::Less => Some(Side::B),
        std::cmp::Ordering::Equal => None,
    }
}

/// Endpoints each side sends WireGuard from.
pub(super) type Local = [HashSet<EndpointId>; 2];

/// Adds the sender's source and the receiver's destination of a pair sent by `s`.
pub(super) fn learn(local: &mut Local, s: Side, ra: &PacketRecord, rb: &PacketRecord) {
    match s {
        Side::A => {
            local[0].insert(ra.src);
            local[1].insert(rb.dst);
        }
        Side::B => {
            local[1].insert(rb.src);
            local[0].insert(ra.dst);
        }
    }
}

/// What decides a pair's endpoints; consecutive pairs mostly share it.
pub(super) type Here = (Side, EndpointId, EndpointId, EndpointId, EndpointId);

pub(super) fn here(s: Side, ra: &PacketRecord, rb: &PacketRecord) -> Here {
    (s, ra.src, ra.dst, rb.src, rb.dst)
}

/// The sender of every matched pair.
pub(super) struct Senders {
    /// Per matched pair in A's order (as [`matched_pairs`] yields them): the sender.
    pub by_pair: Vec<Side>,
    /// Endpoints learnt from the TTL-decided pairs.
    pub local: Local,
    /// Pairs each side sent.
    pub count: [usize; 2],
}

/// Decides the sender of every matched pair.
pub(super) fn decide(caps: [&DecodedCapture; 2], partner: &[Vec<u32>; 2]) -> Senders {
    let rec = |s: Side, i: u32| &caps[s.idx()].records[i as usize];
    // 1. Local endpoints and a provisional offset from the pairs TTL decides.
    let mut local: Local = Default::default();
    let (mut ttl_min_ab, mut ttl_min_ba): (Option<i64>, Option<i64>) = (None, None);
    // Without any TTL-decided pair: the delay of the pair nearest in time.
    let mut nearest: Option<i64> = None;
    let mut last: crate::last_two::LastTwo<Here, ()> = Default::default();
    // What TTL decides, kept so that step 2 reads only the other pairs' records.
    let mut by_ttl: Vec<Option<Side>> = Vec::with_capacity(partner[0].len());
    for (i, j) in matched_pairs(partner) {
        let (ra, rb) = (rec(Side::A, i), rec(Side::B, j));
        let d = rb.ts.0.saturating_sub(ra.ts.0);
        if nearest.is_none_or(|n| d.unsigned_abs() < n.unsigned_abs()) {
            nearest = Some(d);
        }
        let decided = ttl_sender(ra, rb);
        by_ttl.push(decided);
        if let Some(s) = decided {
            last.get_or(here(s, ra, rb), || learn(&mut local, s, ra, rb));
            match s {
                Side::A => ttl_min_ab = Some(ttl_min_ab.map_or(d, |m| m.min(d))),
                Side::B => {
                    let d = ra.ts.0.saturating_sub(rb.ts.0);
                    ttl_min_ba = Some(ttl_min_ba.map_or(d, |m| m.min(d)));
                }
            }
        }
    }
    let provisional = match (ttl_min_ab, ttl_min_ba) {
        (Some(x), Some(y)) => x / 2 - y / 2,
        (Some(x), None) => x,
        (None, Some(y)) => -y,
        // Nothing decided: assume the packet nearest in time went out first.
        (None, None) => nearest.unwrap_or(0),
    };
    // 2. Every pair, with what step 1 learnt.
    let mut by_pair = Vec::with_capacity(by_ttl.len());
    let mut count = [0usize; 2];
    for ((i, j), decided) in matched_pairs(partner).zip(by_ttl) {
        let s = decided.unwrap_or_else(|| {
            let (ra, rb) = (rec(Side::A, i), rec(Side::B, j));
            if local[0].contains(&ra.src) || local[1].contains(&rb.dst) {
                Side::A
            } else if local[1].contains(&rb.src) || local[0].contains(&ra.dst) {
                Side::B
            } else if ra.flags.has(Flags::OUTGOING) || rb.flags.has(Flags::INCOMING) {
                Side::A
            } else if rb.flags.has(Flags::OUTGOING) || ra.flags.has(Flags::INCOMING) {
                Side::B
            } else if ra.ts.0.saturating_add(provisional) <= rb.ts.0 {
                Side::A
            } else {
                Side::B
            }
        });
        by_pair.push(s);
        count[s.idx()] += 1;
    }
    Senders {
        by_pair,
        local,
        count,
    }
}
