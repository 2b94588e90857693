//! Property tests of the size test and the MTU advice over plain size
//! counts (no files): the threshold is the exact boundary between the sizes
//! that got through and the sizes that did not, at any packet count, with
//! random loss below it, for IPv4 and IPv6; the advice never exceeds what
//! was lost and is never absurdly small.

use proptest::prelude::*;
use std::collections::BTreeMap;
use wgtrace::diagnose::mtu::{advise, find_threshold, SizeTally, WIDE_BRACKET_MTU};
use wgtrace::diagnose::IpVersion;

/// Distinct sizes on WireGuard's 16-byte grid (outer = overhead + 16k),
/// each with a packet count from 1 to 10^6 (log-uniform), a loss rate
/// below 50 % under the threshold, all lost at and above it.
fn case() -> impl Strategy<Value = (IpVersion, Vec<(u32, u64, u64)>, usize)> {
    (
        any::<bool>(),
        prop::collection::btree_set(2u32..=90, 2..40),
        prop::collection::vec((0u32..=20, 0u32..50), 40),
    )
        .prop_flat_map(|(v6, steps, counts)| {
            let n = steps.len();
            (Just(v6), Just(steps), Just(counts), 1..n)
        })
        .prop_map(|(v6, steps, counts, cut)| {
            let v = if v6 { IpVersion::Ipv6 } else { IpVersion::Ipv4 };
            let rows = steps
                .iter()
                .zip(counts)
                .enumerate()
                .map(|(i, (k, (exp, pct)))| {
                    let sent = (1.995_f64.powi(exp as i32)).round().max(1.0) as u64;
                    let lost = if i >= cut {
                        sent
                    } else {
                        sent * u64::from(pct) / 100
                    };
                    (v.overhead() + 16 * k, sent, lost)
                })
                .collect();
            (v, rows, cut)
        })
}

fn tallies(rows: &[(u32, u64, u64)]) -> BTreeMap<u32, SizeTally> {
    rows.iter()
        .map(|&(ip, sent, lost)| (ip, SizeTally { sent, lost, udp: 0 }))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn threshold_is_the_exact_boundary((_v, rows, cut) in case()) {
        let t = find_threshold(&tallies(&rows));
        let boundary = rows[cut].0;
        let below: Vec<_> = rows[..cut].iter().filter(|r| r.1 > r.2).collect();
        let lost_above: u64 = rows[cut..].iter().map(|r| r.2).sum();
        let sent_below: u64 = rows[..cut].iter().map(|r| r.1).sum();
        match t {
            Some(t) => {
                prop_assert_eq!(t.ip, boundary);
                prop_assert_eq!(t.largest_delivered, below.last().map(|r| r.0));
                prop_assert!(t.test.log10_p.is_finite() && t.test.log10_p < -3.0);
            }
            // Only too little evidence may hide it.
            None => prop_assert!(
                lost_above < 20 || sent_below < 20,
                "missed: {} lost above, {} sent below", lost_above, sent_below
            ),
        }
    }

    #[test]
    fn random_loss_alone_is_no_threshold(
        rows in prop::collection::vec((1u32..=90, 1u64..100_000, 0u32..20), 2..40)
    ) {
        let mut by: BTreeMap<u32, SizeTally> = BTreeMap::new();
        for (k, sent, pct) in rows {
            let lost = sent * u64::from(pct) / 100;
            by.insert(60 + 16 * k, SizeTally { sent, lost, udp: 0 });
        }
        prop_assert!(find_threshold(&by).is_none());
    }

    #[test]
    fn advice_fits_the_bracket(
        v6 in any::<bool>(),
        delivered in prop::option::of(200u32..1500),
        gap in 1u32..800,
    ) {
        let v = if v6 { IpVersion::Ipv6 } else { IpVersion::Ipv4 };
        let lost = delivered.unwrap_or(200) + gap;
        let a = advise(delivered, lost, v);
        let o = v.overhead();
        // Full-size packets of the advised MTU stay below the lost size.
        prop_assert!(a.tunnel_mtu + o < lost);
        // Never below what a delivered packet proves.
        prop_assert!(a.tunnel_mtu >= a.proven.unwrap_or(0));
        // Exact when pinned.
        if let (true, Some(d)) = (a.pinned, delivered) {
            prop_assert_eq!(a.tunnel_mtu, d - o);
            prop_assert!(lost - d <= 16);
        }
        // Below 1280 only when pinned or the lost sizes prove the path smaller.
        if a.tunnel_mtu < WIDE_BRACKET_MTU {
            prop_assert!(a.pinned || a.at_most < WIDE_BRACKET_MTU, "{:?}", a);
        }
        // Probe pings stay within the bracket.
        for s in &a.probe_ping_sizes {
            prop_assert!(s + 28 <= a.at_most);
        }
    }
}
