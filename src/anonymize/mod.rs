//! Stage 7: anonymisation at the output. A finished report (`analyze`,
//! `inspect`, each `batch` incident) has every IP address in its typed
//! fields replaced, and its words written again from them, before it is
//! rendered; the analysis itself always runs on the real addresses.
//!
//! The map is Crypto-PAn ([`CryptoPan`], tested against the reference
//! implementation's sample trace) with the ranges that give an address its
//! meaning kept: loopback, multicast, broadcast, `0.0.0.0/8`, the private,
//! shared (CGNAT) and link-local ranges, `::`, `::1`, IPv6 unique-local,
//! link-local, multicast and IPv4-mapped. On the paths that lead into those
//! ranges the flip bits are forced to 0, so they keep their leading bits, the
//! map stays one-to-one and prefix-preserving for all addresses, and no other
//! address lands in a kept range; outside them it is the pure Crypto-PAn map.
//!
//! The key is 32 bytes ([`KEY_LEN`]): the AES-128 key, then the pad seed, as
//! in the reference implementation. [`Anonymizer::from_key_file`] reads it
//! from a file (`--anonymize-key`), so that runs and batch shards with the
//! same key map the same address to the same fake one; without a key file
//! [`Anonymizer::random`] draws one from the operating system per run and
//! never writes it out.

mod addrs;
mod cryptopan;

pub use addrs::Addresses;
pub use cryptopan::{CryptoPan, KEY_LEN};

use cryptopan::prefix_mask;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

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

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("{}: cannot read the anonymisation key: {source}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not exactly [`KEY_LEN`] bytes.
    #[error(
        "{}: an anonymisation key is exactly 32 bytes (AES-128 key, then pad), this file has {len}; make one with `head -c 32 /dev/urandom > FILE`",
        path.display()
    )]
    Size {
        /// The key file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
}

/// The address map of a run: Crypto-PAn keeping the special ranges.
#[derive(Clone, Debug)]
pub struct Anonymizer {
    pan: CryptoPan,
}

impl Anonymizer {
    /// The map of a 32-byte key.
    pub fn from_key(key: &[u8; KEY_LEN]) -> Anonymizer {
        Anonymizer {
            pan: CryptoPan::new(key),
        }
    }

    /// The map of the key in `path`: exactly 32 raw bytes.
    pub fn from_key_file(path: &Path) -> Result<Anonymizer, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| KeyError::Size {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
        })?;
        Ok(Anonymizer::from_key(&key))
    }

    /// A map with a fresh key from the operating system's random source
    /// (hashes of the standard library's per-process random seeds if that
    /// fails).
    pub fn random() -> Anonymizer {
        let mut key = [0u8; KEY_LEN];
        if getrandom::fill(&mut key).is_err() {
            use std::hash::{BuildHasher, Hasher};
            for chunk in key.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(chunk.as_ptr() as usize);
                chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
            }
        }
        Anonymizer::from_key(&key)
    }

    /// The anonymised form of an address.
    pub fn map(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let keep =
                    KEEP_V4.map(|(net, len)| (u128::from(u32::from_be_bytes(net)) << 96, len));
                let out = self
                    .pan
                    .permute(u128::from(u32::from(a)) << 96, 32, |p, l| {
                        kept_path(&keep, p, l)
                    });
                IpAddr::V4(((out >> 96) as u32).into())
            }
            IpAddr::V6(a) => IpAddr::V6(
                self.pan
                    .permute(u128::from(a), 128, |p, l| kept_path(&KEEP_V6, p, l))
                    .into(),
            ),
        }
    }

    /// Rewrites every address of `value` (a report or part of one).
    pub fn apply<T: Addresses + ?Sized>(&self, value: &mut T) {
        value.map_addrs(&|ip| self.map(ip));
    }
}

/// Whether the first `len` bits `prefix` lead into a kept range, so the next flip is 0.
fn kept_path(keep: &[(u128, u32)], prefix: u128, len: u32) -> bool {
    keep.iter()
        .any(|(net, l)| len < *l && net & prefix_mask(len) == prefix)
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
        let an = Anonymizer::random();
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
        let an = Anonymizer::random();
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

    /// The range-keeping map is pure Crypto-PAn with the flips on the paths
    /// into kept ranges cleared, and nothing else changed.
    #[test]
    fn it_is_crypto_pan_with_the_kept_paths_cleared() {
        let key: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let an = Anonymizer::from_key(&key);
        let pan = CryptoPan::new(&key);
        let keep = KEEP_V4.map(|(n, len)| (u128::from(u32::from_be_bytes(n)) << 96, len));
        for s in [
            "64.1.2.3",
            "1.2.3.4",
            "198.51.100.2",
            "203.0.113.9",
            "192.168.7.1",
        ] {
            let a: std::net::Ipv4Addr = s.parse().expect("address");
            let x = u32::from(a);
            let forced: u32 = (0..32)
                .filter(|&l| kept_path(&keep, (u128::from(x) << 96) & prefix_mask(l), l))
                .map(|l| 1u32 << (31 - l))
                .sum();
            let pure = u32::from(pan.ipv4(a)) ^ x;
            let IpAddr::V4(kept) = an.map(IpAddr::V4(a)) else {
                panic!("v4 maps to v4")
            };
            assert_eq!(u32::from(kept) ^ x, pure & !forced, "{s}");
        }
        // Same key, same map: what makes shards agree.
        let again = Anonymizer::from_key(&key);
        assert_eq!(an.map(v4("203.0.113.9")), again.map(v4("203.0.113.9")));
    }
}
