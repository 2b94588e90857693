//! Every place a report holds an address, for [`Addresses::map_addrs`].
//!
//! Each type lists its address fields; the compiler checks that every
//! variant of [`FindingKind`] is considered, so a new finding cannot leak an
//! address by being forgotten here.

use crate::correlate::{NatMapping, TunnelSelect};
use crate::decode::Endpoint;
use crate::diagnose::path::{Reflection, Rewrite};
use crate::diagnose::{
    AffectedFlow, DirRef, FindingKind, LocalDropGroup, MssFlow, OtherPeer, Roam, WgSeen,
};
use crate::flow::{
    CaptureFacts, EndpointChange, Martian, PmtuSignal, Session, SessionSide, Sessions,
    UnansweredHandshake, WgDirection,
};
use crate::report::analyze::{
    AnalyzeReport, CopiesReport, DirectionReport, ReportFinding, TunnelReport,
};
use crate::report::inspect::{CaptureEntry, InspectReport};
use crate::report::path::{HopReport, MartianReport, PathReport, ReflectionReport};
use crate::report::plots::{DirectionPlot, EventDetail, PlotData, TimelineEvent};
use std::net::IpAddr;

/// The map applied to each address.
pub type AddrMap<'a> = &'a dyn Fn(IpAddr) -> IpAddr;

/// A value holding IP addresses, which it can have rewritten in place.
pub trait Addresses {
    /// Replaces every address `self` holds by `m` of it.
    fn map_addrs(&mut self, m: AddrMap<'_>);
}

impl Addresses for IpAddr {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        *self = m(*self);
    }
}

impl Addresses for Endpoint {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        self.ip = m(self.ip);
    }
}

impl<T: Addresses> Addresses for Option<T> {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        if let Some(x) = self {
            x.map_addrs(m);
        }
    }
}

impl<T: Addresses> Addresses for Vec<T> {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        for x in self {
            x.map_addrs(m);
        }
    }
}

impl<T: Addresses, const N: usize> Addresses for [T; N] {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        for x in self {
            x.map_addrs(m);
        }
    }
}

impl<A: Addresses, B: Addresses> Addresses for (A, B) {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        self.0.map_addrs(m);
        self.1.map_addrs(m);
    }
}

impl<T: Addresses + ?Sized> Addresses for Box<T> {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        (**self).map_addrs(m);
    }
}

/// Implements [`Addresses`] for structs by their address-holding fields.
macro_rules! fields {
    ($($t:ty { $($f:ident),* $(,)? })*) => {
        $(impl Addresses for $t {
            fn map_addrs(&mut self, m: AddrMap<'_>) {
                $(self.$f.map_addrs(m);)*
            }
        })*
    };
}

fields! {
    DirRef { from_endpoint, to_endpoint }
    AffectedFlow { src, dst }
    MssFlow { src, dst }
    LocalDropGroup { dst }
    WgSeen { flows }
    OtherPeer { endpoint }
    Roam { from, to }
    NatMapping { sent_src, sent_dst, recv_src, recv_dst }
    WgDirection { from, to }
    PmtuSignal { router, to, quoted_from, quoted_to }
    Martian { src, dst }
    SessionSide { endpoints }
    EndpointChange { from, to }
    Session { sides, endpoint_changes }
    UnansweredHandshake { from, to }
    Sessions { sessions, unanswered }
    CaptureFacts { directions, sessions, pmtu_signals, martians }
    TunnelReport { local, remote }
    DirectionReport { from_endpoint, to_endpoint }
    ReportFinding { kind }
    PlotData { directions }
    DirectionPlot { events }
    TimelineEvent { detail }
    Rewrite { before_src, before_dst, after_src, after_dst }
    Reflection { before_src, before_dst, after_src, after_dst }
    ReflectionReport { reflection }
    MartianReport { src, dst }
    HopReport { rewritten, reflected, martians }
    PathReport { hops }
}

impl Addresses for InspectReport {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        self.captures.map_addrs(m);
        self.anonymized = true;
    }
}

/// A `--tunnel N` / `--peer ADDR[:PORT]` selector as the report writes it.
fn map_selector(text: &mut String, m: AddrMap<'_>) {
    let Some(peer) = text.strip_prefix("--peer ") else {
        return;
    };
    if let Ok(TunnelSelect::Peer { ip, port }) = peer.parse::<TunnelSelect>() {
        *text = TunnelSelect::Peer { ip: m(ip), port }.to_string();
    }
}

