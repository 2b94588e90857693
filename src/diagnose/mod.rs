//! Stage 5: facts and correlation to findings.
//!
//! Each detector is a function of the evidence that returns findings; none
//! prints. [`diagnose_pair`] works on two captures of one tunnel,
//! [`diagnose_single`] on one, saying what the other end would settle.

mod finding;
pub mod stats;

pub use finding::{
    DirRef, Finding, FindingKind, FrameRefs, HandshakeFate, IpVersion, Severity, SizeTest,
    WireSize, MAX_FRAMES,
};

use crate::capture::{FrameNo, Timestamp};
use crate::correlate::{looks_locally_sent, Correlation, Direction, Role, SentPacket, Side};
use crate::decode::{DecodedCapture, Endpoint, Flags, PacketKind};
use crate::flow::{CaptureFacts, MartianReason, PmtuSignal};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

/// One capture with its facts and display name.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    /// File name used in reports.
    pub name: &'a str,
    /// Decoded records.
    pub cap: &'a DecodedCapture,
    /// Facts.
    pub facts: &'a CaptureFacts,
}

/// Significance level of the size test.
pub const P_MAX: f64 = 0.001;
/// Lost big packets needed to call a blackhole.
pub const MIN_BIG_LOST: u64 = 3;

fn dir_ref(d: &Direction) -> DirRef {
    DirRef {
        from: d.from.clone(),
        to: d.to.clone(),
    }
}

fn ip_filter(ip: IpAddr, field: &str) -> String {
    match ip {
        IpAddr::V4(a) => format!("ip.{field} == {a}"),
        IpAddr::V6(a) => format!("ipv6.{field} == {a}"),
    }
}

/// A blackhole found by the size test: threshold and the numbers around it.
#[derive(Debug, Clone)]
struct Blackhole {
    threshold_ip: u32,
    test: SizeTest,
}

/// Whole (unfragmented) packets of one IP size that a direction sent.
#[derive(Debug, Clone, Copy, Default)]
struct SizeTally {
    sent: u64,
    lost: u64,
    /// UDP payload size of the last one delivered.
    delivered_udp: Option<u16>,
}

/// What one pass over a direction's sent packets tells every detector.
///
/// The sent packets are not stored (wgtrace's memory stays per record):
/// one pass counts them by size and keeps the indexes of the lost ones,
/// which are few next to the delivered.
#[derive(Debug, Default)]
struct SentSummary {
    /// Whole packets by IP size (fragmented ones left out: their size is not
    /// what crossed the path).
    by_ip: BTreeMap<u32, SizeTally>,
    /// Any packet sent over IPv6.
    v6: bool,
    /// Record indexes of the lost packets, in capture order.
    lost: Vec<u32>,
    /// Sent after the first PMTU signal: fragmented ones.
    fragmented_after: u64,
    /// Sent after the first PMTU signal: whole ones bigger than its MTU.
    too_big_after: u64,
}

/// One pass over the packets `side` sent; `signal` is the first PMTU
/// signal's time and MTU, for the counts after it.
fn summarize(
    c: &Correlation,
    side: Side,
    cap: &DecodedCapture,
    signal: Option<(Timestamp, u32)>,
) -> SentSummary {
    let mut sum = SentSummary::default();
    // Sizes repeat: count in a hash map, sort once at the end.
    let mut by_ip: HashMap<u32, SizeTally> = HashMap::default();
    for (i, (r, &role)) in cap.records.iter().zip(&c.role[side.idx()]).enumerate() {
        let delivered = role == Role::Delivered as u8;
        if !delivered && role != Role::Missing as u8 {
            continue;
        }
        let fragmented = r.flags.has(Flags::FIRST_FRAGMENT);
        sum.v6 |= r.flags.has(Flags::IPV6);
        if !delivered {
            sum.lost.push(i as u32);
        }
        if !fragmented {
            let t = by_ip.entry(r.ip_len).or_default();
            t.sent += 1;
            if delivered {
                t.delivered_udp = Some(r.udp_len);
            } else {
                t.lost += 1;
            }
        }
        if let Some((since, mtu)) = signal {
            if r.ts > since {
                if fragmented {
                    sum.fragmented_after += 1;
                } else if mtu > 0 && r.ip_len > mtu {
                    sum.too_big_after += 1;
                }
            }
        }
    }
    sum.by_ip = by_ip.into_iter().collect();
    sum
}

