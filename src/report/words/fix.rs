//! Fixes: what to do about a finding, with the numbers it rests on.

use super::ep;
use crate::diagnose::{
    Finding, FindingKind, HandshakeView, IpVersion, LossBasis, MtuAdvice, MtuBasis,
};
use std::fmt::Write as _;

/// What to do about `f`, if anything.
pub fn fix(f: &Finding, all: &[Finding]) -> Option<String> {
    use FindingKind as K;
    match &f.kind {
        K::MtuBlackhole { mtu, .. } if mtu.basis == MtuBasis::Fragment => Some(fragment_fix(mtu)),
        K::MtuBlackhole { confirmed, mtu, .. } => Some(mtu_fix(mtu, *confirmed)),
        K::IcmpFragNeededAbsent { underlay, .. } => Some(match underlay {
            IpVersion::Ipv4 => "Let ICMP fragmentation-needed (type 3 code 4) through the routers and firewalls \
                 on the path, or lower the tunnel MTU as above."
                .to_string(),
            IpVersion::Ipv6 => "Let ICMPv6 packet-too-big (type 2) through the routers and firewalls on the \
                 path, or lower the tunnel MTU as above."
                .to_string(),
        }),
        K::FragmentsDropped { mtu, .. } | K::FragmentedPath { mtu, .. } => Some(fragment_fix(mtu)),
        K::PmtudWorking {
            underlay,
            announced_mtu,
            mtu,
            ..
        } => Some(match mtu {
            Some(m) => format!(
                "Set `MTU = {}` in the [Interface] section of both peers' wg-quick configs: the announced path \
                 MTU {announced_mtu} − {} ({} {} + UDP 8 + WireGuard 32) = {}, so no packet needs fragmenting.",
                m.tunnel_mtu,
                underlay.overhead(),
                underlay.name(),
                underlay.header(),
                m.tunnel_mtu
            ),
            None => "Lower the tunnel MTU on both peers until the ICMP stops (the router gave no MTU)."
                .to_string(),
        }),
        K::MartianSameSrcDst { addressed, .. } => Some(format!(
            "Keep the WireGuard traffic local where it originates: on the box that masquerades, add a DNAT \
             rule sending traffic for the public address{} straight to the server's LAN address \
             (or point local clients at the server's LAN address), so it is never SNATed and DNATed back.",
            addressed.map_or(String::new(), |a| format!(" ({a})"))
        )),
        K::MartianSource {
            wireguard: true, ..
        } => Some(
            "Find the box that rewrites the source (NAT rules, a misconfigured Endpoint); Linux accepts such \
             packets only with accept_local / route_localnet set, which hides the mistake."
                .to_string(),
        ),
        K::MartianSource { .. } => None,
        K::HandshakeUnanswered {
            view: HandshakeView::Responder,
            ..
        } => Some(
            "On the responder, check that its [Peer] PublicKey is the initiator's actual public key (wg show), \
             its firewall, and its martian log (dmesg); a capture at the initiator shows whether a response \
             ever left."
                .to_string(),
        ),
        K::HandshakeUnanswered {
            view: HandshakeView::Passing,
            file,
            ..
        } => {
            let martian = all.iter().any(
                |g| matches!(&g.kind, FindingKind::MartianSameSrcDst { file: m, .. } if m == file),
            );
            (!martian).then(|| {
                "Capture at the responder and at the initiator too, at the same time, and run `wgtrace analyze` \
                 on those two files: they tell whether the initiations arrive and are answered."
                    .to_string()
            })
        }
        K::HandshakeUnanswered { fate, file, .. } => {
            let martian = all.iter().any(
                |g| matches!(&g.kind, FindingKind::MartianSameSrcDst { file: m, .. } if m != file),
            );
            if fate.not_answered > 0 && martian {
                None
            } else if fate.not_answered > 0 {
                Some(
                    "Check that each peer's [Peer] PublicKey is the other's actual public key (wg show), \
                     and the responder's firewall and martian logs (dmesg)."
                        .to_string(),
                )
            } else if fate.never_arrived > 0 {
                Some(
                    "Something between the peers blocks the initiator's UDP: check the Endpoint address and \
                     port, port forwarding and firewalls."
                        .to_string(),
                )
            } else if fate.response_lost > 0 {
                Some(
                    "The return path drops the responses: check NAT and firewall state on the way back."
                        .to_string(),
                )
            } else {
                Some(
                    "Capture at the responder too, at the same time, and run `wgtrace analyze` on both files."
                        .to_string(),
                )
            }
        }
        K::OneWayLoss {
            direction,
            receiver_index: Some(_),
            ..
        } => Some(format!(
            "Compare `wg show` (latest handshake, endpoint) on both ends: {} no longer knows this session (it \
             restarted or dropped the keypair), or this session's packets take another path (a second NAT \
             mapping, roaming) to {}.",
            direction.to,
            ep(direction.to_endpoint)
        )),
        K::OneWayLoss { direction, .. } => Some(format!(
            "Look at the path from {} to {} only, since the other direction works: a firewall or security group \
             dropping UDP to {}, a wrong Endpoint (the peer listens or answers elsewhere), or asymmetric routing \
             or stale NAT state on the way.",
            direction.from,
            direction.to,
            ep(direction.to_endpoint)
        )),
        K::RandomLoss { basis, .. } => Some(match basis {
            LossBasis::Matched => "Look for congestion, a bad link or a rate limit between the ends (mtr, \
                 interface error counters)."
                .to_string(),
            LossBasis::CounterGaps => "Capture the sending end too, at the same time: only the pair tells loss \
                 on the path from packets the sender never sent. Then look for congestion, a bad link or a rate limit."
                .to_string(),
        }),
        K::CaptureDrops { .. } => Some(
            "Capture with a bigger buffer (tcpdump -B 8192), a snap length (-s 128) and write to a fast disk."
                .to_string(),
        ),
        K::OffloadSuperpackets { .. } => Some(
            "Capture with offloads off on the interface captured: `ethtool -K IFACE gro off gso off tso off` \
             (then every captured datagram is one packet as it was on the wire)."
                .to_string(),
        ),
        K::TcpMssTooLarge {
            tunnel_mtu,
            mss_fits_v4,
            mss_fits_v6,
            ..
        } => Some(format!(
            "Either set `MTU = {tunnel_mtu}` in the [Interface] section of both peers' wg-quick configs (hosts \
             derive their MSS from the tunnel interface's MTU: {mss_fits_v4} over IPv4, {mss_fits_v6} over IPv6), \
             or clamp the MSS of TCP forwarded through the tunnel on the peers: \
             `iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu` \
             (follows the route's MTU, so lower the tunnel MTU too), or a fixed \
             `iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss {mss_fits_v4}`."
        )),
        K::LocalDrop { file, groups, .. } => Some(local_drop_fix(file, groups)),
        K::AffectedFlows { .. } => None,
        K::InnerPmtud { .. } => super::inner::inner_pmtud_fix(&f.kind),
        K::NatRewrite { .. }
        | K::SenderDf { .. }
        | K::Healthy { .. }
        | K::LargestPackets { .. }
        | K::OtherPeers { .. }
        | K::EndpointRoaming { .. } => None,
        K::PathLoss { .. }
        | K::PathNat { .. }
        | K::PathReflection { .. }
        | K::PathMartian { .. }
        | K::PathOrder { .. }
        | K::PathHopSilent { .. }
        | K::PathHealthy { .. } => {
            // The end's own martian finding words the hairpin fix for its host.
            let end_says = all
                .iter()
                .any(|g| matches!(g.kind, K::MartianSameSrcDst { .. }));
            if end_says && matches!(f.kind, K::PathMartian { .. }) {
                None
            } else {
                super::path::fix(&f.kind)
            }
        }
        K::CapturesDisjoint { .. } => Some(
            "Start both captures, then reproduce the problem while both run.".to_string(),
        ),
        K::NoCommonTunnel { .. } => Some(
            "Give the captures of the two ends of one tunnel, taken at the same time.".to_string(),
        ),
        K::SameCapture { .. } => Some("Give the capture of the other end as the second file.".to_string()),
        K::TunnelNotFound { .. } => Some(
            "Pick one of the tunnels listed, with `--tunnel ID` or `--peer ADDR[:PORT]`, or leave both out."
                .to_string(),
        ),
        K::NoWireguard { .. } | K::EmptyCapture { .. } => Some(
            "Capture on the NIC that carries the tunnel's UDP (`tcpdump -i eth0 -w FILE udp port LISTEN_PORT`), \
             while reproducing the problem."
                .to_string(),
        ),
    }
}