impl Addresses for EventDetail {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        match self {
            EventDetail::None => {}
            EventDetail::Flow { from, to } => {
                from.map_addrs(m);
                to.map_addrs(m);
            }
            EventDetail::Icmp { router, to, .. } => {
                router.map_addrs(m);
                to.map_addrs(m);
            }
            EventDetail::Martian { src, dst, .. } => {
                src.map_addrs(m);
                dst.map_addrs(m);
            }
        }
    }
}

impl Addresses for CaptureEntry {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        match self {
            CaptureEntry::Read(facts) => facts.map_addrs(m),
            CaptureEntry::Failed { .. } => {}
        }
    }
}

impl Addresses for FindingKind {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        use FindingKind as K;
        match self {
            K::MtuBlackhole { direction, .. }
            | K::IcmpFragNeededAbsent { direction, .. }
            | K::FragmentsDropped { direction, .. }
            | K::FragmentedPath { direction, .. }
            | K::PmtudWorking { direction, .. }
            | K::OneWayLoss { direction, .. }
            | K::RandomLoss { direction, .. } => direction.map_addrs(m),
            K::MartianSameSrcDst {
                endpoint,
                dst,
                addressed,
                ..
            } => {
                endpoint.map_addrs(m);
                dst.map_addrs(m);
                addressed.map_addrs(m);
            }
            K::MartianSource { src, dst, .. } => {
                src.map_addrs(m);
                dst.map_addrs(m);
            }
            K::HandshakeUnanswered { from, to, .. } | K::LargestPackets { from, to, .. } => {
                {
                    from.map_addrs(m);
                    to.map_addrs(m);
                };
            }
            K::EndpointRoaming { changes, .. } => changes.map_addrs(m),
            K::AffectedFlows {
                direction, flows, ..
            } => {
                direction.map_addrs(m);
                flows.map_addrs(m);
            }
            K::TcpMssTooLarge { flows, .. } => flows.map_addrs(m),
            K::LocalDrop { groups, .. } => groups.map_addrs(m),
            K::InnerPmtud {
                src, dst, router, ..
            } => {
                src.map_addrs(m);
                dst.map_addrs(m);
                router.map_addrs(m);
            }
            K::OtherPeers { peers, .. } => peers.map_addrs(m),
            K::NatRewrite { mappings } => mappings.map_addrs(m),
            K::PathNat { rewrites, .. } => rewrites.map_addrs(m),
            K::PathReflection { reflection } => reflection.map_addrs(m),
            K::PathMartian {
                src,
                dst,
                snat,
                dnat,
                reflected,
                ..
            } => {
                src.map_addrs(m);
                dst.map_addrs(m);
                snat.map_addrs(m);
                dnat.map_addrs(m);
                reflected.map_addrs(m);
            }
            K::PathLoss { .. }
            | K::PathOrder { .. }
            | K::PathHopSilent { .. }
            | K::PathHealthy { .. } => {}
            K::NoCommonTunnel { seen } => seen.map_addrs(m),
            K::TunnelNotFound { selector, tunnels } => {
                map_selector(selector, m);
                tunnels.map_addrs(m);
            }
            K::CaptureDrops { .. }
            | K::OffloadSuperpackets { .. }
            | K::SenderDf { .. }
            | K::CapturesDisjoint { .. }
            | K::SameCapture { .. }
            | K::NoWireguard { .. }
            | K::EmptyCapture { .. }
            | K::Healthy { .. } => {}
        }
    }
}

/// The whole report: its typed addresses, then its words written again from
/// them, and the mark that it is anonymised (`anonymized` in JSON, a note
/// beside the filters in the other formats).
impl Addresses for CopiesReport {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        self.reflected.map_addrs(m);
    }
}

impl Addresses for AnalyzeReport {
    fn map_addrs(&mut self, m: AddrMap<'_>) {
        self.findings.map_addrs(m);
        self.tunnels.map_addrs(m);
        self.directions.map_addrs(m);
        self.nat.map_addrs(m);
        self.copies.map_addrs(m);
        self.plots.map_addrs(m);
        self.path.map_addrs(m);
        if let Some(sel) = &mut self.selection {
            map_selector(sel, m);
        }
        self.anonymized = true;
        self.reword();
    }
}
