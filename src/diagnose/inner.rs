//! Inside the tunnel: which inner flows lost packets, TCP SYNs whose MSS
//! does not fit the tunnel MTU the path allows, and inner packets that
//! entered the tunnel and never left their host. Needs captures that show
//! the tunnel interface ([`crate::flow::InnerPackets`]).

use super::finding::{
    AffectedFlow, DirRef, Finding, FindingKind, FrameRefs, InnerProtocol, LocalDropCause,
    LocalDropGroup, MssFlow, Severity, SizeCount,
};
use super::Capture;
use crate::capture::FrameNo;
use crate::correlate::{Correlation, Role, Side};
use crate::decode::{EndpointId, Flags, PacketKind, PacketRecord, TcpFlags};
use crate::flow::inner::NONE;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

/// The protocol of an inner packet.
fn protocol(r: &PacketRecord) -> InnerProtocol {
    match &r.kind {
        PacketKind::Tcp { .. } => InnerProtocol::Tcp,
        PacketKind::Udp { .. }
        | PacketKind::WgInitiation { .. }
        | PacketKind::WgResponse { .. }
        | PacketKind::WgCookieReply { .. }
        | PacketKind::WgTransport { .. } => InnerProtocol::Udp,
        PacketKind::Icmp { ty: 8 | 128, .. } => InnerProtocol::EchoRequest,
        PacketKind::Icmp { ty: 0 | 129, .. } => InnerProtocol::EchoReply,
        PacketKind::Icmp { .. } | PacketKind::IcmpError(_) => InnerProtocol::Icmp,
        PacketKind::OtherIp { protocol } => InnerProtocol::Other(*protocol),
        PacketKind::Fragment { .. } | PacketKind::NonIp { .. } | PacketKind::Undecodable(_) => {
            InnerProtocol::Other(0)
        }
    }
}

#[derive(Default)]
struct FlowTally {
    sent: u64,
    lost: u64,
    sizes: BTreeMap<u32, u64>,
    frames: Vec<FrameNo>,
}

/// The inner flows behind the lost packets `lost` (record indexes) that
/// `s` sent in direction `dir`, when its capture shows the tunnel interface.
pub(super) fn affected_flows(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    c: &Correlation,
    sender: Capture<'_>,
    lost: &[u32],
) {
    let inner = &sender.facts.inner;
    if inner.is_empty() || lost.is_empty() {
        return;
    }
    let outer = &sender.cap.records;
    let held = inner.records_of(sender.cap);
    let recs = &held.records;
    let s = sender.side;
    let by_outer = inner.by_outer();
    type Key = (InnerProtocol, EndpointId, EndpointId, Option<u16>);
    let key = |r: &PacketRecord| {
        let p = protocol(r);
        let echo = match r.kind {
            PacketKind::Icmp { echo, .. }
                if matches!(p, InnerProtocol::EchoRequest | InnerProtocol::EchoReply) =>
            {
                Some(echo)
            }
            _ => None,
        };
        (p, r.src, r.dst, echo)
    };
    let mut flows: HashMap<Key, FlowTally> = HashMap::new();
    let mut unattributed = 0;
    for &o in lost {
        let Some(j) = crate::flow::InnerPackets::inner_of(&by_outer, o) else {
            // Keepalives carry nothing.
            if outer.get(o as usize).is_some_and(|r| r.udp_len > 32) {
                unattributed += 1;
            }
            continue;
        };
        let Some(r) = recs.get(j as usize) else {
            continue;
        };
        let t = flows.entry(key(r)).or_default();
        t.lost += 1;
        *t.sizes.entry(r.ip_len).or_default() += 1;
        t.frames.push(r.frame);
    }
    if flows.is_empty() {
        return;
    }
    // What each of those flows sent while the far capture ran.
    let role = &c.role[s.idx()];
    for l in inner.links.iter().filter(|l| l.sent && l.outer != NONE) {
        let counted = role
            .get(l.outer as usize)
            .is_some_and(|&x| x == Role::Delivered as u8 || x == Role::Missing as u8);
        if let (true, Some(r)) = (counted, recs.get(l.inner as usize)) {
            if let Some(t) = flows.get_mut(&key(r)) {
                t.sent += 1;
            }
        }
    }
    let eps = &held.endpoints;
    let mut frames = Vec::new();
    let mut list: Vec<AffectedFlow> = flows
        .into_iter()
        .map(|((protocol, src, dst, echo_id), t)| {
            frames.extend_from_slice(&t.frames);
            AffectedFlow {
                protocol,
                src: eps.get(src),
                dst: eps.get(dst),
                echo_id,
                sent: t.sent,
                lost: t.lost,
                lost_sizes: t
                    .sizes
                    .iter()
                    .rev()
                    .map(|(&ip, &packets)| SizeCount { ip, packets })
                    .collect(),
                first_lost_frame: t.frames.iter().copied().min().unwrap_or(FrameNo(0)),
            }
        })
        .collect();
    list.sort_by(|a, b| {
        b.lost
            .cmp(&a.lost)
            .then(a.first_lost_frame.cmp(&b.first_lost_frame))
    });
    out.push(
        Finding::new(
            FindingKind::AffectedFlows {
                direction: dir.clone(),
                flows: list,
                unattributed,
            },
            Severity::Warning,
        )
        .with_frames(FrameRefs::new(s, inner.file_name(sender.name), frames)),
    );
}

