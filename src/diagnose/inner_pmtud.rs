//! Path-MTU discovery inside the tunnel: ICMP fragmentation-needed (IPv4
//! type 3 code 4) and ICMPv6 packet-too-big on a tunnel interface, about an
//! inner flow (the packet each quotes), and whether the flow's sender
//! reacted.
//!
//! The ICMP goes into the tunnel at the flow's receiving end (a router
//! behind it, or the host itself, found the packet too big for the next
//! link) and comes out at the sending end. There, after the first ICMP came
//! out of the tunnel interface, the sender's later packets of the flow into
//! the tunnel show whether it reacted: all at or below the MTU announced, or
//! some still larger. With both ends captured, an ICMP that went in at one
//! end and never came out at the other while its capture ran was lost in
//! the tunnel. Needs captures that show the tunnel interface
//! ([`crate::flow::InnerPackets`]); does nothing for others.

use super::finding::{
    Finding, FindingKind, FrameRefs, InnerIcmpSeen, InnerProtocol, InnerReaction, IpVersion,
    Severity, SizeCount,
};
use super::Capture;
use crate::capture::{FrameNo, Timestamp};
use crate::correlate::{Correlation, Side, DUPLICATE};
use crate::decode::{Endpoint, Flags, PacketId, PacketKind, PacketRecord};
use crate::flow::inner::{NONE, WINDOW_NS};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

/// What the pair adds: the clock offset (B's clock minus A's), and whether
/// an outer record of a side reached the other capture.
pub(super) struct PairView<'a> {
    /// B's clock minus A's, ns.
    pub offset_ns: i64,
    /// Whether outer record `i` of `side` has its partner in the other capture.
    pub arrived: &'a dyn Fn(Side, u32) -> bool,
}

/// One inner ICMP path-MTU signal as one capture shows it.
struct Icmp {
    /// Index into the captures.
    at: usize,
    /// Went into the tunnel there (else came out of it).
    sent: bool,
    /// Its outer record at that host, or [`NONE`].
    outer: u32,
    ts: Timestamp,
    frame: FrameNo,
    id: PacketId,
    mtu: u32,
    v6: bool,
}

/// An inner packet of a flow at one host: (went into the tunnel, time, IP size, frame).
type FlowPacket = (bool, Timestamp, u32, FrameNo);

/// (IP protocol, source, destination, echo identifier, ICMP source) of the quoted flow.
type Key = (u8, Endpoint, Endpoint, Option<u16>, IpAddr);

/// The IP protocol number of a record, if it is IP.
fn ip_protocol(r: &PacketRecord) -> Option<u8> {
    let icmp = if r.flags.has(Flags::IPV6) { 58 } else { 1 };
    match &r.kind {
        PacketKind::Tcp { .. } => Some(6),
        PacketKind::Udp { .. }
        | PacketKind::WgInitiation { .. }
        | PacketKind::WgResponse { .. }
        | PacketKind::WgCookieReply { .. }
        | PacketKind::WgTransport { .. } => Some(17),
        PacketKind::Icmp { .. } | PacketKind::IcmpError(_) => Some(icmp),
        PacketKind::OtherIp { protocol } => Some(*protocol),
        PacketKind::Fragment { .. } | PacketKind::NonIp { .. } | PacketKind::Undecodable(_) => None,
    }
}

fn inner_protocol(p: u8) -> InnerProtocol {
    match p {
        6 => InnerProtocol::Tcp,
        17 => InnerProtocol::Udp,
        1 | 58 => InnerProtocol::Icmp,
        n => InnerProtocol::Other(n),
    }
}

