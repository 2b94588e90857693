//! Words for what happens inside the tunnel: the inner flows behind lost
//! packets, TCP SYNs whose MSS does not fit, inner packets dropped at home,
//! path-MTU discovery inside the tunnel.

use crate::decode::Endpoint;
use crate::diagnose::{
    AffectedFlow, DirRef, FindingKind, InnerIcmpSeen, InnerProtocol, InnerReaction, IpVersion,
    LocalDropCause, LocalDropGroup, MssFlow, SizeCount,
};
use std::fmt::Write as _;

/// Flows named in a sentence before "and N more".
const LISTED: usize = 5;

/// `TCP 10.0.0.1:8000 → 10.0.0.2:51234`, `ICMP echo request 10.0.0.1 → 10.0.0.2`.
pub(crate) fn flow_label(p: InnerProtocol, f: &AffectedFlow) -> String {
    let mut ips = format!("{} → {}", f.src.ip, f.dst.ip);
    if let Some(id) = f.echo_id {
        let _ = write!(ips, " (id {id})");
    }
    match p {
        InnerProtocol::Tcp => format!("TCP {} → {}", f.src, f.dst),
        InnerProtocol::Udp => format!("UDP {} → {}", f.src, f.dst),
        InnerProtocol::EchoRequest => format!("ICMP echo request {ips}"),
        InnerProtocol::EchoReply => format!("ICMP echo reply {ips}"),
        InnerProtocol::Icmp => format!("ICMP {ips}"),
        InnerProtocol::Other(n) => format!("IP protocol {n} {ips}"),
    }
}

/// What one packet of a flow is called.
fn unit(p: InnerProtocol, n: u64) -> &'static str {
    match (p, n == 1) {
        (InnerProtocol::Tcp, true) => "segment",
        (InnerProtocol::Tcp, false) => "segments",
        (InnerProtocol::EchoRequest, true) => "request",
        (InnerProtocol::EchoRequest, false) => "requests",
        (InnerProtocol::EchoReply, true) => "reply",
        (InnerProtocol::EchoReply, false) => "replies",
        (_, true) => "packet",
        (_, false) => "packets",
    }
}

/// `1420 bytes`, or `1420 (12), 1380 (5) bytes`.
fn sizes(s: &[SizeCount]) -> String {
    match s {
        [one] => format!("{} bytes", one.ip),
        _ => {
            let list: Vec<String> = s
                .iter()
                .map(|x| format!("{} ({})", x.ip, x.packets))
                .collect();
            format!("{} bytes", list.join(", "))
        }
    }
}

/// One flow's losses: `TCP a → b: 17 of 40 segments lost, of 1420 bytes`.
pub(crate) fn flow_text(f: &AffectedFlow) -> String {
    format!(
        "{}: {} of {} {} lost (inner IP {})",
        flow_label(f.protocol, f),
        f.lost,
        f.sent,
        unit(f.protocol, f.sent),
        sizes(&f.lost_sizes)
    )
}

pub(super) fn affected_flows(
    direction: &DirRef,
    flows: &[AffectedFlow],
    unattributed: u64,
) -> String {
    let lost: u64 = flows.iter().map(|f| f.lost).sum();
    let mut s = format!(
        "Inside the tunnel, the {lost} packet{} lost from {} to {} belong{} to {} flow{}: ",
        if lost == 1 { "" } else { "s" },
        direction.from,
        direction.to,
        if lost == 1 { "s" } else { "" },
        flows.len(),
        if flows.len() == 1 { "" } else { "s" }
    );
    let listed: Vec<String> = flows.iter().take(LISTED).map(flow_text).collect();
    s.push_str(&listed.join("; "));
    if flows.len() > LISTED {
        let _ = write!(s, "; and {} more", flows.len() - LISTED);
    }
    if unattributed > 0 {
        let _ = write!(
            s,
            "; {unattributed} more lost packets have no inner packet in {}'s capture of its tunnel interface",
            direction.from
        );
    }
    s.push('.');
    s
}

fn mss_flow(f: &MssFlow) -> String {
    format!(
        "{} {} → {} (MSS {}{})",
        if f.syn_ack { "SYN-ACK" } else { "SYN" },
        f.src,
        f.dst,
        f.mss,
        if f.syns > 1 {
            format!(", {} times", f.syns)
        } else {
            String::new()
        }
    )
}

