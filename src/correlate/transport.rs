//! The transport join: transport data, nearly all of a tunnel's traffic, is
//! matched across the captures by (receiver index, counter) without hashing.

use super::key::DUPLICATE;
use crate::decode::{PacketKind, PacketRecord, PeerIndex};

/// Transport messages of one capture grouped by receiver index: the record
/// indexes of group `g` (receiver `receivers[g]`) are
/// `order[start[g]..start[g + 1]]`, in capture order until sorted by counter.
struct TransportGroups {
    receivers: Vec<PeerIndex>,
    start: Vec<usize>,
    order: Vec<u32>,
}

fn transport(r: &PacketRecord) -> Option<(PeerIndex, u64)> {
    match r.kind {
        PacketKind::WgTransport { receiver, counter } => Some((receiver, counter.0)),
        _ => None,
    }
}

/// Groups the transport messages of `records` by receiver, then sorts each
/// group by counter. A counting sort: two passes, exactly four bytes per
/// message.
fn group_transport(records: &[PacketRecord]) -> TransportGroups {
    let mut ids: rustc_hash::FxHashMap<PeerIndex, u32> = Default::default();
    let ids = &mut ids;
    // Packets come in runs of one session: remember the last receiver's group.
    let mut last: crate::last_two::LastTwo<PeerIndex, u32> = Default::default();
    let mut group_of = |receiver: PeerIndex, ids: &mut rustc_hash::FxHashMap<PeerIndex, u32>| {
        last.get_or(receiver, || {
            let n = ids.len() as u32;
            *ids.entry(receiver).or_insert(n)
        })
    };
    let mut count: Vec<usize> = Vec::new();
    for r in records {
        if let Some((receiver, _)) = transport(r) {
            let g = group_of(receiver, ids) as usize;
            if count.len() <= g {
                count.resize(g + 1, 0);
            }
            count[g] += 1;
        }
    }
    let groups = ids.len();
    count.resize(groups, 0);
    let mut start = Vec::with_capacity(groups + 1);
    let mut total = 0;
    for c in &count {
        start.push(total);
        total += c;
    }
    start.push(total);
    let mut fill = start.clone();
    let mut order = vec![0u32; total];
    for (i, r) in records.iter().enumerate() {
        if let Some((receiver, _)) = transport(r) {
            let g = group_of(receiver, ids) as usize;
            order[fill[g]] = i as u32;
            fill[g] += 1;
        }
    }
    let mut receivers = vec![PeerIndex(0); groups];
    for (r, g) in ids.iter() {
        receivers[*g as usize] = *r;
    }
    let mut g = TransportGroups {
        receivers,
        start,
        order,
    };
    g.sort_by_counter(records);
    g
}

impl TransportGroups {
    fn group(&self, g: usize) -> &[u32] {
        match (self.start.get(g), self.start.get(g + 1)) {
            (Some(&s), Some(&e)) => &self.order[s..e],
            _ => &[],
        }
    }

    /// Sorts each group by counter. A sender numbers its packets in order and
    /// the capture mostly keeps that order, so each group is nearly sorted
    /// already: the stable sort finds the runs and merges a few of them,
    /// keeping capture order among equal counters (the first copy first).
    fn sort_by_counter(&mut self, records: &[PacketRecord]) {
        let counter = |i: &u32| {
            records
                .get(*i as usize)
                .and_then(transport)
                .map_or(0, |t| t.1)
        };
        for w in self.start.windows(2) {
            self.order[w[0]..w[1]].sort_by_key(counter);
        }
    }
}

