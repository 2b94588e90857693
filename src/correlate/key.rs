//! Identities that survive NAT: what a packet is called in both captures.

use crate::decode::{Counter, PacketKind, PacketRecord, PeerIndex};
use serde::Serialize;

/// The identity of one message, the same in both captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgKey {
    /// Handshake initiation: sender index and ephemeral key bytes.
    Initiation {
        /// Sender index.
        sender: PeerIndex,
        /// Ephemeral key bytes.
        ephemeral: u32,
    },
    /// Handshake response.
    Response {
        /// Sender index.
        sender: PeerIndex,
        /// Receiver index.
        receiver: PeerIndex,
        /// Ephemeral key bytes.
        ephemeral: u32,
    },
    /// Cookie reply: receiver index and size.
    Cookie {
        /// Receiver index.
        receiver: PeerIndex,
        /// UDP payload size.
        len: u16,
    },
    /// Transport data: receiver index and counter (unique per packet).
    Transport {
        /// Receiver index.
        receiver: PeerIndex,
        /// Counter.
        counter: Counter,
    },
    /// Other UDP: payload hash, length and which repetition of that payload it is.
    Udp {
        /// Payload hash.
        hash: u64,
        /// UDP payload length.
        len: u16,
        /// 0 for the first packet with this payload, 1 for the next repetition, ...
        nth: u32,
    },
}

/// Kinds of matched messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgClass {
    /// Handshake initiation.
    Initiation,
    /// Handshake response.
    Response,
    /// Cookie reply.
    Cookie,
    /// Transport data.
    Transport,
    /// Other UDP.
    Udp,
    /// Not matched at all.
    Other,
}

impl MsgClass {
    /// The class of a packet kind.
    pub fn of(kind: &PacketKind) -> MsgClass {
        match kind {
            PacketKind::WgInitiation { .. } => MsgClass::Initiation,
            PacketKind::WgResponse { .. } => MsgClass::Response,
            PacketKind::WgCookieReply { .. } => MsgClass::Cookie,
            PacketKind::WgTransport { .. } => MsgClass::Transport,
            PacketKind::Udp { .. } => MsgClass::Udp,
            _ => MsgClass::Other,
        }
    }
}

impl MsgKey {
    /// The key as one number, one-to-one: the class in the top bits, the fields below.
    pub fn packed(&self) -> u128 {
        let (class, fields): (u128, u128) = match *self {
            MsgKey::Initiation { sender, ephemeral } => {
                (1, u128::from(sender.0) << 32 | u128::from(ephemeral))
            }
            MsgKey::Response {
                sender,
                receiver,
                ephemeral,
            } => (
                2,
                u128::from(sender.0) << 64 | u128::from(receiver.0) << 32 | u128::from(ephemeral),
            ),
            MsgKey::Cookie { receiver, len } => (3, u128::from(receiver.0) << 16 | u128::from(len)),
            MsgKey::Transport { receiver, counter } => {
                (4, u128::from(receiver.0) << 64 | u128::from(counter.0))
            }
            MsgKey::Udp { hash, len, nth } => (
                5,
                u128::from(hash) << 48 | u128::from(len) << 32 | u128::from(nth),
            ),
        };
        class << 125 | fields
    }

    /// The class of the message.
    pub fn class(&self) -> MsgClass {
        match self {
            MsgKey::Initiation { .. } => MsgClass::Initiation,
            MsgKey::Response { .. } => MsgClass::Response,
            MsgKey::Cookie { .. } => MsgClass::Cookie,
            MsgKey::Transport { .. } => MsgClass::Transport,
            MsgKey::Udp { .. } => MsgClass::Udp,
        }
    }
}

/// `partner` value of a record that matched nothing (or is not a message).
pub const NO_PARTNER: u32 = u32::MAX;
/// `partner` value of a record that repeats an earlier message of its own capture.
pub const DUPLICATE: u32 = u32::MAX - 1;

/// Two copies of the same UDP payload closer than this are one packet recorded twice.
const UDP_DUP_NS: i64 = 5_000_000;

/// The keys of one capture's messages other than transport data (handshakes,
/// cookies, other UDP; see [`join_transport`]), for a sort-merge join: each entry is
/// `hash32(key) << 32 | record index`, sorted. Eight bytes per message keep the
/// join within wgtrace's memory budget; equal hashes are told apart by
/// comparing the full keys, recomputed from the records.
pub(crate) struct Keys {
    sorted: Vec<u64>,
    /// Repetition number of non-WireGuard UDP payloads (part of their key).
    udp_nth: rustc_hash::FxHashMap<u32, u32>,
}

/// The identity of a record, if it is a message.
pub(crate) fn msg_key(r: &PacketRecord, udp_nth: Option<u32>) -> Option<MsgKey> {
    Some(match r.kind {
        PacketKind::WgInitiation { sender, ephemeral } => MsgKey::Initiation { sender, ephemeral },
        PacketKind::WgResponse {
            sender,
            receiver,
            ephemeral,
        } => MsgKey::Response {
            sender,
            receiver,
            ephemeral,
        },
        PacketKind::WgCookieReply { receiver } => MsgKey::Cookie {
            receiver,
            len: r.udp_len,
        },
        PacketKind::WgTransport { receiver, counter } => MsgKey::Transport { receiver, counter },
        PacketKind::Udp { payload_hash } => MsgKey::Udp {
            hash: payload_hash,
            len: r.udp_len,
            nth: udp_nth?,
        },
        _ => return None,
    })
}

fn hash32(k: &MsgKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    k.hash(&mut h);
    // FxHash mixes into the high bits.
    h.finish() >> 32
}

impl Keys {
    fn key(&self, records: &[PacketRecord], rec: u32) -> Option<MsgKey> {
        let r = records.get(rec as usize)?;
        msg_key(r, self.udp_nth.get(&rec).copied())
    }
}