pub(super) fn mss_too_large(tunnel_mtu: u32, fits_v4: u32, flows: &[MssFlow]) -> String {
    let largest = flows.iter().map(|f| f.mss).max().unwrap_or(0);
    let listed: Vec<String> = flows.iter().take(LISTED).map(mss_flow).collect();
    format!(
        "TCP inside the tunnel announces an MSS too large for the path: {}{}; a full segment of MSS {largest} \
         is {} bytes of inner IPv4 (+ 40 of headers), more than the tunnel MTU of {tunnel_mtu} the path \
         allows, so no full-size segment crosses the path in one piece (it is lost in a blackhole, \
         fragmented at best). MSS {fits_v4} fits.",
        listed.join(", "),
        if flows.len() > LISTED {
            format!(" and {} more", flows.len() - LISTED)
        } else {
            String::new()
        },
        u32::from(largest) + 40
    )
}

fn cause_text(g: &LocalDropGroup) -> String {
    let (lo, hi) = g.sizes_ip;
    let range = if lo == hi {
        format!("{lo} bytes")
    } else {
        format!("{lo}..{hi} bytes")
    };
    match g.cause {
        LocalDropCause::NoPeer => format!(
            "{} for {} ({range}); nothing for that address ever left: no peer's AllowedIPs holds it, \
             or its peer has no endpoint or no session",
            g.dropped, g.dst
        ),
        LocalDropCause::TooBig => format!(
            "{} for {} ({range}) while {} smaller ones for it (up to {} bytes) left: the sender failed to \
             send the big ones",
            g.dropped,
            g.dst,
            g.left,
            g.largest_left_ip.unwrap_or(0)
        ),
        LocalDropCause::Intermittent => format!(
            "{} for {} ({range}) while {} others for it left",
            g.dropped, g.dst, g.left
        ),
    }
}

pub(super) fn local_drop(file: &str, dropped: u64, sent: u64, groups: &[LocalDropGroup]) -> String {
    let listed: Vec<String> = groups.iter().take(LISTED).map(cause_text).collect();
    format!(
        "{dropped} of the {sent} inner packets {file}'s host put into its tunnel interface never left it as \
         outer WireGuard packets (the capture shows both): {}{}. They were dropped on that host, not on the path.",
        listed.join("; "),
        if groups.len() > LISTED {
            format!("; and {} more destinations", groups.len() - LISTED)
        } else {
            String::new()
        }
    )
}

/// `ICMP fragmentation-needed`, `ICMPv6 packet-too-big`.
fn icmp_name(v: IpVersion, n: u64) -> String {
    let (name, plural) = match v {
        IpVersion::Ipv4 => ("ICMP fragmentation-needed", "messages"),
        IpVersion::Ipv6 => ("ICMPv6 packet-too-big", "messages"),
    };
    if n == 1 {
        name.to_string()
    } else {
        format!("{name} {plural}")
    }
}

/// `TCP 10.0.0.1:40000 → 192.168.50.2:5201`, `ICMP echo request 10.0.0.1 → 192.168.50.2 (id 7)`.
fn quoted_flow(p: InnerProtocol, src: Endpoint, dst: Endpoint, echo_id: Option<u16>) -> String {
    flow_label(
        p,
        &AffectedFlow {
            protocol: p,
            src,
            dst,
            echo_id,
            sent: 0,
            lost: 0,
            lost_sizes: Vec::new(),
            first_lost_frame: crate::capture::FrameNo(0),
        },
    )
}

/// `10 went into the tunnel at laptop.pcap (first frame 86), 10 came out of it at vps.pcap (first frame 78)`:
/// the receiving end first.
fn where_seen(seen: &[InnerIcmpSeen]) -> String {
    let mut parts: Vec<(bool, String)> = Vec::new();
    for s in seen {
        if s.sent > 0 {
            parts.push((
                false,
                format!(
                    "{} went into the tunnel at {} (first frame {})",
                    s.sent, s.file, s.first_frame
                ),
            ));
        }
        if s.received > 0 {
            parts.push((
                true,
                format!(
                    "{} came out of it at {} (first frame {})",
                    s.received, s.file, s.first_frame
                ),
            ));
        }
    }
    parts.sort_by_key(|p| p.0);
    let list: Vec<String> = parts.into_iter().map(|p| p.1).collect();
    list.join(", ")
}

