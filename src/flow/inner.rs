//! Inside the tunnel at one host: a capture that also holds the tunnel
//! interface's packets (`tcpdump -i any`: raw IP on a tun/wg device,
//! [`Flags::TUNNEL_IF`]) ties each inner packet to the outer WireGuard
//! packet that carried it at that host.
//!
//! At the sender an inner packet goes into wg0 and, a few µs later, its
//! outer packet leaves the NIC; at the receiver the outer packet arrives and
//! its inner one comes out of wg0. WireGuard keeps the order of one peer's
//! packets and sizes its message from the inner packet: a UDP payload of
//! 32 + the inner size padded to a multiple of 16, but never past the
//! tunnel MTU. So an inner packet of `n` bytes fits an outer payload `p`
//! exactly when `n <= p - 32 <= pad16(n)`, and each inner packet is matched
//! to the first unclaimed outer packet that fits, inside [`WINDOW_NS`] after
//! it (sent) or before it (received).

use crate::capture::Timestamp;
use crate::decode::{DecodedCapture, Flags, PacketKind, PacketRecord};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// How far apart an inner packet and its outer packet may be at one host.
/// wireguard-go takes tens of µs; a packet queued while the first handshake
/// completes waits one round trip. Small enough that a dropped packet
/// rarely claims the outer packet of the next one of its size (TCP
/// retransmits come 200 ms apart at the least).
pub const WINDOW_NS: i64 = 100_000_000;

/// `inner`/`outer` value of a packet without a partner.
pub const NONE: u32 = u32::MAX;

/// One inner packet of a capture and the outer packet that carried it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerLink {
    /// Record index of the inner packet.
    pub inner: u32,
    /// Record index of its outer packet at this host, or [`NONE`].
    pub outer: u32,
    /// The host sent it into the tunnel (else it came out of the tunnel).
    pub sent: bool,
}

/// The inner packets of one capture, matched to its outer ones.
#[derive(Clone, Debug, Default)]
pub struct InnerPackets {
    /// Every inner packet with a known direction, in record order.
    pub links: Vec<InnerLink>,
    /// Inner packets on the tunnel interface in all (with a direction or not).
    pub seen: u64,
    /// Times of the outer capture's first and last records: an inner packet
    /// sent within [`WINDOW_NS`] of the end may have left after the capture
    /// stopped, one before the start before it began.
    pub span: Option<(Timestamp, Timestamp)>,
    /// A separate capture of the tunnel interface (`--inner-a FILE`) that
    /// `links[].inner` index, with its display name; `None`: the inner
    /// packets are records of the capture itself (`tcpdump -i any`).
    pub source: Option<(Arc<DecodedCapture>, String)>,
}

impl InnerPackets {
    /// The capture holding the inner records: the separate one, or `cap` itself.
    pub fn records_of<'a>(&'a self, cap: &'a DecodedCapture) -> &'a DecodedCapture {
        self.source.as_ref().map_or(cap, |(c, _)| c)
    }

    /// The display name of the file holding the inner records (`name`: the capture's own).
    pub fn file_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.source.as_ref().map_or(name, |(_, n)| n.as_str())
    }

    /// Whether the capture holds no inner packets.
    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// `(outer record, inner record)` of every matched pair, sorted by outer
    /// record: look-ups from the outer packets' fates.
    pub fn by_outer(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self
            .links
            .iter()
            .filter(|l| l.outer != NONE)
            .map(|l| (l.outer, l.inner))
            .collect();
        v.sort_unstable();
        v
    }

    /// The inner record the outer record `outer` carried (`by_outer` as built above).
    pub fn inner_of(by_outer: &[(u32, u32)], outer: u32) -> Option<u32> {
        by_outer
            .binary_search_by_key(&outer, |p| p.0)
            .ok()
            .and_then(|i| by_outer.get(i))
            .map(|p| p.1)
    }

    /// Inner packets sent into the tunnel that no outer packet carried, with
    /// time left in the capture for one to appear; multicast and
    /// link-local destinations (router solicitations, MLD reports the
    /// kernel sends on any interface) are left out: no peer's AllowedIPs
    /// take them, dropping them is normal.
    pub fn never_left<'a>(&'a self, cap: &'a DecodedCapture) -> impl Iterator<Item = u32> + 'a {
        let (start, end) = self.span.map_or((i64::MAX, i64::MIN), |(a, b)| {
            (a.0, b.0.saturating_sub(WINDOW_NS))
        });
        let cap = self.records_of(cap);
        self.links
            .iter()
            .filter(|l| l.sent && l.outer == NONE)
            .map(|l| l.inner)
            .filter(move |&i| {
                cap.records.get(i as usize).is_some_and(|r| {
                    (start..=end).contains(&r.ts.0) && !local_scope(cap.endpoints.get(r.dst).ip)
                })
            })
    }
}

