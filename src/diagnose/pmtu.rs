//! Path MTU: size-specific loss (blackholes), the ICMP that should have
//! reported it, and PMTU discovery that works only by fragmenting.

use super::direction::{Lost, SentSummary};
use super::finding::{
    DirRef, Finding, FindingKind, FrameRefs, IpVersion, MtuAdvice, MtuBasis, Severity, WireSize,
};
use super::mtu::{self, SizeTally, Threshold};
use super::{stats, Capture};
use crate::capture::Timestamp;
use crate::decode::{Endpoint, EndpointId, Flags, PacketKind};
use crate::flow::{CaptureFacts, PmtuSignal};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// PMTU signals that reached a sender, about its own traffic.
pub(super) fn signals_for<'a>(facts: &'a CaptureFacts, local: &[Endpoint]) -> Vec<&'a PmtuSignal> {
    let ips: HashSet<IpAddr> = local.iter().map(|e| e.ip).collect();
    facts
        .pmtu_signals
        .iter()
        .filter(|s| {
            s.quoted_from.is_some_and(|q| local.contains(&q))
                || (s.quoted_from.is_none() && ips.contains(&s.to))
                || local.is_empty()
        })
        .collect()
}

/// The first signal's time and the smallest MTU announced (0: none given).
pub(super) fn first_signal(signals: &[&PmtuSignal]) -> Option<(Timestamp, u32)> {
    let first = signals.iter().map(|s| s.ts).min()?;
    let mtu = signals
        .iter()
        .map(|s| s.mtu)
        .filter(|m| *m > 0)
        .min()
        .unwrap_or(0);
    Some((first, mtu))
}

/// What the size test found in one direction, for the loss detectors.
pub(super) struct SizeVerdict {
    /// The blackhole's threshold, if one was found and reported.
    pub threshold: Option<u32>,
    /// An MTU the PMTU signals announced (packets above it are explained).
    pub announced: Option<u32>,
}

/// Size-specific loss in one direction of a pair: `mtu_blackhole` with
/// `icmp_frag_needed_absent`, or `pmtud_working`.
pub(super) fn direction(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    sum: &SentSummary,
    signals: &[&PmtuSignal],
    sender: Capture<'_>,
    lost: &Lost<'_>,
    carried: Option<u32>,
) -> SizeVerdict {
    let v = sum.underlay();
    let signal = first_signal(signals);
    let adapted = signal.is_some() && sum.too_big_after == 0;
    let threshold = if adapted {
        None
    } else {
        mtu::find_threshold(&sum.by_ip)
    };
    if let Some(t) = threshold {
        blackhole(
            out,
            dir,
            sum,
            t,
            signals.is_empty(),
            v,
            sender,
            lost,
            carried,
        );
    }
    if let Some((_, announced)) = signal {
        let lost_before = lost()
            .filter(|p| !p.fragmented && announced > 0 && p.ip_len > announced)
            .count() as u64;
        out.push(
            Finding::new(
                FindingKind::PmtudWorking {
                    direction: dir.clone(),
                    underlay: v,
                    icmp: signals.len() as u64,
                    announced_mtu: announced,
                    fragmented_after: sum.fragmented_after,
                    too_big_after: sum.too_big_after,
                    lost_before,
                    mtu: (announced > 0).then(|| mtu::from_announced(announced, v)),
                },
                Severity::Warning,
            )
            .with_frames(FrameRefs::new(
                sender.side,
                sender.name,
                signals.iter().map(|s| s.frame),
            )),
        );
    }
    SizeVerdict {
        threshold: threshold.map(|t| t.ip),
        announced: signal.map(|s| s.1).filter(|m| *m > 0),
    }
}

#[allow(clippy::too_many_arguments)]
fn blackhole(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    sum: &SentSummary,
    t: Threshold,
    no_icmp: bool,
    v: IpVersion,
    sender: Capture<'_>,
    lost: &Lost<'_>,
    carried: Option<u32>,
) {
    let big = || lost().filter(move |p| !p.fragmented && p.ip_len >= t.ip);
    let (mut count, mut df) = (0u64, 0u64);
    let mut frames = Vec::new();
    for p in big() {
        count += 1;
        df += u64::from(p.df);
        frames.push(p.frame);
    }
    let udp_of = |ip: u32| sum.by_ip.get(&ip).map_or(0, |s: &SizeTally| s.udp);
    let smallest = WireSize {
        ip: t.ip,
        udp: udp_of(t.ip),
    };
    let largest = t.largest_delivered.map(|ip| WireSize {
        ip,
        udp: udp_of(ip),
    });
    // A first fragment that arrived shows the path carried its size, and
    // the path MTU is below it plus the 8-byte fragment step.
    let advice = match carried {
        Some(f) if f < t.ip && t.largest_delivered.is_none_or(|d| d <= f) => {
            let mut a = mtu::advise(Some(f), f + 8, v);
            a.basis = MtuBasis::Fragment;
            a
        }
        _ => mtu::advise(t.largest_delivered, t.ip, v),
    };
    let times: Vec<i64> = big()
        .filter(|p| p.ip_len == smallest.ip)
        .map(|p| p.ts.0)
        .collect();
    let refs = FrameRefs::new(sender.side, sender.name, frames);
    out.push(
        Finding::new(
            FindingKind::MtuBlackhole {
                direction: dir.clone(),
                confirmed: true,
                test: Some(t.test),
                largest_delivered: largest,
                smallest_lost: smallest,
                path_mtu_min: t.largest_delivered.unwrap_or(0),
                path_mtu_max: t.ip.saturating_sub(1),
                underlay: v,
                tunnel_mtu: advice.tunnel_mtu,
                mtu: advice,
                df_set: df,
                big_lost: count,
                retry_gaps_ms: stats::backoff_gaps(&times),
            },
            Severity::Error,
        )
        .with_frames(refs.clone()),
    );
    // Without DF an IPv4 router fragments instead of answering with ICMP:
    // none is expected.
    if no_icmp && (v == IpVersion::Ipv6 || df > 0) {
        out.push(
            Finding::new(
                FindingKind::IcmpFragNeededAbsent {
                    direction: dir.clone(),
                    underlay: v,
                    big_lost: count,
                    df_set: df,
                },
                Severity::Error,
            )
            .with_frames(refs),
        );
    }
}