/// The summary of an `inner_pmtud` finding.
pub(super) fn inner_pmtud(k: &FindingKind) -> String {
    let FindingKind::InnerPmtud {
        protocol,
        src,
        dst,
        echo_id,
        router,
        version,
        announced_mtu,
        icmp,
        seen,
        sender_side,
        sender_file,
        lost_in_tunnel,
        lost_arrived,
        reaction,
        largest_before,
        fit_after,
        largest_after,
        too_big_after,
        too_big_sizes,
    } = k
    else {
        return String::new();
    };
    let mtu = if *announced_mtu > 0 {
        format!("MTU {announced_mtu}")
    } else {
        "no MTU given".to_string()
    };
    let head = format!(
        "{router} sent {icmp} {} ({mtu}) through the tunnel about {}: {}",
        icmp_name(*version, *icmp),
        quoted_flow(*protocol, *src, *dst, *echo_id),
        where_seen(seen)
    );
    let sender = sender_file.as_deref().unwrap_or("?");
    let lost = if *lost_in_tunnel == 0 {
        String::new()
    } else {
        let arrived = if *lost_arrived > 0 {
            format!(
                " ({lost_arrived} of them reached {sender}'s host as outer packets: its WireGuard dropped them, \
                 as it drops an inner packet whose source ({router}) is not in the AllowedIPs of the peer it came from)"
            )
        } else {
            String::new()
        };
        format!(
            "; {lost_in_tunnel} of them never came out of the tunnel at the sender's end ({sender}), whose capture \
             ran then: lost in the tunnel{arrived}"
        )
    };
    let u = |n: u64| unit(*protocol, n);
    match reaction {
        InnerReaction::Reacted => format!(
            "Path-MTU discovery inside the tunnel works: {head}{lost}; after the first reached the sender's tunnel \
             interface ({sender}), {} sent its {fit_after} later {} of the flow at or below {announced_mtu} bytes, \
             the largest {}{} (the link beyond {router} carries at most {announced_mtu} bytes).",
            src.ip,
            u(*fit_after),
            largest_after.unwrap_or(0),
            largest_before.map_or(String::new(), |b| format!(" against {b} before it")),
        ),
        InnerReaction::NotReacted => format!(
            "The sender inside the tunnel ignores path-MTU discovery: {head}{lost}; the first reached the sender's \
             tunnel interface ({sender}), yet {} went on sending {too_big_after} {} of the flow larger than \
             {announced_mtu} bytes after it (inner IP {}), which the link beyond {router} cannot carry{}.",
            src.ip,
            u(*too_big_after),
            sizes(too_big_sizes),
            if *fit_after > 0 {
                format!(" (and {fit_after} that fit)")
            } else {
                String::new()
            },
        ),
        InnerReaction::NoLaterPackets => format!(
            "{head}{lost}; it reached the sender's tunnel interface ({sender}), and {} sent no later packet of the \
             flow into the tunnel, so whether it reacted does not show.",
            src.ip
        ),
        InnerReaction::Unknown if *lost_in_tunnel > 0 => format!(
            "Path-MTU discovery inside the tunnel fails: {head}{lost}; {} cannot react to an ICMP that never reached it.",
            src.ip
        ),
        InnerReaction::Unknown if sender_side.is_some() => format!(
            "{head}; the sender's capture ({sender}) does not show it come out of the tunnel (it was not running \
             then), so whether {} reacted does not show.",
            src.ip
        ),
        InnerReaction::Unknown => format!(
            "{head}; only the flow's receiving end is captured: whether {} reacted needs a capture of its tunnel \
             interface (`tcpdump -i any`).",
            src.ip
        ),
    }
}

