//! Link layers a Linux host produces, stripped down to the network-layer packet.

use super::record::{DecodeIssue, Flags};
use crate::capture::LinkType;
use etherparse::{EtherType, Ethernet2Slice};

/// What lies under the link-layer header.
#[derive(Debug, Clone, Copy)]
pub enum Network<'a> {
    /// An IPv4 or IPv6 packet (`ether_type` says which, when the link says).
    Ip {
        /// The bytes from the IP header on.
        packet: &'a [u8],
        /// [`Flags::OUTGOING`] / [`Flags::INCOMING`] from Linux cooked headers, else 0.
        direction: u16,
    },
    /// Something that is not IP; the ethertype (or link protocol) says what.
    NonIp(u16),
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
/// Address families in NULL/LOOP headers: AF_INET, and AF_INET6 on Linux, the BSDs and macOS.
const AF_INET: u32 = 2;
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

fn ip(packet: &[u8], direction: u16) -> Network<'_> {
    Network::Ip { packet, direction }
}

fn by_ethertype(ethertype: u16, payload: &[u8], direction: u16) -> Network<'_> {
    match ethertype {
        ETH_IPV4 | ETH_IPV6 => ip(payload, direction),
        other => Network::NonIp(other),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Strips the link-layer header of `data`, as `link` defines it.
pub fn network_layer(link: LinkType, data: &[u8]) -> Result<Network<'_>, DecodeIssue> {
    use DecodeIssue::TruncatedLinkHeader as Short;
    match link {
        LinkType::EN10MB => {
            let eth = Ethernet2Slice::from_slice_without_fcs(data).map_err(|_| Short)?;
            let mut ethertype = eth.ether_type().0;
            let mut rest = eth.payload().payload;
            // 802.1Q, 802.1ad and the old QinQ tag: 4 bytes each, then the inner ethertype.
            let mut tags = 0;
            while matches!(
                EtherType(ethertype),
                EtherType::VLAN_TAGGED_FRAME
                    | EtherType::PROVIDER_BRIDGING
                    | EtherType::VLAN_DOUBLE_TAGGED_FRAME
            ) && tags < 4
            {
                ethertype = be16(rest, 2).ok_or(Short)?;
                rest = rest.get(4..).ok_or(Short)?;
                tags += 1;
            }
            if ethertype == PPPOE_SESSION {
                let proto = be16(rest, 6).ok_or(Short)?;
                let payload = rest.get(8..).ok_or(Short)?;
                return Ok(match proto {
                    PPP_IPV4 | PPP_IPV6 => ip(payload, 0),
                    other => Network::NonIp(other),
                });
            }
            Ok(by_ethertype(ethertype, rest, 0))
        }
        LinkType::LINUX_SLL => {
            // pkttype(2) arphrd(2) addrlen(2) addr(8) protocol(2)
            let pkttype = be16(data, 0).ok_or(Short)?;
            let arphrd = be16(data, 2).ok_or(Short)?;
            let proto = be16(data, 14).ok_or(Short)?;
            Ok(by_ethertype(
                proto,
                data.get(16..).ok_or(Short)?,
                sll_direction(pkttype) | arphrd_flags(arphrd),
            ))
        }
        LinkType::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) addrlen(1) addr(8)
            let proto = be16(data, 0).ok_or(Short)?;
            let arphrd = be16(data, 8).ok_or(Short)?;
            let pkttype = *data.get(10).ok_or(Short)?;
            Ok(by_ethertype(
                proto,
                data.get(20..).ok_or(Short)?,
                sll_direction(u16::from(pkttype)) | arphrd_flags(arphrd),
            ))
        }
        LinkType::NULL | LinkType::LOOP => {
            let head: [u8; 4] = data.get(..4).and_then(|h| h.try_into().ok()).ok_or(Short)?;
            // NULL is in the writer's byte order, which the file does not record: try both.
            let family = if link == LinkType::LOOP {
                u32::from_be_bytes(head)
            } else {
                let le = u32::from_le_bytes(head);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(head)
                }
            };
            let rest = data.get(4..).ok_or(Short)?;
            if family == AF_INET || AF_INET6.contains(&family) {
                // BSD and macOS loopback; macOS utun shares the header but
                // carries tunnel traffic, which is never martian either.
                Ok(ip(rest, Flags::LOOPBACK))
            } else {
                Ok(Network::NonIp(family as u16))
            }
        }
        LinkType::PPP => {
            let rest = if data.starts_with(&[0xff, 0x03]) {
                data.get(2..).ok_or(Short)?
            } else {
                data
            };
            let proto = be16(rest, 0).ok_or(Short)?;
            let payload = rest.get(2..).ok_or(Short)?;
            Ok(match proto {
                PPP_IPV4 | PPP_IPV6 => ip(payload, 0),
                other => Network::NonIp(other),
            })
        }
        LinkType(12 | 14 | 101) | LinkType::IPV4 | LinkType::IPV6 => Ok(ip(data, 0)),
        _ => Err(DecodeIssue::UnsupportedLinkType),
    }
}

/// ARPHRD_LOOPBACK and ARPHRD_NONE (tun devices, WireGuard).
fn arphrd_flags(arphrd: u16) -> u16 {
    match arphrd {
        772 => Flags::LOOPBACK,
        65534 => Flags::TUNNEL_IF,
        _ => 0,
    }
}

/// Linux `PACKET_*` types: 4 is "sent by us", 0..=3 "received".
fn sll_direction(pkttype: u16) -> u16 {
    match pkttype {
        4 => Flags::OUTGOING,
        0..=3 => Flags::INCOMING,
        _ => 0,
    }
}
