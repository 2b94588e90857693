//! Words for the findings along a path of three or more capture points.

use crate::diagnose::{path::Rewrite, FindingKind};

/// The summary of a path finding (`None` for other kinds).
pub fn summary(k: &FindingKind) -> Option<String> {
    use FindingKind as K;
    Some(match k {
        K::PathLoss {
            origin,
            from,
            to,
            sent,
            lost,
            smallest_lost,
            largest_delivered,
            size_dependent,
            routers,
            icmp_seen,
            icmp_checked,
            ..
        } => {
            let what = match (size_dependent, smallest_lost) {
                (true, Some(l)) => format!(
                    "The {lost} WireGuard packets of {}+ bytes (IP; UDP {}+) from {origin}",
                    l.ip, l.udp
                ),
                _ => format!("{lost} of {sent} WireGuard packets from {origin}"),
            };
            let stem = box_name(from, to).filter(|_| *routers == Some(1));
            let (reach, who) = match (&stem, routers) {
                (Some(b), _) => (
                    format!("reach {b} ({from}) and never leave it towards {to}"),
                    format!("{b} drops them"),
                ),
                (None, Some(0)) => (
                    format!("reach {from} and never {to}"),
                    "they vanish on the link between them (no router: delivered packets keep their TTL)".to_string(),
                ),
                (None, Some(1)) => (
                    format!("reach {from} and never {to}"),
                    format!("the router between {from} and {to} drops them (delivered packets: TTL −1)"),
                ),
                (None, Some(n)) => (
                    format!("reach {from} and never {to}"),
                    format!("one of the {n} routers between them drops them"),
                ),
                (None, None) => (
                    format!("reach {from} and never {to}"),
                    format!("something between {from} and {to} drops them"),
                ),
            };
            let size = match (size_dependent, largest_delivered) {
                (true, Some(d)) => format!(
                    "; packets up to {} bytes (IP) cross it, so {} towards {to} carries less than {} bytes",
                    d.ip,
                    if stem.is_some() { "its link" } else { "the link" },
                    smallest_lost.map_or(0, |l| l.ip)
                ),
                _ => String::new(),
            };
            let icmp = if *icmp_seen == 0 {
                format!(
                    "; no ICMP fragmentation-needed (or packet-too-big) was seen at {}",
                    icmp_checked.join(", ")
                )
            } else {
                format!(
                    "; {icmp_seen} ICMP fragmentation-needed / packet-too-big messages were seen at {}",
                    icmp_checked.join(", ")
                )
            };
            format!("{what} {reach}: {who}{size}{icmp}.")
        }
        K::PathNat {
            a,
            b,
            rewrites,
            routers,
            ..
        } => {
            let each: Vec<String> = rewrites.iter().map(|r| rewrite_text(r, a, b)).collect();
            format!(
                "NAT between {a} and {b}{}: {}.",
                routers_text(*routers),
                each.join("; ")
            )
        }
        K::PathReflection { reflection: r } => {
            let hairpin = if r.after_src.ip == r.after_dst.ip {
                ", with source == destination: hairpin NAT"
            } else {
                ""
            };
            let mut changed = Vec::new();
            if r.before_dst != r.after_dst {
                changed.push(format!(
                    "DNAT of {} to {}",
                    r.before_dst, r.after_dst
                ));
            }
            if r.before_src != r.after_src {
                changed.push(format!("SNAT of {} to {}", r.before_src, r.after_src));
            }
            format!(
                "{} WireGuard messages pass {} as {} → {} and come back onto the same link as {} → {} \
                 (TTL {} then {}: the next hop turned them around){hairpin}; {}.",
                r.packets,
                r.file,
                r.before_src,
                r.before_dst,
                r.after_src,
                r.after_dst,
                r.ttls[0],
                r.ttls[1],
                if changed.is_empty() {
                    "addresses unchanged".to_string()
                } else {
                    format!("{} on the way back", changed.join(" and "))
                }
            )
        }
        K::PathMartian {
            file,
            src,
            dst,
            packets,
            wg_initiations,
            seen_at,
            response_seen,
            point,
            snat,
            snat_between,
            dnat,
            dnat_between,
            reflected,
            ..
        } => {
            let what = format!(
                "{packets} WireGuard packets ({wg_initiations} handshake initiations)"
            );
            let at = if *point == 0 {
                format!("{file} (the first point)")
            } else {
                file.clone()
            };
            let seen = seen_at.join(" and ");
            let no_response = if *response_seen {
                ""
            } else {
                " No point saw a handshake response."
            };
            let snat_text = match (snat, snat_between) {
                (Some(r), Some([a, b])) => Some(format!(
                    "SNAT between {a} and {b} ({} → {})",
                    r.before_src, r.after_src
                )),
                _ => None,
            };
            let dnat_text = match (reflected, dnat, dnat_between) {
                (Some(r), _, _) => Some(format!(
                    "DNAT back onto {}'s link ({} → {}; TTL {} then {}: the next hop turned them around)",
                    r.file, r.before_dst, r.after_dst, r.ttls[0], r.ttls[1]
                )),
                (None, Some(r), Some([a, b])) => Some(format!(
                    "DNAT between {a} and {b} ({} → {})",
                    r.before_dst, r.after_dst
                )),
                _ => None,
            };
            match (snat_text, dnat_text) {
                (Some(sn), Some(dn)) => format!(
                    "Hairpin NAT: {what} get {sn}, then {dn}, so they arrive with source == destination \
                     ({src} → {dst}) at {seen}, first at {at}: the host that owns {}, the address the SNAT gave \
                     them, receives its own packets and drops them as martians.{no_response}",
                    dst.ip
                ),
                (sn, dn) => format!(
                    "{what} with source == destination ({src} → {dst}) first appear at {at}{}{}: the host that \
                     owns {} drops them as martian packets.{no_response}",
                    if seen_at.len() > 1 {
                        format!(" (seen at {seen})")
                    } else {
                        String::new()
                    },
                    sn.or(dn).map_or(String::new(), |x| format!(", after {x}")),
                    dst.ip
                ),
            }
        }
        K::PathOrder {
            file,
            prev,
            next,
            consistent,
            contradicting,
            example_ttls,
            ..
        } => format!(
            "The order given contradicts the TTLs at {file}: {contradicting} of {} messages seen there and, with \
             another TTL, on both sides of it (from {prev} back, from {next} on) have a TTL at {file} above both \
             sides' or below both{}, so {file} is not between {prev} and {next} on their way; per-hop losses are \
             not judged.",
            consistent + contradicting,
            example_ttls.map_or(String::new(), |[a, b, c]| format!(" (e.g. {a}, {b}, {c})"))
        ),
        K::PathHopSilent { a, b, messages, .. } => format!(
            "{a} and {b} share no WireGuard message ({} and {} messages, none of one in the other while \
             both ran): the path cannot be followed from {a} to {b}.",
            messages[0], messages[1]
        ),
        K::PathHealthy { points, delivered } => format!(
            "Nothing lost along {}: every WireGuard packet seen at one point while the next one's capture ran \
             reached it ({delivered} hop crossings).",
            points.join(" → ")
        ),
        _ => return None,
    })
}

