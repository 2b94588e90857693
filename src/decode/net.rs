//! IP, UDP, ICMP: sizes from the headers, fragments, and the packet an ICMP error quotes.

use super::inner;
use super::record::{
    DecodeIssue, Endpoint, Flags, IcmpError, PacketKind, PacketRecord, QuotedPacket,
};
use super::wireguard::{self, Message};
use super::Decoded;
use etherparse::{Icmpv4Slice, Icmpv6Slice, IpNumber, LaxIpSlice, UdpSlice};
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
            if let Some(frag) = v6_fragment(h.next_header(), v6.extensions().slice()) {
                facts.fragment = Some(frag);
                // The fragment header itself is gone after reassembly.
                facts.header_len = facts.header_len.saturating_sub(8);
            }
        }
    }
    facts
}

/// The fragment header among the IPv6 extension headers `exts` (which start with
/// header type `first`): `(identification, offset in bytes)` if it fragments the payload.
///
/// Walks the headers with checked reads instead of etherparse's
/// `Ipv6ExtensionSliceIter`: when the lax parse stopped at a damaged extension
/// header, that iterator follows the last good header's next-header field past
/// the end of the parsed slice with unchecked reads (an out-of-bounds read the
/// `capture_file` fuzzer found; etherparse 0.21).
fn v6_fragment(first: IpNumber, mut exts: &[u8]) -> Option<(u32, u16)> {
    let mut next = first;
    loop {
        let len = match next {
            IpNumber::IPV6_HEADER_HOP_BY_HOP
            | IpNumber::IPV6_ROUTE_HEADER
            | IpNumber::IPV6_DESTINATION_OPTIONS => (usize::from(*exts.get(1)?) + 1) * 8,
            IpNumber::IPV6_FRAGMENTATION_HEADER => 8,
            IpNumber::AUTHENTICATION_HEADER => (usize::from(*exts.get(1)?) + 2) * 4,
            _ => return None,
        };
        let header = exts.get(..len)?;
        if next == IpNumber::IPV6_FRAGMENTATION_HEADER {
            let [_, _, o1, o2, i1, i2, i3, i4] = *header.first_chunk::<8>()?;
            let offset_flags = u16::from_be_bytes([o1, o2]);
            let (offset, more) = (offset_flags >> 3, offset_flags & 1 != 0);
            if offset != 0 || more {
                // 13 bits of 8-byte units: at most 65528, fits.
                return Some((u32::from_be_bytes([i1, i2, i3, i4]), offset * 8));
            }
        }
        next = IpNumber(*header.first()?);
        exts = exts.get(len..)?;
    }
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
pub(super) fn decode_ip(
    packet: &[u8],
    mut r: PacketRecord,
    scanner: &mut wireguard::Scanner,
) -> Decoded {
    let ip = match LaxIpSlice::from_slice(packet) {
        Ok((ip, _)) => ip,
        Err(_) => {
            r.kind = PacketKind::Undecodable(DecodeIssue::BadIpHeader);
            return Decoded {
                record: r,
                endpoints: None,
                extra: Vec::new(),
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
                extra: Vec::new(),
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
                let kind = match wireguard::parse(udp.payload(), payload_len) {
                    Some(m) => wg_kind(m),
                    None => PacketKind::Udp {
                        payload_hash: payload_hash(udp.payload(), payload_len),
                    },
                };
                // Where the IP payload starts in `packet` (both borrow the frame).
                let at = (f.payload.as_ptr() as usize).saturating_sub(packet.as_ptr() as usize);
                let all = packet.get(at.saturating_add(8)..).unwrap_or_default();
                let whole = udp.payload().len() == payload_len && all.len() == payload_len;
                let deferred = match kind {
                    PacketKind::WgTransport { receiver, counter }
                        if f.fragment.is_none()
                            && whole
                            && payload_len >= 2 * wireguard::size::KEEPALIVE
                            && scanner.defers() =>
                    {
                        scanner.defer(receiver.0, counter.0, udp.payload());
                        true
                    }
                    _ => false,
                };
                if f.fragment.is_none() && !deferred {
                    if let Some((kind, extra)) = superpacket(
                        udp.payload(),
                        payload_len,
                        all,
                        f.header_len,
                        &mut r,
                        scanner,
                    ) {
                        r.kind = kind;
                        if f.truncated {
                            r.flags.0 |= Flags::TRUNCATED;
                        }
                        return with_endpoints(r, (f.src, sport), (f.dst, dport), extra);
                    }
                }
                kind
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
            inner::tcp_kind(
                f.payload,
                inner::packet_id(ip_only(packet, f.total_len), v6),
            )
        }
        IpNumber::ICMP if !v6 => icmpv4(f.payload, ip_only(packet, f.total_len)),
        IpNumber::IPV6_ICMP if v6 => icmpv6(f.payload, ip_only(packet, f.total_len)),
        other => PacketKind::OtherIp { protocol: other.0 },
    };
    if f.truncated {
        r.flags.0 |= Flags::TRUNCATED;
    }
    with_endpoints(r, (f.src, sport), (f.dst, dport), Vec::new())
}

/// The IP packet without a link-layer trailer (Ethernet padding), for the
/// ids of TCP and ICMP only, so WireGuard's UDP never pays for it
/// (`packet` itself may hold more: the segments of a super-packet).
fn ip_only(packet: &[u8], total_len: u32) -> &[u8] {
    packet.get(..total_len as usize).unwrap_or(packet)
}

/// A decoded packet between two endpoints, with the records split from it.
fn with_endpoints(
    record: PacketRecord,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    extra: Vec<PacketRecord>,
) -> Decoded {
    Decoded {
        record,
        endpoints: Some((
            Endpoint {
                ip: src.0,
                port: src.1,
            },
            Endpoint {
                ip: dst.0,
                port: dst.1,
            },
        )),
        extra,
    }
}

/// A UDP payload holding several WireGuard messages (see [`wireguard::batch`]):
/// the first message's kind for `r`, with `r`'s sizes and flags set, and the
/// records of the other messages. `None` for a payload of one message.
///
/// `payload` is the UDP payload as the headers bound it (`payload_len` bytes
/// by the UDP header); `all` every captured byte after the UDP header, for
/// a super-packet whose length fields give one segment's size but whose
/// frame holds them all. `header_len` is the IP header's size.
fn superpacket(
    payload: &[u8],
    payload_len: usize,
    all: &[u8],
    header_len: u32,
    r: &mut PacketRecord,
    scanner: &mut wireguard::Scanner,
) -> Option<(PacketKind, Vec<PacketRecord>)> {
    use wireguard::Batch;
    let mut found = wireguard::batch_with(payload, payload_len, scanner);
    let mut bytes = payload;
    if found == Batch::Single && all.len() > payload.len() && payload.len() == payload_len {
        // Only a clean split counts here: the bytes past the length fields
        // may be a link-layer trailer.
        if let split @ Batch::Split { .. } = wireguard::batch_with(all, all.len(), scanner) {
            (found, bytes) = (split, all);
        }
    }
    match found {
        Batch::Single => None,
        Batch::Unsplittable => {
            r.flags.0 |= Flags::SUPERPACKET;
            // The first message, by its own size when it is a handshake.
            let first = payload.first().map_or(0, |&t| match t {
                wireguard::msg_type::INITIATION => wireguard::size::INITIATION,
                wireguard::msg_type::RESPONSE => wireguard::size::RESPONSE,
                wireguard::msg_type::COOKIE_REPLY => wireguard::size::COOKIE_REPLY,
                _ => payload_len,
            });
            let kind = wireguard::parse(payload, first).map_or(
                PacketKind::Udp {
                    payload_hash: payload_hash(payload, payload_len),
                },
                wg_kind,
            );
            Some((kind, Vec::new()))
        }
        Batch::Split { size, count, last } => {
            let mut recs =
                wireguard::segments(bytes, size, count, last).map(|(_, len, receiver, counter)| {
                    let ip_len = header_len + 8 + len as u32;
                    PacketRecord {
                        kind: PacketKind::WgTransport { receiver, counter },
                        ip_len,
                        udp_len: len.min(usize::from(u16::MAX)) as u16,
                        frag_len: ip_len.min(u32::from(u16::MAX)) as u16,
                        flags: Flags(r.flags.0 | Flags::SPLIT),
                        ..r.clone()
                    }
                });
            let first = recs.next()?;
            let rest: Vec<PacketRecord> = recs.collect();
            let kind = first.kind.clone();
            *r = first;
            Some((kind, rest))
        }
    }
}

fn icmpv4(bytes: &[u8], packet: &[u8]) -> PacketKind {
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
                id: inner::packet_id(packet, false),
            }))
        }
        _ => PacketKind::Icmp {
            ty,
            code,
            echo: if matches!(ty, 0 | 8) {
                echo_id(bytes)
            } else {
                0
            },
            id: inner::packet_id(packet, false),
        },
    }
}

