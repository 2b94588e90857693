//! Stage 4: the two ends of a tunnel, packet by packet.
//!
//! WireGuard messages are matched across the two captures by what NAT cannot
//! rewrite (see [`MsgKey`]); other UDP by a hash of its payload. From the
//! matched packets come the direction of each packet (TTL), the clock offset
//! between the hosts, the window both captures cover, the NAT mapping and,
//! per direction, what was sent, delivered and lost, by size.

mod key;

pub use key::{MsgClass, MsgKey, DUPLICATE, NO_PARTNER};

use crate::capture::{FrameNo, Timestamp};
use crate::decode::{DecodedCapture, Endpoint, EndpointId, Flags, PacketRecord};
use crate::flow::incomplete_datagrams;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// The first of them: its frame at the sender and at the receiver.
    pub first_frames: (FrameNo, FrameNo),
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

/// A matched message that reached the receiver as fragments although the
/// sender sent it whole: the path fragmented it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathFragmented {
    /// Record index of the whole packet in the sender's capture.
    pub sent: u32,
    /// Frame of its first fragment in the receiver's capture.
    pub received: FrameNo,
    /// IP size of that first fragment: the path MTU is at least this.
    pub first_fragment: u16,
    /// Whether all its fragments reached the receiver's capture (else it
    /// counts as missing).
    pub complete: bool,
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
    /// Per sending side: its whole packets that arrived fragmented, in
    /// capture order (incomplete ones are counted as missing).
    #[serde(skip)]
    pub path_fragmented: [Vec<PathFragmented>; 2],
    /// Per record of A and of B: the index of the same message in the other
    /// capture, [`NO_PARTNER`] or [`DUPLICATE`]. Four bytes a packet: the
    /// per-packet outcome lives here rather than in a list of sent packets.
    #[serde(skip)]
    pub partner: [Vec<u32>; 2],
    /// Per record of A and of B: its [`Role`], as a byte.
    #[serde(skip)]
    pub role: [Vec<u8>; 2],
}

/// What a record is in the correlation (stored as a byte per record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    /// Not a message, received, or not attributable.
    Other = 0,
    /// Sent by this capture's host while the far capture ran, and seen there.
    Delivered = 1,
    /// Sent by this capture's host while the far capture ran, never seen there.
    Missing = 2,
    /// Sent while the far capture was not running.
    OutsideWindow = 3,
}

impl Correlation {
    /// Names the captures in every part of the correlation (display names
    /// that tell the inputs apart, rather than bare file names).
    pub fn rename(&mut self, names: [String; 2]) {
        for d in &mut self.directions {
            d.from = names[d.from_side.idx()].clone();
            d.to = names[d.from_side.other().idx()].clone();
        }
        for m in &mut self.nat {
            m.from = names[m.from_side.idx()].clone();
        }
        self.names = names;
    }

    /// The packets `side` sent inside the far capture's window, in capture
    /// order, with what became of each; computed on demand from the records.
    pub fn sent_packets<'a>(
        &'a self,
        side: Side,
        caps: [&'a DecodedCapture; 2],
    ) -> impl Iterator<Item = SentPacket> + 'a {
        self.role[side.idx()]
            .iter()
            .enumerate()
            .filter_map(move |(i, _)| self.sent_packet(side, caps, i))
    }

    /// Record `i` of `side` as a [`SentPacket`], if `side` sent it inside the
    /// far capture's window.
    pub fn sent_packet(
        &self,
        side: Side,
        caps: [&DecodedCapture; 2],
        i: usize,
    ) -> Option<SentPacket> {
        let role = *self.role[side.idx()].get(i)?;
        let delivered = role == Role::Delivered as u8;
        if !delivered && role != Role::Missing as u8 {
            return None;
        }
        let r = caps[side.idx()].records.get(i)?;
        let far = &caps[side.other().idx()].records;
        Some(SentPacket {
            class: MsgClass::of(&r.kind),
            ts: r.ts,
            frame: r.frame,
            received: if delivered {
                let p = *self.partner[side.idx()].get(i)?;
                far.get(p as usize).map(|x| x.frame)
            } else {
                None
            },
            udp_len: r.udp_len,
            ip_len: r.ip_len,
            df: r.flags.has(Flags::DF),
            fragmented: r.flags.has(Flags::FIRST_FRAGMENT),
            v6: r.flags.has(Flags::IPV6),
        })
    }
}