/// Finds the size threshold that best explains the losses of a direction.
///
/// Each candidate threshold costs one pass over the distinct sizes, not
/// over the packets.
fn size_test(by_size: &BTreeMap<u32, SizeTally>) -> Option<Blackhole> {
    let (total_sent, total_lost) = by_size
        .values()
        .fold((0, 0), |(s, l), t| (s + t.sent, l + t.lost));
    let mut best: Option<Blackhole> = None;
    // Walk thresholds from the smallest size up, keeping the counts below.
    let (mut sb, mut lb) = (0u64, 0u64);
    for (&t, tally) in by_size {
        let (sent, lost) = (tally.sent, tally.lost);
        if lost > 0 {
            let (sa, la) = (total_sent - sb, total_lost - lb);
            if la >= MIN_BIG_LOST && la * 10 >= sa * 9 && lb * 5 <= sb {
                let p = stats::fisher_greater(la, sa, lb, sb);
                if p < P_MAX && best.as_ref().is_none_or(|b| p < b.test.p_value) {
                    best = Some(Blackhole {
                        threshold_ip: t,
                        test: SizeTest {
                            sent_above: sa,
                            lost_above: la,
                            sent_below: sb,
                            lost_below: lb,
                            p_value: p,
                        },
                    });
                }
            }
        }
        sb += sent;
        lb += lost;
    }
    best
}

/// PMTU signals that reached a sender, about its own traffic.
fn signals_for<'a>(facts: &'a CaptureFacts, local: &[Endpoint]) -> Vec<&'a PmtuSignal> {
    let ips: HashSet<IpAddr> = local.iter().map(|e| e.ip).collect();
    facts
        .pmtu_signals
        .iter()
        .filter(|s| {
            s.quoted_from.is_some_and(|q| local.contains(&q))
                || (s.quoted_from.is_none() && ips.contains(&s.to))
                || (local.is_empty())
        })
        .collect()
}

fn round16(n: u32) -> u32 {
    n / 16 * 16
}

/// Tunnel MTU advice for a path-MTU lower bound.
fn mtu_fix(path_mtu_min: u32, v: IpVersion, upper: u32, basis: &str) -> String {
    let o = v.overhead();
    let mtu = path_mtu_min.saturating_sub(o);
    let r = round16(mtu);
    let round = if r != mtu {
        format!(" (or {r}, rounded down to a multiple of 16)")
    } else {
        String::new()
    };
    format!(
        "Set `MTU = {mtu}` in the [Interface] section of both peers' wg-quick configs{round}: \
         {path_mtu_min} ({basis}) − {o} ({} {} + UDP 8 + WireGuard 32) = {mtu}. \
         The path MTU is between {path_mtu_min} and {upper}; if you know the link's MTU P, use P − {o} \
         (e.g. a 1454-byte link gives 1454 − {o} = {}).",
        v.name(),
        if v == IpVersion::Ipv4 { 20 } else { 40 },
        1454u32.saturating_sub(o)
    )
}