fn icmpv6(bytes: &[u8], packet: &[u8]) -> PacketKind {
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
            id: inner::packet_id(packet, true),
        })),
        _ => PacketKind::Icmp {
            ty,
            code,
            echo: if matches!(ty, 128 | 129) {
                echo_id(bytes)
            } else {
                0
            },
            id: inner::packet_id(packet, true),
        },
    }
}

/// The identifier of an ICMP / ICMPv6 echo message (bytes 4-5).
fn echo_id(icmp: &[u8]) -> u16 {
    be16_at(icmp, 4).unwrap_or(0)
}

fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
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
        echo: None,
    };
    let echo_request = match IpNumber(f.protocol) {
        IpNumber::ICMP => 8,
        IpNumber::IPV6_ICMP => 128,
        _ => 0,
    };
    if echo_request != 0 && f.payload.first() == Some(&echo_request) {
        q.echo = be16_at(f.payload, 4);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const HOP: IpNumber = IpNumber::IPV6_HEADER_HOP_BY_HOP;

    #[test]
    fn v6_fragment_found_behind_other_headers() {
        // hop-by-hop (8 bytes, next: fragment), fragment (offset 185 * 8, M, id 0x01020304).
        let exts = [44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0x05, 0xc9, 1, 2, 3, 4];
        assert_eq!(v6_fragment(HOP, &exts), Some((0x0102_0304, 1480)));
        // An atomic fragment (offset 0, no M) does not fragment.
        let atomic = [44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(v6_fragment(HOP, &atomic), None);
    }

    #[test]
    fn v6_fragment_stops_at_a_damaged_chain() {
        // hop-by-hop says destination options follow, which claim 16 bytes; 4 remain.
        let exts = [60, 0, 1, 4, 0, 0, 0, 0, 44, 1, 0, 0];
        assert_eq!(v6_fragment(HOP, &exts), None);
        // A header that names itself forever still ends with the bytes.
        let looping = [0u8; 64];
        assert_eq!(v6_fragment(HOP, &looping), None);
        assert_eq!(
            v6_fragment(IpNumber::AUTHENTICATION_HEADER, &[51, 255]),
            None
        );
    }
}
