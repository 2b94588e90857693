//! Stage 5: facts and correlation to typed findings.
//!
//! Each detector is a function of the evidence that returns findings with
//! the frames that prove them; none prints or words anything (`report`
//! renders summaries, fixes and filters). [`diagnose_pair`] works on two
//! captures of one tunnel, first checking that they can be compared at all;
//! [`diagnose_single`] on one, saying what that end alone shows.

mod direction;
mod finding;
mod fragments;
mod handshake;
mod inner;
mod inner_pmtud;
mod loss;
mod martian;
pub mod mtu;
mod offload;
pub mod path;
mod peers;
mod pmtu;
mod scope;
mod sender;
pub mod stats;

pub use finding::{
    AffectedFlow, DirRef, Finding, FindingKind, FrameRefs, HandshakeFate, HandshakeView,
    Implementation, InnerIcmpSeen, InnerProtocol, InnerReaction, IpVersion, LocalDropCause,
    LocalDropGroup, LossBasis, MssFlow, MtuAdvice, MtuBasis, OtherPeer, Roam, Severity, SizeCount,
    SizeTest, Span, WgSeen, WireSize,
};
pub use path::{diagnose_path, Heading, HopEvidence, HopFlow, PathDiagnosis};

use crate::correlate::{Correlation, SentPacket, Side};
use crate::decode::{DecodedCapture, Endpoint};
use crate::flow::{CaptureFacts, MartianReason};
use std::net::IpAddr;

/// One capture with its facts, side and display name.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    /// Which input it is.
    pub side: Side,
    /// Display name: the shortest path suffix that tells the inputs apart.
    pub name: &'a str,
    /// Decoded records.
    pub cap: &'a DecodedCapture,
    /// Facts.
    pub facts: &'a CaptureFacts,
}