/// Diagnoses two captures of one tunnel.
pub fn diagnose_pair(caps: [Capture<'_>; 2], c: &Correlation) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut blackhole_mtu: Vec<(u32, u32, IpVersion)> = Vec::new();
    for d in &c.directions {
        let s = d.from_side;
        let sender = caps[s.idx()];
        let receiver = caps[s.other().idx()];
        let local = &c.local[s.idx()];
        let signals = signals_for(sender.facts, local);
        let first_signal = (!signals.is_empty()).then(|| {
            let first_ts = signals.iter().map(|s| s.ts).min().unwrap_or_default();
            let mtu = signals
                .iter()
                .map(|s| s.mtu)
                .filter(|m| *m > 0)
                .min()
                .unwrap_or(0);
            (first_ts, mtu)
        });
        let sum = summarize(c, s, sender.cap, first_signal);
        let lost = || {
            sum.lost
                .iter()
                .filter_map(|&i| c.sent_packet(s, [caps[0].cap, caps[1].cap], i as usize))
        };
        let bh = size_test(&sum.by_ip);
        let v = if sum.v6 {
            IpVersion::Ipv6
        } else {
            IpVersion::Ipv4
        };
        // Whole packets at or above the blackhole's threshold that were lost,
        // rebuilt on demand (a blackhole can lose most of a direction).
        let big_lost = || {
            lost().filter(|p| {
                bh.as_ref()
                    .is_some_and(|b| !p.fragmented && p.ip_len >= b.threshold_ip)
            })
        };
        // One pass for their count, DF bits, smallest size and first frames.
        let mut big_lost_count = 0u64;
        let mut df = 0u64;
        let mut smallest: Option<WireSize> = None;
        let mut lost_frames = FrameRefs::ascending(&d.from, std::iter::empty());
        for p in big_lost() {
            big_lost_count += 1;
            df += u64::from(p.df);
            if smallest.is_none_or(|w| p.ip_len < w.ip) {
                smallest = Some(WireSize {
                    ip: p.ip_len,
                    udp: p.udp_len,
                });
            }
            if lost_frames.frames.len() < MAX_FRAMES {
                lost_frames.frames.push(p.frame);
            }
        }
        lost_frames.total = big_lost_count;
        if let Some(b) = &bh {
            let smallest = smallest.unwrap_or(WireSize {
                ip: b.threshold_ip,
                udp: 0,
            });
            let largest = sum
                .by_ip
                .range(..b.threshold_ip)
                .rev()
                .find_map(|(&ip, t)| t.delivered_udp.map(|udp| WireSize { ip, udp }));
            let floor = if v == IpVersion::Ipv6 { 1280 } else { 576 };
            let pmin = largest.map_or(floor, |l| l.ip);
            let pmax = smallest.ip.saturating_sub(1);
            let tunnel_mtu = pmin.saturating_sub(v.overhead());
            blackhole_mtu.push((pmin, pmax, v));
            let times: Vec<i64> = big_lost()
                .filter(|p| p.ip_len == smallest.ip || p.udp_len == smallest.udp)
                .map(|p| p.ts.0)
                .collect();
            let gaps = stats::backoff_gaps(&times);
            let delivered_txt = largest.map_or("none below it".to_string(), |l| {
                format!("{} bytes (IP {})", l.udp, l.ip)
            });
            let summary = format!(
                "{} of {} packets of {}+ bytes UDP payload (IP {}+) from {} to {} were lost, \
                 against {} of {} smaller ones (Fisher p = {:.1e}); largest delivered: {}; \
                 path MTU {}..{} ({}), so set tunnel MTU ≤ {} on both peers.{}",
                b.test.lost_above,
                b.test.sent_above,
                smallest.udp,
                smallest.ip,
                d.from,
                d.to,
                b.test.lost_below,
                b.test.sent_below,
                b.test.p_value,
                delivered_txt,
                pmin,
                pmax,
                v.name(),
                tunnel_mtu,
                if gaps.is_empty() {
                    String::new()
                } else {
                    let g: Vec<String> = gaps
                        .iter()
                        .map(|g| format!("{:.2} s", *g as f64 / 1000.0))
                        .collect();
                    format!(
                        " The sender retried them with growing gaps ({}).",
                        g.join(", ")
                    )
                }
            );
            out.push(Finding {
                kind: FindingKind::MtuBlackhole {
                    direction: dir_ref(d),
                    confirmed: true,
                    test: Some(b.test),
                    largest_delivered: largest,
                    smallest_lost: smallest,
                    path_mtu_min: pmin,
                    path_mtu_max: pmax,
                    underlay: v,
                    tunnel_mtu,
                    df_set: df,
                    big_lost: big_lost_count,
                    retry_gaps_ms: gaps,
                },
                severity: Severity::Error,
                summary,
                frames: vec![lost_frames.clone()],
                filter: Some(format!(
                    "udp && {} && ip.len >= {}",
                    local
                        .first()
                        .map_or("udp".to_string(), |e| ip_filter(e.ip, "src")),
                    smallest.ip
                )),
                fix: Some(mtu_fix(pmin, v, pmax, "largest IP packet that got through")),
            });
            if signals.is_empty() {
                out.push(Finding {
                    kind: FindingKind::IcmpFragNeededAbsent {
                        direction: dir_ref(d),
                        big_lost: big_lost_count,
                        df_set: df,
                    },
                    severity: Severity::Error,
                    summary: format!(
                        "No ICMP fragmentation-needed / packet-too-big reached {} although {} big packets \
                         ({} with DF set{}) to {} were dropped on the way: path-MTU discovery cannot work.",
                        d.from,
                        big_lost_count,
                        df,
                        if df > 0 { ", as wireguard-go sets it" } else { "" },
                        d.to
                    ),
                    frames: vec![lost_frames],
                    filter: Some("icmp.type == 3 && icmp.code == 4 || icmpv6.type == 2".into()),
                    fix: Some(
                        "Let ICMP fragmentation-needed (IPv4 type 3 code 4) / packet-too-big (ICMPv6 type 2) \
                         through the routers and firewalls on the path, or lower the tunnel MTU as above."
                            .into(),
                    ),
                });
            }
        }
        if let Some((_, mtu)) = first_signal {
            let fragmented_after = sum.fragmented_after;
            let too_big = sum.too_big_after;
            let severity = if too_big == 0 {
                Severity::Info
            } else {
                Severity::Warning
            };
            let tail = if too_big == 0 {
                format!(
                    "later packets were {} (fragmented: {fragmented_after}).",
                    if fragmented_after > 0 {
                        "fragmented to fit"
                    } else {
                        "small enough"
                    }
                )
            } else {
                format!(
                    "but {} packets bigger than {mtu} were still sent whole afterwards.",
                    too_big
                )
            };
            out.push(Finding {
                kind: FindingKind::PmtudWorking {
                    direction: dir_ref(d),
                    icmp: signals.len() as u64,
                    announced_mtu: mtu,
                    fragmented_after,
                    too_big_after: too_big,
                },
                severity,
                summary: format!(
                    "{} ICMP fragmentation-needed / packet-too-big (MTU {mtu}) reached {}; {tail}",
                    signals.len(),
                    d.from
                ),
                frames: vec![FrameRefs::new(&d.from, signals.iter().map(|s| s.frame))],
                filter: Some("icmp.type == 3 && icmp.code == 4 || icmpv6.type == 2".into()),
                fix: if too_big == 0 {
                    None
                } else {
                    Some(format!(
                        "The sender ignores the ICMP; set the tunnel MTU to {} − {} = {} on both peers.",
                        mtu,
                        v.overhead(),
                        mtu.saturating_sub(v.overhead())
                    ))
                },
            });
        }
        // Loss not explained by size or PMTUD.
        let explained = |p: &SentPacket| {
            !p.fragmented
                && (bh.as_ref().is_some_and(|b| p.ip_len >= b.threshold_ip)
                    || first_signal.is_some_and(|(_, mtu)| mtu > 0 && p.ip_len > mtu))
        };
        let unexplained =
            FrameRefs::ascending(&d.from, lost().filter(|p| !explained(p)).map(|p| p.frame));
        let unexplained_count = unexplained.total;
        if unexplained_count > 0 {
            let drops = receiver.facts.capture_drops.unwrap_or(0);
            if drops >= unexplained_count {
                out.push(capture_drops_finding(
                    receiver.name,
                    Some(drops),
                    0,
                    Vec::new(),
                ));
            } else {
                let lost = unexplained_count;
                let percent = 100.0 * lost as f64 / d.sent.max(1) as f64;
                out.push(Finding {
                    kind: FindingKind::RandomLoss {
                        direction: dir_ref(d),
                        lost,
                        sent: d.sent,
                        percent,
                    },
                    severity: Severity::Warning,
                    summary: format!(
                        "{lost} of {} packets from {} to {} were lost ({percent:.1}%), at sizes \
                         that otherwise arrive: loss on the path not explained by size.",
                        d.sent, d.from, d.to
                    ),
                    frames: vec![unexplained],
                    filter: None,
                    fix: Some(
                        "Look for congestion, a bad link or a rate limit between the ends \
                         (mtr, interface error counters)."
                            .into(),
                    ),
                });
            }
        }
    }
    // One tunnel MTU for both peers: the tightest bracket over both directions.
    if blackhole_mtu.len() > 1 {
        let pmin = blackhole_mtu.iter().map(|b| b.0).min().unwrap_or(0);
        let pmax = blackhole_mtu.iter().map(|b| b.1).min().unwrap_or(0);
        let v = blackhole_mtu
            .iter()
            .map(|b| b.2)
            .find(|v| *v == IpVersion::Ipv6)
            .unwrap_or(IpVersion::Ipv4);
        let fix = mtu_fix(pmin, v, pmax, "largest IP packet that got through");
        for f in &mut out {
            if let FindingKind::MtuBlackhole { tunnel_mtu, .. } = &mut f.kind {
                *tunnel_mtu = pmin.saturating_sub(v.overhead());
                f.fix = Some(fix.clone());
            }
        }
    }
    // Capture drops: statistics, or packets received that the sender's capture lacks.
    for s in [Side::A, Side::B] {
        let cap = caps[s.idx()];
        let reported = cap.facts.capture_drops.filter(|d| *d > 0);
        let unexpl = &c.unexplained[s.other().idx()];
        let already = out
            .iter()
            .any(|f| matches!(&f.kind, FindingKind::CaptureDrops { file, .. } if file == cap.name));
        if !already && (reported.is_some() || unexpl.packets > 0) {
            out.push(capture_drops_finding(
                cap.name,
                reported,
                unexpl.packets,
                unexpl.frames.clone(),
            ));
        }
    }
    // Handshakes.
    for s in [Side::A, Side::B] {
        handshakes(
            &mut out,
            caps[s.idx()],
            Some(caps[s.other().idx()]),
            &c.local[s.idx()],
        );
    }
    // Martians.
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
        martians(&mut out, cap, addressed);
    }
    // NAT.
    let rewritten: Vec<_> = c.nat.iter().filter(|m| m.rewritten()).cloned().collect();
    if !rewritten.is_empty() {
        let first = &rewritten[0];
        let summary = format!(
            "NAT between the ends: {} → {} at {} arrives as {} → {} at {}{}.",
            first.sent_src,
            first.sent_dst,
            c.names[first.from_side.idx()],
            first.recv_src,
            first.recv_dst,
            c.names[first.from_side.other().idx()],
            if rewritten.len() > 1 {
                format!(" ({} mappings in all)", rewritten.len())
            } else {
                String::new()
            }
        );
        out.push(Finding {
            kind: FindingKind::NatRewrite {
                mappings: rewritten.into_iter().take(MAX_FRAMES).collect(),
            },
            severity: Severity::Info,
            summary,
            frames: Vec::new(),
            filter: None,
            fix: None,
        });
    }
    let missing = c.directions.iter().map(|d| d.missing).sum();
    finish(out, c.matched, missing)
}

