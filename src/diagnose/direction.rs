//! One pass over the packets a direction sent: what every detector of that
//! direction needs.

use super::finding::{DirRef, IpVersion};
use super::mtu::SizeTally;
use super::Capture;
use crate::capture::Timestamp;
use crate::correlate::{Correlation, Role, Side};
use crate::decode::{DecodedCapture, Flags, PacketKind};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// The lost packets of a direction, rebuilt on demand from the records (a
/// blackhole can lose most of a direction: they are never all held).
pub(super) type Lost<'a> =
    dyn Fn() -> Box<dyn Iterator<Item = crate::correlate::SentPacket> + 'a> + 'a;

/// What one pass over a direction's sent packets tells every detector.
///
/// The sent packets are not stored (wgtrace's memory stays per record):
/// one pass counts them by size and keeps the indexes of the lost ones,
/// which are few next to the delivered.
#[derive(Debug, Default)]
pub(super) struct SentSummary {
    /// Whole packets by IP size (fragmented ones left out: their size is not
    /// what crossed the path).
    pub by_ip: BTreeMap<u32, SizeTally>,
    /// Any packet sent over IPv6.
    pub v6: bool,
    /// Record indexes of the lost packets, in capture order.
    pub lost: Vec<u32>,
    /// Sent after the first PMTU signal: fragmented ones.
    pub fragmented_after: u64,
    /// Sent after the first PMTU signal: whole ones bigger than its MTU.
    pub too_big_after: u64,
    /// Transport messages per session (receiver index): (index, sent, delivered).
    pub sessions: Vec<(u32, u64, u64)>,
}

impl SentSummary {
    /// The underlay's IP version.
    pub fn underlay(&self) -> IpVersion {
        if self.v6 {
            IpVersion::Ipv6
        } else {
            IpVersion::Ipv4
        }
    }
}

/// One pass over the packets `side` sent; `signal` is the first PMTU
/// signal's time and MTU, for the counts after it.
pub(super) fn summarize(
    c: &Correlation,
    side: Side,
    cap: &DecodedCapture,
    signal: Option<(Timestamp, u32)>,
) -> SentSummary {
    let mut sum = SentSummary::default();
    // Sizes repeat: count in a hash map, sort once at the end.
    let mut by_ip: HashMap<u32, SizeTally> = HashMap::default();
    // Packets come in runs of one session: remember the last slot.
    let mut slot_of: HashMap<u32, usize> = HashMap::default();
    let mut last: Option<(u32, usize)> = None;
    for (i, (r, &role)) in cap.records.iter().zip(&c.role[side.idx()]).enumerate() {
        let delivered = role == Role::Delivered as u8;
        if !delivered && role != Role::Missing as u8 {
            continue;
        }
        if let PacketKind::WgTransport { receiver, .. } = r.kind {
            let k = match last {
                Some((ix, k)) if ix == receiver.0 => k,
                _ => {
                    let sessions = &mut sum.sessions;
                    let k = *slot_of.entry(receiver.0).or_insert_with(|| {
                        sessions.push((receiver.0, 0, 0));
                        sessions.len() - 1
                    });
                    last = Some((receiver.0, k));
                    k
                }
            };
            if let Some(e) = sum.sessions.get_mut(k) {
                e.1 += 1;
                e.2 += u64::from(delivered);
            }
        }
        let fragmented = r.flags.has(Flags::FIRST_FRAGMENT);
        sum.v6 |= r.flags.has(Flags::IPV6);
        if !delivered {
            sum.lost.push(i as u32);
        }
        if !fragmented {
            let t = by_ip.entry(r.ip_len).or_default();
            t.sent += 1;
            t.udp = r.udp_len;
            if !delivered {
                t.lost += 1;
            }
        }
        if let Some((since, mtu)) = signal {
            if r.ts > since {
                if fragmented {
                    sum.fragmented_after += 1;
                } else if mtu > 0 && r.ip_len > mtu {
                    sum.too_big_after += 1;
                }
            }
        }
    }
    sum.by_ip = by_ip.into_iter().collect();
    sum
}

/// The direction `side` → other, with the endpoints the sender used: those
/// of its busiest matched mapping, else those of its first packet sent.
pub(super) fn dir_ref(caps: [Capture<'_>; 2], c: &Correlation, side: Side) -> DirRef {
    let (from, to) = (caps[side.idx()], caps[side.other().idx()]);
    let mapped = c
        .nat
        .iter()
        .filter(|m| m.from_side == side)
        .max_by_key(|m| m.packets)
        .map(|m| (m.sent_src, m.sent_dst));
    let endpoints = mapped.or_else(|| {
        from.cap
            .records
            .iter()
            .zip(&c.role[side.idx()])
            .find(|(_, &r)| r == Role::Missing as u8)
            .map(|(r, _)| (from.cap.endpoints.get(r.src), from.cap.endpoints.get(r.dst)))
    });
    DirRef {
        from_side: side,
        from: from.name.to_string(),
        to_side: Some(side.other()),
        to: to.name.to_string(),
        from_endpoint: endpoints.map(|e| e.0),
        to_endpoint: endpoints.map(|e| e.1),
    }
}
