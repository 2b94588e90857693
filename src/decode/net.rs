//! IP, UDP, ICMP: sizes from the headers, fragments, and the packet an ICMP error quotes.

use super::record::{
    DecodeIssue, Endpoint, Flags, IcmpError, PacketKind, PacketRecord, QuotedPacket,
};
use super::wireguard::{self, Message};
use super::Decoded;
use etherparse::{Icmpv4Slice, Icmpv6Slice, IpNumber, Ipv6ExtensionSlice, LaxIpSlice, UdpSlice};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Bytes of a UDP payload that identify it across captures. Short enough to
/// survive `tcpdump -s 96` on Ethernet, so a truncated and a full capture agree.
const HASHED_PREFIX: usize = 48;

struct IpFacts<'a> {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    /// Total length of this IP packet from its header.
    total_len: u32,
    /// Header bytes that the reassembled datagram keeps in front of its payload.
    header_len: u32,
    fragment: Option<(u32, u16)>,
    payload: &'a [u8],
    truncated: bool,
}

fn ip_facts<'a>(
    ip: &LaxIpSlice<'a>,
    captured: usize,
    flags: &mut Flags,
    ttl: &mut u8,
) -> IpFacts<'a> {
    let payload = ip.payload();
    let mut facts = IpFacts {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        protocol: payload.ip_number.0,
        total_len: captured as u32,
        header_len: 0,
        fragment: None,
        payload: payload.payload,
        truncated: payload.incomplete,
    };
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            *ttl = h.ttl();
            if h.dont_fragment() {
                flags.0 |= Flags::DF;
            }
            facts.total_len = u32::from(h.total_len());
            facts.header_len = u32::from(h.ihl()) * 4;
            if h.more_fragments() || h.fragments_offset().value() != 0 {
                facts.fragment = Some((
                    u32::from(h.identification()),
                    h.fragments_offset().value() * 8,
                ));
            }
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            *ttl = h.hop_limit();
            flags.0 |= Flags::IPV6;
            let ext_len = v6.extensions().slice().len() as u32;
            if h.payload_length() != 0 {
                facts.total_len = 40 + u32::from(h.payload_length());
            }
            facts.header_len = 40 + ext_len;
            for ext in v6.extensions().clone() {
                if let Ipv6ExtensionSlice::Fragment(f) = ext {
                    if f.is_fragmenting_payload() {
                        facts.fragment =
                            Some((f.identification(), f.fragment_offset().value() * 8));
                        // The fragment header itself is gone after reassembly.
                        facts.header_len = facts.header_len.saturating_sub(8);
                    }
                }
            }
        }
    }
    facts
}

