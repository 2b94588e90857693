//! Loss by size: the threshold between the sizes that got through and the
//! sizes that did not, and the tunnel MTU that follows from it.

use super::finding::{IpVersion, MtuAdvice, MtuBasis, SizeTest};
use super::stats;
use std::collections::BTreeMap;

/// Significance a size threshold needs: log10 of the largest p-value accepted.
pub const LOG10_P_MAX: f64 = -3.0;
/// Lost packets at or above a threshold needed to call a blackhole.
pub const MIN_BIG_LOST: u64 = 3;
/// Share of the packets at or above a threshold that must be lost (percent).
pub const MIN_LOST_ABOVE_PERCENT: u64 = 90;
/// The tunnel MTU wgtrace recommends, when the captures only bracket the path
/// MTU widely, unless they prove the path smaller: IPv6's minimum link MTU,
/// which every IPv6-capable path carries and which the big VPN clients use.
pub const WIDE_BRACKET_MTU: u32 = 1280;
/// WireGuard pads inner packets to a multiple of 16 bytes.
pub const PADDING: u32 = 16;

/// Packets of one size that a direction sent, and how many were lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeTally {
    /// Sent while the far capture ran.
    pub sent: u64,
    /// Of which never seen there.
    pub lost: u64,
    /// UDP payload size of one of them.
    pub udp: u16,
}

impl SizeTally {
    /// Delivered packets.
    pub fn delivered(&self) -> u64 {
        self.sent.saturating_sub(self.lost)
    }
}

/// The size boundary that best explains a direction's losses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Smallest size (IP bytes) of the lost side of the boundary.
    pub ip: u32,
    /// Largest size below it of which a packet was delivered.
    pub largest_delivered: Option<u32>,
    /// The test of loss at or above `ip` against below it.
    pub test: SizeTest,
}

/// Finds the size threshold of a direction's losses: of the splits of the
/// sizes into "below: delivered" and "at or above: lost" that are real (most
/// packets above lost, at least [`MIN_BIG_LOST`], Fisher's test below
/// [`LOG10_P_MAX`]), the one that misclassifies the fewest packets (lost
/// below plus delivered above).
///
/// Counting errors, not comparing p-values, makes the boundary exact at any
/// scale: p-values of strong effects underflow together and cannot rank
/// thresholds, while one misplaced size costs its whole packet count. Cost:
/// one pass over the distinct sizes.
pub fn find_threshold(by_size: &BTreeMap<u32, SizeTally>) -> Option<Threshold> {
    let (total_sent, total_lost) = by_size
        .values()
        .fold((0u64, 0u64), |(s, l), t| (s + t.sent, l + t.lost));
    if total_lost == 0 {
        return None;
    }
    // Among the splits that pass the tests (enough loss above, far beyond
    // the loss below, Fisher's p small), the one with the fewest errors;
    // no threshold: every lost packet is an error. A split that fails the
    // tests never hides one that passes.
    let mut best: Option<(u64, u32, SizeTest)> = None;
    let (mut sent_below, mut lost_below) = (0u64, 0u64);
    for (&size, t) in by_size {
        if t.lost > 0 {
            let (sa, la) = (total_sent - sent_below, total_lost - lost_below);
            let (sb, lb) = (sent_below, lost_below);
            let errors = lb + (sa - la);
            // Ties go to the larger size: a delivered packet proves its size passes.
            let better = errors <= total_lost && best.as_ref().is_none_or(|b| errors <= b.0);
            let enough = la >= MIN_BIG_LOST
                && la * 100 >= sa * MIN_LOST_ABOVE_PERCENT
                && (sb == 0 || la * sb > lb * sa);
            if better && enough {
                let ln_p = stats::ln_fisher_greater(la, sa, lb, sb);
                let log10_p = ln_p / std::f64::consts::LN_10;
                if log10_p < LOG10_P_MAX {
                    let test = SizeTest {
                        sent_above: sa,
                        lost_above: la,
                        sent_below: sb,
                        lost_below: lb,
                        p_value: ln_p.exp(),
                        log10_p,
                    };
                    best = Some((errors, size, test));
                }
            }
        }
        sent_below += t.sent;
        lost_below += t.lost;
    }
    let (_, ip, test) = best?;
    let largest_delivered = by_size
        .range(..ip)
        .rev()
        .find(|(_, t)| t.delivered() > 0)
        .map(|(s, _)| *s);
    Some(Threshold {
        ip,
        largest_delivered,
        test,
    })
}

fn round_down(n: u32) -> u32 {
    n / PADDING * PADDING
}

