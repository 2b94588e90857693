//! One captured packet as the reader hands it on: a view into the capture's bytes.

use serde::Serialize;
use std::fmt;

/// Frame number as Wireshark shows it: 1 for the first packet of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FrameNo(pub u32);

impl fmt::Display for FrameNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A point in time: nanoseconds since the Unix epoch, as the capturing host's clock read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Seconds as a float, for display only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// A link-layer header type (tcpdump.org's LINKTYPE_ values), kept open so unknown ones survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II, possibly with 802.1Q / QinQ tags.
    pub const EN10MB: LinkType = LinkType(1);
    /// PPP, optional `ff 03` then a 2-byte protocol.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (what `tcpdump -i wg0` writes).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (`tcpdump -i any`).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The libpcap name (`EN10MB`, `LINUX_SLL2`, ...), or `LINKTYPE_<n>` for others.
    pub fn name(self) -> String {
        let known = match self.0 {
            0 => "NULL",
            1 => "EN10MB",
            9 => "PPP",
            12 | 14 | 101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            105 => "IEEE802_11",
            127 => "IEEE802_11_RADIOTAP",
            147..=162 => "USER",
            239 => "NFLOG",
            252 => "WIRESHARK_UPPER_PDU",
            _ => "",
        };
        if known.is_empty() {
            format!("LINKTYPE_{}", self.0)
        } else if known == "USER" {
            format!("USER{}", self.0 - 147)
        } else {
            known.to_string()
        }
    }

    /// Whether wgtrace's decoder understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self.0,
            0 | 1 | 9 | 12 | 14 | 101 | 108 | 113 | 228 | 229 | 276
        )
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl Serialize for LinkType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// One packet record of a capture file, borrowing its bytes from the input.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Wireshark's frame number.
    pub no: FrameNo,
    /// When the packet was captured.
    pub ts: Timestamp,
    /// Length of the packet on the wire (the record's original length), never the captured length.
    pub wire_len: u32,
    /// How to read `data`.
    pub link: LinkType,
    /// Index of the interface in the capture's interface list (0 for classic pcap).
    pub iface: u16,
    /// The captured bytes (possibly fewer than `wire_len`).
    pub data: &'a [u8],
}
