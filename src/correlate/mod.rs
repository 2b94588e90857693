//! Stage 4: the two ends of a tunnel, packet by packet.
//!
//! WireGuard messages are matched across the two captures by what NAT cannot
//! rewrite (see [`MsgKey`]); other UDP by a hash of its payload. From the
//! matched packets come the direction of each packet (TTL), the clock offset
//! between the hosts, the window both captures cover, the NAT mapping and,
//! per direction, what was sent, delivered and lost, by size.

mod key;

pub use key::{index_messages, Message, MessageIndex, MsgClass, MsgKey};

use crate::capture::{FrameNo, Timestamp};
use crate::decode::{DecodedCapture, Endpoint, EndpointId, Flags, PacketRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One of the two captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The first capture named on the command line.
    A,
    /// The second.
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    /// 0 for A, 1 for B.
    pub fn idx(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Clock relation of the two hosts, from matched packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// B's clock minus A's clock, in nanoseconds.
    pub offset_ns: i64,
    /// Median one-way delay A → B after correcting the offset (ns), when packets went that way.
    pub delay_ab_ns: Option<i64>,
    /// Median one-way delay B → A after correcting the offset (ns).
    pub delay_ba_ns: Option<i64>,
    /// Whether both directions had matched packets (otherwise the offset assumes zero delay).
    pub bracketed: bool,
    /// Matched packets the estimate rests on.
    pub samples: u64,
}

/// The time both captures were running, on A's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start (ns since the epoch, A's clock).
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Whether the captures overlap at all.
    pub overlap: bool,
}

/// Delivered and missing packets of one size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SizeCount {
    /// IP packet size (whole datagram).
    pub ip_len: u32,
    /// Delivered.
    pub delivered: u64,
    /// Missing.
    pub missing: u64,
}

/// One packet a side sent inside the window, and what became of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentPacket {
    /// What it was.
    pub class: MsgClass,
    /// Time at the sender (sender's clock).
    pub ts: Timestamp,
    /// Frame in the sender's capture.
    pub frame: FrameNo,
    /// Frame in the receiver's capture, when delivered.
    pub received: Option<FrameNo>,
    /// UDP payload size.
    pub udp_len: u16,
    /// IP datagram size.
    pub ip_len: u32,
    /// Don't Fragment set at the sender.
    pub df: bool,
    /// Sent as fragments.
    pub fragmented: bool,
    /// IPv6 underlay.
    pub v6: bool,
    /// WireGuard identity (receiver, counter) of a transport message.
    pub wg: Option<(u32, u64)>,
}

/// What one side sent the other.
#[derive(Clone, Debug, Serialize)]
pub struct Direction {
    /// Sending capture.
    pub from_side: Side,
    /// Sending capture's file name.
    pub from: String,
    /// Receiving capture's file name.
    pub to: String,
    /// Packets sent while the receiver's capture ran.
    pub sent: u64,
    /// Of those, seen by the receiver.
    pub delivered: u64,
    /// Of those, never seen by the receiver.
    pub missing: u64,
    /// Packets sent when the far capture was not running (neither lost nor delivered).
    pub outside_window: u64,
    /// Hop counts (sender TTL − receiver TTL) seen.
    pub hops: Vec<u8>,
    /// UDP payload size -> counts.
    pub by_size: BTreeMap<u16, SizeCount>,
    /// Every packet counted in `sent`, in send order.
    #[serde(skip)]
    pub packets: Vec<SentPacket>,
}

impl Direction {
    /// Missing counts by UDP payload size.
    pub fn missing_by_size(&self) -> BTreeMap<u16, u64> {
        self.by_size
            .iter()
            .filter(|(_, c)| c.missing > 0)
            .map(|(k, c)| (*k, c.missing))
            .collect()
    }
    /// Delivered counts by UDP payload size.
    pub fn delivered_by_size(&self) -> BTreeMap<u16, u64> {
        self.by_size
            .iter()
            .filter(|(_, c)| c.delivered > 0)
            .map(|(k, c)| (*k, c.delivered))
            .collect()
    }
}

/// Addresses of matched packets at the sender and at the receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NatMapping {
    /// Sending capture.
    pub from_side: Side,
    /// Sending capture's file name.
    pub from: String,
    /// Source as the sender saw it.
    pub sent_src: Endpoint,
    /// Destination as the sender addressed it.
    pub sent_dst: Endpoint,
    /// Source as the receiver saw it.
    pub recv_src: Endpoint,
    /// Destination as the receiver saw it.
    pub recv_dst: Endpoint,
    /// Matched packets with this mapping.
    pub packets: u64,
}

impl NatMapping {
    /// Whether any address or port changed on the way.
    pub fn rewritten(&self) -> bool {
        self.sent_src != self.recv_src || self.sent_dst != self.recv_dst
    }
}

