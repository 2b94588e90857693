//! Along the path: what each hop between two consecutive capture points did
//! to the WireGuard packets (delivered, lost, rewritten, reflected), as typed
//! evidence, and the findings that name the hop where something happens.
//!
//! Every count comes from the pairwise correlation of the hop's two points
//! (see [`crate::correlate::correlate_path`]): a packet is lost at a hop when
//! it was seen at the point before it and, while the next point's capture
//! ran, never there.

use super::finding::{Finding, FindingKind, FrameRefs, Severity, WireSize};
use super::Capture;
use crate::capture::FrameNo;
use crate::correlate::{Correlation, Role, Side, TtlOrder, DUPLICATE, NO_PARTNER};
use crate::decode::Endpoint;
use crate::flow::MartianReason;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which way along the path a packet travels across a hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Heading {
    /// From the hop's `a` (earlier in path order) to its `b`.
    AToB,
    /// From `b` back to `a`.
    BToA,
}

impl Heading {
    /// The hop side the packets are sent from.
    pub fn from_side(self) -> Side {
        match self {
            Heading::AToB => Side::A,
            Heading::BToA => Side::B,
        }
    }
}

/// Lost packets of one size at a hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LostSize {
    /// Wire size.
    pub size: WireSize,
    /// Packets.
    pub packets: u64,
}

/// What crossed a hop one way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HopFlow {
    /// Which way.
    pub heading: Heading,
    /// WireGuard packets seen at the sending point while the receiving
    /// point's capture ran.
    pub sent: u64,
    /// Of those, seen at the receiving point.
    pub delivered: u64,
    /// Of those, never seen there.
    pub lost: u64,
    /// The lost packets' frames at the sending point, ascending.
    pub lost_frames: Vec<FrameNo>,
    /// Lost packets by size, smallest first.
    pub lost_by_size: Vec<LostSize>,
    /// Smallest lost packet.
    pub smallest_lost: Option<WireSize>,
    /// Largest delivered packet smaller than the smallest lost one.
    pub largest_delivered: Option<WireSize>,
    /// Every lost packet is at least as big as the smallest lost one and no
    /// packet that big arrived, while smaller ones did: loss by size.
    pub size_dependent: bool,
    /// TTL drops (sending point's TTL − receiving point's) of delivered
    /// packets: the routers between the points.
    pub ttl_drops: Vec<u8>,
    /// WireGuard packets seen at the sending point while the receiving
    /// point's capture was not running (neither delivered nor lost).
    pub outside_window: u64,
}

/// An address rewrite between two consecutive points: NAT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rewrite {
    /// Which way the rewritten packets went.
    pub heading: Heading,
    /// Source before (at the sending point).
    pub before_src: Endpoint,
    /// Destination before.
    pub before_dst: Endpoint,
    /// Source after (at the receiving point).
    pub after_src: Endpoint,
    /// Destination after.
    pub after_dst: Endpoint,
    /// The source changed: SNAT (masquerade).
    pub snat: bool,
    /// The destination changed: DNAT (port forwarding).
    pub dnat: bool,
    /// Packets rewritten so.
    pub packets: u64,
    /// The first of them: its frame at the hop's `a` and at its `b`.
    pub first_frames: [FrameNo; 2],
}

/// Messages a point holds twice: once on their way, once come back onto the
/// same link with other addresses (hairpin NAT on the next hop).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reflection {
    /// The point (index in path order).
    pub point: usize,
    /// Its display name.
    pub file: String,
    /// Source of the first copy.
    pub before_src: Endpoint,
    /// Destination of the first copy.
    pub before_dst: Endpoint,
    /// Source of the copy that came back.
    pub after_src: Endpoint,
    /// Destination of the copy that came back.
    pub after_dst: Endpoint,
    /// TTL of the first copy and of the one that came back.
    pub ttls: [u8; 2],
    /// Messages reflected so.
    pub packets: u64,
    /// Frames of the first copies, ascending.
    pub first_frames: Vec<FrameNo>,
    /// Frames of the copies that came back, ascending.
    pub frames: Vec<FrameNo>,
}

/// WireGuard packets with source == destination at one point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MartianSeen {
    /// The point (index in path order).
    pub point: usize,
    /// Its display name.
    pub file: String,
    /// Source (== destination address).
    pub src: Endpoint,
    /// Destination.
    pub dst: Endpoint,
    /// Packets.
    pub packets: u64,
    /// Of which handshake initiations.
    pub wg_initiations: u64,
    /// Their frames.
    pub frames: Vec<FrameNo>,
}

