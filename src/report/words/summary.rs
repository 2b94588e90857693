//! Summaries: one sentence per finding, with its numbers.

use super::super::utc;
use super::ep;
use crate::diagnose::{
    DirRef, Finding, FindingKind, HandshakeView, Implementation, IpVersion, LossBasis, SizeTest,
    WgSeen,
};
use crate::flow::MartianReason;
use std::fmt::Write as _;
/// The summary of `f`; `all` is every finding of the report (some words
/// depend on what else was found), `names` the captures' display names.
pub fn summary(f: &Finding, all: &[Finding], names: &[String]) -> String {
    use FindingKind as K;
    match &f.kind {
        K::MtuBlackhole {
            direction,
            confirmed: true,
            test,
            largest_delivered,
            smallest_lost,
            path_mtu_min,
            path_mtu_max,
            underlay,
            retry_gaps_ms,
            ..
        } => {
            let mut s = String::new();
            if let Some(t) = test {
                let _ = write!(
                    s,
                    "{} of {} packets of {}+ bytes UDP payload (IP {}+) from {} to {} were lost, \
                     against {} of {} smaller ones ({});",
                    t.lost_above,
                    t.sent_above,
                    smallest_lost.udp,
                    smallest_lost.ip,
                    direction.from,
                    direction.to,
                    t.lost_below,
                    t.sent_below,
                    p_text(t)
                );
            }
            match largest_delivered {
                Some(d) => {
                    let _ = write!(
                        s,
                        " largest delivered: {} bytes (IP {}); the {} path MTU is {}..{} bytes.",
                        d.udp,
                        d.ip,
                        underlay.name(),
                        path_mtu_min,
                        path_mtu_max
                    );
                }
                None => {
                    let _ = write!(s, " no smaller packet was sent to compare.");
                }
            }
            s.push_str(&gaps_text(retry_gaps_ms));
            s
        }
        K::MtuBlackhole {
            direction,
            smallest_lost,
            big_lost,
            retry_gaps_ms,
            ..
        } => format!(
            "From {} alone: {} packets of {} bytes UDP payload (IP {}) from {} to {} were sent again \
             and again with growing gaps ({}): the signature of big packets lost on the path. \
             A capture at {} would show whether they arrive.",
            direction.from,
            big_lost,
            smallest_lost.udp,
            smallest_lost.ip,
            ep(direction.from_endpoint),
            ep(direction.to_endpoint),
            gaps_list(retry_gaps_ms),
            direction
                .to_endpoint
                .map_or("the other end".to_string(), |e| e.ip.to_string())
        ),
        K::IcmpFragNeededAbsent {
            direction,
            underlay,
            big_lost,
            df_set,
        } => {
            let who = if direction.to.is_empty() {
                format!("{} (seen from it alone)", direction.from)
            } else {
                direction.from.clone()
            };
            match underlay {
                IpVersion::Ipv4 => format!(
                    "No ICMP fragmentation-needed reached {who} although {big_lost} big packets ({df_set} with \
                     DF set) to {} were lost on the way: path-MTU discovery cannot work.",
                    to_name(direction)
                ),
                IpVersion::Ipv6 => format!(
                    "No ICMPv6 packet-too-big reached {who} although {big_lost} big packets to {} were lost \
                     on the way: path-MTU discovery cannot work (IPv6 routers never fragment).",
                    to_name(direction)
                ),
            }
        }
        K::FragmentsDropped {
            direction,
            datagrams,
            sizes_ip,
            first_fragment,
            ..
        } if direction.from.is_empty() => format!(
            "From {} alone: {datagrams} datagrams from {} (IP sizes {}..{}) arrived as a first fragment only \
             (up to {first_fragment} bytes: the path MTU is {first_fragment}..{}); their other fragments never \
             came, so they were lost. Something on the way drops non-first fragments.",
            direction.to,
            ep(direction.from_endpoint),
            sizes_ip.0,
            sizes_ip.1,
            first_fragment + 7
        ),
        K::FragmentsDropped {
            direction,
            datagrams,
            fragmented,
            sizes_ip,
            first_fragment,
            df_set,
            ..
        } => format!(
            "{datagrams} of the {fragmented} packets from {} to {} that the path fragmented never arrived whole: \
             their first fragment reached {} (up to {first_fragment} bytes: the path MTU is {first_fragment}..{}), \
             another fragment did not. They were sent whole at IP sizes {}..{}{}; something between the ends \
             drops non-first fragments (a firewall, a NAT or carrier that cannot reassemble).",
            direction.from,
            direction.to,
            direction.to,
            first_fragment + 7,
            sizes_ip.0,
            sizes_ip.1,
            if *df_set == 0 {
                ", without DF (as the Linux kernel module sends)"
            } else {
                ""
            }
        ),
        K::FragmentedPath {
            direction,
            datagrams,
            sent,
            first_fragment,
            ..
        } => format!(
            "{datagrams} of {sent} packets from {} to {} were sent whole and arrived as fragments (first \
             fragment up to {first_fragment} bytes: the path MTU is {first_fragment}..{}). All fragments \
             arrived, but every full-size packet crosses the path as two, and one lost fragment loses the whole \
             packet.",
            direction.from,
            direction.to,
            first_fragment + 7
        ),
        K::PmtudWorking {
            direction,
            underlay,
            icmp,
            announced_mtu,
            fragmented_after,
            too_big_after,
            lost_before,
            ..
        } => {
            let what = icmp_name(*underlay);
            let mtu = if *announced_mtu > 0 {
                format!("path MTU {announced_mtu}")
            } else {
                "no MTU given".to_string()
            };
            let mut s = format!("{icmp} {what} ({mtu}) reached {}", direction.from);
            if *lost_before == 1 {
                s.push_str(" after 1 big packet was lost");
            } else if *lost_before > 1 {
                let _ = write!(s, " after {lost_before} big packets were lost");
            }
            if *too_big_after > 0 {
                let _ = write!(
                    s,
                    ", but {too_big_after} packets bigger than {announced_mtu} were still sent whole afterwards."
                );
            } else if *fragmented_after > 0 {
                let _ = write!(
                    s,
                    "; since then it fragments every full-size packet ({fragmented_after} sent as fragments)."
                );
            } else {
                s.push('.');
            }
            s.push_str(
                " The tunnel MTU is above the path MTU: this works only because the sender fragments, \
                 every full-size packet crosses the path as two, and the first big packet after each \
                 PMTU-cache expiry (10 min on Linux) is lost again.",
            );
            s
        }
        K::MartianSameSrcDst {
            file,
            endpoint,
            dst,
            packets,
            wg_initiations,
            response_sent,
            addressed,
            ..
        } => format!(
            "{packets} packets ({wg_initiations} WireGuard handshake initiations) in {file} have source == \
             destination ({endpoint} → {dst}){}: Linux drops these as martian packets. Hairpin NAT: one box \
             SNATs (masquerades) them on the way out, another DNATs them back in.{}",
            addressed.map_or(String::new(), |a| format!(" (the sender addressed {a})")),
            if *wg_initiations > 0 && !response_sent {
                " No handshake response was ever sent."
            } else {
                ""
            }
        ),
        K::MartianSource {
            file,
            reason,
            src,
            dst,
            packets,
            wireguard,
            ..
        } => format!(
            "{packets} {} in {file} have a martian source ({}) {src} → {dst}: Linux drops them on input.",
            if *wireguard {
                "WireGuard packets"
            } else {
                "packets (not WireGuard)"
            },
            martian_name(*reason)
        ),
        K::HandshakeUnanswered {
            file,
            view: HandshakeView::Responder,
            from,
            to,
            initiations,
            ..
        } => format!(
            "{initiations} handshake initiations from {from} arrived at {file} (for {to}), and {file} sent no \
             response: the responder does not accept them (key or configuration mismatch, firewall, or \
             dropped as martian)."
        ),
        K::HandshakeUnanswered {
            file,
            view: HandshakeView::Passing,
            from,
            to,
            initiations,
            ..
        } => format!(
            "{initiations} handshake initiations from {from} to {to} pass through {file} (each seen more than \
             once: in and out of this box, or on two interfaces), and no response comes back through it."
        ),
        K::HandshakeUnanswered {
            file,
            from,
            to,
            initiations,
            fate,
            ..
        } => {
            let martian = all
                .iter()
                .any(|g| matches!(&g.kind, FindingKind::MartianSameSrcDst { file: m, .. } if m != file));
            let mut parts = Vec::new();
            if fate.never_arrived > 0 {
                parts.push(format!(
                    "{} never arrived at the responder's capture while it ran (path blocked)",
                    fate.never_arrived
                ));
            }
            if fate.not_answered > 0 && martian {
                parts.push(format!(
                    "{} arrived at the responder with source == destination, were dropped there as martians, \
                     and no handshake response was ever sent (see martian_same_src_dst)",
                    fate.not_answered
                ));
            } else if fate.not_answered > 0 {
                parts.push(format!(
                    "{} arrived but were never answered (key or configuration mismatch at the responder, or dropped there)",
                    fate.not_answered
                ));
            }
            if fate.response_lost > 0 {
                parts.push(format!(
                    "{} were answered but the response never came back",
                    fate.response_lost
                ));
            }
            if fate.outside_window > 0 {
                parts.push(format!(
                    "{} were sent while the responder's capture was not running (outside window)",
                    fate.outside_window
                ));
            }
            if fate.unknown > 0 {
                parts.push(format!(
                    "{} unknown from {file} alone: a capture at the responder would tell whether they arrive \
                     and are answered",
                    fate.unknown
                ));
            }
            format!(
                "{initiations} handshake initiations from {from} to {to} got no response: {}.",
                parts.join("; ")
            )
        }
        K::OneWayLoss {
            direction,
            receiver_index: Some(ix),
            sent,
            other_sessions_delivered,
            ..
        } => format!(
            "Nothing {} sent to {} on session {ix:#010x} (receiver index) arrived: {sent} packets{} while {}'s \
             capture ran, none delivered, although its other sessions delivered {other_sessions_delivered}.",
            direction.from,
            direction.to,
            endpoints(direction),
            direction.to
        ),
        K::OneWayLoss {
            direction,
            sent,
            reverse_delivered,
            ..
        } => format!(
            "Nothing {} sent to {} arrived: {sent} packets{} while {}'s capture ran, none delivered, although \
             {reverse_delivered} packets went the other way.",
            direction.from,
            direction.to,
            endpoints(direction),
            direction.to
        ),
        K::RandomLoss {
            direction,
            basis: LossBasis::Matched,
            lost,
            sent,
            percent,
            sizes_ip,
        } => format!(
            "{lost} of {sent} packets from {} to {} were lost ({percent:.1}%){}, at sizes that otherwise \
             arrive: loss on the path not explained by size.",
            direction.from,
            direction.to,
            sizes_ip.map_or(String::new(), |(a, b)| if a == b {
                format!(", all of IP size {a}")
            } else {
                format!(", IP sizes {a}..{b}")
            })
        ),
        K::RandomLoss {
            direction,
            lost,
            sent,
            percent,
            ..
        } => format!(
            "From {} alone: {lost} of {sent} transport messages it should have received never arrived \
             ({percent:.1}%): gaps in the WireGuard counters (reordering is not counted as loss). What size \
             they were, and so whether size explains them, only a capture of the sender can tell.",
            direction.to
        ),
        K::LargestPackets {
            file,
            from,
            to,
            sent_here,
            largest,
            packets,
            df_set,
            fragmented,
            underlay,
            ..
        } => {
            let df = match underlay {
                IpVersion::Ipv4 => format!(", {df_set} with DF set"),
                IpVersion::Ipv6 => String::new(),
            };
            let frag = if *fragmented > 0 {
                format!("; {fragmented} more went as fragments")
            } else {
                String::new()
            };
            format!(
                "{from} → {to} ({}): the largest whole packets {file} shows are {} bytes UDP payload (IP {}), \
                 {packets} of them{df}{frag}.",
                if *sent_here { "sent here" } else { "received here" },
                largest.udp,
                largest.ip
            )
        }
        K::EndpointRoaming { file, changes, .. } => {
            let list: Vec<String> = changes
                .iter()
                .take(6)
                .map(|c| format!("{} → {} at {} UTC (frame {})", c.from, c.to, utc(c.ts), c.frame))
                .collect();
            format!(
                "{} endpoint change{} within a session in {file} (roaming or a NAT rebinding; WireGuard follows \
                 the peer to its new address): {}{}.",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" },
                list.join("; "),
                if changes.len() > 6 { "; …" } else { "" }
            )
        }
        K::OtherPeers {
            file,
            other,
            threshold_ip,
            peers,
            ..
        } => {
            let list: Vec<String> = peers
                .iter()
                .take(8)
                .map(|p| format!("{} ({} messages)", p.endpoint, p.messages))
                .collect();
            let more = if peers.len() > 8 {
                format!(" and {} more", peers.len() - 8)
            } else {
                String::new()
            };
            let mut s = format!(
                "{file} also holds {} other peer{}, not in {other}: not counted ({}{more}).",
                peers.len(),
                if peers.len() == 1 { "" } else { "s" },
                list.join(", ")
            );
            if let Some(t) = threshold_ip {
                let big: Vec<String> = peers
                    .iter()
                    .filter(|p| p.big_sent > 0)
                    .map(|p| format!("{} ({} packets)", p.endpoint, p.big_sent))
                    .collect();
                if big.is_empty() {
                    let _ = write!(
                        s,
                        " None of them was sent packets of {t}+ bytes, so they cannot tell whether the loss is \
                         specific to the path to {other}."
                    );
                } else {
                    let _ = write!(
                        s,
                        " {file} also sent packets of {t}+ bytes to {}: if those peers work, the loss is specific \
                         to the path to {other}, not to {file}'s host or its tunnel MTU.",
                        big.join(", ")
                    );
                }
            }
            s
        }
        K::CaptureDrops {
            file,
            reported,
            unexplained,
            ..
        } => {
            let what = match (reported, unexplained) {
                (Some(r), 0) => format!("{file} reports {r} packets dropped by the capture itself"),
                (Some(r), u) => format!(
                    "{file} reports {r} packets dropped by the capture itself, and {u} packets the other end \
                     received do not appear in it"
                ),
                (None, u) => format!(
                    "{u} packets the other end received do not appear in {file}: the capture itself missed them"
                ),
            };
            format!("{what}; losses counted at that end may be capture artefacts.")
        }
        K::SenderDf {
            file,
            ipv4_sent,
            df_set,
            df_clear,
            likely,
            ..
        } => match likely {
            Implementation::Userspace => format!(
                "{df_set} of the {ipv4_sent} outer IPv4 WireGuard packets {file} sent whole had DF set: likely a \
                 userspace WireGuard (wireguard-go, boringtun, ...), not the Linux kernel module, which never \
                 sets DF."
            ),
            Implementation::KernelOrNoPmtud => format!(
                "None of the {ipv4_sent} outer IPv4 WireGuard packets {file} sent whole had DF set: the Linux kernel \
                 module (which never sets DF), or a userspace WireGuard with path-MTU discovery off."
            ),
            Implementation::Unknown => format!(
                "{df_set} of the {ipv4_sent} outer IPv4 WireGuard packets {file} sent whole had DF set and {df_clear} \
                 not: a mix that points to no one implementation (a userspace one sets DF on almost all, the \
                 Linux kernel module on none)."
            ),
        },
        K::OffloadSuperpackets {
            file,
            split,
            messages,
            unsplittable,
            ..
        } => {
            let mut s = format!(
                "{file} was captured with segmentation/receive offloads on (UDP GSO/GRO): it holds UDP datagrams \
                 that each carry several WireGuard messages back to back, as the kernel handed them over, \
                 not as packets on the wire (their captured sizes are no wire sizes)"
            );
            if *split > 0 {
                let _ = write!(
                    s,
                    "; {split} such datagrams were split into {messages} WireGuard messages, each counted \
                     at the size it has as a packet of its own"
                );
            }
            if *unsplittable > 0 {
                let _ = write!(
                    s,
                    "; {unsplittable} could not be split (a handshake among the messages, or sizes or counters \
                     that do not line up) and are left out of the sizes and of the sent, delivered and lost \
                     counts: the messages after the first of each are not seen at all"
                );
            }
            s.push('.');
            s
        }
        K::NatRewrite { mappings } => {
            let Some(first) = mappings.first() else {
                return "NAT between the ends.".to_string();
            };
            format!(
                "NAT between the ends: {} → {} at {} arrives as {} → {}{}.",
                first.sent_src,
                first.sent_dst,
                first.from,
                first.recv_src,
                first.recv_dst,
                if mappings.len() > 1 {
                    format!(" ({} mappings in all)", mappings.len())
                } else {
                    String::new()
                }
            )
        }
        K::CapturesDisjoint { a, b, gap_ns } => format!(
            "The captures do not overlap in time and no packet is in both: one ran {} .. {} UTC, the other \
             {} .. {} UTC, {} apart. Capture both ends at the same time.",
            utc(a.first),
            utc(a.last),
            utc(b.first),
            utc(b.last),
            duration(*gap_ns)
        ),
        K::NoCommonTunnel { seen } => {
            let each: Vec<String> = seen.iter().map(seen_text).collect();
            format!(
                "The captures share no WireGuard message, so they are not the two ends of one tunnel (or nothing \
                 crossed either way): {}. Capture both ends of the same tunnel at the same time, on the NICs \
                 that carry its UDP.",
                each.join("; ")
            )
        }
        K::TunnelNotFound { selector, tunnels } => {
            let each: Vec<String> = tunnels
                .iter()
                .enumerate()
                .map(|(i, [a, b])| format!("tunnel {i}: {} ↔ {}", ends_text(a), ends_text(b)))
                .collect();
            if each.is_empty() {
                format!("{selector} selects nothing: the captures share no tunnel.")
            } else {
                format!(
                    "{selector} selects none of the tunnels both captures hold: {}.",
                    each.join("; ")
                )
            }
        }
        K::SameCapture { packets } => format!(
            "Both inputs hold the same {packets} packets: the second should be the capture of the other end."
        ),
        K::NoWireguard {
            file,
            packets,
            tunnel_interface,
            ..
        } => {
            if *tunnel_interface {
                format!(
                    "{file} holds no WireGuard message ({packets} packets): it looks like a capture of the tunnel \
                     interface (raw inner IP packets). Capture the NIC that carries the tunnel's UDP instead \
                     (e.g. `tcpdump -i eth0 -w FILE udp port LISTEN_PORT`)."
                )
            } else {
                format!(
                    "{file} holds no WireGuard message ({packets} packets): capture the NIC that carries the \
                     tunnel's UDP, while the tunnel is in use."
                )
            }
        }
        K::EmptyCapture { file, .. } => {
            format!("{file} holds no packets: nothing was captured.")
        }
        K::AffectedFlows {
            direction,
            flows,
            unattributed,
        } => super::inner::affected_flows(direction, flows, *unattributed),
        K::TcpMssTooLarge {
            tunnel_mtu,
            mss_fits_v4,
            flows,
            ..
        } => super::inner::mss_too_large(*tunnel_mtu, *mss_fits_v4, flows),
        K::LocalDrop {
            file,
            dropped,
            sent,
            groups,
            ..
        } => super::inner::local_drop(file, *dropped, *sent, groups),
        K::InnerPmtud { .. } => super::inner::inner_pmtud(&f.kind),
        K::PathLoss { .. }
        | K::PathNat { .. }
        | K::PathReflection { .. }
        | K::PathMartian { .. }
        | K::PathOrder { .. }
        | K::PathHopSilent { .. }
        | K::PathHealthy { .. } => super::path::summary(&f.kind).unwrap_or_default(),
        K::Healthy {
            one_end: true,
            messages,
            ..
        } => format!(
            "Nothing wrong seen from this end alone ({messages} WireGuard messages: no unanswered handshakes, \
             no gaps in the counters, no retries of big packets); a capture of the other end would show \
             whether anything is lost on the way."
        ),
        K::Healthy {
            delivered_ab,
            delivered_ba,
            missing,
            window_seconds,
            ..
        } => {
            let a = names.first().map_or("A", String::as_str);
            let b = names.get(1).map_or("B", String::as_str);
            format!(
                "Nothing wrong: {delivered_ab} packets {} → {} and {delivered_ba} packets {} → {} matched over \
                 {window_seconds:.1} s of common window{}.",
                a,
                b,
                b,
                a,
                if *missing > 0 {
                    format!("; the {missing} lost are explained above")
                } else {
                    ", none lost".to_string()
                }
            )
        }
    }
}