/// Diagnoses two captures of one tunnel.
pub fn diagnose_pair(caps: [Capture<'_>; 2], c: &Correlation) -> Vec<Finding> {
    let scope = scope::check(caps, c);
    if !scope.findings.is_empty() {
        let mut out = scope.findings;
        for s in scope.alone {
            out.extend(one_end(caps[s.idx()]));
        }
        return finish(out, None);
    }
    let mut out = Vec::new();
    // Each common tunnel on its own: its directions, findings and fix.
    let mut thresholds: [Option<u32>; 2] = [None, None];
    let views: Vec<std::borrow::Cow<'_, Correlation>> = if c.tunnels.len() <= 1 {
        vec![std::borrow::Cow::Borrowed(c)]
    } else {
        c.tunnels
            .iter()
            .map(|t| std::borrow::Cow::Owned(c.restrict(&[t.id])))
            .collect()
    };
    for v in &views {
        let matched_wg = if v.tunnels.is_empty() {
            scope.matched_wg
        } else {
            v.tunnels.iter().map(|t| t.matched_wg).sum()
        };
        let mut found = Vec::new();
        let th = tunnel(&mut found, caps, v, matched_wg);
        for (t, x) in thresholds.iter_mut().zip(th) {
            *t = match (*t, x) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let id = v.tunnels.first().map(|t| t.id);
        out.extend(found.into_iter().map(|mut f| {
            f.tunnel = id;
            f
        }));
    }
    let matched_wg = scope.matched_wg;
    inner::mss_too_large(&mut out, &caps);
    inner::local_drops(&mut out, caps);
    let arrived = inner_pmtud::arrived_in(c);
    let pair = inner_pmtud::PairView {
        offset_ns: c.clock.offset_ns,
        arrived: &arrived,
    };
    inner_pmtud::inner_pmtud(&mut out, &caps, Some(&pair));
    sender::pair(&mut out, caps, c);
    loss::capture_drops(&mut out, caps, c);
    for cap in caps {
        offload::superpackets(&mut out, cap);
    }
    for s in [Side::A, Side::B] {
        let offset = match s {
            Side::A => c.clock.offset_ns,
            Side::B => c.clock.offset_ns.saturating_neg(),
        };
        handshake::unanswered(
            &mut out,
            caps[s.idx()],
            Some(handshake::Other {
                cap: caps[s.other().idx()],
                offset_ns: offset,
            }),
            &c.local[s.idx()],
        );
    }
    // The endpoint the original sender addressed, for packets that arrive as martians.
    let martian_src: Vec<IpAddr> = caps
        .iter()
        .flat_map(|k| k.facts.martians.iter())
        .filter(|m| m.reason == MartianReason::SameSrcDst)
        .map(|m| m.src.ip)
        .collect();
    let addressed: Option<Endpoint> = c
        .nat
        .iter()
        .find(|m| martian_src.contains(&m.recv_src.ip) && m.rewritten())
        .map(|m| m.sent_dst);
    for cap in caps {
        martian::martians(&mut out, cap, addressed);
    }
    if matched_wg > 0 {
        peers::other_peers(&mut out, caps, c, thresholds);
    }
    for cap in caps {
        peers::roaming(&mut out, cap);
    }
    // Nothing in common and nothing found: the captures cannot tell.
    if matched_wg == 0 && !has_problem(&out) {
        out.push(scope::no_common_tunnel(caps));
    }
    let [ab, ba] = &c.directions;
    let healthy = FindingKind::Healthy {
        matched: c.matched,
        delivered_ab: ab.delivered,
        delivered_ba: ba.delivered,
        missing: ab.missing + ba.missing,
        window_seconds: c.window.end.0.saturating_sub(c.window.start.0) as f64 / 1e9,
        messages: 0,
        one_end: false,
    };
    finish(out, Some(healthy))
}

/// The findings of one tunnel (`c` restricted to it); returns the size
/// threshold found per sending side.
fn tunnel(
    out: &mut Vec<Finding>,
    caps: [Capture<'_>; 2],
    c: &Correlation,
    matched_wg: u64,
) -> [Option<u32>; 2] {
    let recs = [caps[0].cap, caps[1].cap];
    // Without one WireGuard message in both captures, nothing ties a packet
    // sent here to one missing there: no loss can be counted.
    let directions = if matched_wg > 0 {
        &c.directions[..]
    } else {
        &[]
    };
    let mut thresholds: [Option<u32>; 2] = [None, None];
    for d in directions {
        let s = d.from_side;
        let (sender, receiver) = (caps[s.idx()], caps[s.other().idx()]);
        let signals = pmtu::signals_for(sender.facts, &c.local[s.idx()]);
        let sum = direction::summarize(c, s, sender.cap, pmtu::first_signal(&signals));
        let dir = direction::dir_ref(caps, c, s);
        inner::affected_flows(out, &dir, c, sender, &sum.lost);
        let lost = || -> Box<dyn Iterator<Item = SentPacket> + '_> {
            Box::new(
                sum.lost
                    .iter()
                    .filter_map(move |&i| c.sent_packet(s, recs, i as usize)),
            )
        };
        let reverse = &c.directions[s.other().idx()];
        if loss::one_way(out, &dir, d, reverse, sender, &lost) {
            continue;
        }
        let carried = fragments::path(out, &dir, d, c, sender, receiver, sum.underlay());
        let sizes = pmtu::direction(out, &dir, &sum, &signals, sender, &lost, carried);
        thresholds[s.idx()] = sizes.threshold;
        let explained = |p: &SentPacket| {
            !p.fragmented
                && (sizes.threshold.is_some_and(|t| p.ip_len >= t)
                    || sizes.announced.is_some_and(|m| p.ip_len > m))
        };
        let dead = loss::one_way_sessions(out, &dir, reverse, &sum, sender);
        loss::random(
            out,
            &dir,
            d,
            sender,
            receiver,
            &mut sum
                .lost
                .iter()
                .filter(|i| !dead.contains(i))
                .filter_map(|&i| c.sent_packet(s, recs, i as usize))
                .filter(|p| !explained(p)),
        );
    }
    pmtu::one_mtu_for_both(out);
    let rewritten: Vec<_> = c.nat.iter().filter(|m| m.rewritten()).cloned().collect();
    if !rewritten.is_empty() {
        // The first packet of each mapping, at both ends.
        let mut f = Finding::new(
            FindingKind::NatRewrite {
                mappings: rewritten.clone(),
            },
            Severity::Info,
        );
        for s in [Side::A, Side::B] {
            let cap = caps[s.idx()];
            let frames = rewritten.iter().map(|m| {
                if m.from_side == s {
                    m.first_frames.0
                } else {
                    m.first_frames.1
                }
            });
            f = f.with_frames(FrameRefs::new(s, cap.name, frames));
        }
        out.push(f);
    }
    thresholds
}

/// What one capture alone shows.
fn one_end(cap: Capture<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    offload::superpackets(&mut out, cap);
    pmtu::retries_one_end(&mut out, cap);
    inner_pmtud::drop_explained_retries(&mut out, cap);
    pmtu::signals_one_end(&mut out, cap);
    loss::counter_gaps(&mut out, cap);
    fragments::lone_one_end(&mut out, cap);
    peers::roaming(&mut out, cap);
    if let Some(d) = cap.facts.capture_drops.filter(|d| *d > 0) {
        out.push(loss::drops_finding(cap, Some(d), 0, Vec::new()));
    }
    handshake::unanswered(&mut out, cap, None, &[]);
    martian::martians(&mut out, cap, None);
    pmtu::largest_one_end(&mut out, cap);
    sender::one_end(&mut out, cap);
    inner::mss_too_large(&mut out, &[cap]);
    inner::local_drop(&mut out, cap);
    inner_pmtud::inner_pmtud(&mut out, &[cap], None);
    out
}

fn has_problem(out: &[Finding]) -> bool {
    out.iter()
        .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
}

/// Sorts findings (errors first) and adds `healthy` when nothing is wrong
/// and nothing made the captures inconclusive.
fn finish(mut out: Vec<Finding>, healthy: Option<FindingKind>) -> Vec<Finding> {
    out.sort_by_key(|f| f.severity);
    let inconclusive = out.iter().any(|f| f.kind.is_inconclusive());
    if let Some(h) = healthy {
        if !has_problem(&out) && !inconclusive {
            out.insert(0, Finding::new(h, Severity::Info));
        }
    }
    out
}

/// Diagnoses one capture alone.
pub fn diagnose_single(cap: Capture<'_>) -> Vec<Finding> {
    if cap.facts.packets == 0 {
        return vec![Finding::new(
            FindingKind::EmptyCapture {
                side: cap.side,
                file: cap.name.to_string(),
            },
            Severity::Info,
        )];
    }
    if cap.facts.wireguard.total() == 0 {
        let mut out = scope::check_alone(cap);
        out.extend(one_end(cap));
        return finish(out, None);
    }
    let healthy = FindingKind::Healthy {
        matched: 0,
        delivered_ab: 0,
        delivered_ba: 0,
        missing: 0,
        window_seconds: 0.0,
        messages: cap.facts.wireguard.total(),
        one_end: true,
    };
    finish(one_end(cap), Some(healthy))
}