/// Everything one hop shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HopEvidence {
    /// Hop number: between point `index` and point `index + 1`.
    pub index: usize,
    /// The earlier point's display name.
    pub a: String,
    /// The later point's display name.
    pub b: String,
    /// `a` → `b`, then `b` → `a`.
    pub flows: [HopFlow; 2],
    /// NAT rewrites between the two points.
    pub rewritten: Vec<Rewrite>,
    /// Martians first seen at this hop (at `b`; for hop 0 also at `a`).
    pub martians: Vec<MartianSeen>,
    /// Reflections first seen at this hop's points.
    pub reflections: Vec<Reflection>,
}

/// The path's evidence and findings.
#[derive(Clone, Debug)]
pub struct PathDiagnosis {
    /// Display names in path order.
    pub points: Vec<String>,
    /// One per consecutive pair of points.
    pub hops: Vec<HopEvidence>,
    /// The TTL check of every middle point.
    pub order: Vec<TtlOrder>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
}

/// Diagnoses captures along one path (`caps` in path order, `hops[k]` the
/// correlation of points `k` and `k + 1`, `order` from
/// [`crate::correlate::ttl_order`]).
pub fn diagnose_path(
    caps: &[Capture<'_>],
    hops: &[Correlation],
    order: Vec<TtlOrder>,
) -> PathDiagnosis {
    let points: Vec<String> = caps.iter().map(|c| c.name.to_string()).collect();
    let mut evidence: Vec<HopEvidence> = hops
        .iter()
        .enumerate()
        .map(|(k, _)| hop(k, [caps[k], caps[k + 1]], hops))
        .collect();
    // Martians and reflections belong to the hop where they first show.
    let martians = martians(caps);
    let reflections: Vec<Reflection> = (0..caps.len())
        .filter_map(|k| reflection(k, caps[k], hops))
        .collect();
    let first_martian = martians.iter().map(|m| m.point).min();
    for m in martians.iter().filter(|m| Some(m.point) == first_martian) {
        if let Some(h) = evidence.get_mut(m.point.saturating_sub(1)) {
            h.martians.push(m.clone());
        }
    }
    for r in &reflections {
        if let Some(h) = evidence.get_mut(r.point.saturating_sub(1)) {
            h.reflections.push(r.clone());
        }
    }
    let mut findings = Vec::new();
    let contradicted: Vec<&TtlOrder> = order
        .iter()
        .filter(|o| o.contradicting > o.consistent)
        .collect();
    for o in &contradicted {
        findings.push(order_finding(o, &points, caps));
    }
    // A wrong order makes "lost between these two points" meaningless.
    if contradicted.is_empty() {
        for h in &evidence {
            for f in &h.flows {
                if f.lost > 0 {
                    findings.push(loss_finding(h, f, caps));
                }
            }
        }
    }
    for h in &evidence {
        if !h.rewritten.is_empty() {
            findings.push(nat_finding(h, caps));
        }
    }
    for r in reflections.iter().take(1) {
        let mut f = Finding::new(
            FindingKind::PathReflection {
                reflection: Box::new(r.clone()),
            },
            Severity::Info,
        );
        f = f.with_frames(FrameRefs::new(
            Side::A,
            &r.file,
            r.first_frames.iter().chain(&r.frames).copied(),
        ));
        findings.push(f);
    }
    if let Some(first) = first_martian {
        let mut f = martian_finding(first, &martians, caps);
        if let FindingKind::PathMartian {
            src,
            dst,
            snat,
            snat_between,
            dnat,
            dnat_between,
            reflected,
            ..
        } = &mut f.kind
        {
            // The rewrites that made source == destination: a SNAT to the
            // martian's source, a DNAT (or a reflection) to its destination.
            if let Some((h, r)) = evidence.iter().find_map(|h| {
                h.rewritten
                    .iter()
                    .find(|r| r.snat && r.after_src.ip == src.ip)
                    .map(|r| (h, r))
            }) {
                *snat = Some(Box::new(r.clone()));
                *snat_between = Some([h.a.clone(), h.b.clone()]);
            }
            if let Some((h, r)) = evidence.iter().find_map(|h| {
                h.rewritten
                    .iter()
                    .find(|r| r.dnat && r.after_dst == *dst)
                    .map(|r| (h, r))
            }) {
                *dnat = Some(Box::new(r.clone()));
                *dnat_between = Some([h.a.clone(), h.b.clone()]);
            }
            *reflected = reflections
                .iter()
                .find(|r| r.after_dst == *dst)
                .map(|r| Box::new(r.clone()));
        }
        findings.push(f);
    }
    // A point without WireGuard, or a hop nothing crossed, cannot be
    // followed: say so rather than call the path healthy.
    for (k, cap) in caps.iter().enumerate() {
        let messages = cap.facts.wireguard.total();
        // The ends' own findings (the pair's) already say it of them.
        let middle = k > 0 && k + 1 < caps.len();
        if cap.facts.packets == 0 && middle {
            findings.push(Finding::new(
                FindingKind::EmptyCapture {
                    side: cap.side,
                    file: cap.name.to_string(),
                },
                Severity::Info,
            ));
        } else if messages == 0 && middle {
            findings.push(Finding::new(
                FindingKind::NoWireguard {
                    side: cap.side,
                    file: cap.name.to_string(),
                    packets: cap.facts.packets,
                    tunnel_interface: false,
                },
                Severity::Info,
            ));
        } else if let Some(h) = evidence
            .get(k)
            .filter(|h| h.flows.iter().all(|f| f.sent == 0))
        {
            let next = caps.get(k + 1).map_or(0, |c| c.facts.wireguard.total());
            if next > 0 {
                findings.push(Finding::new(
                    FindingKind::PathHopSilent {
                        hop: k,
                        a: h.a.clone(),
                        b: h.b.clone(),
                        messages: [messages, next],
                    },
                    Severity::Info,
                ));
            }
        }
    }
    findings.sort_by_key(|f| f.severity);
    let inconclusive = findings.iter().any(|f| f.kind.is_inconclusive());
    let problem = inconclusive
        || findings
            .iter()
            .any(|f| matches!(f.severity, Severity::Error | Severity::Warning));
    if !problem {
        let delivered: u64 = evidence
            .iter()
            .flat_map(|h| h.flows.iter())
            .map(|f| f.delivered)
            .sum();
        findings.insert(
            0,
            Finding::new(
                FindingKind::PathHealthy {
                    points: points.clone(),
                    delivered,
                },
                Severity::Info,
            ),
        );
    }
    PathDiagnosis {
        points,
        hops: evidence,
        order,
        findings,
    }
}

/// One hop's evidence.
fn hop(k: usize, caps: [Capture<'_>; 2], hops: &[Correlation]) -> HopEvidence {
    let c = &hops[k];
    let flows = flows(k, caps, hops);
    let rewritten = c
        .nat
        .iter()
        .filter(|m| m.rewritten())
        .map(|m| {
            let (sent, recv) = m.first_frames;
            Rewrite {
                heading: match m.from_side {
                    Side::A => Heading::AToB,
                    Side::B => Heading::BToA,
                },
                before_src: m.sent_src,
                before_dst: m.sent_dst,
                after_src: m.recv_src,
                after_dst: m.recv_dst,
                snat: m.sent_src != m.recv_src,
                dnat: m.sent_dst != m.recv_dst,
                packets: m.packets,
                first_frames: match m.from_side {
                    Side::A => [sent, recv],
                    Side::B => [recv, sent],
                },
            }
        })
        .collect();
    HopEvidence {
        index: k,
        a: caps[0].name.to_string(),
        b: caps[1].name.to_string(),
        flows,
        rewritten,
        martians: Vec::new(),
        reflections: Vec::new(),
    }
}

/// Which way the matched pair (`i` at point `k`, `j` at point `k + 1`)
/// went: by TTL; on a hop TTL cannot tell (both points on one link), by the
/// way the same message crossed the hop before or after; else as the
/// pairwise correlation decided (`sent_by_a`).
fn heading_of(
    k: usize,
    i: usize,
    j: usize,
    caps: [Capture<'_>; 2],
    hops: &[Correlation],
    sent_by_a: bool,
) -> Heading {
    let (ra, rb) = (&caps[0].cap.records[i], &caps[1].cap.records[j]);
    if ra.ttl != rb.ttl {
        return if ra.ttl > rb.ttl {
            Heading::AToB
        } else {
            Heading::BToA
        };
    }
    let delivered = |c: &Correlation, side: usize, x: usize| {
        c.role[side].get(x) == Some(&(Role::Delivered as u8))
    };
    if let Some(prev) = k.checked_sub(1).and_then(|p| hops.get(p)) {
        // Point k is side B of the previous hop.
        if let Some(&x) = prev.partner[1].get(i).filter(|x| **x < DUPLICATE) {
            if delivered(prev, 0, x as usize) {
                return Heading::AToB;
            }
            if delivered(prev, 1, i) {
                return Heading::BToA;
            }
        }
    }
    if let Some(next) = hops.get(k + 1) {
        // Point k + 1 is side A of the next hop.
        if let Some(&x) = next.partner[0].get(j).filter(|x| **x < DUPLICATE) {
            if delivered(next, 0, j) {
                return Heading::AToB;
            }
            if delivered(next, 1, x as usize) {
                return Heading::BToA;
            }
        }
    }
    if sent_by_a {
        Heading::AToB
    } else {
        Heading::BToA
    }
}

/// Per size: (UDP size, delivered, lost), and the frames of the lost ones.
#[derive(Default)]
struct Tally {
    sizes: BTreeMap<u32, (u16, u64, u64)>,
    lost_frames: Vec<FrameNo>,
    ttl_drops: Vec<u8>,
    outside_window: u64,
}

/// The WireGuard packets the hop's points sent each other: matched pairs
/// are delivered (unless their fragments were not all seen), messages the
/// pairwise correlation found missing at the far point are lost.
fn flows(k: usize, caps: [Capture<'_>; 2], hops: &[Correlation]) -> [HopFlow; 2] {
    let c = &hops[k];
    let mut t: [Tally; 2] = Default::default();
    let ra = &caps[0].cap.records;
    let rb = &caps[1].cap.records;
    for (i, r) in ra.iter().enumerate() {
        if !r.kind.is_wireguard() {
            continue;
        }
        let role = c.role[0].get(i).copied().unwrap_or(Role::Other as u8);
        let p = c.partner[0].get(i).copied().unwrap_or(NO_PARTNER);
        if p < DUPLICATE {
            let j = p as usize;
            let rolb = c.role[1].get(j).copied().unwrap_or(Role::Other as u8);
            let (Some(other), true) = (
                rb.get(j),
                role != Role::Other as u8 || rolb != Role::Other as u8,
            ) else {
                continue;
            };
            let lost = role == Role::Missing as u8 || rolb == Role::Missing as u8;
            let h = if lost {
                if role == Role::Missing as u8 {
                    Heading::AToB
                } else {
                    Heading::BToA
                }
            } else {
                heading_of(k, i, j, caps, hops, role == Role::Delivered as u8)
            };
            let (sender, receiver) = match h {
                Heading::AToB => (r, other),
                Heading::BToA => (other, r),
            };
            let tally = &mut t[h.from_side().idx()];
            let e = tally
                .sizes
                .entry(sender.ip_len)
                .or_insert((sender.udp_len, 0, 0));
            if lost {
                e.2 += 1;
                tally.lost_frames.push(sender.frame);
            } else {
                e.1 += 1;
                let d = sender.ttl.saturating_sub(receiver.ttl);
                if !tally.ttl_drops.contains(&d) {
                    tally.ttl_drops.push(d);
                }
            }
        } else if role == Role::OutsideWindow as u8 {
            t[0].outside_window += 1;
        } else if role == Role::Missing as u8 {
            let e = t[0].sizes.entry(r.ip_len).or_insert((r.udp_len, 0, 0));
            e.2 += 1;
            t[0].lost_frames.push(r.frame);
        }
    }
    for (j, r) in rb.iter().enumerate() {
        let unmatched = c.partner[1].get(j).is_none_or(|p| *p >= DUPLICATE);
        if unmatched
            && r.kind.is_wireguard()
            && c.role[1].get(j) == Some(&(Role::OutsideWindow as u8))
        {
            t[1].outside_window += 1;
        }
        if unmatched && r.kind.is_wireguard() && c.role[1].get(j) == Some(&(Role::Missing as u8)) {
            let e = t[1].sizes.entry(r.ip_len).or_insert((r.udp_len, 0, 0));
            e.2 += 1;
            t[1].lost_frames.push(r.frame);
        }
    }
    let [ta, tb] = t;
    [flow(Heading::AToB, ta), flow(Heading::BToA, tb)]
}

fn flow(heading: Heading, mut t: Tally) -> HopFlow {
    let sizes = &t.sizes;
    t.lost_frames.sort_unstable();
    t.ttl_drops.sort_unstable();
    let size = |ip: u32, udp: u16| WireSize { ip, udp };
    let smallest_lost = sizes
        .iter()
        .find(|(_, v)| v.2 > 0)
        .map(|(ip, v)| size(*ip, v.0));
    let largest_delivered = sizes
        .iter()
        .rfind(|(ip, v)| v.1 > 0 && smallest_lost.is_none_or(|l| **ip < l.ip))
        .map(|(ip, v)| size(*ip, v.0));
    let size_dependent = match smallest_lost {
        Some(l) => largest_delivered.is_some() && !sizes.range(l.ip..).any(|(_, v)| v.1 > 0),
        None => false,
    };
    let (delivered, lost) = sizes.values().fold((0, 0), |(d, l), v| (d + v.1, l + v.2));
    HopFlow {
        heading,
        sent: delivered + lost,
        delivered,
        lost,
        lost_by_size: sizes
            .iter()
            .filter(|(_, v)| v.2 > 0)
            .map(|(ip, v)| LostSize {
                size: size(*ip, v.0),
                packets: v.2,
            })
            .collect(),
        lost_frames: t.lost_frames,
        smallest_lost,
        largest_delivered,
        size_dependent,
        ttl_drops: t.ttl_drops,
        outside_window: t.outside_window,
    }
}

/// WireGuard martians (source == destination) at every point.
fn martians(caps: &[Capture<'_>]) -> Vec<MartianSeen> {
    let mut out = Vec::new();
    for (k, cap) in caps.iter().enumerate() {
        for m in &cap.facts.martians {
            if m.reason == MartianReason::SameSrcDst && m.wireguard > 0 {
                out.push(MartianSeen {
                    point: k,
                    file: cap.name.to_string(),
                    src: m.src,
                    dst: m.dst,
                    packets: m.packets,
                    wg_initiations: m.wg_initiations,
                    frames: m.frames.clone(),
                });
            }
        }
    }
    out
}

/// Records looked back at to find the first copy of a reflected message.
const REFLECTION_LOOKBACK: usize = 256;

/// The messages point `k` holds twice, the second copy with source ==
/// destination: which addresses they had first and which they came back with.
fn reflection(k: usize, cap: Capture<'_>, hops: &[Correlation]) -> Option<Reflection> {
    // The point is side B of hop k − 1 and side A of hop k; either marks its copies.
    let partner = match (k.checked_sub(1).and_then(|p| hops.get(p)), hops.get(k)) {
        (_, Some(h)) => &h.partner[0],
        (Some(h), None) => &h.partner[1],
        (None, None) => return None,
    };
    let recs = &cap.cap.records;
    let eps = &cap.cap.endpoints;
    let mut out: Option<Reflection> = None;
    for (i, r) in recs.iter().enumerate() {
        if partner.get(i) != Some(&DUPLICATE) || !r.kind.is_wireguard() {
            continue;
        }
        let (src, dst) = (eps.get(r.src), eps.get(r.dst));
        if src.ip != dst.ip {
            continue;
        }
        let first = recs[i.saturating_sub(REFLECTION_LOOKBACK)..i]
            .iter()
            .rev()
            .find(|o| o.kind == r.kind && eps.get(o.dst) != dst);
        let Some(o) = first else { continue };
        let (bs, bd) = (eps.get(o.src), eps.get(o.dst));
        match &mut out {
            Some(x)
                if (x.before_src, x.before_dst, x.after_src, x.after_dst) == (bs, bd, src, dst) =>
            {
                x.packets += 1;
                x.first_frames.push(o.frame);
                x.frames.push(r.frame);
            }
            Some(_) => {}
            None => {
                out = Some(Reflection {
                    point: k,
                    file: cap.name.to_string(),
                    before_src: bs,
                    before_dst: bd,
                    after_src: src,
                    after_dst: dst,
                    ttls: [o.ttl, r.ttl],
                    packets: 1,
                    first_frames: vec![o.frame],
                    frames: vec![r.frame],
                });
            }
        }
    }
    out
}

/// The finding of packets lost one way at a hop.
fn loss_finding(h: &HopEvidence, f: &HopFlow, caps: &[Capture<'_>]) -> Finding {
    let k = h.index;
    let n = caps.len();
    // The points the packets passed before the drop, where an ICMP about
    // them would have been seen on its way back to the sender.
    let before: Vec<usize> = match f.heading {
        Heading::AToB => (0..=k).collect(),
        Heading::BToA => (k + 1..n).collect(),
    };
    let icmp: u64 = before
        .iter()
        .map(|&p| caps[p].facts.pmtu_signals.len() as u64)
        .sum();
    let (from, to, origin) = match f.heading {
        Heading::AToB => (&h.a, &h.b, 0),
        Heading::BToA => (&h.b, &h.a, n - 1),
    };
    let routers = match f.ttl_drops.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let severity = if f.size_dependent || f.delivered == 0 {
        Severity::Error
    } else {
        Severity::Warning
    };
    let side = f.heading.from_side();
    Finding::new(
        FindingKind::PathLoss {
            hop: k,
            heading: f.heading,
            origin: caps[origin].name.to_string(),
            from: from.clone(),
            to: to.clone(),
            sent: f.sent,
            lost: f.lost,
            smallest_lost: f.smallest_lost,
            largest_delivered: f.largest_delivered,
            size_dependent: f.size_dependent,
            routers,
            icmp_seen: icmp,
            icmp_checked: before.iter().map(|&p| caps[p].name.to_string()).collect(),
        },
        severity,
    )
    .with_frames(FrameRefs::new(side, from, f.lost_frames.iter().copied()))
}

fn nat_finding(h: &HopEvidence, caps: &[Capture<'_>]) -> Finding {
    let routers = h.flows.iter().find_map(|f| match f.ttl_drops.as_slice() {
        [one] => Some(*one),
        _ => None,
    });
    let mut f = Finding::new(
        FindingKind::PathNat {
            hop: h.index,
            a: h.a.clone(),
            b: h.b.clone(),
            rewrites: h.rewritten.clone(),
            routers,
        },
        Severity::Info,
    );
    for (i, side) in [Side::A, Side::B].into_iter().enumerate() {
        let name = caps[h.index + i].name;
        f = f.with_frames(FrameRefs::new(
            side,
            name,
            h.rewritten.iter().map(|r| r.first_frames[i]),
        ));
    }
    f
}

fn martian_finding(first: usize, all: &[MartianSeen], caps: &[Capture<'_>]) -> Finding {
    let here: Vec<&MartianSeen> = all.iter().filter(|m| m.point == first).collect();
    let m = here[0];
    let mut seen_at: Vec<String> = all.iter().map(|m| m.file.clone()).collect();
    seen_at.dedup();
    let response_seen = caps.iter().any(|c| c.facts.wireguard.response > 0);
    Finding::new(
        FindingKind::PathMartian {
            point: first,
            file: m.file.clone(),
            hop: first.saturating_sub(1),
            src: m.src,
            dst: m.dst,
            packets: here.iter().map(|m| m.packets).sum(),
            wg_initiations: here.iter().map(|m| m.wg_initiations).sum(),
            seen_at,
            response_seen,
            snat: None,
            snat_between: None,
            dnat: None,
            dnat_between: None,
            reflected: None,
        },
        Severity::Error,
    )
    .with_frames(FrameRefs::new(
        Side::B,
        &m.file,
        here.iter().flat_map(|m| m.frames.iter().copied()),
    ))
}

fn order_finding(o: &TtlOrder, points: &[String], caps: &[Capture<'_>]) -> Finding {
    let k = o.point;
    let mut f = Finding::new(
        FindingKind::PathOrder {
            point: k,
            file: points[k].clone(),
            prev: points[k - 1].clone(),
            next: points[k + 1].clone(),
            consistent: o.consistent,
            contradicting: o.contradicting,
            example_ttls: o.example_ttls,
        },
        Severity::Warning,
    );
    if let Some(ex) = o.example {
        for (i, side) in [(0, Side::A), (1, Side::B), (2, Side::B)] {
            f = f.with_frames(FrameRefs::new(side, caps[k - 1 + i].name, [ex[i]]));
        }
    }
    f
}
