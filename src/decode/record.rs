//! The compact per-packet record every later stage works on.

use super::wireguard::{Counter, PeerIndex};
use crate::capture::{FrameNo, Timestamp};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// An address and port (port 0 when the protocol has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// UDP/TCP port, 0 for other protocols.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Index into a capture's [`Endpoints`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub u32);

/// Interned endpoints of one capture: records hold 4-byte ids instead of 18-byte addresses.
#[derive(Debug, Default, Clone)]
pub struct Endpoints {
    list: Vec<Endpoint>,
    index: HashMap<Endpoint, EndpointId>,
}

impl Endpoints {
    /// The id of `e`, adding it if new.
    pub fn intern(&mut self, e: Endpoint) -> EndpointId {
        if let Some(id) = self.index.get(&e) {
            return *id;
        }
        let id = EndpointId(self.list.len() as u32);
        self.list.push(e);
        self.index.insert(e, id);
        id
    }

    /// The endpoint behind an id.
    ///
    /// Ids come only from [`Endpoints::intern`] on the same table; an id from
    /// another table yields the unspecified address rather than a panic.
    pub fn get(&self, id: EndpointId) -> Endpoint {
        self.list.get(id.0 as usize).copied().unwrap_or(Endpoint {
            ip: IpAddr::from([0u8; 4]),
            port: 0,
        })
    }

    /// Rewrites every address through `f`, which must be one-to-one (ids stay valid).
    pub fn map_ips(&mut self, f: impl Fn(IpAddr) -> IpAddr) {
        for e in &mut self.list {
            e.ip = f(e.ip);
        }
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, e)| (*e, EndpointId(i as u32)))
            .collect();
    }

    /// The endpoints in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Endpoint> + '_ {
        self.list.iter().copied()
    }

    /// Number of distinct endpoints.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Bit flags of a record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u16);

impl Flags {
    /// IPv4 Don't Fragment was set.
    pub const DF: u16 = 1;
    /// The packet is IPv6.
    pub const IPV6: u16 = 2;
    /// First fragment of a fragmented datagram (sizes are the whole datagram's).
    pub const FIRST_FRAGMENT: u16 = 4;
    /// Fewer bytes were captured than the headers needed (snap length).
    pub const TRUNCATED: u16 = 8;
    /// Linux cooked capture marked the packet as sent by the capturing host.
    pub const OUTGOING: u16 = 16;
    /// Linux cooked capture marked the packet as received by the capturing host.
    pub const INCOMING: u16 = 32;
    /// Recorded on a loopback interface (Linux cooked ARPHRD_LOOPBACK, or a
    /// NULL/LOOP link): never a martian, never on the path.
    pub const LOOPBACK: u16 = 64;
    /// Recorded on a Linux interface without link header (ARPHRD_NONE: a
    /// WireGuard or other tun device), so an inner packet.
    pub const TUNNEL_IF: u16 = 128;
    /// One of the WireGuard transport messages a UDP GSO/GRO super-packet
    /// carried back to back: the frame holds several records, each with the
    /// sizes its message would have had sent alone.
    pub const SPLIT: u16 = 256;
    /// A UDP datagram that visibly holds several WireGuard messages but could
    /// not be cut into them (a handshake among them, sizes or counters that do
    /// not line up, a capture cut short): one record of the first message,
    /// whose sizes are the whole datagram's, so no message size.
    pub const SUPERPACKET: u16 = 512;

    /// Whether `bit` is set.
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

/// What a packet is, with the fields that identify it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// WireGuard handshake initiation.
    WgInitiation {
        /// Initiator's index.
        sender: PeerIndex,
        /// First bytes of the ephemeral key.
        ephemeral: u32,
    },
    /// WireGuard handshake response.
    WgResponse {
        /// Responder's index.
        sender: PeerIndex,
        /// Initiator's index.
        receiver: PeerIndex,
        /// First bytes of the responder's ephemeral key.
        ephemeral: u32,
    },
    /// WireGuard cookie reply.
    WgCookieReply {
        /// Index of the peer it is for.
        receiver: PeerIndex,
    },
    /// WireGuard transport data (a keepalive when `udp_len` is 32).
    WgTransport {
        /// Receiver's session index.
        receiver: PeerIndex,
        /// Nonce counter.
        counter: Counter,
    },
    /// Other UDP: a hash of the captured payload and its length identifies it across captures.
    Udp {
        /// Hash of the payload bytes.
        payload_hash: u64,
    },
    /// TCP (inside a tunnel, or anything else).
    Tcp {
        /// The flags byte (see [`TcpFlags`]).
        flags: TcpFlags,
        /// The MSS option of a SYN (0: none, or not a SYN).
        mss: u16,
        /// [`PacketId`] of the IP packet: the same at both ends of a tunnel.
        id: PacketId,
    },
    /// ICMP or ICMPv6 that is not an error about another packet (echo, ...).
    Icmp {
        /// Type.
        ty: u8,
        /// Code.
        code: u8,
        /// Identifier of an echo request or reply (ping's own id), else 0.
        echo: u16,
        /// [`PacketId`] of the IP packet.
        id: PacketId,
    },
    /// ICMP or ICMPv6 error quoting another packet.
    IcmpError(Box<IcmpError>),
    /// A non-first IP fragment (the first carries the datagram's identity).
    Fragment {
        /// IP identification (IPv4) or fragment header identification (IPv6).
        id: u32,
        /// Offset of the fragment in bytes.
        offset: u16,
    },
    /// An IP protocol wgtrace does not look into.
    OtherIp {
        /// IP protocol number.
        protocol: u8,
    },
    /// Not IP (ARP, LLDP, ...).
    NonIp {
        /// Ethertype or link protocol.
        ethertype: u16,
    },
    /// Could not be decoded.
    Undecodable(DecodeIssue),
}