/// What to do about a path finding (`None` for other kinds, or nothing to do).
pub fn fix(k: &FindingKind) -> Option<String> {
    use FindingKind as K;
    match k {
        K::PathLoss {
            from,
            to,
            size_dependent: true,
            smallest_lost: Some(l),
            largest_delivered: Some(d),
            ..
        } => Some(format!(
            "Either let the link from {from} towards {to} carry {}-byte packets, or set the tunnel MTU on both \
             peers so that outer packets stay at or below {} bytes: `MTU = {}` over IPv4 ({} − 60), {} over \
             IPv6 ({} − 80).",
            l.ip,
            d.ip,
            d.ip.saturating_sub(60),
            d.ip,
            d.ip.saturating_sub(80),
            d.ip
        )),
        K::PathMartian { .. } => Some(
            "Keep WireGuard off the hairpin: on the box that SNATs (masquerades) these packets, DNAT the public \
             endpoint's WireGuard port straight to the server's local address (or give the peer the server's \
             local address as its endpoint)."
                .to_string(),
        ),
        K::PathHopSilent { a, b, .. } => Some(format!(
            "Capture {a} and {b} at the same time, on the interfaces that carry the tunnel's UDP."
        )),
        K::PathOrder { .. } => Some(
            "Give the captures in the order the packets pass them (e.g. laptop, router LAN side, router WAN \
             side, server)."
                .to_string(),
        ),
        _ => None,
    }
}

fn routers_text(r: Option<u8>) -> String {
    match r {
        Some(0) => " (same link: TTL unchanged)".to_string(),
        Some(1) => " (1 router: TTL −1)".to_string(),
        Some(n) => format!(" ({n} routers: TTL −{n})"),
        None => String::new(),
    }
}

/// `SNAT: 192.168.2.10:43712 → 203.0.113.1:51820 at phone.pcap arrives at router.pcap as ...`.
fn rewrite_text(r: &Rewrite, a: &str, b: &str) -> String {
    let (from, to) = match r.heading {
        crate::diagnose::Heading::AToB => (a, b),
        crate::diagnose::Heading::BToA => (b, a),
    };
    let kind = match (r.snat, r.dnat) {
        (true, true) => "SNAT and DNAT",
        (true, false) => "SNAT",
        (false, true) => "DNAT",
        (false, false) => "no change",
    };
    format!(
        "{kind}: {} → {} at {from} arrives at {to} as {} → {} ({} packets)",
        r.before_src, r.before_dst, r.after_src, r.after_dst, r.packets
    )
}

/// The box two capture points share, from their names: `rtr` for
/// `rtr-wan.pcap` and `rtr-lan.pcap` (the common stem before `-`, `_` or `.`).
pub(crate) fn box_name(a: &str, b: &str) -> Option<String> {
    let stem = |s: &str| {
        let base = s.rsplit('/').next().unwrap_or(s);
        base.split(['-', '_', '.']).next().unwrap_or("").to_string()
    };
    let (x, y) = (stem(a), stem(b));
    (x == y && x.len() >= 2 && a != b).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::box_name;

    #[test]
    fn box_from_interface_names() {
        assert_eq!(
            box_name("rtr-wan.pcap", "rtr-lan.pcap").as_deref(),
            Some("rtr")
        );
        assert_eq!(box_name("laptop.pcap", "rtr-lan.pcap"), None);
        assert_eq!(box_name("router.pcap", "pi.pcap"), None);
    }
}