/// One tunnel MTU for both peers: where both directions have a blackhole,
/// the path MTU that both carry lies between the smaller of the largest
/// delivered sizes and the smaller of the smallest lost ones.
pub(super) fn one_mtu_for_both(out: &mut [Finding]) {
    let brackets: Vec<&MtuAdvice> = out
        .iter()
        .filter_map(|f| match &f.kind {
            FindingKind::MtuBlackhole { mtu, .. } => Some(mtu),
            _ => None,
        })
        .collect();
    if brackets.len() < 2 {
        return;
    }
    let delivered = brackets
        .iter()
        .map(|m| m.largest_delivered_ip)
        .collect::<Option<Vec<u32>>>()
        .and_then(|d| d.into_iter().min());
    let lost = brackets
        .iter()
        .map(|m| m.smallest_lost_ip)
        .min()
        .unwrap_or(0);
    let v = if brackets.iter().any(|m| m.underlay == IpVersion::Ipv6) {
        IpVersion::Ipv6
    } else {
        IpVersion::Ipv4
    };
    let both = mtu::advise(delivered, lost, v);
    for f in out {
        if let FindingKind::MtuBlackhole {
            tunnel_mtu, mtu, ..
        } = &mut f.kind
        {
            *tunnel_mtu = both.tunnel_mtu;
            *mtu = both.clone();
        }
    }
}

/// One capture: big packets the host sent again and again with growing gaps
/// (the sender's retries of what never arrived), per destination.
pub(super) fn retries_one_end(out: &mut Vec<Finding>, cap: Capture<'_>) {
    let mut by_pair: HashMap<(EndpointId, EndpointId), Vec<usize>> = HashMap::new();
    for (i, r) in cap.cap.records.iter().enumerate() {
        if matches!(r.kind, PacketKind::WgTransport { .. })
            && crate::correlate::looks_locally_sent(r)
        {
            by_pair.entry((r.src, r.dst)).or_default().push(i);
        }
    }
    let mut pairs: Vec<_> = by_pair.into_iter().collect();
    pairs.sort_by_key(|(k, _)| *k);
    for ((src, dst), idx) in pairs {
        let recs: Vec<_> = idx.iter().filter_map(|i| cap.cap.records.get(*i)).collect();
        // Whole packets of a known size (no fragments, no unsplit super-packets).
        let whole = || {
            recs.iter()
                .filter(|r| !r.flags.has(Flags::FIRST_FRAGMENT | Flags::SUPERPACKET))
        };
        let Some(max) = whole().map(|r| r.ip_len).max() else {
            continue;
        };
        let big: Vec<_> = whole().filter(|r| r.ip_len == max).collect();
        let times: Vec<i64> = big.iter().map(|r| r.ts.0).collect();
        let gaps = stats::backoff_gaps(&times);
        if gaps.is_empty() || max < 576 {
            continue;
        }
        let (s, d) = (cap.cap.endpoints.get(src), cap.cap.endpoints.get(dst));
        let v = if s.ip.is_ipv6() {
            IpVersion::Ipv6
        } else {
            IpVersion::Ipv4
        };
        let udp = big.first().map_or(0, |r| r.udp_len);
        let smaller = whole().map(|r| r.ip_len).filter(|l| *l < max).max();
        let mut advice = mtu::advise(smaller, max, v);
        advice.basis = MtuBasis::SentOnly;
        let df = big.iter().filter(|r| r.flags.has(Flags::DF)).count() as u64;
        let dir = DirRef {
            from_side: cap.side,
            from: cap.name.to_string(),
            to_side: None,
            to: String::new(),
            from_endpoint: Some(s),
            to_endpoint: Some(d),
        };
        let refs = FrameRefs::new(cap.side, cap.name, big.iter().map(|r| r.frame));
        out.push(
            Finding::new(
                FindingKind::MtuBlackhole {
                    direction: dir.clone(),
                    confirmed: false,
                    test: None,
                    largest_delivered: None,
                    smallest_lost: WireSize { ip: max, udp },
                    path_mtu_min: smaller.unwrap_or(0),
                    path_mtu_max: max.saturating_sub(1),
                    underlay: v,
                    tunnel_mtu: advice.tunnel_mtu,
                    mtu: advice,
                    df_set: df,
                    big_lost: big.len() as u64,
                    retry_gaps_ms: gaps,
                },
                Severity::Warning,
            )
            .with_frames(refs.clone()),
        );
        if cap.facts.pmtu_signals.is_empty() {
            out.push(
                Finding::new(
                    FindingKind::IcmpFragNeededAbsent {
                        direction: dir,
                        underlay: v,
                        big_lost: big.len() as u64,
                        df_set: df,
                    },
                    Severity::Warning,
                )
                .with_frames(refs),
            );
        }
    }
}