/// Joins the transport messages of two captures on (receiver, counter).
///
/// Transport data is nearly all of a tunnel's traffic and its key is ordered
/// in each session, so instead of hashing it the messages are grouped by
/// receiver, sorted by counter (a linear pass on nearly sorted input) and
/// merged. Sets `partner` like [`join`], marks later copies of a message in
/// one capture [`DUPLICATE`]; returns the matches and the duplicates per side.
pub(crate) fn join_transport(
    records: [&[PacketRecord]; 2],
    partner: &mut [Vec<u32>; 2],
) -> (u64, [u64; 2]) {
    let (ga, gb) = rayon::join(
        || group_transport(records[0]),
        || group_transport(records[1]),
    );
    // Pairs of groups (A's, B's) of one receiver; a group seen on one side
    // only is still walked, for its duplicates.
    let b_of: rustc_hash::FxHashMap<PeerIndex, usize> = gb
        .receivers
        .iter()
        .enumerate()
        .map(|(g, r)| (*r, g))
        .collect();
    let mut in_a = vec![false; gb.receivers.len()];
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    for (g, r) in ga.receivers.iter().enumerate() {
        let b = b_of.get(r).copied();
        if let Some(b) = b {
            in_a[b] = true;
        }
        pairs.push((Some(g), b));
    }
    pairs.extend(
        (0..gb.receivers.len())
            .filter(|b| !in_a[*b])
            .map(|b| (None, Some(b))),
    );
    let counter = |side: usize, i: u32| {
        records[side]
            .get(i as usize)
            .and_then(transport)
            .map_or(0, |t| t.1)
    };
    let mut matched = 0;
    let mut duplicates = [0u64; 2];
    let mut mark = |side: usize, i: u32, to: u32| {
        if let Some(p) = partner[side].get_mut(i as usize) {
            *p = to;
        }
    };
    for (ia, ib) in pairs {
        let a = ia.map_or(&[][..], |g| ga.group(g));
        let b = ib.map_or(&[][..], |g| gb.group(g));
        let runs = [a, b];
        let mut at = [0usize; 2];
        // The counter of the previous entry on each side, to find repeats.
        let mut prev: [Option<u64>; 2] = [None, None];
        'merge: loop {
            let cur = [0, 1].map(|s| runs[s].get(at[s]).map(|&i| (i, counter(s, i))));
            // Later copies of a counter already seen on one side are duplicates.
            for s in 0..2 {
                if let Some((i, _)) = cur[s].filter(|(_, c)| prev[s] == Some(*c)) {
                    mark(s, i, DUPLICATE);
                    duplicates[s] += 1;
                    at[s] += 1;
                    continue 'merge;
                }
            }
            match cur {
                [Some((i, p)), Some((j, q))] if p == q => {
                    mark(0, i, j);
                    mark(1, j, i);
                    matched += 1;
                    prev = [Some(p), Some(q)];
                    at = [at[0] + 1, at[1] + 1];
                }
                [Some((_, p)), Some((_, q))] if p < q => {
                    prev[0] = Some(p);
                    at[0] += 1;
                }
                [Some((_, p)), None] => {
                    prev[0] = Some(p);
                    at[0] += 1;
                }
                [_, Some((_, q))] => {
                    prev[1] = Some(q);
                    at[1] += 1;
                }
                [None, None] => break,
            }
        }
    }
    (matched, duplicates)
}

#[cfg(test)]
mod tests {
    use super::super::key::NO_PARTNER;
    use super::*;
    use crate::capture::{FrameNo, Timestamp};
    use crate::decode::{Counter, EndpointId, Flags};
    use proptest::prelude::*;

    fn transport_record(receiver: u32, counter: u64, i: usize) -> PacketRecord {
        PacketRecord {
            ts: Timestamp(i as i64),
            kind: PacketKind::WgTransport {
                receiver: PeerIndex(receiver),
                counter: Counter(counter),
            },
            frame: FrameNo(i as u32 + 1),
            ip_len: 148,
            src: EndpointId(0),
            dst: EndpointId(1),
            udp_len: 120,
            frag_len: 148,
            ttl: 64,
            flags: Flags::default(),
            iface: 0,
        }
    }

    /// The obvious join: the first copy of each (receiver, counter) on each
    /// side is matched, later copies are duplicates.
    fn naive(records: [&[PacketRecord]; 2]) -> ([Vec<u32>; 2], u64, [u64; 2]) {
        let mut partner = [
            vec![NO_PARTNER; records[0].len()],
            vec![NO_PARTNER; records[1].len()],
        ];
        let mut first: [std::collections::HashMap<(PeerIndex, u64), u32>; 2] = Default::default();
        let mut dups = [0; 2];
        for side in 0..2 {
            for (i, r) in records[side].iter().enumerate() {
                let k = transport(r).expect("transport");
                if let std::collections::hash_map::Entry::Vacant(e) = first[side].entry(k) {
                    e.insert(i as u32);
                } else {
                    partner[side][i] = DUPLICATE;
                    dups[side] += 1;
                }
            }
        }
        let mut matched = 0;
        for (k, &i) in &first[0] {
            if let Some(&j) = first[1].get(k) {
                partner[0][i as usize] = j;
                partner[1][j as usize] = i;
                matched += 1;
            }
        }
        (partner, matched, dups)
    }

    proptest! {
        #[test]
        fn transport_join_equals_the_naive_join(
            a in proptest::collection::vec((0u32..3, 0u64..40), 0..120),
            b in proptest::collection::vec((0u32..3, 0u64..40), 0..120),
        ) {
            let ra: Vec<PacketRecord> = a.iter().enumerate().map(|(i, &(r, c))| transport_record(r, c, i)).collect();
            let rb: Vec<PacketRecord> = b.iter().enumerate().map(|(i, &(r, c))| transport_record(r, c, i)).collect();
            let mut partner = [vec![NO_PARTNER; ra.len()], vec![NO_PARTNER; rb.len()]];
            let (matched, dups) = join_transport([&ra, &rb], &mut partner);
            let (want, want_matched, want_dups) = naive([&ra, &rb]);
            prop_assert_eq!(matched, want_matched);
            prop_assert_eq!(dups, want_dups);
            prop_assert_eq!(partner, want);
        }
    }
}