impl PacketKind {
    /// Whether this is any WireGuard message.
    pub fn is_wireguard(&self) -> bool {
        matches!(
            self,
            PacketKind::WgInitiation { .. }
                | PacketKind::WgResponse { .. }
                | PacketKind::WgCookieReply { .. }
                | PacketKind::WgTransport { .. }
        )
    }
}

/// TCP header flags (byte 13 of the header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 1;
    /// SYN.
    pub const SYN: u8 = 2;
    /// RST.
    pub const RST: u8 = 4;
    /// ACK.
    pub const ACK: u8 = 16;

    /// Whether `bit` is set.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// A 32-bit hash of an IP packet's bytes that no hop changes (all but the
/// TTL / hop limit and the IPv4 header checksum, over the first
/// [`PacketId::BYTES`] bytes). A tunnel's inner packet is the same at both
/// ends, unlike its outer packets, so this names it in both captures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PacketId(pub u32);

impl PacketId {
    /// Bytes hashed: the IP header and the start of TCP/ICMP, and no more
    /// than a `tcpdump -s 96` capture of `-i any` keeps.
    pub const BYTES: usize = 64;
}

/// Why a packet could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecodeIssue {
    /// The link type is not one wgtrace reads.
    UnsupportedLinkType,
    /// Fewer bytes than the link-layer header needs.
    TruncatedLinkHeader,
    /// The IP header is cut short or invalid.
    BadIpHeader,
}

/// What an ICMP error says and which packet it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    /// Type.
    pub ty: u8,
    /// Code.
    pub code: u8,
    /// The MTU announced by fragmentation-needed / packet-too-big (0 when the router left it out).
    pub mtu: Option<u32>,
    /// The packet the error quotes, when its headers could be read.
    pub quoted: Option<QuotedPacket>,
    /// [`PacketId`] of the ICMP packet itself: names an inner ICMP error in
    /// the captures of both ends of the tunnel.
    pub id: PacketId,
}

impl IcmpError {
    /// ICMP type 3 code 4 or ICMPv6 type 2: the path-MTU signals.
    pub fn is_pmtu_signal(&self) -> bool {
        self.mtu.is_some()
    }
}

/// Headers of the packet quoted inside an ICMP error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotedPacket {
    /// Source of the dropped packet.
    pub src: Endpoint,
    /// Destination of the dropped packet.
    pub dst: Endpoint,
    /// IP total length of the dropped packet, from its own header.
    pub ip_len: u32,
    /// IP protocol.
    pub protocol: u8,
    /// WireGuard identity when the router quoted enough of the payload.
    pub wireguard: Option<(PeerIndex, Counter)>,
    /// The identifier of a quoted ICMP / ICMPv6 echo request (each `ping`
    /// run has its own).
    pub echo: Option<u16>,
}

/// One decoded packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRecord {
    /// Capture time.
    pub ts: Timestamp,
    /// What it is.
    pub kind: PacketKind,
    /// Wireshark frame number.
    pub frame: FrameNo,
    /// IP datagram size in bytes from the headers: for the first fragment of
    /// a fragmented datagram, the whole datagram's size. For non-IP, the frame's wire length.
    pub ip_len: u32,
    /// Source endpoint.
    pub src: EndpointId,
    /// Destination endpoint.
    pub dst: EndpointId,
    /// UDP payload length (the WireGuard message size), 0 for non-UDP.
    pub udp_len: u16,
    /// Size of this IP packet itself as captured on the wire (differs from `ip_len` for fragments).
    pub frag_len: u16,
    /// TTL or hop limit.
    pub ttl: u8,
    /// See [`Flags`].
    pub flags: Flags,
    /// Capture interface index (255 stands for 255 and above: the byte it
    /// had went to the flags).
    pub iface: u8,
}