/// The fix of a local drop points at the sending host itself, one hint per cause seen.
fn local_drop_fix(file: &str, groups: &[crate::diagnose::LocalDropGroup]) -> String {
    use crate::diagnose::LocalDropCause as C;
    let has = |c: C| groups.iter().any(|g| g.cause == c);
    let mut s = format!("Look at {file}'s host itself, not the path:");
    if has(C::NoPeer) {
        let dsts: Vec<String> = groups
            .iter()
            .filter(|g| g.cause == C::NoPeer)
            .map(|g| g.dst.to_string())
            .collect();
        let _ = write!(
            s,
            " `wg show` must list a peer whose AllowedIPs hold {}, with an Endpoint and a recent handshake \
             (add the address to that peer's AllowedIPs, or an Endpoint for the peer);",
            dsts.join(", ")
        );
    }
    if has(C::TooBig) {
        s.push_str(
            " big packets fail to send: look for send errors (EMSGSIZE) in the WireGuard log, turn off UDP \
             segmentation offload on the NIC (`ethtool -K IFACE tx-udp-segmentation off`) or lower the tunnel MTU;",
        );
    }
    if has(C::Intermittent) {
        s.push_str(
            " some packets fail to send: look for send errors in the WireGuard log and for drops in \
             `ip -s link` of the tunnel interface and the NIC;",
        );
    }
    s.pop();
    s.push('.');
    s
}