/// `inner_pmtud` findings of one or two captures (`pair` with two).
pub(super) fn inner_pmtud(out: &mut Vec<Finding>, caps: &[Capture<'_>], pair: Option<&PairView>) {
    if caps.iter().all(|k| k.facts.inner.is_empty()) {
        return;
    }
    let mut groups: BTreeMap<Key, Vec<Icmp>> = BTreeMap::new();
    for (at, cap) in caps.iter().enumerate() {
        let inner = &cap.facts.inner;
        let held = inner.records_of(cap.cap);
        for l in &inner.links {
            let Some(r) = held.records.get(l.inner as usize) else {
                continue;
            };
            let PacketKind::IcmpError(e) = &r.kind else {
                continue;
            };
            let (Some(mtu), Some(q)) = (e.mtu, &e.quoted) else {
                continue;
            };
            let key = (
                q.protocol,
                q.src,
                q.dst,
                q.echo,
                held.endpoints.get(r.src).ip,
            );
            groups.entry(key).or_default().push(Icmp {
                at,
                sent: l.sent,
                outer: l.outer,
                ts: r.ts,
                frame: r.frame,
                id: e.id,
                mtu,
                v6: e.v6,
            });
        }
    }
    for (key, icmps) in groups {
        out.push(one_flow(key, &icmps, caps, pair));
    }
}

/// The flow's inner packets (either direction through the tunnel) at capture `cap`.
fn flow_packets(cap: Capture<'_>, key: &Key) -> Vec<FlowPacket> {
    let inner = &cap.facts.inner;
    let held = inner.records_of(cap.cap);
    let eps = &held.endpoints;
    inner
        .links
        .iter()
        .filter_map(|l| {
            let r = held.records.get(l.inner as usize)?;
            let echo = match r.kind {
                PacketKind::Icmp {
                    ty: 8 | 128, echo, ..
                } => Some(echo),
                _ => None,
            };
            let same = ip_protocol(r) == Some(key.0)
                && eps.get(r.src) == key.1
                && eps.get(r.dst) == key.2
                && echo == key.3
                && !matches!(r.kind, PacketKind::IcmpError(_));
            same.then_some((l.sent, r.ts, r.ip_len, r.frame))
        })
        .collect()
}

fn one_flow(key: Key, icmps: &[Icmp], caps: &[Capture<'_>], pair: Option<&PairView>) -> Finding {
    let (proto, src, dst, echo_id, router) = key;
    let mtu = icmps
        .iter()
        .map(|i| i.mtu)
        .filter(|m| *m > 0)
        .min()
        .unwrap_or(0);
    let flows: Vec<Vec<FlowPacket>> = caps.iter().map(|c| flow_packets(*c, &key)).collect();
    // The sender's end: where the ICMP came out of the tunnel, else where
    // the flow's packets went into it.
    let sender = (0..caps.len())
        .find(|&k| icmps.iter().any(|i| i.at == k && !i.sent))
        .or_else(|| (0..caps.len()).find(|&k| flows[k].iter().any(|p| p.0)));
    let ids: BTreeSet<PacketId> = icmps.iter().map(|i| i.id).collect();
    // ICMPs that went in at the other end and never came out at the sender's.
    let (mut lost, mut lost_arrived) = (0u64, 0u64);
    if let (Some(s), Some(p), 2) = (sender, pair, caps.len()) {
        let came_out: BTreeSet<PacketId> = icmps
            .iter()
            .filter(|i| i.at == s && !i.sent)
            .map(|i| i.id)
            .collect();
        let span = caps[s].facts.inner.span;
        let to_sender_clock = |t: i64| match caps[s].side {
            Side::B => t.saturating_add(p.offset_ns),
            Side::A => t.saturating_sub(p.offset_ns),
        };
        let mut counted = BTreeSet::new();
        for i in icmps.iter().filter(|i| i.at != s && i.sent) {
            let t = to_sender_clock(i.ts.0);
            let running =
                span.is_some_and(|(a, b)| (a.0..=b.0.saturating_sub(WINDOW_NS)).contains(&t));
            if running && !came_out.contains(&i.id) && counted.insert(i.id) {
                lost += 1;
                let side = caps[i.at].side;
                lost_arrived += u64::from(i.outer != NONE && (p.arrived)(side, i.outer));
            }
        }
    }
    // The reaction, at the sender's tunnel interface.
    let first = sender.and_then(|s| {
        icmps
            .iter()
            .filter(|i| i.at == s && !i.sent)
            .map(|i| i.ts)
            .min()
    });
    let mut largest_before = None;
    let (mut fit_after, mut largest_after) = (0u64, None);
    let mut too_big: BTreeMap<u32, u64> = BTreeMap::new();
    let mut too_big_frames = Vec::new();
    if let (Some(s), Some(t0)) = (sender, first) {
        for &(_, ts, len, frame) in flows[s].iter().filter(|p| p.0) {
            if ts <= t0 {
                largest_before = largest_before.max(Some(len));
            } else if mtu == 0 || len <= mtu {
                fit_after += 1;
                largest_after = largest_after.max(Some(len));
            } else {
                *too_big.entry(len).or_default() += 1;
                too_big_frames.push(frame);
            }
        }
    }
    let too_big_after: u64 = too_big.values().sum();
    let reaction = match first {
        None => InnerReaction::Unknown,
        Some(_) if too_big_after > 0 => InnerReaction::NotReacted,
        Some(_) if fit_after > 0 => InnerReaction::Reacted,
        Some(_) => InnerReaction::NoLaterPackets,
    };
    let severity = match reaction {
        InnerReaction::NotReacted => Severity::Warning,
        InnerReaction::Unknown if lost > 0 => Severity::Warning,
        _ => Severity::Info,
    };
    let mut seen = Vec::new();
    let mut refs = Vec::new();
    for (k, cap) in caps.iter().enumerate() {
        let here: Vec<&Icmp> = icmps.iter().filter(|i| i.at == k).collect();
        let file = cap.facts.inner.file_name(cap.name);
        let mut frames: Vec<FrameNo> = here.iter().map(|i| i.frame).collect();
        if let Some(first_frame) = frames.iter().copied().min() {
            seen.push(InnerIcmpSeen {
                side: cap.side,
                file: file.to_string(),
                sent: here.iter().filter(|i| i.sent).count() as u64,
                received: here.iter().filter(|i| !i.sent).count() as u64,
                first_frame,
            });
        }
        if sender == Some(k) {
            frames.extend_from_slice(&too_big_frames);
        }
        refs.push(FrameRefs::new(cap.side, file, frames));
    }
    let mut f = Finding::new(
        FindingKind::InnerPmtud {
            protocol: if echo_id.is_some() {
                InnerProtocol::EchoRequest
            } else {
                inner_protocol(proto)
            },
            src,
            dst,
            echo_id,
            router,
            version: if icmps.iter().any(|i| i.v6) {
                IpVersion::Ipv6
            } else {
                IpVersion::Ipv4
            },
            announced_mtu: mtu,
            icmp: ids.len() as u64,
            seen,
            sender_side: sender.map(|s| caps[s].side),
            sender_file: sender.map(|s| caps[s].facts.inner.file_name(caps[s].name).to_string()),
            lost_in_tunnel: lost,
            lost_arrived,
            reaction,
            largest_before,
            fit_after,
            largest_after,
            too_big_after,
            too_big_sizes: too_big
                .iter()
                .rev()
                .map(|(&ip, &packets)| SizeCount { ip, packets })
                .collect(),
        },
        severity,
    );
    for r in refs {
        f = f.with_frames(r);
    }
    f
}

/// Outer frames of `cap` whose inner packets path-MTU discovery inside the
/// tunnel accounts for: the inner ICMP path-MTU signals, and the packets of
/// a flow they quote that are larger than the MTU announced for it.
fn explained_outer_frames(cap: Capture<'_>) -> HashSet<FrameNo> {
    let inner = &cap.facts.inner;
    let held = inner.records_of(cap.cap);
    let mut mtu_of: HashMap<(u8, Endpoint, Endpoint), u32> = HashMap::new();
    for l in &inner.links {
        if let Some(PacketKind::IcmpError(e)) = held.records.get(l.inner as usize).map(|r| &r.kind)
        {
            if let (Some(m), Some(q)) = (e.mtu, &e.quoted) {
                let x = mtu_of.entry((q.protocol, q.src, q.dst)).or_insert(m);
                *x = (*x).min(m);
            }
        }
    }
    let mut out = HashSet::new();
    if mtu_of.is_empty() {
        return out;
    }
    for l in inner.links.iter().filter(|l| l.outer != NONE) {
        let (Some(r), Some(o)) = (
            held.records.get(l.inner as usize),
            cap.cap.records.get(l.outer as usize),
        ) else {
            continue;
        };
        let explained = match &r.kind {
            PacketKind::IcmpError(e) => e.mtu.is_some(),
            _ => ip_protocol(r).is_some_and(|p| {
                let key = (p, held.endpoints.get(r.src), held.endpoints.get(r.dst));
                mtu_of.get(&key).is_some_and(|&m| m > 0 && r.ip_len > m)
            }),
        };
        if explained {
            out.insert(o.frame);
        }
    }
    out
}

/// One capture: leaves out the size findings inferred from retries
/// (`mtu_blackhole` not confirmed, with its `icmp_frag_needed_absent`)
/// whose outer packets all carry what path-MTU discovery inside the tunnel
/// accounts for: an inner sender's retransmits of packets too big for a link
/// beyond the far end (which answered with ICMP through the tunnel), or
/// those ICMPs; the outer path carried them.
pub(super) fn drop_explained_retries(out: &mut Vec<Finding>, cap: Capture<'_>) {
    if cap.facts.inner.is_empty() {
        return;
    }
    let explained = explained_outer_frames(cap);
    if explained.is_empty() {
        return;
    }
    out.retain(|f| {
        let inferred = matches!(
            f.kind,
            FindingKind::MtuBlackhole {
                confirmed: false,
                ..
            } | FindingKind::IcmpFragNeededAbsent { .. }
        );
        let all_explained = !f.frames.is_empty()
            && f.frames
                .iter()
                .all(|r| r.side == cap.side && r.frames.iter().all(|n| explained.contains(n)));
        !(inferred && all_explained)
    });
}

/// The pair's view for [`inner_pmtud`]: an outer record arrived when the
/// correlation found its partner.
pub(super) fn arrived_in(c: &Correlation) -> impl Fn(Side, u32) -> bool + '_ {
    move |side, i| {
        c.partner[side.idx()]
            .get(i as usize)
            .is_some_and(|&p| p < DUPLICATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureInfo;
    use crate::decode::{DecodedCapture, Endpoints, IcmpError, QuotedPacket, TcpFlags};
    use crate::flow::facts;
    use std::net::Ipv4Addr;

    const VPS: [u8; 4] = [10, 0, 0, 1];
    const LAPTOP: [u8; 4] = [10, 0, 0, 2];
    const LAN: [u8; 4] = [192, 168, 50, 2];

    fn ep(a: [u8; 4], port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from(a)),
            port,
        }
    }

    /// Records of one host's tunnel interface, built in time order.
    #[derive(Default)]
    struct Host {
        eps: Endpoints,
        recs: Vec<PacketRecord>,
    }

    impl Host {
        fn push(
            &mut self,
            ms: i64,
            src: Endpoint,
            dst: Endpoint,
            kind: PacketKind,
            len: u32,
            out: bool,
        ) {
            let (s, d) = (self.eps.intern(src), self.eps.intern(dst));
            let dir = if out {
                Flags::OUTGOING
            } else {
                Flags::INCOMING
            };
            self.recs.push(PacketRecord {
                ts: Timestamp(ms * 1_000_000),
                kind,
                frame: FrameNo(self.recs.len() as u32 + 1),
                ip_len: len,
                src: s,
                dst: d,
                udp_len: 0,
                frag_len: len as u16,
                ttl: 64,
                flags: Flags(Flags::TUNNEL_IF | Flags::DF | dir),
                iface: 1,
            });
        }

        /// A TCP segment of the flow vps:40000 → LAN:5201.
        fn segment(&mut self, ms: i64, len: u32, out: bool) {
            let kind = PacketKind::Tcp {
                flags: TcpFlags(TcpFlags::ACK),
                mss: 0,
                id: PacketId(ms as u32),
            };
            self.push(ms, ep(VPS, 40000), ep(LAN, 5201), kind, len, out);
        }

        /// The laptop's frag-needed (MTU `mtu`) about a segment of `len` bytes.
        fn frag_needed(&mut self, ms: i64, id: u32, mtu: u32, len: u32, out: bool) {
            let kind = PacketKind::IcmpError(Box::new(IcmpError {
                v6: false,
                ty: 3,
                code: 4,
                mtu: Some(mtu),
                quoted: Some(QuotedPacket {
                    src: ep(VPS, 40000),
                    dst: ep(LAN, 5201),
                    ip_len: len,
                    protocol: 6,
                    wireguard: None,
                    echo: None,
                }),
                id: PacketId(id),
            }));
            self.push(ms, ep(LAPTOP, 0), ep(VPS, 0), kind, 576, out);
        }

        fn cap(self) -> DecodedCapture {
            DecodedCapture {
                path: "x.pcap".into(),
                info: CaptureInfo::default(),
                records: self.recs,
                endpoints: self.eps,
            }
        }
    }

    fn run(hosts: Vec<DecodedCapture>, pair: Option<&PairView>) -> Vec<Finding> {
        let facts: Vec<_> = hosts.iter().map(facts).collect();
        let names = ["vps.pcap", "laptop.pcap"];
        let caps: Vec<Capture<'_>> = hosts
            .iter()
            .zip(&facts)
            .enumerate()
            .map(|(i, (cap, facts))| Capture {
                side: if i == 0 { Side::A } else { Side::B },
                name: names[i],
                cap,
                facts,
            })
            .collect();
        let mut out = Vec::new();
        inner_pmtud(&mut out, &caps, pair);
        out
    }

    /// The vps's end: 1420-byte segments, the ICMP, then `after` sizes.
    fn vps(after: &[u32]) -> DecodedCapture {
        let mut h = Host::default();
        for ms in 1..=3 {
            h.segment(ms, 1420, true);
        }
        h.frag_needed(10, 7, 1300, 1420, false);
        for (i, len) in after.iter().enumerate() {
            h.segment(20 + i as i64, *len, true);
        }
        h.cap()
    }

    #[test]
    fn a_sender_that_lowers_its_segments_reacted() {
        let out = run(vec![vps(&[1300, 1300, 1000])], None);
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.severity, Severity::Info);
        let FindingKind::InnerPmtud {
            protocol,
            src,
            router,
            announced_mtu,
            reaction,
            largest_before,
            fit_after,
            largest_after,
            too_big_after,
            sender_side,
            icmp,
            seen,
            ..
        } = &f.kind
        else {
            panic!("{f:?}")
        };
        assert_eq!(*protocol, InnerProtocol::Tcp);
        assert_eq!(*src, ep(VPS, 40000));
        assert_eq!(*router, ep(LAPTOP, 0).ip);
        assert_eq!(*announced_mtu, 1300);
        assert_eq!(*reaction, InnerReaction::Reacted);
        assert_eq!(*largest_before, Some(1420));
        assert_eq!(
            (*fit_after, *largest_after, *too_big_after),
            (3, Some(1300), 0)
        );
        assert_eq!((*sender_side, *icmp), (Some(Side::A), 1));
        assert_eq!((seen[0].sent, seen[0].received), (0, 1));
        // The ICMP's frame only.
        assert_eq!(f.frames[0].frames, [FrameNo(4)]);
    }

    #[test]
    fn a_sender_that_goes_on_with_big_segments_did_not_react() {
        let out = run(vec![vps(&[1420, 1300, 1420])], None);
        let f = &out[0];
        assert_eq!(f.severity, Severity::Warning);
        let FindingKind::InnerPmtud {
            reaction,
            too_big_after,
            too_big_sizes,
            ..
        } = &f.kind
        else {
            panic!()
        };
        assert_eq!(*reaction, InnerReaction::NotReacted);
        assert_eq!(*too_big_after, 2);
        assert_eq!(
            too_big_sizes,
            &[SizeCount {
                ip: 1420,
                packets: 2
            }]
        );
        // The ICMP and the two big segments after it.
        assert_eq!(f.frames[0].frames, [FrameNo(4), FrameNo(5), FrameNo(7)]);
    }

    /// The laptop's end: the segments come out of the tunnel, the ICMPs go in.
    fn laptop(icmps: &[(i64, u32)]) -> DecodedCapture {
        let mut h = Host::default();
        for ms in 1..=3 {
            h.segment(ms, 1420, false);
        }
        for &(ms, id) in icmps {
            h.frag_needed(ms, id, 1300, 1420, true);
        }
        h.cap()
    }

    #[test]
    fn only_the_receiving_end_cannot_tell() {
        let out = run(vec![laptop(&[(9, 7)])], None);
        let FindingKind::InnerPmtud {
            reaction,
            sender_side,
            seen,
            lost_in_tunnel,
            ..
        } = &out[0].kind
        else {
            panic!()
        };
        assert_eq!(*reaction, InnerReaction::Unknown);
        assert_eq!((*sender_side, *lost_in_tunnel), (None, 0));
        assert_eq!((seen[0].sent, seen[0].received), (1, 0));
        assert_eq!(out[0].severity, Severity::Info);
    }

    #[test]
    fn an_icmp_that_never_came_out_at_the_sender_was_lost_in_the_tunnel() {
        // ICMP 7 reached the vps; ICMP 8, sent later, never did.
        let mut v = Host::default();
        for ms in 1..=3 {
            v.segment(ms, 1420, true);
        }
        v.frag_needed(10, 7, 1300, 1420, false);
        v.segment(40, 1300, true);
        v.segment(300, 1300, true);
        let arrived = |_: Side, _: u32| true;
        let pair = PairView {
            offset_ns: 0,
            arrived: &arrived,
        };
        let out = run(vec![v.cap(), laptop(&[(9, 7), (30, 8)])], Some(&pair));
        assert_eq!(out.len(), 1);
        let f = &out[0];
        let FindingKind::InnerPmtud {
            icmp,
            lost_in_tunnel,
            lost_arrived,
            reaction,
            seen,
            ..
        } = &f.kind
        else {
            panic!()
        };
        assert_eq!((*icmp, *lost_in_tunnel, *lost_arrived), (2, 1, 0));
        // Its outer packet is unknown (the synthetic laptop has none).
        assert_eq!(*reaction, InnerReaction::Reacted);
        assert_eq!(seen.len(), 2);
        assert_eq!(f.frames.len(), 2);
        // All lost: a warning, reaction unknown.
        let mut v = Host::default();
        for ms in 1..=3 {
            v.segment(ms, 1420, true);
        }
        v.segment(300, 1420, true);
        let out = run(vec![v.cap(), laptop(&[(9, 7)])], Some(&pair));
        let FindingKind::InnerPmtud {
            lost_in_tunnel,
            reaction,
            sender_side,
            ..
        } = &out[0].kind
        else {
            panic!()
        };
        assert_eq!((*lost_in_tunnel, *reaction), (1, InnerReaction::Unknown));
        assert_eq!(*sender_side, Some(Side::A));
        assert_eq!(out[0].severity, Severity::Warning);
    }

    #[test]
    fn no_inner_packets_no_finding_and_no_outer_signal() {
        // The ICMP on the tunnel interface is no path-MTU signal of the underlay.
        let f = facts(&vps(&[1300]));
        assert!(f.pmtu_signals.is_empty());
        assert_eq!(f.icmp_errors, 0);
        // The same records off the tunnel interface: no inner packets, no finding.
        let mut c = vps(&[1300]);
        for r in &mut c.records {
            r.flags.0 &= !Flags::TUNNEL_IF;
        }
        assert_eq!(facts(&c).pmtu_signals.len(), 1);
        assert!(run(vec![c], None).is_empty());
    }
}
