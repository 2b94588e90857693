//! Small statistics: Fisher's exact test, exponential backoff detection.

/// ln(x!): exact below 32, Stirling's series above (relative error < 1e-15).
///
/// Captures hold millions of packets; a table of ln-factorials up to the
/// packet count cost a logarithm per packet for every candidate threshold.
pub fn ln_factorial(x: u64) -> f64 {
    if x < 32 {
        return (2..=x).map(|i| (i as f64).ln()).sum();
    }
    let n = x as f64;
    let inv = 1.0 / n;
    let inv2 = inv * inv;
    n * n.ln() - n
        + 0.5 * (std::f64::consts::TAU * n).ln()
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0)))
}

/// One-sided Fisher's exact test: the probability, with `lost` losses spread
/// at random over `above + below` packets, that `above` packets hold at least
/// `lost_above` of them. Underflows to 0 for strong effects: decisions use
/// [`ln_fisher_greater`].
pub fn fisher_greater(lost_above: u64, above: u64, lost_below: u64, below: u64) -> f64 {
    ln_fisher_greater(lost_above, above, lost_below, below)
        .exp()
        .min(1.0)
}

/// Natural logarithm of [`fisher_greater`], computed in log space so that
/// tables of millions of packets keep their ordering (a p-value of 1e-5000 is
/// still smaller than one of 1e-400).
pub fn ln_fisher_greater(lost_above: u64, above: u64, lost_below: u64, below: u64) -> f64 {
    let n = above + below;
    let k = lost_above + lost_below;
    if n == 0 || above == 0 || k == 0 {
        return 0.0;
    }
    let ln_c = |a: u64, b: u64| -> f64 {
        if b > a {
            f64::NEG_INFINITY
        } else {
            ln_factorial(a) - ln_factorial(b) - ln_factorial(a - b)
        }
    };
    // Hypergeometric terms P(x) for x = lo..=min(k, above); each follows from
    // the previous by a ratio, so only the first needs factorials. The sum is
    // kept relative to the first term, rescaled whenever it grows large.
    let hi = k.min(above);
    // P(x) is zero while the losses left for the packets below do not fit there.
    let lo = lost_above.max(k.saturating_sub(below));
    if lo > hi {
        return f64::NEG_INFINITY;
    }
    let mut ln_scale = ln_c(k, lo) + ln_c(n - k, above - lo) - ln_c(n, above);
    let (mut term, mut sum) = (1.0f64, 0.0f64);
    for x in lo..=hi {
        sum += term;
        if x == hi || term < sum * 1e-17 {
            break;
        }
        // P(x + 1) / P(x) = (k − x)(above − x) / ((x + 1)(n − k − above + x + 1))
        let num = (k - x) as f64 * (above - x) as f64;
        let den = (x + 1) as f64 * (n + x + 1 - k - above) as f64;
        term *= num / den;
        if sum > 1e200 {
            ln_scale += sum.ln();
            term /= sum;
            sum = 1.0;
        }
    }
    (ln_scale + sum.ln()).min(0.0)
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
    fn log_space_keeps_order_where_the_value_underflows() {
        // 10^5 of 10^5 big packets lost against 10 of 10^6 small ones: p far below 1e-300.
        let strong = ln_fisher_greater(100_000, 100_000, 10, 1_000_000);
        let weaker = ln_fisher_greater(1_000, 1_000, 10, 1_000_000);
        assert!(strong.is_finite() && weaker.is_finite());
        assert!(
            strong < weaker && weaker < (1e-300f64).ln(),
            "{strong} {weaker}"
        );
        assert_eq!(fisher_greater(100_000, 100_000, 10, 1_000_000), 0.0);
        // All lost above, none below: exactly 1 / C(n, above).
        let want = -(ln_factorial(30) - ln_factorial(3) - ln_factorial(27));
        assert!((ln_fisher_greater(3, 3, 0, 27) - want).abs() < 1e-9);
    }

    /// The direct sum over exact ln-factorial tables, as the test used to be computed.
    fn fisher_by_table(lost_above: u64, above: u64, lost_below: u64, below: u64) -> f64 {
        let (n, k) = (above + below, lost_above + lost_below);
        let mut lf = vec![0.0f64];
        for i in 1..=n {
            lf.push(lf[i as usize - 1] + (i as f64).ln());
        }
        let ln_c = |a: u64, b: u64| lf[a as usize] - lf[b as usize] - lf[(a - b) as usize];
        (lost_above..=k.min(above))
            .filter(|x| k - x <= below)
            .map(|x| (ln_c(k, x) + ln_c(n - k, above - x) - ln_c(n, above)).exp())
            .sum::<f64>()
            .min(1.0)
    }

    #[test]
    fn fisher_matches_the_direct_sum() {
        for &(la, a, lb, b) in &[
            (17, 17, 0, 27),
            (17, 20, 2, 300),
            (40, 400, 30, 3000),
            (3, 5, 1, 40),
            (0, 10, 5, 10),
            (900, 1000, 100, 100_000),
            (5, 1000, 500, 100_000),
        ] {
            let (want, got) = (fisher_by_table(la, a, lb, b), fisher_greater(la, a, lb, b));
            // The table accumulates rounding over 100 k additions: agree to 1e-7.
            let tol = 1e-7 * want.max(1e-300);
            assert!(
                (want - got).abs() <= tol.max(1e-15),
                "{la} {a} {lb} {b}: {want} vs {got}"
            );
        }
    }

    #[test]
    fn ln_factorial_is_exact_enough() {
        let mut exact = 0.0f64;
        for x in 1..=5000u64 {
            exact += (x as f64).ln();
            let got = ln_factorial(x);
            assert!(
                (got - exact).abs() <= 1e-12 * exact.max(1.0),
                "{x}: {got} vs {exact}"
            );
        }
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