fn capture_drops_finding(
    name: &str,
    reported: Option<u64>,
    unexplained: u64,
    frames: Vec<FrameNo>,
) -> Finding {
    let what = match (reported, unexplained) {
        (Some(r), 0) => format!("{name} reports {r} packets dropped by the capture itself"),
        (Some(r), u) => format!(
            "{name} reports {r} packets dropped by the capture itself, and {u} packets the other end received do not appear in it"
        ),
        (None, u) => format!(
            "{u} packets the other end received do not appear in {name}: the capture itself missed them"
        ),
    };
    Finding {
        kind: FindingKind::CaptureDrops {
            file: name.to_string(),
            reported,
            unexplained,
        },
        severity: Severity::Warning,
        summary: format!("{what}; losses counted at that end may be capture artefacts."),
        frames: if frames.is_empty() {
            Vec::new()
        } else {
            vec![FrameRefs::new(name, frames)]
        },
        filter: None,
        fix: Some(
            "Capture with a bigger buffer (tcpdump -B 8192), a snap length (-s 128) and write to a fast disk."
                .into(),
        ),
    }
}

fn handshakes(
    out: &mut Vec<Finding>,
    init: Capture<'_>,
    other: Option<Capture<'_>>,
    local: &[Endpoint],
) {
    let sessions = &init.facts.sessions;
    if sessions.unanswered.is_empty() {
        // Nothing to explain; spare the pass over the other capture.
        return;
    }
    // Initiations the responder's capture shows arriving with source == destination.
    let martian_at_other = other.is_some_and(|o| {
        o.facts
            .martians
            .iter()
            .any(|m| m.reason == MartianReason::SameSrcDst && m.wg_initiations > 0)
    });
    // Frame -> record, to tell initiations this host sent from ones it only saw.
    let sent_here = |f: FrameNo| -> bool {
        let i = (f.0 as usize).saturating_sub(1);
        init.cap
            .records
            .get(i)
            .filter(|r| r.frame == f)
            .or_else(|| init.cap.records.iter().find(|r| r.frame == f))
            .is_some_and(looks_locally_sent)
    };
    // Index of the other capture's handshake messages.
    let mut seen_init: HashSet<u32> = HashSet::new();
    let mut answered: HashSet<u32> = HashSet::new();
    let mut other_span: Option<(i64, i64)> = None;
    if let Some(o) = other {
        for r in &o.cap.records {
            match r.kind {
                PacketKind::WgInitiation { sender, .. } => {
                    seen_init.insert(sender.0);
                }
                PacketKind::WgResponse { receiver, .. } => {
                    answered.insert(receiver.0);
                }
                _ => {}
            }
        }
        other_span = o
            .facts
            .first_ts
            .zip(o.facts.last_ts)
            .map(|(a, b)| (a.0, b.0));
    }
    for u in &sessions.unanswered {
        // Recovered later by a completed handshake from the same initiator: not a problem.
        let last = u.frames.iter().max().copied().unwrap_or(FrameNo(0));
        let recovered = sessions.sessions.iter().any(|s| {
            s.handshake_seen
                && s.response_frame.is_some_and(|f| f > last)
                && s.sides[0].endpoints.contains(&u.from)
        });
        if recovered && u.initiations < 3 {
            continue;
        }
        // Only the initiator's own initiations (not ones it saw pass or arrive).
        let ours = if local.is_empty() {
            u.frames.iter().any(|f| sent_here(*f))
        } else {
            local.contains(&u.from)
        };
        if !ours {
            continue;
        }
        let mut fate = HandshakeFate::default();
        for ix in &u.sender_indexes {
            match other {
                None => fate.unknown += 1,
                Some(_) => {
                    if answered.contains(&ix.0) {
                        fate.response_lost += 1;
                    } else if seen_init.contains(&ix.0) {
                        fate.not_answered += 1;
                    } else if other_span.is_some() {
                        fate.never_arrived += 1;
                    } else {
                        fate.unknown += 1;
                    }
                }
            }
        }
        let mut parts = Vec::new();
        if fate.never_arrived > 0 {
            parts.push(format!(
                "{} never arrived at the responder's capture (path blocked)",
                fate.never_arrived
            ));
        }
        if fate.not_answered > 0 && martian_at_other {
            parts.push(format!(
                "{} arrived at the responder with source == destination, were dropped there as martians, \
                 and no handshake response was ever sent (see martian_same_src_dst)",
                fate.not_answered
            ));
        } else if fate.not_answered > 0 {
            parts.push(format!(
                "{} arrived but were never answered (key or config mismatch at the responder, or dropped there)",
                fate.not_answered
            ));
        }
        if fate.response_lost > 0 {
            parts.push(format!(
                "{} were answered but the response never came back",
                fate.response_lost
            ));
        }
        if fate.unknown > 0 {
            parts.push(format!(
                "{} unknown: a capture at the responder would tell whether they arrive and are answered",
                fate.unknown
            ));
        }
        let fix = if fate.not_answered > 0 && martian_at_other {
            ""
        } else if fate.not_answered > 0 {
            "Check that each peer's [Peer] PublicKey is the other's actual public key (wg show), \
             and the responder's firewall and martian logs (dmesg)."
        } else if fate.never_arrived > 0 {
            "Something between the peers blocks the initiator's UDP: check the Endpoint address and port, \
             port forwarding and firewalls."
        } else if fate.response_lost > 0 {
            "The return path drops the responses: check NAT and firewall state on the way back."
        } else {
            "Capture at the responder too and run `wgtrace analyze` on both files."
        };
        out.push(Finding {
            kind: FindingKind::HandshakeUnanswered {
                file: init.name.to_string(),
                from: u.from,
                to: u.to,
                initiations: u.initiations,
                fate,
                cookie_replies: u.cookie_replies,
            },
            severity: Severity::Error,
            summary: format!(
                "{} handshake initiations from {} to {} got no response: {}.",
                u.initiations,
                u.from,
                u.to,
                parts.join("; ")
            ),
            frames: vec![FrameRefs::new(init.name, u.frames.iter().copied())],
            filter: Some(format!("wg.type == 1 && {}", ip_filter(u.from.ip, "src"))),
            // Where martians explain it, their finding carries the fix.
            fix: (!fix.is_empty()).then(|| fix.to_string()),
        });
    }
}

