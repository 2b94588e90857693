//! The clock offset between the hosts and the one-way delays, from the
//! delays of matched packets.

use super::Clock;

/// Median of a slice (reorders it), `None` when empty.
fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    Some(*m)
}

/// The clock, and the worst corrected delay each way plus 5 ms: the margin
/// at the window's edges within which a packet may still be in flight.
pub(super) fn estimate(delays: &mut [Vec<i64>; 2]) -> (Clock, [i64; 2]) {
    let [d_ab, d_ba] = delays;
    let min_ab = d_ab.iter().copied().min();
    let min_ba = d_ba.iter().copied().min();
    let max_ab = d_ab.iter().copied().max();
    let max_ba = d_ba.iter().copied().max();
    // The fastest packet each way brackets the offset: B − A lies between
    // −min_ba and min_ab; the middle assumes symmetric minimum delays.
    let offset = match (min_ab, min_ba) {
        (Some(x), Some(y)) => x / 2 - y / 2,
        (Some(x), None) => x,
        (None, Some(y)) => -y,
        (None, None) => 0,
    };
    let clock = Clock {
        offset_ns: offset,
        delay_ab_ns: median(d_ab).map(|m| m.saturating_sub(offset)),
        delay_ba_ns: median(d_ba).map(|m| m.saturating_add(offset)),
        bracketed: min_ab.is_some() && min_ba.is_some(),
        samples: (d_ab.len() + d_ba.len()) as u64,
    };
    let margin_ab = max_ab
        .map_or(0, |m| m.saturating_sub(offset))
        .max(0)
        .saturating_add(5_000_000);
    let margin_ba = max_ba
        .map_or(0, |m| m.saturating_add(offset))
        .max(0)
        .saturating_add(5_000_000);
    (clock, [margin_ab, margin_ba])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_delays_give_the_offset() {
        // B is 1 s ahead; 10 ms each way.
        let mut d = [vec![1_010_000_000, 1_012_000_000], vec![-990_000_000]];
        let (c, m) = estimate(&mut d);
        assert_eq!(c.offset_ns, 1_000_000_000);
        assert!(c.bracketed);
        assert_eq!(c.samples, 3);
        assert_eq!(c.delay_ab_ns, Some(12_000_000));
        assert_eq!(c.delay_ba_ns, Some(10_000_000));
        assert_eq!(m, [17_000_000, 15_000_000]);
    }

    #[test]
    fn one_direction_assumes_zero_delay() {
        let mut d = [vec![500], vec![]];
        let (c, _) = estimate(&mut d);
        assert_eq!(c.offset_ns, 500);
        assert!(!c.bracketed);
        assert_eq!(c.delay_ba_ns, None);
        let (c, m) = estimate(&mut [vec![], vec![]]);
        assert_eq!((c.offset_ns, c.samples), (0, 0));
        assert_eq!(m, [5_000_000, 5_000_000]);
    }
}