const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// Temporary role bytes of A's matched records: which side sent the pair.
const SENT_BY_A: u8 = 0x10;
const SENT_BY_B: u8 = 0x11;

/// Median of a slice (reorders it), `None` when empty.
fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    Some(*m)
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
    let mut partner = [
        vec![NO_PARTNER; a.records.len()],
        vec![NO_PARTNER; b.records.len()],
    ];
    // 1. Join on message identity: transport data per session by counter,
    //    the rest by sorted hashed keys, which are dropped right after.
    let matched;
    let duplicates;
    {
        let (tm, td) = key::join_transport([&a.records, &b.records], &mut partner);
        let [pa, pb] = &mut partner;
        let ((ka, da), (kb, db)) =
            rayon::join(|| key::index(&a.records, pa), || key::index(&b.records, pb));
        duplicates = [da + td[0], db + td[1]];
        matched = tm + key::join([&a.records, &b.records], [&ka, &kb], &mut partner);
    }
    // Matched pairs (A record, B record), in A's order, read off `partner`.
    let matched_pairs = || {
        partner[0]
            .iter()
            .enumerate()
            .filter(|(_, &j)| j < DUPLICATE)
            .map(|(i, &j)| (i as u32, j))
    };
    let rec = |s: Side, i: u32| &caps[s.idx()].records[i as usize];
    let ttl_sender = |ra: &PacketRecord, rb: &PacketRecord| match ra.ttl.cmp(&rb.ttl) {
        std::cmp::Ordering::Greater => Some(Side::A),
        std::cmp::Ordering::Less => Some(Side::B),
        std::cmp::Ordering::Equal => None,
    };
    let learn =
        |local: &mut [HashSet<EndpointId>; 2], s: Side, ra: &PacketRecord, rb: &PacketRecord| {
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
        };
    // Consecutive packets mostly share their endpoints: what depends on them
    // only is skipped while they stay the same.
    type Here = (Side, EndpointId, EndpointId, EndpointId, EndpointId);
    let here = |s: Side, ra: &PacketRecord, rb: &PacketRecord| -> Here {
        (s, ra.src, ra.dst, rb.src, rb.dst)
    };

    // 2. Local endpoints and a provisional offset from the pairs TTL decides.
    let mut local: [HashSet<EndpointId>; 2] = Default::default();
    let (mut ttl_min_ab, mut ttl_min_ba): (Option<i64>, Option<i64>) = (None, None);
    // Without any TTL-decided pair: the delay of the pair nearest in time.
    let mut nearest: Option<i64> = None;
    let mut last: Option<Here> = None;
    for (i, j) in matched_pairs() {
        let (ra, rb) = (rec(Side::A, i), rec(Side::B, j));
        let d = rb.ts.0.saturating_sub(ra.ts.0);
        if nearest.is_none_or(|n| d.unsigned_abs() < n.unsigned_abs()) {
            nearest = Some(d);
        }
        if let Some(s) = ttl_sender(ra, rb) {
            if last != Some(here(s, ra, rb)) {
                learn(&mut local, s, ra, rb);
                last = Some(here(s, ra, rb));
            }
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

    // The sender of every matched pair, decided with what step 2 learnt and
    // kept (until step 5 writes the roles) in A's role byte.
    let mut role = [
        vec![Role::Other as u8; a.records.len()],
        vec![Role::Other as u8; b.records.len()],
    ];
    // Pairs each side sent, to size the delay lists exactly.
    let mut sent_by = [0usize; 2];
    for (i, j) in matched_pairs() {
        let (ra, rb) = (rec(Side::A, i), rec(Side::B, j));
        let s = ttl_sender(ra, rb).unwrap_or(
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
            },
        );
        role[0][i as usize] = match s {
            Side::A => SENT_BY_A,
            Side::B => SENT_BY_B,
        };
        sent_by[s.idx()] += 1;
    }

    // 3-5. One pass over the decided pairs: local endpoints, one-way delays,
    // the (src, dst) pairs of matched traffic, and the delivered packets of
    // each direction with their NAT mapping.
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
    };
    let mut dirs = [mk(Side::A), mk(Side::B)];
    let incomplete = {
        let (ia, ib) = rayon::join(|| incomplete_datagrams(a), || incomplete_datagrams(b));
        [ia, ib]
    };
    let mut path_fragmented: [Vec<PathFragmented>; 2] = Default::default();
    // Per direction, UDP payload size -> counts (sorted into `by_size` at the end).
    let mut sizes: [HashMap<u16, SizeCount>; 2] = Default::default();
    let mut d_ab: Vec<i64> = Vec::with_capacity(sent_by[0]);
    let mut d_ba: Vec<i64> = Vec::with_capacity(sent_by[1]);
    let mut sent_pairs: [HashSet<(EndpointId, EndpointId)>; 2] = Default::default();
    let mut recv_pairs: [HashSet<(EndpointId, EndpointId)>; 2] = Default::default();
    let mut nat: Vec<NatMapping> = Vec::new();
    let mut nat_of: HashMap<(Side, [EndpointId; 4]), usize> = HashMap::default();
    let mut last: Option<(Here, usize)> = None;
    for (i, j) in matched_pairs() {
        let (ra, rb) = (rec(Side::A, i), rec(Side::B, j));
        let s = if role[0][i as usize] == SENT_BY_A {
            Side::A
        } else {
            Side::B
        };
        let (ta, tb) = (ra.ts.0, rb.ts.0);
        match s {
            Side::A => d_ab.push(tb.saturating_sub(ta)),
            Side::B => d_ba.push(ta.saturating_sub(tb)),
        }
        let (si, ri) = match s {
            Side::A => (i, j),
            Side::B => (j, i),
        };
        let (rs, rr) = (rec(s, si), rec(s.other(), ri));
        let h = here(s, ra, rb);
        let n = match last {
            Some((l, n)) if l == h => n,
            _ => {
                learn(&mut local, s, ra, rb);
                match s {
                    Side::A => {
                        sent_pairs[0].insert((ra.src, ra.dst));
                        recv_pairs[1].insert((rb.src, rb.dst));
                    }
                    Side::B => {
                        sent_pairs[1].insert((rb.src, rb.dst));
                        recv_pairs[0].insert((ra.src, ra.dst));
                    }
                }
                let (se, re) = (&caps[s.idx()].endpoints, &caps[s.other().idx()].endpoints);
                let n = *nat_of
                    .entry((s, [rs.src, rs.dst, rr.src, rr.dst]))
                    .or_insert_with(|| {
                        nat.push(NatMapping {
                            from_side: s,
                            from: names[s.idx()].clone(),
                            sent_src: se.get(rs.src),
                            sent_dst: se.get(rs.dst),
                            recv_src: re.get(rr.src),
                            recv_dst: re.get(rr.dst),
                            packets: 0,
                            first_frames: (rs.frame, rr.frame),
                        });
                        nat.len() - 1
                    });
                last = Some((h, n));
                n
            }
        };
        if let Some(m) = nat.get_mut(n) {
            m.packets += 1;
        }
        let d = &mut dirs[s.idx()];
        let hop = rs.ttl.saturating_sub(rr.ttl);
        if !d.hops.contains(&hop) {
            d.hops.push(hop);
        }
        // The receiver saw it, so its capture was running: delivered,
        // unless it came as fragments and not all of them arrived.
        let complete = !incomplete[s.other().idx()]
            .get(ri as usize)
            .copied()
            .unwrap_or(false);
        if rr.flags.has(Flags::FIRST_FRAGMENT) && !rs.flags.has(Flags::FIRST_FRAGMENT) {
            path_fragmented[s.idx()].push(PathFragmented {
                sent: si,
                received: rr.frame,
                first_fragment: rr.frag_len,
                complete,
            });
        }
        role[0][i as usize] = Role::Other as u8;
        if unsized_superpacket(rs) {
            continue;
        }
        count_sent(d, &mut sizes[s.idx()], rs, complete);
        role[s.idx()][si as usize] = if complete {
            Role::Delivered as u8
        } else {
            Role::Missing as u8
        };
    }

    // Clock.
    let min_ab = d_ab.iter().copied().min();
    let min_ba = d_ba.iter().copied().min();
    let max_ab = d_ab.iter().copied().max();
    let max_ba = d_ba.iter().copied().max();
    let offset = match (min_ab, min_ba) {
        (Some(x), Some(y)) => x / 2 - y / 2,
        (Some(x), None) => x,
        (None, Some(y)) => -y,
        (None, None) => 0,
    };
    let samples = (d_ab.len() + d_ba.len()) as u64;
    let clock = Clock {
        offset_ns: offset,
        delay_ab_ns: median(&mut d_ab).map(|m| m.saturating_sub(offset)),
        delay_ba_ns: median(&mut d_ba).map(|m| m.saturating_add(offset)),
        bracketed: min_ab.is_some() && min_ba.is_some(),
        samples,
    };
    drop((d_ab, d_ba));
    // Worst delay seen each way, as a margin at the window's edges.
    let margin_ab = max_ab
        .map_or(0, |m| m.saturating_sub(offset))
        .max(0)
        .saturating_add(5_000_000);
    let margin_ba = max_ba
        .map_or(0, |m| m.saturating_add(offset))
        .max(0)
        .saturating_add(5_000_000);

    // Window on A's clock.
    let span = |c: &DecodedCapture| -> Option<(i64, i64)> {
        c.records.iter().fold(None, |s, r| {
            let t = r.ts.0;
            Some(s.map_or((t, t), |(f, l): (i64, i64)| (f.min(t), l.max(t))))
        })
    };
    let sa = span(a);
    let sb = span(b).map(|(f, l)| (f.saturating_sub(offset), l.saturating_sub(offset)));
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
            Side::B => sa.map(|(f, l)| (f.saturating_add(offset), l.saturating_add(offset))),
        }
    };

    // Unmatched messages: sent and lost, or received without a sent copy.
    let mut unexplained: [Unexplained; 2] = Default::default();
    for side in [Side::A, Side::B] {
        let cap = caps[side.idx()];
        let any_sent = !sent_pairs[side.idx()].is_empty();
        for (i, r) in cap.records.iter().enumerate() {
            if partner[side.idx()][i] != NO_PARTNER {
                continue;
            }
            let class = MsgClass::of(&r.kind);
            if class == MsgClass::Other || unsized_superpacket(r) {
                continue;
            }
            let pair = (r.src, r.dst);
            // Sent on a flow that delivered, or towards a peer whose own
            // packets to us are in both captures (so ours should be too).
            let sent = sent_pairs[side.idx()].contains(&pair)
                || recv_pairs[side.idx()].contains(&(r.dst, r.src))
                || (!any_sent
                    && class != MsgClass::Udp
                    && (local[side.idx()].contains(&r.src) || looks_locally_sent(r)));
            if sent {
                let margin = if side == Side::A {
                    margin_ab
                } else {
                    margin_ba
                };
                let in_window = recv_span_for(side)
                    .is_some_and(|(f, l)| r.ts.0 >= f && r.ts.0.saturating_add(margin) <= l);
                let d = &mut dirs[side.idx()];
                if in_window {
                    count_sent(d, &mut sizes[side.idx()], r, false);
                    role[side.idx()][i] = Role::Missing as u8;
                } else {
                    d.outside_window += 1;
                    role[side.idx()][i] = Role::OutsideWindow as u8;
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
                    Side::B => {
                        sa.map(|(f, l)| (f.saturating_add(offset), l.saturating_add(offset)))
                    }
                    Side::A => sb,
                };
                if span_here.is_some_and(|(f, l)| r.ts.0.saturating_sub(margin) >= f && r.ts.0 <= l)
                {
                    let u = &mut unexplained[side.idx()];
                    u.packets += 1;
                    if u.frames.len() < 20 {
                        u.frames.push(r.frame);
                    }
                }
            }
        }
    }
    for list in &mut path_fragmented {
        list.sort_unstable_by_key(|p| p.sent);
    }
    for (d, sizes) in dirs.iter_mut().zip(sizes) {
        d.by_size = sizes.into_iter().collect();
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
        matched,
        path_fragmented,
        partner,
        role,
    }
}

/// A datagram that holds several WireGuard messages wgtrace could not cut
/// apart ([`Flags::SUPERPACKET`]): its size is no message's, and the messages
/// after the first are not seen, so it is left out of what a direction sent,
/// delivered and lost (the `offload_superpackets` finding names it).
fn unsized_superpacket(r: &PacketRecord) -> bool {
    r.flags.has(Flags::SUPERPACKET)
}

fn count_sent(
    d: &mut Direction,
    sizes: &mut HashMap<u16, SizeCount>,
    r: &PacketRecord,
    delivered: bool,
) {
    d.sent += 1;
    let e = sizes.entry(r.udp_len).or_default();
    e.ip_len = e.ip_len.max(r.ip_len);
    if delivered {
        d.delivered += 1;
        e.delivered += 1;
    } else {
        d.missing += 1;
        e.missing += 1;
    }
}
