//! Small statistics: Fisher's exact test, exponential backoff detection.

/// One-sided Fisher's exact test: the probability, with `lost` losses spread
/// at random over `above + below` packets, that `above` packets hold at least
/// `lost_above` of them.
pub fn fisher_greater(lost_above: u64, above: u64, lost_below: u64, below: u64) -> f64 {
    let n = above + below;
    let k = lost_above + lost_below;
    if n == 0 || above == 0 || k == 0 {
        return 1.0;
    }
    let ln_fact = |x: u64| -> f64 { (2..=x).map(|i| (i as f64).ln()).sum() };
    // ln C(a, b)
    let mut table: Vec<f64> = Vec::with_capacity(n as usize + 1);
    let mut acc = 0.0;
    table.push(0.0);
    for i in 1..=n {
        acc += (i as f64).ln();
        table.push(acc);
    }
    let lf = |x: u64| -> f64 { table.get(x as usize).copied().unwrap_or_else(|| ln_fact(x)) };
    let ln_c = |a: u64, b: u64| -> f64 {
        if b > a {
            f64::NEG_INFINITY
        } else {
            lf(a) - lf(b) - lf(a - b)
        }
    };
    let denom = ln_c(n, above);
    let hi = k.min(above);
    let mut p = 0.0;
    for x in lost_above..=hi {
        if k - x > below {
            continue;
        }
        p += (ln_c(k, x) + ln_c(n - k, above - x) - denom).exp();
    }
    p.min(1.0)
}

/// The longest run of gaps (ms) between successive times where each gap is
/// 1.4x to 3x the previous one and at least 100 ms: TCP or application retries backing off.
pub fn backoff_gaps(times_ns: &[i64]) -> Vec<u64> {
    let gaps: Vec<u64> = times_ns
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((b.saturating_sub(*a).max(0) / 1_000_000) as u64),
            _ => None,
        })
        .filter(|g| *g >= 100)
        .collect();
    let mut best: Vec<u64> = Vec::new();
    let mut run: Vec<u64> = Vec::new();
    for g in gaps {
        match run.last() {
            Some(&prev) if g * 10 >= prev * 14 && g <= prev * 3 => run.push(g),
            _ => {
                if run.len() > best.len() {
                    best = run.clone();
                }
                run = vec![g];
            }
        }
    }
    if run.len() > best.len() {
        best = run;
    }
    if best.len() >= 3 {
        best
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_values() {
        // All 3 above lost, none of 27 below: 1 / C(30, 3).
        let p = fisher_greater(3, 3, 0, 27);
        assert!((p - 1.0 / 4060.0).abs() < 1e-9, "{p}");
        assert!(fisher_greater(1, 10, 10, 100) > 0.3);
        assert_eq!(fisher_greater(0, 0, 0, 0), 1.0);
    }

    #[test]
    fn backoff() {
        let t = [0, 200, 650, 1510, 3210]
            .iter()
            .map(|ms| ms * 1_000_000)
            .collect::<Vec<i64>>();
        assert_eq!(backoff_gaps(&t), vec![200, 450, 860, 1700]);
        assert!(backoff_gaps(&[0, 1_000_000_000, 2_000_000_000]).is_empty());
    }
}