/// The fix of an `inner_pmtud` finding: for a sender that did not react,
/// or an ICMP lost in the tunnel.
pub(super) fn inner_pmtud_fix(k: &FindingKind) -> Option<String> {
    let FindingKind::InnerPmtud {
        protocol,
        src,
        router,
        version,
        announced_mtu,
        sender_file,
        lost_in_tunnel,
        lost_arrived,
        reaction,
        ..
    } = k
    else {
        return None;
    };
    let clamp = if *protocol == InnerProtocol::Tcp {
        let (tables, headers) = match version {
            IpVersion::Ipv4 => ("iptables", 40),
            IpVersion::Ipv6 => ("ip6tables", 60),
        };
        // The SYN from behind the narrow link leaves the router into the
        // tunnel, so clamping to the route's MTU would keep the tunnel's:
        // the MSS must fit the link the ICMP names.
        let (link, target) = match announced_mtu.checked_sub(headers) {
            Some(mss) if mss > 0 => (
                format!("its {announced_mtu}-byte link"),
                format!("--set-mss {mss}"),
            ),
            _ => (
                "the narrow link".to_string(),
                "--clamp-mss-to-pmtu".to_string(),
            ),
        };
        format!(
            "; or clamp the MSS of the flow's SYNs on the router that sent the ICMP ({router}) to what {link} \
             carries, so segments fit from the start: \
             `{tables} -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS {target}`"
        )
    } else {
        String::new()
    };
    match reaction {
        InnerReaction::NotReacted => Some(match version {
            IpVersion::Ipv4 => format!(
                "On the inner sender {}: let ICMP fragmentation-needed (type 3 code 4) through its firewall \
                 (`iptables -I INPUT -p icmp --icmp-type fragmentation-needed -j ACCEPT`) and check that \
                 `sysctl net.ipv4.ip_no_pmtu_disc` is 0 (path-MTU discovery on){clamp}.",
                src.ip
            ),
            IpVersion::Ipv6 => format!(
                "On the inner sender {}: let ICMPv6 packet-too-big (type 2) through its firewall \
                 (`ip6tables -I INPUT -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT`){clamp}.",
                src.ip
            ),
        }),
        InnerReaction::Unknown if *lost_in_tunnel > 0 => {
            let sender = sender_file.as_deref().unwrap_or("?");
            Some(if *lost_arrived > 0 {
                format!(
                    "On {sender}'s host, add {router} to the AllowedIPs of the peer the ICMP comes from (or have \
                     that end send ICMP from its tunnel address){clamp}."
                )
            } else {
                format!(
                    "Find where the ICMP from {router} is dropped between the two tunnel interfaces (the findings \
                     on the outer packets say whether the path loses them){clamp}."
                )
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::Side;
    use std::net::IpAddr;

    fn finding(version: IpVersion, mtu: u32, reaction: InnerReaction) -> FindingKind {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0u8; 4]));
        FindingKind::InnerPmtud {
            protocol: InnerProtocol::Tcp,
            src: Endpoint {
                ip: ip("fd00::1"),
                port: 443,
            },
            dst: Endpoint {
                ip: ip("fd00:50::3"),
                port: 40000,
            },
            echo_id: None,
            router: ip("fd00::2"),
            version,
            announced_mtu: mtu,
            icmp: 2,
            seen: vec![InnerIcmpSeen {
                side: Side::A,
                file: "a.pcap".into(),
                sent: 0,
                received: 2,
                first_frame: crate::capture::FrameNo(7),
            }],
            sender_side: Some(Side::A),
            sender_file: Some("a.pcap".into()),
            lost_in_tunnel: 0,
            lost_arrived: 0,
            reaction,
            largest_before: Some(1420),
            fit_after: 5,
            largest_after: Some(mtu),
            too_big_after: 1,
            too_big_sizes: vec![SizeCount {
                ip: 1420,
                packets: 1,
            }],
        }
    }

    #[test]
    fn the_words_follow_the_evidence() {
        let k = finding(IpVersion::Ipv6, 1280, InnerReaction::Reacted);
        let s = inner_pmtud(&k);
        assert!(
            s.starts_with("Path-MTU discovery inside the tunnel works"),
            "{s}"
        );
        assert!(
            s.contains("ICMPv6 packet-too-big messages (MTU 1280)"),
            "{s}"
        );
        assert!(
            s.contains("(the link beyond fd00::2 carries at most 1280 bytes)"),
            "{s}"
        );
        assert_eq!(inner_pmtud_fix(&k), None);
        // IPv6 has no ip_no_pmtu_disc; the MSS that fits is the MTU − 60.
        let k = finding(IpVersion::Ipv6, 1280, InnerReaction::NotReacted);
        let fix = inner_pmtud_fix(&k).unwrap_or_default();
        assert!(
            fix.contains("ip6tables -I INPUT -p icmpv6 --icmpv6-type packet-too-big"),
            "{fix}"
        );
        assert!(
            fix.contains("--set-mss 1220") && !fix.contains("ip_no_pmtu_disc"),
            "{fix}"
        );
        // IPv4 without an MTU in the ICMP: clamp to the route's.
        let k = finding(IpVersion::Ipv4, 0, InnerReaction::NotReacted);
        let fix = inner_pmtud_fix(&k).unwrap_or_default();
        assert!(
            fix.contains("ip_no_pmtu_disc") && fix.contains("--clamp-mss-to-pmtu"),
            "{fix}"
        );
        assert!(!fix.contains("0-byte"), "{fix}");
    }
}
