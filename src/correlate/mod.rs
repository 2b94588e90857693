//! Stage 4: the two ends of a tunnel, packet by packet.
//!
//! WireGuard messages are matched across the two captures by what NAT cannot
//! rewrite (see [`MsgKey`]); other UDP by a hash of its payload. From the
//! matched packets come the direction of each packet (TTL), the clock offset
//! between the hosts, the window both captures cover, the NAT mapping and,
//! per direction, what was sent, delivered and lost, by size.

mod clock;
mod fate;
mod key;
mod loss;
mod nat;
mod path;
mod senders;
mod transport;
mod tunnels;
mod window;

pub use fate::Fate;
pub use key::{MsgClass, MsgKey, DUPLICATE, NO_PARTNER};
pub use path::{correlate_path, ttl_order, TtlOrder};
pub use senders::looks_locally_sent;
pub use tunnels::{Handshake, Tunnel, TunnelSelect, NO_TUNNEL};

use crate::capture::{FrameNo, Timestamp};
use crate::decode::{DecodedCapture, Endpoint, EndpointId, Flags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// The tunnel ([`Tunnel::id`]); for the totals of several tunnels, the first.
    pub tunnel: u32,
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
    /// Nothing sent yet from `from_side`, in tunnel `tunnel`; `names` are the captures'.
    pub(crate) fn empty(tunnel: u32, from_side: Side, names: &[String; 2]) -> Direction {
        Direction {
            tunnel,
            from_side,
            from: names[from_side.idx()].clone(),
            to: names[from_side.other().idx()].clone(),
            sent: 0,
            delivered: 0,
            missing: 0,
            outside_window: 0,
            hops: Vec::new(),
            by_size: BTreeMap::new(),
        }
    }

    /// Adds another direction's counts (same sender) to this one.
    fn absorb(&mut self, o: &Direction) {
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.missing += o.missing;
        self.outside_window += o.outside_window;
        for h in &o.hops {
            if !self.hops.contains(h) {
                self.hops.push(*h);
            }
        }
        self.hops.sort_unstable();
        for (k, c) in &o.by_size {
            let e = self.by_size.entry(*k).or_default();
            e.ip_len = e.ip_len.max(c.ip_len);
            e.delivered += c.delivered;
            e.missing += c.missing;
        }
    }
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
    /// The tunnel ([`Tunnel::id`]) the packets belong to.
    pub tunnel: u32,
    /// `sent_src`, `sent_dst` as the sender's endpoint ids.
    #[serde(skip)]
    pub sent_ids: (EndpointId, EndpointId),
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
    /// Every such frame in the receiving capture.
    pub frames: Vec<FrameNo>,
}

/// Records of one capture set aside because they repeat a message the same
/// capture already holds (counted once): a packet recorded on two interfaces
/// (`tcpdump -i any`), or reflected back by hairpin NAT.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Copies {
    /// Every such frame, ascending.
    pub frames: Vec<FrameNo>,
    /// Of those, copies whose source address is their destination address:
    /// the message came back to the host it left (hairpin NAT).
    pub same_src_dst: u64,
    /// The endpoints (source, destination) of the first such copy.
    pub reflected: Option<(Endpoint, Endpoint)>,
}