/// The tunnel MTU for a path known to carry `largest_delivered` IP bytes and
/// to lose `smallest_lost`.
///
/// - One padding step apart: the path MTU is pinned; the largest delivered
///   size minus the overhead is exact.
/// - Further apart: any value between the two may be right. wgtrace
///   recommends the proven value when it is at least [`WIDE_BRACKET_MTU`],
///   else [`WIDE_BRACKET_MTU`] when the lost sizes allow it, and gives the
///   inner ping sizes that would settle it.
pub fn advise(largest_delivered: Option<u32>, smallest_lost: u32, v: IpVersion) -> MtuAdvice {
    let o = v.overhead();
    let proven = largest_delivered.map(|d| d.saturating_sub(o));
    // Full-size packets of this MTU stay below the smallest lost size.
    let at_most = round_down(smallest_lost.saturating_sub(1).saturating_sub(o));
    let pinned = largest_delivered.is_some_and(|d| smallest_lost.saturating_sub(d) <= PADDING);
    let (tunnel_mtu, basis) = match proven {
        Some(p) if pinned => (p, MtuBasis::Bracket),
        // Proven and not absurd, or the lost sizes prove the path small.
        Some(p) if p >= WIDE_BRACKET_MTU || at_most < WIDE_BRACKET_MTU => {
            (p, MtuBasis::WideBracket)
        }
        Some(_) => (WIDE_BRACKET_MTU, MtuBasis::WideBracket),
        None => (at_most.min(WIDE_BRACKET_MTU), MtuBasis::WideBracket),
    };
    // Probe from the recommended value itself when nothing proves it, else
    // from the next step up.
    let probe_ping_sizes = if pinned {
        Vec::new()
    } else if proven == Some(tunnel_mtu) {
        probe_sizes(round_down(tunnel_mtu) + PADDING, at_most)
    } else {
        probe_sizes(round_down(tunnel_mtu), at_most)
    };
    MtuAdvice {
        tunnel_mtu,
        underlay: v,
        largest_delivered_ip: largest_delivered,
        smallest_lost_ip: smallest_lost,
        proven,
        at_most,
        pinned,
        basis,
        probe_ping_sizes,
    }
}

/// Inner ICMP echo payload sizes (`ping -s`) that probe tunnel MTUs from
/// `lo` up to `to`, in padding steps, at most six of them spread evenly: an
/// inner IPv4 ping of `-s N` is an `N + 28`-byte packet.
fn probe_sizes(lo: u32, to: u32) -> Vec<u32> {
    if to < lo || lo < 28 {
        return Vec::new();
    }
    let steps = (to - lo) / PADDING + 1;
    let n = steps.min(6);
    let mut out: Vec<u32> = (0..n)
        .map(|i| lo + (i * (steps - 1) / (n - 1).max(1)) * PADDING)
        .map(|m| m - 28)
        .collect();
    out.dedup();
    out
}

/// Advice from an ICMP-announced path MTU: exact.
pub fn from_announced(mtu: u32, v: IpVersion) -> MtuAdvice {
    let t = mtu.saturating_sub(v.overhead());
    MtuAdvice {
        tunnel_mtu: t,
        underlay: v,
        largest_delivered_ip: Some(mtu),
        smallest_lost_ip: mtu.saturating_add(1),
        proven: Some(t),
        at_most: t,
        pinned: true,
        basis: MtuBasis::Icmp,
        probe_ping_sizes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(rows: &[(u32, u64, u64)]) -> BTreeMap<u32, SizeTally> {
        rows.iter()
            .map(|&(ip, sent, lost)| (ip, SizeTally { sent, lost, udp: 0 }))
            .collect()
    }

    #[test]
    fn threshold_is_exact_when_the_lost_size_dominates() {
        // 40 % of the traffic is the lost size: every lower threshold also
        // has a tiny p-value, the split with the fewest errors is exact.
        let mut rows: Vec<(u32, u64, u64)> = (1..=88).map(|k| (60 + 16 * k, 100, 1)).collect();
        rows.push((1480, 400_000, 400_000));
        let t = find_threshold(&sizes(&rows)).expect("threshold");
        assert_eq!(t.ip, 1480);
        assert_eq!(t.largest_delivered, Some(60 + 16 * 88));
        assert!(t.test.log10_p < -300.0, "{:?}", t.test);
    }

    #[test]
    fn advice_pinned_and_wide() {
        let a = advise(Some(1468), 1480, IpVersion::Ipv4);
        assert_eq!((a.tunnel_mtu, a.pinned), (1408, true));
        // Only small packets delivered: not the absurd "largest delivered − 60".
        let a = advise(Some(892), 1480, IpVersion::Ipv4);
        assert_eq!((a.tunnel_mtu, a.pinned, a.at_most), (1280, false, 1408));
        assert_eq!(a.proven, Some(832));
        assert!(!a.probe_ping_sizes.is_empty());
        assert!(a.probe_ping_sizes.iter().all(|s| s + 28 <= 1408));
        // Lost sizes prove the path smaller than 1280 + 60: the proven value.
        let a = advise(Some(700), 1200, IpVersion::Ipv4);
        assert_eq!(a.tunnel_mtu, 640);
        // IPv6.
        let a = advise(Some(1400), 1416, IpVersion::Ipv6);
        assert_eq!((a.tunnel_mtu, a.pinned), (1320, true));
    }
}
