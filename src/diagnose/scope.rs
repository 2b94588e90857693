//! Whether two captures can be compared at all: both hold packets and
//! WireGuard, they are not the same packets twice, and they share a tunnel
//! and a time. Otherwise the verdict is `inconclusive`, saying why.

use super::finding::{Finding, FindingKind, Severity, Span, WgSeen};
use super::Capture;
use crate::capture::LinkType;
use crate::correlate::{Correlation, Side, DUPLICATE};
use crate::decode::{Endpoint, Flags};
use std::collections::HashSet;

/// Why a pair cannot be compared, and which captures are still worth
/// analysing alone.
pub(super) struct Scope {
    /// Inconclusive findings (empty: the pair can be compared).
    pub findings: Vec<Finding>,
    /// Captures to analyse on their own instead.
    pub alone: Vec<Side>,
    /// WireGuard messages found in both captures.
    pub matched_wg: u64,
}

fn looks_like_tunnel_interface(cap: Capture<'_>) -> bool {
    let raw = |l: LinkType| matches!(l, LinkType(12 | 14 | 101) | LinkType::IPV4 | LinkType::IPV6);
    cap.facts.link_types.iter().any(|l| raw(*l))
        || cap
            .cap
            .records
            .iter()
            .any(|r| r.flags.has(Flags::TUNNEL_IF))
}

fn same_packets(caps: [Capture<'_>; 2]) -> bool {
    let (a, b) = (caps[0].cap, caps[1].cap);
    a.info.frames == b.info.frames
        && a.records.len() == b.records.len()
        && a.records.iter().zip(&b.records).all(|(x, y)| {
            x.ts == y.ts
                && x.frame == y.frame
                && x.ip_len == y.ip_len
                && x.kind == y.kind
                && x.ttl == y.ttl
                && a.endpoints.get(x.src) == b.endpoints.get(y.src)
                && a.endpoints.get(x.dst) == b.endpoints.get(y.dst)
        })
}

fn span(cap: Capture<'_>) -> Option<Span> {
    Some(Span {
        first: cap.facts.first_ts?,
        last: cap.facts.last_ts?,
    })
}

fn seen(cap: Capture<'_>) -> WgSeen {
    let mut flows: Vec<_> = cap
        .facts
        .directions
        .iter()
        .map(|d| (d.messages.total(), d.from, d.to))
        .collect();
    flows.sort_by(|x, y| y.0.cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    WgSeen {
        side: cap.side,
        file: cap.name.to_string(),
        flows: flows.iter().take(8).map(|f| (f.1, f.2)).collect(),
        sessions: cap.facts.sessions.sessions.len() as u64,
        messages: cap.facts.wireguard.total(),
    }
}

/// WireGuard messages found in both captures (one pass over A's records).
fn wireguard_matched(caps: [Capture<'_>; 2], c: &Correlation) -> u64 {
    c.partner[0]
        .iter()
        .zip(&caps[0].cap.records)
        .filter(|(p, r)| **p < DUPLICATE && r.kind.is_wireguard())
        .count() as u64
}

fn endpoints(cap: Capture<'_>) -> HashSet<Endpoint> {
    cap.facts
        .directions
        .iter()
        .flat_map(|d| [d.from, d.to])
        .collect()
}

/// Checks that the pair can be compared.
pub(super) fn check(caps: [Capture<'_>; 2], c: &Correlation) -> Scope {
    let mut findings = Vec::new();
    let has_wg = |cap: Capture<'_>| cap.facts.wireguard.total() > 0;
    for cap in caps {
        if cap.facts.packets == 0 {
            findings.push(Finding::new(
                FindingKind::EmptyCapture {
                    side: cap.side,
                    file: cap.name.to_string(),
                },
                Severity::Info,
            ));
        } else if !has_wg(cap) {
            findings.extend(check_alone(cap));
        }
    }
    if !findings.is_empty() {
        let alone = caps
            .iter()
            .filter(|k| has_wg(**k))
            .map(|k| k.side)
            .collect();
        return Scope {
            findings,
            alone,
            matched_wg: 0,
        };
    }
    if same_packets(caps) {
        return Scope {
            findings: vec![Finding::new(
                FindingKind::SameCapture {
                    packets: caps[0].facts.packets,
                },
                Severity::Info,
            )],
            alone: vec![Side::A],
            matched_wg: 0,
        };
    }
    let matched_wg = wireguard_matched(caps, c);
    if matched_wg > 0 {
        return Scope {
            findings: Vec::new(),
            alone: Vec::new(),
            matched_wg,
        };
    }
    let both = vec![Side::A, Side::B];
    match (span(caps[0]), span(caps[1])) {
        (Some(a), Some(b)) if a.last < b.first || b.last < a.first => {
            let gap_ns = if a.last < b.first {
                b.first.0.saturating_sub(a.last.0)
            } else {
                a.first.0.saturating_sub(b.last.0)
            };
            return Scope {
                findings: vec![Finding::new(
                    FindingKind::CapturesDisjoint { a, b, gap_ns },
                    Severity::Info,
                )],
                alone: both,
                matched_wg,
            };
        }
        _ => {}
    }
    // Overlapping, nothing in common: the same tunnel only if they share an
    // endpoint (then the path drops everything, which the detectors say).
    let shared = endpoints(caps[0])
        .intersection(&endpoints(caps[1]))
        .next()
        .is_some();
    if shared {
        return Scope {
            findings: Vec::new(),
            alone: Vec::new(),
            matched_wg,
        };
    }
    Scope {
        findings: vec![no_common_tunnel(caps)],
        alone: both,
        matched_wg,
    }
}

/// `no_common_tunnel` with what each capture holds.
pub(super) fn no_common_tunnel(caps: [Capture<'_>; 2]) -> Finding {
    Finding::new(
        FindingKind::NoCommonTunnel {
            seen: caps.iter().map(|c| seen(*c)).collect(),
        },
        Severity::Info,
    )
}

/// `no_wireguard` for a capture analysed alone.
pub(super) fn check_alone(cap: Capture<'_>) -> Vec<Finding> {
    vec![Finding::new(
        FindingKind::NoWireguard {
            side: cap.side,
            file: cap.name.to_string(),
            packets: cap.facts.packets,
            tunnel_interface: looks_like_tunnel_interface(cap),
        },
        Severity::Info,
    )]
}