impl Copies {
    fn of(cap: &DecodedCapture, partner: &[u32]) -> Copies {
        let mut c = Copies::default();
        for (r, p) in cap.records.iter().zip(partner) {
            if *p != DUPLICATE {
                continue;
            }
            c.frames.push(r.frame);
            let (src, dst) = (cap.endpoints.get(r.src), cap.endpoints.get(r.dst));
            if src.ip == dst.ip {
                c.same_src_dst += 1;
                c.reflected.get_or_insert((src, dst));
            }
        }
        c
    }
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
    /// A → B then B → A, over every tunnel in [`Correlation::tunnels`].
    pub directions: [Direction; 2],
    /// The tunnels common to both captures, each with its own directions.
    pub tunnels: Vec<Tunnel>,
    /// Address mappings of matched packets.
    pub nat: Vec<NatMapping>,
    /// Endpoints each side sends WireGuard from.
    pub local: [Vec<Endpoint>; 2],
    /// Duplicate records (same message twice in one capture, e.g. `-i any`).
    pub duplicates: [u64; 2],
    /// Those records, with what they are.
    pub copies: [Copies; 2],
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
    pub partner: Arc<[Vec<u32>; 2]>,
    /// Per record of A and of B: its [`Role`], as a byte.
    #[serde(skip)]
    pub role: [Vec<u8>; 2],
    /// Per record of A and of B: its tunnel ([`Tunnel::id`]) or [`NO_TUNNEL`].
    #[serde(skip)]
    pub tunnel_of: Arc<[Vec<u16>; 2]>,
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
    /// Received, but absent from the sender's capture although it ran.
    Unexplained = 4,
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
        for t in &mut self.tunnels {
            for d in &mut t.directions {
                d.from = names[d.from_side.idx()].clone();
                d.to = names[d.from_side.other().idx()].clone();
            }
        }
        self.names = names;
    }

    /// The correlation of some tunnels only: the records of the others lose
    /// their role, and every count is theirs. With all tunnels kept, the same.
    pub fn restrict(&self, keep: &[u32]) -> Correlation {
        let kept = |t: u32| keep.contains(&t);
        let tunnels: Vec<Tunnel> = self
            .tunnels
            .iter()
            .filter(|t| kept(t.id))
            .cloned()
            .collect();
        let mut role = self.role.clone();
        for (r, t) in role.iter_mut().zip(self.tunnel_of.iter()) {
            for (r, t) in r.iter_mut().zip(t) {
                if !kept(u32::from(*t)) {
                    *r = Role::Other as u8;
                }
            }
        }
        let mut path_fragmented = self.path_fragmented.clone();
        for (s, list) in path_fragmented.iter_mut().enumerate() {
            let of = &self.tunnel_of[s];
            list.retain(|p| of.get(p.sent as usize).is_some_and(|t| kept(u32::from(*t))));
        }
        let local = [0, 1].map(|s| {
            let mut v: Vec<Endpoint> = tunnels
                .iter()
                .flat_map(|t| t.local[s].iter().copied())
                .collect();
            v.sort();
            v.dedup();
            v
        });
        Correlation {
            names: self.names.clone(),
            clock: self.clock,
            window: self.window,
            directions: totals(&self.directions, &tunnels),
            nat: self
                .nat
                .iter()
                .filter(|m| kept(m.tunnel))
                .cloned()
                .collect(),
            local,
            duplicates: self.duplicates,
            copies: self.copies.clone(),
            unexplained: unexplained_totals(&tunnels),
            matched: tunnels.iter().map(|t| t.matched).sum(),
            path_fragmented,
            partner: Arc::clone(&self.partner),
            role,
            tunnel_of: Arc::clone(&self.tunnel_of),
            tunnels,
        }
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

/// The directions of several tunnels added up (`blank` gives names and sides).
fn totals(blank: &[Direction; 2], tunnels: &[Tunnel]) -> [Direction; 2] {
    blank.clone().map(|mut d| {
        d.sent = 0;
        d.delivered = 0;
        d.missing = 0;
        d.outside_window = 0;
        d.hops.clear();
        d.by_size.clear();
        d.tunnel = tunnels.first().map_or(0, |t| t.id);
        for t in tunnels {
            d.absorb(&t.directions[d.from_side.idx()]);
        }
        d
    })
}

fn unexplained_totals(tunnels: &[Tunnel]) -> [Unexplained; 2] {
    let mut u: [Unexplained; 2] = Default::default();
    for t in tunnels {
        for (u, x) in u.iter_mut().zip(&t.unexplained) {
            u.packets += x.packets;
            u.frames.extend_from_slice(&x.frames);
        }
    }
    for u in &mut u {
        u.frames.sort_unstable();
    }
    u
}

/// A datagram that holds several WireGuard messages wgtrace could not cut
/// apart ([`Flags::SUPERPACKET`]): its size is no message's, and the messages
/// after the first are not seen, so it is left out of what a direction sent,
/// delivered and lost (the `offload_superpackets` finding names it).
pub(crate) fn unsized_superpacket(r: &crate::decode::PacketRecord) -> bool {
    r.flags.has(Flags::SUPERPACKET)
}

/// The file name (last path component) of a capture.
pub fn file_name(cap: &DecodedCapture) -> String {
    cap.path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| cap.path.display().to_string())
}