/// The tunnel MTU the path allows, as the MTU findings computed it (the
/// smallest, with several).
fn path_tunnel_mtu(findings: &[Finding]) -> Option<u32> {
    findings
        .iter()
        .filter_map(|f| match &f.kind {
            FindingKind::MtuBlackhole { tunnel_mtu, .. } => Some(*tunnel_mtu),
            FindingKind::FragmentsDropped { mtu, .. } | FindingKind::FragmentedPath { mtu, .. } => {
                Some(mtu.tunnel_mtu)
            }
            FindingKind::PmtudWorking { mtu: Some(m), .. } => Some(m.tunnel_mtu),
            _ => None,
        })
        .min()
}

/// Inner TCP SYNs whose MSS + headers exceed the tunnel MTU the MTU
/// findings already in `out` computed; each SYN counted once, although
/// both ends show it.
pub(super) fn mss_too_large(out: &mut Vec<Finding>, caps: &[Capture<'_>]) {
    let Some(mtu) = path_tunnel_mtu(out) else {
        return;
    };
    let mut seen = HashSet::new();
    type Key = (crate::decode::Endpoint, crate::decode::Endpoint, u16, bool);
    let mut flows: BTreeMap<Key, u64> = BTreeMap::new();
    let mut refs = Vec::new();
    for cap in caps {
        let mut frames = Vec::new();
        let held = cap.facts.inner.records_of(cap.cap);
        for r in &held.records {
            let PacketKind::Tcp { flags, mss, id } = r.kind else {
                continue;
            };
            if !r.flags.has(Flags::TUNNEL_IF) || !flags.has(TcpFlags::SYN) || mss == 0 {
                continue;
            }
            let headers = if r.flags.has(Flags::IPV6) { 60 } else { 40 };
            if u32::from(mss) + headers <= mtu {
                continue;
            }
            frames.push(r.frame);
            let (src, dst) = (held.endpoints.get(r.src), held.endpoints.get(r.dst));
            if seen.insert((id, src, dst)) {
                *flows
                    .entry((src, dst, mss, flags.has(TcpFlags::ACK)))
                    .or_default() += 1;
            }
        }
        refs.push(FrameRefs::new(
            cap.side,
            cap.facts.inner.file_name(cap.name),
            frames,
        ));
    }
    if flows.is_empty() {
        return;
    }
    let mut f = Finding::new(
        FindingKind::TcpMssTooLarge {
            tunnel_mtu: mtu,
            mss_fits_v4: mtu.saturating_sub(40),
            mss_fits_v6: mtu.saturating_sub(60),
            flows: flows
                .into_iter()
                .map(|((src, dst, mss, syn_ack), syns)| MssFlow {
                    src,
                    dst,
                    mss,
                    syns,
                    syn_ack,
                })
                .collect(),
        },
        Severity::Warning,
    );
    for r in refs {
        f = f.with_frames(r);
    }
    out.push(f);
}

#[derive(Default)]
struct DstTally {
    dropped: u64,
    left: u64,
    sizes: Option<(u32, u32)>,
    largest_left: Option<u32>,
    protocols: Vec<InnerProtocol>,
}

/// Inner packets `cap`'s host sent into the tunnel that no outer packet
/// carried out of it. Only for a capture that shows both layers (some
/// inner packet did leave as an outer one), so the NIC is in it.
pub(super) fn local_drop(out: &mut Vec<Finding>, cap: Capture<'_>) {
    let inner = &cap.facts.inner;
    let left = || inner.links.iter().filter(|l| l.sent && l.outer != NONE);
    if left().next().is_none() {
        return;
    }
    let dropped: Vec<u32> = inner.never_left(cap.cap).collect();
    if dropped.is_empty() {
        return;
    }
    let held = inner.records_of(cap.cap);
    let (recs, eps) = (&held.records, &held.endpoints);
    let dst_of = |i: u32| recs.get(i as usize).map(|r| (r, eps.get(r.dst).ip));
    let mut by_dst: BTreeMap<IpAddr, DstTally> = BTreeMap::new();
    let mut frames = Vec::new();
    for &i in &dropped {
        let Some((r, ip)) = dst_of(i) else { continue };
        let t = by_dst.entry(ip).or_default();
        t.dropped += 1;
        t.sizes = Some(t.sizes.map_or((r.ip_len, r.ip_len), |(lo, hi)| {
            (lo.min(r.ip_len), hi.max(r.ip_len))
        }));
        let p = protocol(r);
        if !t.protocols.contains(&p) {
            t.protocols.push(p);
        }
        frames.push(r.frame);
    }
    for l in left() {
        if let Some((r, ip)) = dst_of(l.inner) {
            if let Some(t) = by_dst.get_mut(&ip) {
                t.left += 1;
                t.largest_left = Some(t.largest_left.map_or(r.ip_len, |m| m.max(r.ip_len)));
            }
        }
    }
    let groups: Vec<LocalDropGroup> = by_dst
        .into_iter()
        .map(|(dst, mut t)| {
            let sizes = t.sizes.unwrap_or((0, 0));
            let cause = match t.largest_left {
                None => LocalDropCause::NoPeer,
                Some(m) if sizes.0 > m => LocalDropCause::TooBig,
                Some(_) => LocalDropCause::Intermittent,
            };
            t.protocols.sort();
            LocalDropGroup {
                dst,
                cause,
                dropped: t.dropped,
                left: t.left,
                sizes_ip: sizes,
                largest_left_ip: t.largest_left,
                protocols: t.protocols,
            }
        })
        .collect();
    out.push(
        Finding::new(
            FindingKind::LocalDrop {
                side: cap.side,
                file: cap.name.to_string(),
                dropped: dropped.len() as u64,
                sent: inner.links.iter().filter(|l| l.sent).count() as u64,
                groups,
            },
            Severity::Error,
        )
        .with_frames(FrameRefs::new(cap.side, inner.file_name(cap.name), frames)),
    );
}

/// Both captures' local drops.
pub(super) fn local_drops(out: &mut Vec<Finding>, caps: [Capture<'_>; 2]) {
    for s in [Side::A, Side::B] {
        local_drop(out, caps[s.idx()]);
    }
}