/// One capture: ICMP fragmentation-needed / packet-too-big that reached it.
pub(super) fn signals_one_end(out: &mut Vec<Finding>, cap: Capture<'_>) {
    let signals: Vec<&PmtuSignal> = cap.facts.pmtu_signals.iter().collect();
    let Some((_, announced)) = first_signal(&signals) else {
        return;
    };
    let v = if signals.iter().any(|s| s.v6) {
        IpVersion::Ipv6
    } else {
        IpVersion::Ipv4
    };
    let dir = DirRef {
        from_side: cap.side,
        from: cap.name.to_string(),
        to_side: None,
        to: String::new(),
        from_endpoint: None,
        to_endpoint: None,
    };
    // Whole vs fragmented packets this host sent after the first signal.
    let since = signals.iter().map(|s| s.ts).min().unwrap_or_default();
    let (mut fragmented_after, mut too_big_after) = (0u64, 0u64);
    for r in &cap.cap.records {
        if r.kind.is_wireguard() && r.ts > since && crate::correlate::looks_locally_sent(r) {
            if r.flags.has(Flags::FIRST_FRAGMENT) {
                fragmented_after += 1;
            } else if r.flags.has(Flags::SUPERPACKET) {
                // No message size.
            } else if announced > 0 && r.ip_len > announced {
                too_big_after += 1;
            }
        }
    }
    out.push(
        Finding::new(
            FindingKind::PmtudWorking {
                direction: dir,
                underlay: v,
                icmp: signals.len() as u64,
                announced_mtu: announced,
                fragmented_after,
                too_big_after,
                lost_before: 0,
                mtu: (announced > 0).then(|| mtu::from_announced(announced, v)),
            },
            Severity::Warning,
        )
        .with_frames(FrameRefs::new(
            cap.side,
            cap.name,
            signals.iter().map(|s| s.frame),
        )),
    );
}

/// One capture: per WireGuard direction, the largest whole packets and
/// their DF bits (info): what the path was asked to carry.
pub(super) fn largest_one_end(out: &mut Vec<Finding>, cap: Capture<'_>) {
    #[derive(Default)]
    struct Dir {
        max: u32,
        udp: u16,
        frames: Vec<crate::capture::FrameNo>,
        df: u64,
        fragmented: u64,
        sent_here: bool,
        v6: bool,
    }
    let mut dirs: HashMap<(EndpointId, EndpointId), Dir> = HashMap::new();
    for r in &cap.cap.records {
        if !matches!(r.kind, PacketKind::WgTransport { .. }) || r.flags.has(Flags::SUPERPACKET) {
            continue;
        }
        let d = dirs.entry((r.src, r.dst)).or_default();
        d.sent_here |= crate::correlate::looks_locally_sent(r);
        d.v6 |= r.flags.has(Flags::IPV6);
        if r.flags.has(Flags::FIRST_FRAGMENT) {
            d.fragmented += 1;
            continue;
        }
        if r.ip_len > d.max {
            (d.max, d.udp, d.df) = (r.ip_len, r.udp_len, 0);
            d.frames.clear();
        }
        if r.ip_len == d.max {
            d.frames.push(r.frame);
            d.df += u64::from(r.flags.has(Flags::DF));
        }
    }
    let mut dirs: Vec<_> = dirs.into_iter().filter(|(_, d)| d.max > 0).collect();
    dirs.sort_by_key(|(k, _)| *k);
    for ((src, dst), d) in dirs {
        out.push(
            Finding::new(
                FindingKind::LargestPackets {
                    side: cap.side,
                    file: cap.name.to_string(),
                    from: cap.cap.endpoints.get(src),
                    to: cap.cap.endpoints.get(dst),
                    sent_here: d.sent_here,
                    largest: WireSize {
                        ip: d.max,
                        udp: d.udp,
                    },
                    packets: d.frames.len() as u64,
                    df_set: d.df,
                    fragmented: d.fragmented,
                    underlay: if d.v6 {
                        IpVersion::Ipv6
                    } else {
                        IpVersion::Ipv4
                    },
                },
                Severity::Info,
            )
            .with_frames(FrameRefs::new(cap.side, cap.name, d.frames)),
        );
    }
}