/// What to do about `f`, if anything.
fn p_text(t: &SizeTest) -> String {
    if t.p_value >= 1e-300 {
        format!("Fisher p = {:.1e}", t.p_value)
    } else {
        format!("Fisher p < 1e-300, log10 p = {:.0}", t.log10_p)
    }
}

fn gaps_list(gaps: &[u64]) -> String {
    gaps.iter()
        .map(|g| format!("{:.2} s", *g as f64 / 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn gaps_text(gaps: &[u64]) -> String {
    if gaps.is_empty() {
        String::new()
    } else {
        format!(
            " The sender retried them with growing gaps ({}).",
            gaps_list(gaps)
        )
    }
}

fn endpoints(d: &DirRef) -> String {
    match (d.from_endpoint, d.to_endpoint) {
        (Some(a), Some(b)) => format!(" ({a} → {b})"),
        _ => String::new(),
    }
}

fn to_name(d: &DirRef) -> String {
    if d.to.is_empty() {
        ep(d.to_endpoint)
    } else {
        d.to.clone()
    }
}

fn icmp_name(v: IpVersion) -> &'static str {
    match v {
        IpVersion::Ipv4 => "ICMP fragmentation-needed",
        IpVersion::Ipv6 => "ICMPv6 packet-too-big",
    }
}

fn martian_name(r: MartianReason) -> &'static str {
    match r {
        MartianReason::SameSrcDst => "source == destination",
        MartianReason::ThisNetwork => "0.0.0.0/8",
        MartianReason::Loopback => "loopback address off the loopback interface",
        MartianReason::Multicast => "multicast",
        MartianReason::Broadcast => "limited broadcast",
    }
}

fn seen_text(s: &WgSeen) -> String {
    let flows: Vec<String> = s.flows.iter().map(|(a, b)| format!("{a} → {b}")).collect();
    format!(
        "{} holds {} WireGuard messages in {} sessions ({})",
        s.file,
        s.messages,
        s.sessions,
        flows.join(", ")
    )
}

fn duration(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 86_400.0 {
        format!("{:.1} days", s / 86_400.0)
    } else if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.3} s")
    }
}

/// Endpoints joined with commas (`?` when none is known).
fn ends_text(v: &[crate::decode::Endpoint]) -> String {
    if v.is_empty() {
        return "?".to_string();
    }
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