/// Multicast, broadcast and link-local addresses: traffic a host puts on
/// every interface, which no tunnel carries.
pub fn local_scope(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast() || a.is_link_local(),
        IpAddr::V6(a) => a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The plaintext sizes WireGuard may give an inner packet of `n` bytes:
/// `n` padded to 16, or less when the tunnel MTU caps the padding.
pub fn fits(inner_len: u32, udp_len: u16) -> bool {
    let Some(p) = u32::from(udp_len).checked_sub(32) else {
        return false;
    };
    inner_len > 0 && inner_len <= p && p <= inner_len.div_ceil(16) * 16
}

fn is_inner(r: &PacketRecord) -> bool {
    r.flags.has(Flags::TUNNEL_IF)
}

/// An outer transport message that carries a packet (not a keepalive), on
/// a real interface.
fn is_outer_data(r: &PacketRecord) -> bool {
    matches!(r.kind, PacketKind::WgTransport { .. })
        && r.udp_len > 32
        && !r
            .flags
            .has(Flags::TUNNEL_IF | Flags::LOOPBACK | Flags::SUPERPACKET)
}

/// Matches the inner packets of `cap` to its outer ones. Direction comes
/// from the Linux cooked header (sent by / to this host).
pub fn inner_packets(cap: &DecodedCapture) -> InnerPackets {
    let seen = cap.records.iter().filter(|r| is_inner(r)).count() as u64;
    inner_packets_counted(cap, seen)
}

/// [`inner_packets`] for a capture known to hold `seen` inner packets
/// (counted in a pass the caller makes anyway).
pub(crate) fn inner_packets_counted(cap: &DecodedCapture, seen: u64) -> InnerPackets {
    let recs = &cap.records;
    if seen == 0 {
        return InnerPackets::default();
    }
    let mut out = InnerPackets {
        seen,
        span: span(cap),
        ..InnerPackets::default()
    };
    // Per direction: (ts, record index) of inner and of outer packets.
    let mut inner: [Vec<(i64, u32)>; 2] = Default::default();
    let mut outer: [Vec<(i64, u32)>; 2] = Default::default();
    for (i, r) in recs.iter().enumerate() {
        let d = if r.flags.has(Flags::OUTGOING) {
            0
        } else if r.flags.has(Flags::INCOMING) {
            1
        } else {
            continue;
        };
        if is_inner(r) {
            if r.ip_len > 0 && !matches!(r.kind, PacketKind::Undecodable(_)) {
                inner[d].push((r.ts.0, i as u32));
            }
        } else if is_outer_data(r) {
            outer[d].push((r.ts.0, i as u32));
        }
    }
    for (d, (inner, outer)) in inner.iter_mut().zip(outer.iter_mut()).enumerate() {
        let sent = d == 0;
        inner.sort_unstable();
        outer.sort_unstable();
        let partners = pair(recs, inner, outer, sent);
        out.links
            .extend(inner.iter().zip(partners).map(|(&(_, i), o)| InnerLink {
                inner: i,
                outer: o,
                sent,
            }));
    }
    out.links.sort_unstable_by_key(|l| l.inner);
    out
}

fn span(cap: &DecodedCapture) -> Option<(Timestamp, Timestamp)> {
    let first = cap.records.iter().map(|r| r.ts).min()?;
    Some((first, cap.records.iter().map(|r| r.ts).max()?))
}

/// Initial TTLs: a packet carrying one was captured where it was sent (the
/// rule of `correlate::looks_locally_sent`, which this stage may not use).
const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// Whether the capturing host sent `r`: the cooked header says so, or it
/// still has its initial TTL.
fn sent_here(r: &PacketRecord) -> bool {
    if r.flags.has(Flags::OUTGOING | Flags::INCOMING) {
        return r.flags.has(Flags::OUTGOING);
    }
    INITIAL_TTLS.contains(&r.ttl)
}

/// Matches the records of `inner`, a separate capture of the tunnel
/// interface at the host that captured `cap` (same clock), to the outer
/// packets of `cap`. A raw capture of wg0 says nothing of direction, and
/// inner TTLs do not change on the tunnel: the outer packets' direction
/// comes from `cap` (cooked header, or an initial TTL: sent here), and the
/// direction of each inner address pair is the one under which more of its
/// packets find their outer packet.
pub fn inner_packets_from(
    cap: &DecodedCapture,
    inner: Arc<DecodedCapture>,
    name: String,
) -> InnerPackets {
    let (outer_recs, inner_recs) = (&cap.records, &inner.records);
    let mut outer: [Vec<(i64, u32)>; 2] = Default::default();
    for (i, r) in outer_recs.iter().enumerate() {
        if is_outer_data(r) {
            outer[usize::from(!sent_here(r))].push((r.ts.0, i as u32));
        }
    }
    for o in &mut outer {
        o.sort_unstable();
    }
    // Inner packets by (source, destination) address.
    let mut groups: HashMap<(IpAddr, IpAddr), Vec<(i64, u32)>> = HashMap::new();
    for (i, r) in inner_recs.iter().enumerate() {
        let decoded = !matches!(
            r.kind,
            PacketKind::Undecodable(_) | PacketKind::NonIp { .. }
        );
        if r.ip_len > 0 && decoded {
            let key = (inner.endpoints.get(r.src).ip, inner.endpoints.get(r.dst).ip);
            groups.entry(key).or_default().push((r.ts.0, i as u32));
        }
    }
    let mut keys: Vec<_> = groups.keys().copied().collect();
    keys.sort();
    let mut by_dir: [Vec<(i64, u32)>; 2] = Default::default();
    for k in keys {
        let Some(g) = groups.remove(&k) else { continue };
        let hits = |d: usize| {
            pair2(outer_recs, inner_recs, &g, &outer[d], d == 0)
                .iter()
                .filter(|o| **o != NONE)
                .count()
        };
        let (sent, received) = (hits(0), hits(1));
        // A pair that fits neither way equally (multicast, another tunnel)
        // keeps no direction.
        if sent != received {
            by_dir[usize::from(received > sent)].extend(g);
        }
    }
    let mut out = InnerPackets {
        seen: inner_recs.len() as u64,
        span: span(cap),
        ..InnerPackets::default()
    };
    for (d, list) in by_dir.iter_mut().enumerate() {
        list.sort_unstable();
        let sent = d == 0;
        let partners = pair2(outer_recs, inner_recs, list, &outer[d], sent);
        out.links
            .extend(list.iter().zip(partners).map(|(&(_, i), o)| InnerLink {
                inner: i,
                outer: o,
                sent,
            }));
    }
    out.links.sort_unstable_by_key(|l| l.inner);
    out.source = Some((inner, name));
    out
}

fn pair(recs: &[PacketRecord], inner: &[(i64, u32)], outer: &[(i64, u32)], sent: bool) -> Vec<u32> {
    pair2(recs, recs, inner, outer, sent)
}

/// For each inner packet (time order), its outer packet's record or
/// [`NONE`]: the first unclaimed one that fits, after it when `sent`, else
/// before it, within [`WINDOW_NS`].
fn pair2(
    outer_recs: &[PacketRecord],
    inner_recs: &[PacketRecord],
    inner: &[(i64, u32)],
    outer: &[(i64, u32)],
    sent: bool,
) -> Vec<u32> {
    let mut claimed = vec![false; outer.len()];
    let mut lo = 0;
    inner
        .iter()
        .map(|&(t, i)| {
            let Some(r) = inner_recs.get(i as usize) else {
                return NONE;
            };
            let (from, to) = if sent {
                (t, t.saturating_add(WINDOW_NS))
            } else {
                (t.saturating_sub(WINDOW_NS), t)
            };
            while outer.get(lo).is_some_and(|o| o.0 < from) {
                lo += 1;
            }
            let mut k = lo;
            while let Some(&(ot, oi)) = outer.get(k) {
                if ot > to {
                    break;
                }
                let free = claimed.get(k).is_some_and(|c| !c);
                if free
                    && outer_recs
                        .get(oi as usize)
                        .is_some_and(|o| fits(r.ip_len, o.udp_len))
                {
                    if let Some(c) = claimed.get_mut(k) {
                        *c = true;
                    }
                    return oi;
                }
                k += 1;
            }
            NONE
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_the_mtu_cap() {
        assert!(fits(84, 32 + 96));
        assert!(!fits(84, 32 + 80));
        assert!(!fits(84, 32 + 112));
        // Tunnel MTU 1420 caps the padding of a 1412-byte packet.
        assert!(fits(1412, 32 + 1420));
        assert!(fits(1420, 32 + 1420));
        assert!(fits(1408, 32 + 1408));
        assert!(!fits(1420, 32 + 1408));
        assert!(!fits(0, 32));
        assert!(!fits(40, 16));
    }
}
