//! Words for what happens inside the tunnel: the inner flows behind lost
//! packets, TCP SYNs whose MSS does not fit, inner packets dropped at home.

use crate::diagnose::{
    AffectedFlow, DirRef, InnerProtocol, LocalDropCause, LocalDropGroup, MssFlow, SizeCount,
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