/// Builds the sorted keys of a capture's non-transport messages and marks
/// their duplicates in `partner`
/// (a message recorded twice, as `tcpdump -i any` does, counts once).
/// Returns the keys and the number of duplicates.
pub(crate) fn index(records: &[PacketRecord], partner: &mut [u32]) -> (Keys, u64) {
    let mut udp_nth = rustc_hash::FxHashMap::default();
    // (hash, len) -> (occurrences so far, time of the last one)
    let mut udp_seen: rustc_hash::FxHashMap<(u64, u16), (u32, i64)> = Default::default();
    let mut duplicates = 0;
    // Transport data is joined apart: these are the few other messages.
    let mut sorted: Vec<u64> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let nth = match r.kind {
            PacketKind::Udp { payload_hash } => {
                let e = udp_seen
                    .entry((payload_hash, r.udp_len))
                    .or_insert((0, i64::MIN));
                if e.1 != i64::MIN && r.ts.0.saturating_sub(e.1) < UDP_DUP_NS {
                    e.1 = r.ts.0;
                    duplicates += 1;
                    if let Some(p) = partner.get_mut(i) {
                        *p = DUPLICATE;
                    }
                    continue;
                }
                let n = e.0;
                e.0 += 1;
                e.1 = r.ts.0;
                udp_nth.insert(i as u32, n);
                Some(n)
            }
            _ => None,
        };
        if matches!(r.kind, PacketKind::WgTransport { .. }) {
            // Joined by `join_transport`.
            continue;
        }
        if let Some(k) = msg_key(r, nth) {
            sorted.push(hash32(&k) << 32 | i as u64);
        }
    }
    {
        use rayon::slice::ParallelSliceMut;
        sorted.par_sort_unstable();
    }
    let keys = Keys { sorted, udp_nth };
    // Equal keys sit in runs of equal hashes; the first record of each key stays.
    // Equal keys sit in runs of equal hashes. Each run is resolved by sorting
    // its full keys, so even a capture crafted to collide stays O(n log n).
    for run in runs(&keys.sorted) {
        if run.len() < 2 {
            continue;
        }
        let mut full: Vec<(u128, u32)> = run
            .iter()
            .filter_map(|&e| Some((keys.key(records, e as u32)?.packed(), e as u32)))
            .collect();
        full.sort_unstable();
        for w in full.windows(2) {
            if w[0].0 == w[1].0 {
                duplicates += 1;
                if let Some(p) = partner.get_mut(w[1].1 as usize) {
                    *p = DUPLICATE;
                }
            }
        }
    }
    (keys, duplicates)
}

/// Joins the keys of two captures: sets `partner[0][i] = j` and `partner[1][j] = i`
/// for every message present in both. Returns the number of matched messages.
pub(crate) fn join(
    records: [&[PacketRecord]; 2],
    keys: [&Keys; 2],
    partner: &mut [Vec<u32>; 2],
) -> u64 {
    let mut matched = 0;
    let mut ra = runs(&keys[0].sorted).peekable();
    let mut rb = runs(&keys[1].sorted).peekable();
    while let (Some(a), Some(b)) = (ra.peek(), rb.peek()) {
        let (ha, hb) = (a[0] >> 32, b[0] >> 32);
        if ha < hb {
            ra.next();
            continue;
        }
        if hb < ha {
            rb.next();
            continue;
        }
        // Same hash: match by full key, first copies only. Almost every run
        // holds one message on each side: compare those two directly.
        if let ([ea], [eb]) = (a, b) {
            let (x, y) = (*ea as u32, *eb as u32);
            let free = partner[0].get(x as usize) == Some(&NO_PARTNER)
                && partner[1].get(y as usize) == Some(&NO_PARTNER);
            if free {
                let kx = keys[0].key(records[0], x);
                if kx.is_some() && kx == keys[1].key(records[1], y) {
                    partner[0][x as usize] = y;
                    partner[1][y as usize] = x;
                    matched += 1;
                }
            }
            ra.next();
            rb.next();
            continue;
        }
        let full = |side: usize, run: &[u64]| -> Vec<(u128, u32)> {
            let mut v: Vec<(u128, u32)> = run
                .iter()
                .map(|&e| e as u32)
                .filter(|&r| partner[side].get(r as usize) == Some(&NO_PARTNER))
                .filter_map(|r| Some((keys[side].key(records[side], r)?.packed(), r)))
                .collect();
            v.sort_unstable();
            v
        };
        let (fa, fb) = (full(0, a), full(1, b));
        let (mut i, mut j) = (0, 0);
        while i < fa.len() && j < fb.len() {
            match fa[i].0.cmp(&fb[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let (x, y) = (fa[i].1, fb[j].1);
                    if let Some(p) = partner[0].get_mut(x as usize) {
                        *p = y;
                    }
                    if let Some(p) = partner[1].get_mut(y as usize) {
                        *p = x;
                    }
                    matched += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        ra.next();
        rb.next();
    }
    matched
}

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
    let mut last: Option<(PeerIndex, u32)> = None;
    let mut group_of =
        |receiver: PeerIndex, ids: &mut rustc_hash::FxHashMap<PeerIndex, u32>| match last {
            Some((r, g)) if r == receiver => g,
            _ => {
                let n = ids.len() as u32;
                let g = *ids.entry(receiver).or_insert(n);
                last = Some((receiver, g));
                g
            }
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

/// Runs of entries with equal hashes in a sorted key list.
fn runs(sorted: &[u64]) -> impl Iterator<Item = &[u64]> {
    sorted.chunk_by(|x, y| x >> 32 == y >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{FrameNo, Timestamp};
    use crate::decode::{EndpointId, Flags};
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
