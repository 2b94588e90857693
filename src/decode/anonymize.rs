//! Prefix-preserving IP address anonymisation, for reports that go into tickets.
//!
//! Each address bit is flipped or kept by a keyed pseudo-random function of
//! the bits before it (the Crypto-PAn construction), so two addresses that
//! share an n-bit prefix still share exactly an n-bit prefix afterwards:
//! subnets stay subnets, and the same address maps to the same fake one in
//! every capture of a run. The key is random per run and never written out.
//!
//! The leading bits that give an address its meaning to the diagnosis
//! (loopback, multicast, broadcast, `0.0.0.0/8`, the private and link-local
//! ranges) are kept, so martian detection and the reader's sense of "this is
//! a LAN address" survive; the rest of the address is anonymised. This is
//! done inside the construction (the flip bit is forced to 0 on the paths
//! that lead to those ranges), so the map stays one-to-one and prefix
//! preserving for all addresses, and no other address lands in a kept range.
//! Ports and sizes are not touched, and wgtrace never outputs payload bytes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A prefix-preserving address permutation with a per-run random key.
#[derive(Clone, Debug)]
pub struct Anonymizer {
    key: RandomState,
}

impl Default for Anonymizer {
    fn default() -> Self {
        Self::new()
    }
}

/// IPv4 prefixes kept as they are: (network, prefix length).
const KEEP_V4: [([u8; 4], u32); 10] = [
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 168, 0, 0], 16),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
    ([255, 255, 255, 255], 32),
];

/// IPv6 prefixes kept as they are.
const KEEP_V6: [(u128, u32); 6] = [
    (0, 128),                                        // ::
    (1, 128),                                        // ::1
    (0xfc00 << 112, 7),                              // unique local
    (0xfe80 << 112, 10),                             // link local
    (0xff00 << 112, 8),                              // multicast
    (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96), // IPv4-mapped (its IPv4 part is not mapped here)
];

impl Anonymizer {
    /// A new anonymiser with a fresh random key.
    pub fn new() -> Anonymizer {
        Anonymizer {
            key: RandomState::new(),
        }
    }

    /// One pseudo-random bit from the first `len` bits of `prefix` (left-aligned),
    /// or 0 where those bits lead towards a kept range.
    fn bit(&self, prefix: u128, len: u32, width: u32, keep: &[(u128, u32)]) -> u128 {
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        let masked = prefix & mask;
        if keep.iter().any(|(net, l)| len < *l && net & mask == masked) {
            return 0;
        }
        let mut h = self.key.build_hasher();
        h.write_u128(masked);
        h.write_u32(len);
        h.write_u32(width);
        u128::from(h.finish() & 1)
    }

    /// Crypto-PAn over a `width`-bit address held left-aligned in a u128.
    fn permute(&self, addr: u128, width: u32, keep: &[(u128, u32)]) -> u128 {
        let mut out = addr;
        for i in 0..width {
            out ^= self.bit(addr, i, width, keep) << (127 - i);
        }
        out
    }

    /// The anonymised form of an address.
    pub fn map(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let keep =
                    KEEP_V4.map(|(net, len)| (u128::from(u32::from_be_bytes(net)) << 96, len));
                let out = self.permute(u128::from(u32::from(a)) << 96, 32, &keep);
                IpAddr::V4(Ipv4Addr::from((out >> 96) as u32))
            }
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(self.permute(u128::from(a), 128, &KEEP_V6))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn common_prefix(a: IpAddr, b: IpAddr) -> u32 {
        match (a, b) {
            (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x) ^ u32::from(y)).leading_zeros(),
            (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x) ^ u128::from(y)).leading_zeros(),
            _ => 0,
        }
    }

    #[test]
    fn prefixes_are_preserved_exactly() {
        let an = Anonymizer::new();
        let addrs = [
            "198.51.100.2",
            "198.51.100.77",
            "198.51.101.2",
            "203.0.113.1",
            "8.8.8.8",
            "192.168.1.2",
            "192.168.2.10",
        ];
        for a in addrs {
            for b in addrs {
                let (a, b) = (v4(a), v4(b));
                assert_eq!(
                    common_prefix(a, b),
                    common_prefix(an.map(a), an.map(b)),
                    "{a} {b}"
                );
            }
        }
        assert_ne!(an.map(v4("198.51.100.2")), v4("198.51.100.2"));
        // One-to-one, and nothing else lands in a kept range.
        let mapped: std::collections::HashSet<IpAddr> = (0..=255u8)
            .map(|o| an.map(IpAddr::from([o, 7, 7, 7])))
            .collect();
        assert_eq!(mapped.len(), 256);
        for o in 0..=255u8 {
            let (a, b) = (
                IpAddr::from([o, 7, 7, 7]),
                an.map(IpAddr::from([o, 7, 7, 7])),
            );
            let private =
                |ip: IpAddr| matches!(ip, IpAddr::V4(x) if x.is_private() || x.is_loopback());
            assert_eq!(private(a), private(b), "{a} -> {b}");
        }
        assert_eq!(an.map(v4("198.51.100.2")), an.map(v4("198.51.100.2")));
    }

    #[test]
    fn special_ranges_keep_their_meaning() {
        let an = Anonymizer::new();
        let m = |s: &str| an.map(v4(s));
        assert!(matches!(m("127.0.0.1"), IpAddr::V4(a) if a.is_loopback()));
        assert!(matches!(m("224.0.0.5"), IpAddr::V4(a) if a.is_multicast()));
        assert_eq!(m("255.255.255.255"), v4("255.255.255.255"));
        assert!(matches!(m("192.168.1.2"), IpAddr::V4(a) if a.octets()[..2] == [192, 168]));
        let v6 = |s: &str| an.map(s.parse().expect("address"));
        assert_eq!(v6("::1"), "::1".parse::<IpAddr>().expect("address"));
        assert!(matches!(v6("ff02::1"), IpAddr::V6(a) if a.is_multicast()));
        assert_ne!(
            v6("2001:db8::1"),
            "2001:db8::1".parse::<IpAddr>().expect("address")
        );
    }
}
