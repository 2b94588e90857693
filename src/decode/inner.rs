//! What a tunnel's inner packets need beyond sizes: TCP flags and the MSS
//! of a SYN, and an id that names the same IP packet in both captures.
//!
//! Only TCP and ICMP packets pay for this; the outer WireGuard packets of
//! an ordinary capture are UDP and never get here.

use super::record::{PacketId, PacketKind, TcpFlags};
use rustc_hash::FxHasher;
use std::hash::Hasher;

/// TCP option kinds.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

/// The id of the IP packet `packet` (header on), see [`PacketId`].
pub(super) fn packet_id(packet: &[u8], v6: bool) -> PacketId {
    let mut buf = [0u8; PacketId::BYTES];
    let n = packet.len().min(PacketId::BYTES);
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), packet.get(..n)) {
        dst.copy_from_slice(src);
    }
    // Left out: what routers rewrite on the way.
    if v6 {
        if let Some(hop) = buf.get_mut(7) {
            *hop = 0;
        }
    } else if let Some(x) = buf.get_mut(8..12) {
        // TTL, (protocol kept), header checksum.
        x[0] = 0;
        x[2] = 0;
        x[3] = 0;
    }
    let mut h = FxHasher::default();
    h.write_usize(n);
    h.write(&buf[..n]);
    let x = h.finish();
    PacketId((x >> 32) as u32 ^ x as u32)
}

/// The kind of a TCP segment: flags, and the MSS option of a SYN.
/// `segment` is the TCP header on (maybe cut short by the snap length).
pub(super) fn tcp_kind(segment: &[u8], id: PacketId) -> PacketKind {
    let flags = TcpFlags(segment.get(13).copied().unwrap_or(0));
    let mss = if flags.has(TcpFlags::SYN) {
        mss_option(segment).unwrap_or(0)
    } else {
        0
    };
    PacketKind::Tcp { flags, mss, id }
}

/// The MSS option among the options of the TCP header `segment`.
fn mss_option(segment: &[u8]) -> Option<u16> {
    let offset = usize::from(segment.get(12)? >> 4) * 4;
    let mut opts = segment.get(20..offset.min(segment.len()))?;
    while let Some((&kind, rest)) = opts.split_first() {
        match kind {
            OPT_END => return None,
            OPT_NOP => opts = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if len < 2 {
                    return None;
                }
                if kind == OPT_MSS && len == 4 {
                    return Some(u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]));
                }
                opts = opts.get(len..)?;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(options: &[u8]) -> Vec<u8> {
        let mut s = vec![0u8; 20];
        s[12] = (((20 + options.len()) / 4) << 4) as u8;
        s[13] = TcpFlags::SYN;
        s.extend_from_slice(options);
        s
    }

    #[test]
    fn mss_of_a_syn() {
        // Linux's SYN: MSS 1380, SACK permitted, timestamps, NOP, window scale.
        let opts = [
            2, 4, 0x05, 0x64, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let k = tcp_kind(&syn(&opts), PacketId(0));
        assert!(matches!(k, PacketKind::Tcp { mss: 1380, .. }), "{k:?}");
        // Behind NOPs.
        let k = tcp_kind(&syn(&[1, 1, 2, 4, 0x05, 0xb4, 1, 1]), PacketId(0));
        assert!(matches!(k, PacketKind::Tcp { mss: 1460, .. }));
    }

    #[test]
    fn damaged_options_give_no_mss() {
        for opts in [
            &[3, 0, 0, 0][..],
            &[3, 9, 0, 0],
            &[2, 4, 5],
            &[0, 2, 4, 5, 0x64],
        ] {
            let mut s = syn(opts);
            assert!(matches!(
                tcp_kind(&s, PacketId(0)),
                PacketKind::Tcp { mss: 0, .. }
            ));
            s.truncate(22);
            assert!(matches!(
                tcp_kind(&s, PacketId(0)),
                PacketKind::Tcp { mss: 0, .. }
            ));
        }
        // A data offset past the end, and a segment of 3 bytes.
        let mut s = syn(&[2, 4, 5, 0x64]);
        s[12] = 0xf0;
        assert!(matches!(
            tcp_kind(&s, PacketId(0)),
            PacketKind::Tcp { mss: 1380, .. }
        ));
        assert!(matches!(
            tcp_kind(&[1, 2, 3], PacketId(0)),
            PacketKind::Tcp { mss: 0, .. }
        ));
    }

    #[test]
    fn the_id_ignores_what_routers_rewrite() {
        let mut p: Vec<u8> = (0..100u8).collect();
        p[0] = 0x45;
        let id = packet_id(&p, false);
        let mut q = p.clone();
        q[8] = 3;
        q[10] = 0xab;
        q[11] = 0xcd;
        assert_eq!(packet_id(&q, false), id);
        q[20] ^= 1;
        assert_ne!(packet_id(&q, false), id);
        // Bytes past the hashed prefix do not count; the captured length does.
        let mut r = p.clone();
        r[90] ^= 1;
        assert_eq!(packet_id(&r, false), id);
        assert_ne!(packet_id(&p[..40], false), id);
    }
}