fn port_pair(b: &[u8]) -> Option<(u16, u16)> {
    let p = b.get(..4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

fn wg_kind(m: Message) -> PacketKind {
    match m {
        Message::Initiation { sender, ephemeral } => PacketKind::WgInitiation { sender, ephemeral },
        Message::Response {
            sender,
            receiver,
            ephemeral,
        } => PacketKind::WgResponse {
            sender,
            receiver,
            ephemeral,
        },
        Message::CookieReply { receiver } => PacketKind::WgCookieReply { receiver },
        Message::Transport { receiver, counter } => PacketKind::WgTransport { receiver, counter },
    }
}

fn payload_hash(captured: &[u8], len: usize) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    len.hash(&mut h);
    captured
        .get(..HASHED_PREFIX)
        .unwrap_or(captured)
        .hash(&mut h);
    h.finish()
}

/// Decodes an IP packet (the link layer already stripped) into `base`.
pub(super) fn decode_ip(packet: &[u8], mut r: PacketRecord) -> Decoded {
    let ip = match LaxIpSlice::from_slice(packet) {
        Ok((ip, _)) => ip,
        Err(_) => {
            r.kind = PacketKind::Undecodable(DecodeIssue::BadIpHeader);
            return Decoded {
                record: r,
                endpoints: None,
            };
        }
    };
    let f = ip_facts(&ip, packet.len(), &mut r.flags, &mut r.ttl);
    r.ip_len = f.total_len;
    r.frag_len = f.total_len.min(u32::from(u16::MAX)) as u16;
    let (mut sport, mut dport) = (0, 0);
    if let Some((id, offset)) = f.fragment {
        if offset != 0 {
            r.kind = PacketKind::Fragment { id, offset };
            return Decoded {
                record: r,
                endpoints: Some((
                    Endpoint { ip: f.src, port: 0 },
                    Endpoint { ip: f.dst, port: 0 },
                )),
            };
        }
        r.flags.0 |= Flags::FIRST_FRAGMENT;
    }
    let v6 = r.flags.has(Flags::IPV6);
    r.kind = match IpNumber(f.protocol) {
        IpNumber::UDP => match UdpSlice::from_slice_lax(f.payload) {
            Ok(udp) => {
                sport = udp.source_port();
                dport = udp.destination_port();
                let udp_total = usize::from(udp.length());
                let payload_len = udp_total.saturating_sub(8);
                if f.fragment.is_some() {
                    // The first fragment's UDP length covers the whole datagram.
                    r.ip_len = f.header_len + udp_total as u32;
                }
                r.udp_len = payload_len.min(usize::from(u16::MAX)) as u16;
                match wireguard::parse(udp.payload(), payload_len) {
                    Some(m) => wg_kind(m),
                    None => PacketKind::Udp {
                        payload_hash: payload_hash(udp.payload(), payload_len),
                    },
                }
            }
            Err(_) => {
                r.flags.0 |= Flags::TRUNCATED;
                PacketKind::OtherIp {
                    protocol: f.protocol,
                }
            }
        },
        IpNumber::TCP => {
            if let Some((s, d)) = port_pair(f.payload) {
                (sport, dport) = (s, d);
            }
            PacketKind::Tcp
        }
        IpNumber::ICMP if !v6 => icmpv4(f.payload),
        IpNumber::IPV6_ICMP if v6 => icmpv6(f.payload),
        other => PacketKind::OtherIp { protocol: other.0 },
    };
    if f.truncated {
        r.flags.0 |= Flags::TRUNCATED;
    }
    Decoded {
        record: r,
        endpoints: Some((
            Endpoint {
                ip: f.src,
                port: sport,
            },
            Endpoint {
                ip: f.dst,
                port: dport,
            },
        )),
    }
}

fn icmpv4(bytes: &[u8]) -> PacketKind {
    let Ok(icmp) = Icmpv4Slice::from_slice(bytes) else {
        return PacketKind::OtherIp { protocol: 1 };
    };
    let (ty, code) = (icmp.type_u8(), icmp.code_u8());
    match ty {
        // destination unreachable, time exceeded, parameter problem
        3 | 11 | 12 => {
            let rest = icmp.bytes5to8();
            let mtu =
                (ty == 3 && code == 4).then(|| u32::from(u16::from_be_bytes([rest[2], rest[3]])));
            PacketKind::IcmpError(Box::new(IcmpError {
                v6: false,
                ty,
                code,
                mtu,
                quoted: quoted(icmp.payload()),
            }))
        }
        _ => PacketKind::Icmp { ty, code },
    }
}

fn icmpv6(bytes: &[u8]) -> PacketKind {
    let Ok(icmp) = Icmpv6Slice::from_slice(bytes) else {
        return PacketKind::OtherIp { protocol: 58 };
    };
    let (ty, code) = (icmp.type_u8(), icmp.code_u8());
    match ty {
        // destination unreachable, packet too big, time exceeded, parameter problem
        1..=4 => PacketKind::IcmpError(Box::new(IcmpError {
            v6: true,
            ty,
            code,
            mtu: (ty == 2).then(|| u32::from_be_bytes(icmp.bytes5to8())),
            quoted: quoted(icmp.payload()),
        })),
        _ => PacketKind::Icmp { ty, code },
    }
}

/// Reads the headers of the packet an ICMP error quotes; it is usually cut short.
fn quoted(bytes: &[u8]) -> Option<QuotedPacket> {
    let (ip, _) = LaxIpSlice::from_slice(bytes).ok()?;
    let mut flags = Flags::default();
    let mut ttl = 0;
    let f = ip_facts(&ip, bytes.len(), &mut flags, &mut ttl);
    let mut q = QuotedPacket {
        src: Endpoint { ip: f.src, port: 0 },
        dst: Endpoint { ip: f.dst, port: 0 },
        ip_len: f.total_len,
        protocol: f.protocol,
        wireguard: None,
    };
    if matches!(IpNumber(f.protocol), IpNumber::UDP | IpNumber::TCP) {
        if let Some((s, d)) = port_pair(f.payload) {
            q.src.port = s;
            q.dst.port = d;
        }
    }
    if IpNumber(f.protocol) == IpNumber::UDP {
        if let Ok(udp) = UdpSlice::from_slice_lax(f.payload) {
            let len = usize::from(udp.length()).saturating_sub(8);
            if let Some(Message::Transport { receiver, counter }) =
                wireguard::parse(udp.payload(), len)
            {
                q.wireguard = Some((receiver, counter));
            }
        }
    }
    Some(q)
}