/// Packets a capture saw arrive that the sender's capture does not have.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Unexplained {
    /// Count, inside the window.
    pub packets: u64,
    /// Example frames in the receiving capture.
    pub frames: Vec<FrameNo>,
}

/// Everything the two captures say together.
#[derive(Clone, Debug, Serialize)]
pub struct Correlation {
    /// File names of A and B.
    pub names: [String; 2],
    /// Clock offset and delays.
    pub clock: Clock,
    /// Common window.
    pub window: Window,
    /// A → B then B → A.
    pub directions: [Direction; 2],
    /// Address mappings of matched packets.
    pub nat: Vec<NatMapping>,
    /// Endpoints each side sends WireGuard from.
    pub local: [Vec<Endpoint>; 2],
    /// Duplicate records (same message twice in one capture, e.g. `-i any`).
    pub duplicates: [u64; 2],
    /// Received by a side but absent from the sender's capture (the sender's capture dropped them).
    pub unexplained: [Unexplained; 2],
    /// Matched messages.
    pub matched: u64,
}

/// A matched message: record indexes in A and B.
#[derive(Clone, Copy, Debug)]
struct Pair {
    a: usize,
    b: usize,
    sender: Option<Side>,
}

const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// Median of a non-empty slice (sorts it).
fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// The file name (last path component) of a capture.
pub fn file_name(cap: &DecodedCapture) -> String {
    cap.path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| cap.path.display().to_string())
}

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