fn fragment_fix(m: &MtuAdvice) -> String {
    let f = m.largest_delivered_ip.unwrap_or(0);
    format!(
        "Set `MTU = {}` in the [Interface] section of both peers' wg-quick configs: the largest first fragment \
         that crossed the path was {f} bytes, so {f} − {} ({} {} + UDP 8 + WireGuard 32) = {} keeps every \
         packet whole.",
        m.tunnel_mtu,
        m.underlay.overhead(),
        m.underlay.name(),
        m.underlay.header(),
        m.tunnel_mtu
    )
}

fn mtu_fix(m: &MtuAdvice, confirmed: bool) -> String {
    let (v, delivered, lost) = (m.underlay, m.largest_delivered_ip, m.smallest_lost_ip);
    let o = v.overhead();
    let parts = format!("{} {} + UDP 8 + WireGuard 32", v.name(), v.header());
    let set = format!(
        "Set `MTU = {}` in the [Interface] section of both peers' wg-quick configs",
        m.tunnel_mtu
    );
    let mut s = match (m.pinned, delivered) {
        (true, Some(d)) => format!(
            "{set}: the largest packet that got through was {d} bytes (IP) and the smallest lost {lost}, one \
             padding step apart (WireGuard pads to 16 bytes), so {d} − {o} ({parts}) = {} is the largest \
             padded size that fits; the path may carry up to {} bytes more.",
            m.tunnel_mtu,
            lost.saturating_sub(d).saturating_sub(1)
        ),
        _ => {
            let range = match delivered {
                Some(d) => format!("between {d} and {} bytes", lost.saturating_sub(1)),
                None => format!("below {lost} bytes"),
            };
            let why = match (m.basis, m.proven) {
                (MtuBasis::SentOnly, _) => format!(
                    "seen from one end only: the largest smaller packet it sent is not known to have arrived; \
                     {} is the largest value whose packets stay below the lost size",
                    m.at_most
                ),
                (_, Some(p)) if p == m.tunnel_mtu => {
                    format!("proven: a packet of that size plus {o} got through")
                }
                (_, Some(p)) => format!(
                    "1280 is the IPv6 minimum that any IPv6-capable path carries; only {p} is proven by a \
                     delivered packet"
                ),
                (_, None) => "1280 is the IPv6 minimum that any IPv6-capable path carries; no smaller packet \
                     was delivered to prove a value"
                    .to_string(),
            };
            format!(
                "The path MTU is {range} ({v}): the captures do not pin it. {set} ({why}).",
                v = v.name()
            )
        }
    };
    if !m.probe_ping_sizes.is_empty() {
        let sizes: Vec<String> = m.probe_ping_sizes.iter().map(u32::to_string).collect();
        let _ = write!(
            s,
            " To pin it, while both captures run again: `for s in {}; do ping -M do -c 3 -s $s PEER_TUNNEL_ADDRESS; \
             done` through the tunnel; the largest size answered, plus 28, is the MTU to set (at most {}; \
             if none is answered, probe below {} the same way).",
            sizes.join(" "),
            m.at_most,
            m.probe_ping_sizes.first().map_or(0, |s| s + 28)
        );
    }
    if !confirmed {
        s.push_str(" Confirm with a capture of the other end first.");
    }
    s
}
