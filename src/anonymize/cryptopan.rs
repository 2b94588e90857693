//! Crypto-PAn (Xu, Fan, Ammar, Moon: "Prefix-preserving IP address
//! anonymization", 2002), exactly as the authors' reference implementation
//! computes it, so that its published sample key and trace are the test.
//!
//! The key is 32 bytes: the first 16 are an AES-128 key, the next 16 are
//! encrypted with it to give the pad. Bit `i` of an address (from the most
//! significant) is flipped by the first bit of AES(first `i` bits of the
//! address, followed by the pad's bits from `i` on). Two addresses that share
//! an `n`-bit prefix get the same first `n` flips, so their images share
//! exactly `n` bits: the map is a prefix-preserving permutation. IPv6 runs the
//! same construction over 128 bits (as the usual extensions of the reference
//! implementation do).

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Size of a Crypto-PAn key in bytes: AES-128 key, then the pad's seed.
pub const KEY_LEN: usize = 32;

/// The pure Crypto-PAn permutation for one key.
#[derive(Clone)]
pub struct CryptoPan {
    cipher: Aes128,
    /// The pad, as a left-aligned 128-bit number.
    pad: u128,
}

impl std::fmt::Debug for CryptoPan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs and debug output.
        f.write_str("CryptoPan(..)")
    }
}

impl CryptoPan {
    /// The permutation of `key` (AES-128 key in bytes 0..16, pad seed in 16..32).
    pub fn new(key: &[u8; KEY_LEN]) -> CryptoPan {
        let (aes_key, pad_seed) = key.split_at(16);
        let cipher = Aes128::new(GenericArray::from_slice(aes_key));
        let mut pad = GenericArray::clone_from_slice(pad_seed);
        cipher.encrypt_block(&mut pad);
        CryptoPan {
            cipher,
            pad: u128::from_be_bytes(pad.into()),
        }
    }

    /// The flip for bit `len` (0-based from the top) of `addr`, a left-aligned
    /// 128-bit number: the first bit of AES(its first `len` bits, then the pad).
    pub(crate) fn flip(&self, addr: u128, len: u32) -> u128 {
        let mask = prefix_mask(len);
        let input = (addr & mask) | (self.pad & !mask);
        let mut block = GenericArray::from(input.to_be_bytes());
        self.cipher.encrypt_block(&mut block);
        u128::from(block[0] >> 7)
    }

    /// Crypto-PAn over the first `width` bits of `addr` (left-aligned), with
    /// the flips of the prefixes `forced(prefix, len)` names set to 0.
    pub(crate) fn permute(
        &self,
        addr: u128,
        width: u32,
        forced: impl Fn(u128, u32) -> bool,
    ) -> u128 {
        let mut out = addr;
        for i in 0..width {
            if !forced(addr & prefix_mask(i), i) {
                out ^= self.flip(addr, i) << (127 - i);
            }
        }
        out
    }

    /// The anonymised IPv4 address.
    pub fn ipv4(&self, a: Ipv4Addr) -> Ipv4Addr {
        let out = self.permute(u128::from(u32::from(a)) << 96, 32, |_, _| false);
        Ipv4Addr::from((out >> 96) as u32)
    }

    /// The anonymised IPv6 address.
    pub fn ipv6(&self, a: Ipv6Addr) -> Ipv6Addr {
        Ipv6Addr::from(self.permute(u128::from(a), 128, |_, _| false))
    }

    /// The anonymised address.
    pub fn ip(&self, a: IpAddr) -> IpAddr {
        match a {
            IpAddr::V4(a) => IpAddr::V4(self.ipv4(a)),
            IpAddr::V6(a) => IpAddr::V6(self.ipv6(a)),
        }
    }
}

/// The mask of the first `len` bits of a u128 (`len` ≤ 128).
pub(crate) fn prefix_mask(len: u32) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len.min(128))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample key of the reference implementation's distribution
    /// (`sample.cpp`).
    const SAMPLE_KEY: [u8; 32] = [
        21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143, 131,
        121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
    ];

    /// Address pairs of the reference distribution's `sample_trace_raw.dat`
    /// and `sample_trace_sanitized.dat` under [`SAMPLE_KEY`] (the same list
    /// the Go, Python, C++ and Rust ports test against).
    const SAMPLE_TRACE: [(&str, &str); 32] = [
        ("128.11.68.132", "135.242.180.132"),
        ("129.118.74.4", "134.136.186.123"),
        ("130.132.252.244", "133.68.164.234"),
        ("141.223.7.43", "141.167.8.160"),
        ("141.233.145.108", "141.129.237.235"),
        ("152.163.225.39", "151.140.114.167"),
        ("156.29.3.236", "147.225.12.42"),
        ("165.247.96.84", "162.9.99.234"),
        ("166.107.77.190", "160.132.178.185"),
        ("192.102.249.13", "252.138.62.131"),
        ("192.215.32.125", "252.43.47.189"),
        ("192.233.80.103", "252.25.108.8"),
        ("192.41.57.43", "252.222.221.184"),
        ("193.150.244.223", "253.169.52.216"),
        ("195.205.63.100", "255.186.223.5"),
        ("198.200.171.101", "249.199.68.213"),
        ("198.26.132.101", "249.36.123.202"),
        ("198.36.213.5", "249.7.21.132"),
        ("198.51.77.238", "249.18.186.254"),
        ("199.217.79.101", "248.38.184.213"),
        ("202.49.198.20", "245.206.7.234"),
        ("203.12.160.252", "244.248.163.4"),
        ("205.245.121.43", "242.21.121.163"),
        ("207.25.71.27", "241.33.119.156"),
        ("209.85.249.6", "226.170.70.6"),
        ("216.32.132.250", "235.192.139.38"),
        ("24.0.250.221", "100.15.198.226"),
        ("38.15.67.68", "64.3.66.187"),
        ("4.3.88.225", "124.60.155.63"),
        ("63.14.55.111", "95.9.215.7"),
        ("64.14.118.196", "0.255.183.58"),
        ("10.185.25.118", "117.161.29.118"),
    ];

    #[test]
    fn reference_sample_trace() {
        let pan = CryptoPan::new(&SAMPLE_KEY);
        for (raw, sanitized) in SAMPLE_TRACE {
            let raw: Ipv4Addr = raw.parse().expect("address");
            let want: Ipv4Addr = sanitized.parse().expect("address");
            assert_eq!(pan.ipv4(raw), want, "{raw}");
        }
    }

    /// IPv6 as Yawning Angel's Go port (`cryptopan_test.go`) computes it
    /// with the same key: the construction over 128 bits.
    #[test]
    fn ipv6_as_the_go_port() {
        let pan = CryptoPan::new(&SAMPLE_KEY);
        for (raw, want) in [
            ("::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"),
            ("::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"),
            ("::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"),
            ("2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"),
            ("2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"),
        ] {
            let raw: Ipv6Addr = raw.parse().expect("address");
            let want: Ipv6Addr = want.parse().expect("address");
            assert_eq!(pan.ipv6(raw), want, "{raw}");
        }
    }
}