/// Correlates two decoded captures of the same tunnel.
pub fn correlate(a: &DecodedCapture, b: &DecodedCapture) -> Correlation {
    let caps = [a, b];
    let ia = index_messages(&a.records);
    let ib = index_messages(&b.records);
    let duplicates = [ia.duplicates, ib.duplicates];

    // 1. Pairs, sender from TTL.
    let mut pairs: Vec<Pair> = Vec::new();
    let mut matched_a: HashSet<usize> = HashSet::new();
    let mut matched_b: HashSet<usize> = HashSet::new();
    for m in &ia.messages {
        if let Some(&j) = ib.by_key.get(&m.key) {
            let Some(mb) = ib.messages.get(j) else {
                continue;
            };
            let (Some(ra), Some(rb)) = (a.records.get(m.rec), b.records.get(mb.rec)) else {
                continue;
            };
            let sender = match ra.ttl.cmp(&rb.ttl) {
                std::cmp::Ordering::Greater => Some(Side::A),
                std::cmp::Ordering::Less => Some(Side::B),
                std::cmp::Ordering::Equal => None,
            };
            pairs.push(Pair {
                a: m.rec,
                b: mb.rec,
                sender,
            });
            matched_a.insert(m.rec);
            matched_b.insert(mb.rec);
        }
    }

    // 2. Local endpoints from decided pairs; then decide ties.
    let mut local: [HashSet<EndpointId>; 2] = [HashSet::new(), HashSet::new()];
    for p in &pairs {
        if let Some(s) = p.sender {
            let (ra, rb) = (&a.records[p.a], &b.records[p.b]);
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
    }
    let provisional = provisional_offset(&pairs, a, b);
    for p in &mut pairs {
        if p.sender.is_some() {
            continue;
        }
        let (ra, rb) = (&a.records[p.a], &b.records[p.b]);
        p.sender = Some(
            if local[0].contains(&ra.src) || local[1].contains(&rb.dst) {
                Side::A
            } else if local[1].contains(&rb.src) || local[0].contains(&ra.dst) {
                Side::B
            } else if ra.flags.has(Flags::OUTGOING) || rb.flags.has(Flags::INCOMING) {
                Side::A
            } else if rb.flags.has(Flags::OUTGOING) || ra.flags.has(Flags::INCOMING) {
                Side::B
            } else if ra.ts.0 + provisional <= rb.ts.0 {
                Side::A
            } else {
                Side::B
            },
        );
    }
    for p in &pairs {
        let (ra, rb) = (&a.records[p.a], &b.records[p.b]);
        match p.sender {
            Some(Side::A) => {
                local[0].insert(ra.src);
                local[1].insert(rb.dst);
            }
            Some(Side::B) => {
                local[1].insert(rb.src);
                local[0].insert(ra.dst);
            }
            None => {}
        }
    }

    // 3. Clock.
    let mut d_ab: Vec<i64> = Vec::new();
    let mut d_ba: Vec<i64> = Vec::new();
    for p in &pairs {
        let (ta, tb) = (a.records[p.a].ts.0, b.records[p.b].ts.0);
        match p.sender {
            Some(Side::A) => d_ab.push(tb - ta),
            Some(Side::B) => d_ba.push(ta - tb),
            None => {}
        }
    }
    let min_ab = d_ab.iter().copied().min();
    let min_ba = d_ba.iter().copied().min();
    let max_ab = d_ab.iter().copied().max();
    let max_ba = d_ba.iter().copied().max();
    let offset = match (min_ab, min_ba) {
        (Some(x), Some(y)) => (x - y) / 2,
        (Some(x), None) => x,
        (None, Some(y)) => -y,
        (None, None) => 0,
    };
    let samples = (d_ab.len() + d_ba.len()) as u64;
    let clock = Clock {
        offset_ns: offset,
        delay_ab_ns: median(&mut d_ab).map(|m| m - offset),
        delay_ba_ns: median(&mut d_ba).map(|m| m + offset),
        bracketed: min_ab.is_some() && min_ba.is_some(),
        samples,
    };
    // Worst delay seen each way, as a margin at the window's edges.
    let margin_ab = max_ab.map_or(0, |m| m - offset).max(0) + 5_000_000;
    let margin_ba = max_ba.map_or(0, |m| m + offset).max(0) + 5_000_000;

    // 4. Window on A's clock.
    let span = |c: &DecodedCapture| -> Option<(i64, i64)> {
        let first = c.records.iter().map(|r| r.ts.0).min()?;
        let last = c.records.iter().map(|r| r.ts.0).max()?;
        Some((first, last))
    };
    let sa = span(a);
    let sb = span(b).map(|(f, l)| (f - offset, l - offset));
    let window = match (sa, sb) {
        (Some((fa, la)), Some((fb, lb))) => {
            let (s, e) = (fa.max(fb), la.min(lb));
            Window {
                start: Timestamp(s),
                end: Timestamp(e.max(s)),
                overlap: s <= e,
            }
        }
        _ => Window::default(),
    };
    // Receiver spans in the sender's own clock.
    let recv_span_for = |sender: Side| -> Option<(i64, i64)> {
        match sender {
            Side::A => sb,
            Side::B => sa.map(|(f, l)| (f + offset, l + offset)),
        }
    };

    // Known (src, dst) pairs of matched traffic in each capture, sent or received.
    let mut sent_pairs: [HashSet<(EndpointId, EndpointId)>; 2] = Default::default();
    let mut recv_pairs: [HashSet<(EndpointId, EndpointId)>; 2] = Default::default();
    for p in &pairs {
        let (ra, rb) = (&a.records[p.a], &b.records[p.b]);
        match p.sender {
            Some(Side::A) => {
                sent_pairs[0].insert((ra.src, ra.dst));
                recv_pairs[1].insert((rb.src, rb.dst));
            }
            Some(Side::B) => {
                sent_pairs[1].insert((rb.src, rb.dst));
                recv_pairs[0].insert((ra.src, ra.dst));
            }
            None => {}
        }
    }

    // 5. Directions.
    let names = [file_name(a), file_name(b)];
    let mk = |s: Side| Direction {
        from_side: s,
        from: names[s.idx()].clone(),
        to: names[s.other().idx()].clone(),
        sent: 0,
        delivered: 0,
        missing: 0,
        outside_window: 0,
        hops: Vec::new(),
        by_size: BTreeMap::new(),
        packets: Vec::new(),
    };
    let mut dirs = [mk(Side::A), mk(Side::B)];
    let mut nat: Vec<NatMapping> = Vec::new();
    let mut nat_of: HashMap<(Side, [EndpointId; 4]), usize> = HashMap::new();
    for p in &pairs {
        let Some(s) = p.sender else { continue };
        let (rs, rr) = match s {
            Side::A => (&a.records[p.a], &b.records[p.b]),
            Side::B => (&b.records[p.b], &a.records[p.a]),
        };
        let d = &mut dirs[s.idx()];
        let hop = rs.ttl.saturating_sub(rr.ttl);
        if !d.hops.contains(&hop) {
            d.hops.push(hop);
        }
        // The receiver saw it, so its capture was running: delivered.
        push_sent(d, rs, Some(rr.frame));
        let (se, re) = (&caps[s.idx()].endpoints, &caps[s.other().idx()].endpoints);
        let k = (s, [rs.src, rs.dst, rr.src, rr.dst]);
        let i = *nat_of.entry(k).or_insert_with(|| {
            nat.push(NatMapping {
                from_side: s,
                from: names[s.idx()].clone(),
                sent_src: se.get(rs.src),
                sent_dst: se.get(rs.dst),
                recv_src: re.get(rr.src),
                recv_dst: re.get(rr.dst),
                packets: 0,
            });
            nat.len() - 1
        });
        if let Some(m) = nat.get_mut(i) {
            m.packets += 1;
        }
    }

    // Unmatched messages: sent and lost, or received without a sent copy.
    let mut unexplained: [Unexplained; 2] = Default::default();
    for (side, (idx, matched)) in [(Side::A, (&ia, &matched_a)), (Side::B, (&ib, &matched_b))] {
        let cap = caps[side.idx()];
        let any_sent = !sent_pairs[side.idx()].is_empty();
        for m in &idx.messages {
            if matched.contains(&m.rec) {
                continue;
            }
            let Some(r) = cap.records.get(m.rec) else {
                continue;
            };
            let pair = (r.src, r.dst);
            let sent = sent_pairs[side.idx()].contains(&pair)
                || (!any_sent
                    && m.key.class() != MsgClass::Udp
                    && (local[side.idx()].contains(&r.src) || looks_locally_sent(r)));
            if sent {
                let margin = if side == Side::A {
                    margin_ab
                } else {
                    margin_ba
                };
                let in_window =
                    recv_span_for(side).is_some_and(|(f, l)| r.ts.0 >= f && r.ts.0 + margin <= l);
                let d = &mut dirs[side.idx()];
                if in_window {
                    push_sent(d, r, None);
                } else {
                    d.outside_window += 1;
                }
            } else if recv_pairs[side.idx()].contains(&pair) {
                // Received here; did the sender's capture run when it was sent?
                let sender = side.other();
                let margin = if sender == Side::A {
                    margin_ab
                } else {
                    margin_ba
                };
                // The sender's capture span on this side's clock.
                let span_here = match side {
                    Side::B => sa.map(|(f, l)| (f + offset, l + offset)),
                    Side::A => sb,
                };
                if span_here.is_some_and(|(f, l)| r.ts.0 - margin >= f && r.ts.0 <= l) {
                    let u = &mut unexplained[side.idx()];
                    u.packets += 1;
                    if u.frames.len() < 20 {
                        u.frames.push(r.frame);
                    }
                }
            }
        }
    }
    for d in &mut dirs {
        d.packets.sort_by_key(|p| (p.ts, p.frame));
        d.hops.sort_unstable();
    }
    nat.sort_by(|x, y| {
        y.packets
            .cmp(&x.packets)
            .then(x.from_side.cmp(&y.from_side))
    });

    let mut local_eps: [Vec<Endpoint>; 2] = [Vec::new(), Vec::new()];
    for s in [Side::A, Side::B] {
        let eps = &caps[s.idx()].endpoints;
        let mut v: Vec<Endpoint> = local[s.idx()]
            .iter()
            .filter(|id| **id != EndpointId::NONE)
            .map(|id| eps.get(*id))
            .collect();
        v.sort();
        local_eps[s.idx()] = v;
    }
    Correlation {
        names,
        clock,
        window,
        directions: dirs,
        nat,
        local: local_eps,
        duplicates,
        unexplained,
        matched: pairs.len() as u64,
    }
}

fn push_sent(d: &mut Direction, r: &PacketRecord, received: Option<FrameNo>) {
    let class = MsgClass::of(&r.kind);
    let wg = match r.kind {
        crate::decode::PacketKind::WgTransport { receiver, counter } => {
            Some((receiver.0, counter.0))
        }
        _ => None,
    };
    d.packets.push(SentPacket {
        class,
        ts: r.ts,
        frame: r.frame,
        received,
        udp_len: r.udp_len,
        ip_len: r.ip_len,
        df: r.flags.has(Flags::DF),
        fragmented: r.flags.has(Flags::FIRST_FRAGMENT),
        v6: r.flags.has(Flags::IPV6),
        wg,
    });
    d.sent += 1;
    let e = d.by_size.entry(r.udp_len).or_default();
    e.ip_len = e.ip_len.max(r.ip_len);
    if received.is_some() {
        d.delivered += 1;
        e.delivered += 1;
    } else {
        d.missing += 1;
        e.missing += 1;
    }
}

/// Offset guess from TTL-decided pairs only (used to break TTL ties).
fn provisional_offset(pairs: &[Pair], a: &DecodedCapture, b: &DecodedCapture) -> i64 {
    let mut min_ab: Option<i64> = None;
    let mut min_ba: Option<i64> = None;
    for p in pairs {
        let (ta, tb) = (a.records[p.a].ts.0, b.records[p.b].ts.0);
        match p.sender {
            Some(Side::A) => min_ab = Some(min_ab.map_or(tb - ta, |m| m.min(tb - ta))),
            Some(Side::B) => min_ba = Some(min_ba.map_or(ta - tb, |m| m.min(ta - tb))),
            None => {}
        }
    }
    match (min_ab, min_ba) {
        (Some(x), Some(y)) => (x - y) / 2,
        (Some(x), None) => x,
        (None, Some(y)) => -y,
        (None, None) => {
            // Nothing decided: assume the first matched packet went out first.
            pairs
                .iter()
                .map(|p| b.records[p.b].ts.0 - a.records[p.a].ts.0)
                .min_by_key(|d| d.abs())
                .unwrap_or(0)
        }
    }
}