/// Correlates two decoded captures of the same tunnels.
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
        let (tm, td) = transport::join_transport([&a.records, &b.records], &mut partner);
        let [pa, pb] = &mut partner;
        let ((ka, da), (kb, db)) =
            rayon::join(|| key::index(&a.records, pa), || key::index(&b.records, pb));
        duplicates = [da + td[0], db + td[1]];
        matched = tm + key::join([&a.records, &b.records], [&ka, &kb], &mut partner);
    }
    // 2. The sender of each matched pair; 3. delays, NAT and delivered packets.
    let decided = senders::decide(caps, &partner);
    let mut local = decided.local.clone();
    let mut role = [
        vec![Role::Other as u8; a.records.len()],
        vec![Role::Other as u8; b.records.len()],
    ];
    let mut m = nat::pass(caps, &partner, &decided, &mut local, &mut role);
    drop(decided);
    // 4. Clock and window; 5. the unmatched messages.
    let (clock, margins) = clock::estimate(&mut m.delays);
    m.delays = Default::default();
    let spans = window::Spans::of(caps, clock.offset_ns);
    loss::unmatched(
        caps,
        &partner,
        &mut role,
        &loss::Known {
            sent_pairs: &m.sent_pairs,
            recv_pairs: &m.recv_pairs,
            local: &local,
            spans: &spans,
            margins,
        },
    );
    // 6. Tunnels, and the counts of each.
    let names = [file_name(a), file_name(b)];
    let mut nat = m.nat;
    let split = tunnels::split(caps, &partner, &mut role, &local, &mut nat, &names);
    nat.sort_by(|x, y| {
        y.packets
            .cmp(&x.packets)
            .then(x.from_side.cmp(&y.from_side))
    });
    let blank = [Side::A, Side::B].map(|s| Direction::empty(0, s, &names));
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
        window: spans.window(),
        directions: totals(&blank, &split.tunnels),
        unexplained: unexplained_totals(&split.tunnels),
        tunnels: split.tunnels,
        nat,
        local: local_eps,
        duplicates,
        copies: [Copies::of(a, &partner[0]), Copies::of(b, &partner[1])],
        matched,
        path_fragmented: m.path_fragmented,
        partner: Arc::new(partner),
        role,
        tunnel_of: Arc::new(split.tunnel_of),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureInfo;
    use crate::decode::{Counter, Endpoints, PacketKind, PacketRecord, PeerIndex};
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(a: [u8; 4], port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from(a)),
            port,
        }
    }

    /// One capture under construction: transport messages, one per call.
    #[derive(Default)]
    struct Cap {
        records: Vec<PacketRecord>,
        endpoints: Endpoints,
    }

    impl Cap {
        fn transport(&mut self, t: i64, src: Endpoint, dst: Endpoint, ix: u32, n: u64, ttl: u8) {
            let (src, dst) = (self.endpoints.intern(src), self.endpoints.intern(dst));
            let frame = FrameNo(self.records.len() as u32 + 1);
            self.records.push(PacketRecord {
                ts: Timestamp(t * 1_000_000),
                kind: PacketKind::WgTransport {
                    receiver: PeerIndex(ix),
                    counter: Counter(n),
                },
                frame,
                ip_len: 148,
                src,
                dst,
                udp_len: 120,
                frag_len: 148,
                ttl,
                flags: Flags::default(),
                iface: 0,
            });
        }

        fn done(self, name: &str) -> DecodedCapture {
            DecodedCapture {
                path: name.into(),
                info: CaptureInfo::default(),
                records: self.records,
                endpoints: self.endpoints,
            }
        }
    }

    const VPS: [u8; 4] = [198, 51, 100, 2];
    const LAPTOP: [u8; 4] = [203, 0, 113, 2];

    /// `n` packets each way on one tunnel (ports `pv`, `pl`), the vps's
    /// packets numbered in `lost` never reaching the laptop.
    fn tunnel(a: &mut Cap, b: &mut Cap, t0: i64, pv: u16, pl: u16, n: u64, lost: &[u64]) {
        let (v, l) = (ep(VPS, pv), ep(LAPTOP, pl));
        for i in 0..n {
            let t = t0 + 10 * i as i64;
            a.transport(t, v, l, 1000 + u32::from(pv), i, 64);
            if !lost.contains(&i) {
                b.transport(t + 1, v, l, 1000 + u32::from(pv), i, 63);
            }
            b.transport(t + 5, l, v, 2000 + u32::from(pl), i, 64);
            a.transport(t + 6, l, v, 2000 + u32::from(pl), i, 63);
        }
    }

    #[test]
    fn two_tunnels_between_the_same_hosts_are_counted_apart() {
        let (mut a, mut b) = (Cap::default(), Cap::default());
        tunnel(&mut a, &mut b, 0, 51820, 51821, 20, &[]);
        tunnel(&mut a, &mut b, 3, 51822, 51823, 20, &[4, 9]);
        let (a, b) = (a.done("vps.pcap"), b.done("laptop.pcap"));
        let c = correlate(&a, &b);
        assert_eq!(c.tunnels.len(), 2);
        let by_port = |p: u16| {
            c.tunnels
                .iter()
                .find(|t| t.local[0] == vec![ep(VPS, p)])
                .unwrap()
        };
        let (ok, bad) = (by_port(51820), by_port(51822));
        assert_eq!(ok.local[1], vec![ep(LAPTOP, 51821)]);
        assert_eq!((ok.directions[0].sent, ok.directions[0].missing), (20, 0));
        assert_eq!((bad.directions[0].sent, bad.directions[0].missing), (20, 2));
        assert_eq!(bad.directions[1].missing, 0);
        assert_eq!(c.directions[0].missing, 2);
        assert_eq!(c.directions[0].sent, 40);
        // Restricted to the healthy tunnel, nothing of the other is counted.
        let only = c.restrict(&[ok.id]);
        assert_eq!(only.directions[0].missing, 0);
        assert_eq!(only.directions[0].sent, 20);
        let lost_roles = only.role[0]
            .iter()
            .filter(|r| **r == Role::Missing as u8)
            .count();
        assert_eq!(lost_roles, 0);
    }

    #[test]
    fn a_nat_rebinding_stays_one_tunnel() {
        // The laptop behind NAT: the vps sees its port change mid-session.
        let (mut a, mut b) = (Cap::default(), Cap::default());
        let (v, l) = (ep(VPS, 51820), ep([192, 168, 1, 10], 51821));
        for i in 0..20u64 {
            let t = 10 * i as i64;
            let public = ep([203, 0, 113, 1], if i < 10 { 40001 } else { 40002 });
            a.transport(t, v, public, 7, i, 64);
            b.transport(t + 1, v, l, 7, i, 62);
            b.transport(t + 5, l, v, 9, i, 64);
            a.transport(t + 6, public, v, 9, i, 62);
        }
        let (a, b) = (a.done("vps.pcap"), b.done("laptop.pcap"));
        let c = correlate(&a, &b);
        assert_eq!(c.tunnels.len(), 1, "{:?}", c.tunnels);
        let t = &c.tunnels[0];
        assert_eq!(t.remote[0].len(), 2);
        assert_eq!(
            (t.directions[0].delivered, t.directions[1].delivered),
            (20, 20)
        );
        assert!(c.nat.iter().all(|m| m.tunnel == t.id));
    }

    #[test]
    fn another_peer_of_the_server_is_not_counted() {
        // The vps also talks to a phone the laptop's capture knows nothing of.
        let (mut a, mut b) = (Cap::default(), Cap::default());
        tunnel(&mut a, &mut b, 0, 51820, 51821, 10, &[]);
        let phone = ep([203, 0, 113, 130], 51822);
        for i in 0..10u64 {
            a.transport(200 + i as i64, ep(VPS, 51820), phone, 55, i, 64);
        }
        let (a, b) = (a.done("vps.pcap"), b.done("laptop.pcap"));
        let c = correlate(&a, &b);
        assert_eq!(c.tunnels.len(), 1);
        assert_eq!(c.directions[0].sent, 10);
        assert_eq!(c.directions[0].missing, 0);
        let phone_tunnel = c.tunnel_of[0][c.tunnel_of[0].len() - 1];
        assert_eq!(phone_tunnel, NO_TUNNEL);
    }
}