fn martians(out: &mut Vec<Finding>, cap: Capture<'_>, addressed: Option<Endpoint>) {
    for m in &cap.facts.martians {
        if m.reason == MartianReason::SameSrcDst {
            let fwd = addressed.map_or(String::new(), |a| format!(" (the sender addressed {a})"));
            out.push(Finding {
                kind: FindingKind::MartianSameSrcDst {
                    file: cap.name.to_string(),
                    endpoint: m.src,
                    dst: m.dst,
                    packets: m.packets,
                    wg_initiations: m.wg_initiations,
                    addressed,
                },
                severity: Severity::Error,
                summary: format!(
                    "{} packets ({} WireGuard handshake initiations) in {} have source == destination \
                     ({} → {}){fwd}: Linux drops these as martian packets. Hairpin NAT: one box \
                     SNATs (masquerades) them on the way out, another DNATs them back in.{}",
                    m.packets,
                    m.wg_initiations,
                    cap.name,
                    m.src,
                    m.dst,
                    if m.wg_initiations > 0 && cap.facts.wireguard.response == 0 {
                        " No handshake response was ever sent."
                    } else {
                        ""
                    }
                ),
                frames: vec![FrameRefs::new(cap.name, m.frames.iter().copied())],
                filter: Some(match m.src.ip {
                    IpAddr::V4(_) => "ip.src == ip.dst".to_string(),
                    IpAddr::V6(_) => "ipv6.src == ipv6.dst".to_string(),
                }),
                fix: Some(format!(
                    "Keep the WireGuard traffic local where it originates: on the box that masquerades, add a DNAT \
                     rule sending traffic for the public address{} straight to the server's LAN address \
                     (or point local clients at the server's LAN address), so it is never SNATed and DNATed back.",
                    addressed.map_or(String::new(), |a| format!(" ({a})"))
                )),
            });
        } else {
            out.push(Finding {
                kind: FindingKind::MartianSource {
                    file: cap.name.to_string(),
                    reason: m.reason,
                    src: m.src,
                    dst: m.dst,
                    packets: m.packets,
                },
                severity: Severity::Warning,
                summary: format!(
                    "{} packets in {} have a martian source ({:?}) {} → {}: Linux drops them on input.",
                    m.packets, cap.name, m.reason, m.src, m.dst
                ),
                frames: vec![FrameRefs::new(cap.name, m.frames.iter().copied())],
                filter: Some(ip_filter(m.src.ip, "src")),
                fix: None,
            });
        }
    }
}

