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

/// Runs of entries with equal hashes in a sorted key list.
fn runs(sorted: &[u64]) -> impl Iterator<Item = &[u64]> {
    sorted.chunk_by(|x, y| x >> 32 == y >> 32)
}