/// Sorts findings (errors first) and adds `healthy` when nothing is wrong.
fn finish(mut out: Vec<Finding>, matched: u64, missing: u64) -> Vec<Finding> {
    out.sort_by_key(|f| f.severity);
    if !out
        .iter()
        .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
    {
        out.insert(
            0,
            Finding {
                kind: FindingKind::Healthy { matched, missing },
                severity: Severity::Info,
                summary: if missing == 0 {
                    format!("Nothing wrong: {matched} packets matched between the ends, none lost.")
                } else {
                    format!(
                        "Nothing wrong: {matched} packets matched between the ends; the {missing} lost are explained above."
                    )
                },
                frames: Vec::new(),
                filter: None,
                fix: None,
            },
        );
    }
    out
}

/// Diagnoses one capture alone.
pub fn diagnose_single(cap: Capture<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    // Locally sent WireGuard transport, by endpoint pair.
    let mut by_pair: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
    for (i, r) in cap.cap.records.iter().enumerate() {
        if matches!(r.kind, PacketKind::WgTransport { .. }) && looks_locally_sent(r) {
            by_pair.entry((r.src.0, r.dst.0)).or_default().push(i);
        }
    }
    let mut pairs: Vec<_> = by_pair.into_iter().collect();
    pairs.sort_by_key(|(k, _)| *k);
    for ((src, dst), idx) in pairs {
        let recs: Vec<_> = idx.iter().filter_map(|i| cap.cap.records.get(*i)).collect();
        let Some(max) = recs
            .iter()
            .filter(|r| !r.flags.has(crate::decode::Flags::FIRST_FRAGMENT))
            .map(|r| r.ip_len)
            .max()
        else {
            continue;
        };
        let big: Vec<_> = recs
            .iter()
            .filter(|r| r.ip_len == max && !r.flags.has(crate::decode::Flags::FIRST_FRAGMENT))
            .collect();
        let times: Vec<i64> = big.iter().map(|r| r.ts.0).collect();
        let gaps = stats::backoff_gaps(&times);
        if gaps.is_empty() || max < 576 {
            continue;
        }
        let eps = &cap.cap.endpoints;
        let (s, d) = (
            eps.get(crate::decode::EndpointId(src)),
            eps.get(crate::decode::EndpointId(dst)),
        );
        let v = if s.ip.is_ipv6() {
            IpVersion::Ipv6
        } else {
            IpVersion::Ipv4
        };
        let udp = big.first().map_or(0, |r| r.udp_len);
        let smaller = recs
            .iter()
            .filter(|r| r.ip_len < max)
            .map(|r| r.ip_len)
            .max();
        let pmin = smaller.unwrap_or(if v == IpVersion::Ipv6 { 1280 } else { 576 });
        let df = big
            .iter()
            .filter(|r| r.flags.has(crate::decode::Flags::DF))
            .count() as u64;
        let icmp = cap.facts.pmtu_signals.len();
        let gaps_txt: Vec<String> = gaps
            .iter()
            .map(|g| format!("{:.2} s", *g as f64 / 1000.0))
            .collect();
        let dir = DirRef {
            from: cap.name.to_string(),
            to: String::new(),
        };
        out.push(Finding {
            kind: FindingKind::MtuBlackhole {
                direction: dir.clone(),
                confirmed: false,
                test: None,
                largest_delivered: None,
                smallest_lost: WireSize { ip: max, udp },
                path_mtu_min: pmin,
                path_mtu_max: max.saturating_sub(1),
                underlay: v,
                tunnel_mtu: pmin.saturating_sub(v.overhead()),
                df_set: df,
                big_lost: big.len() as u64,
                retry_gaps_ms: gaps,
            },
            severity: Severity::Warning,
            summary: format!(
                "{} packets of {udp} bytes UDP payload (IP {max}) from {s} to {d} were sent again and again \
                 with growing gaps ({}): the signature of big packets lost on the path \
                 ({} ICMP fragmentation-needed seen). A capture at {} would show whether they arrive.",
                big.len(),
                gaps_txt.join(", "),
                icmp,
                d.ip
            ),
            frames: vec![FrameRefs::new(cap.name, big.iter().map(|r| r.frame))],
            filter: Some(format!("{} && ip.len == {max}", ip_filter(s.ip, "src"))),
            fix: Some(mtu_fix(
                pmin,
                v,
                max.saturating_sub(1),
                "largest smaller packet sent; only a capture of the other end shows it arrived",
            )),
        });
        if icmp == 0 {
            out.push(Finding {
                kind: FindingKind::IcmpFragNeededAbsent {
                    direction: dir,
                    big_lost: big.len() as u64,
                    df_set: df,
                },
                severity: Severity::Warning,
                summary: format!(
                    "No ICMP fragmentation-needed / packet-too-big reached {} while {} big packets ({df} with DF set) \
                     were retried.",
                    cap.name,
                    big.len()
                ),
                frames: Vec::new(),
                filter: Some("icmp.type == 3 && icmp.code == 4 || icmpv6.type == 2".into()),
                fix: None,
            });
        }
    }
    // ICMP that did arrive.
    if !cap.facts.pmtu_signals.is_empty() {
        let mtu = cap
            .facts
            .pmtu_signals
            .iter()
            .map(|s| s.mtu)
            .filter(|m| *m > 0)
            .min()
            .unwrap_or(0);
        out.push(Finding {
            kind: FindingKind::PmtudWorking {
                direction: DirRef {
                    from: cap.name.to_string(),
                    to: String::new(),
                },
                icmp: cap.facts.pmtu_signals.len() as u64,
                announced_mtu: mtu,
                fragmented_after: 0,
                too_big_after: 0,
            },
            severity: Severity::Info,
            summary: format!(
                "{} ICMP fragmentation-needed / packet-too-big (MTU {mtu}) reached {}.",
                cap.facts.pmtu_signals.len(),
                cap.name
            ),
            frames: vec![FrameRefs::new(
                cap.name,
                cap.facts.pmtu_signals.iter().map(|s| s.frame),
            )],
            filter: Some("icmp.type == 3 && icmp.code == 4 || icmpv6.type == 2".into()),
            fix: None,
        });
    }
    if let Some(d) = cap.facts.capture_drops.filter(|d| *d > 0) {
        out.push(capture_drops_finding(cap.name, Some(d), 0, Vec::new()));
    }
    handshakes(&mut out, cap, None, &[]);
    martians(&mut out, cap, None);
    let mut out = finish(out, 0, 0);
    for f in &mut out {
        if let FindingKind::Healthy { .. } = f.kind {
            f.summary = format!(
                "Nothing wrong in {} alone ({} WireGuard messages); a capture of the other end would show \
                 whether anything is lost on the way.",
                cap.name,
                cap.facts.wireguard.total()
            );
        }
    }
    out
}
