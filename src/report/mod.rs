//! Stage 6: reports rendered for people (tables, Markdown, HTML with plots) and for scripts (versioned JSON).
//!
//! Renderers are pure: a report in, a `String` out. Only the CLI writes.

pub mod analyze;
pub mod annotate;
pub mod batch;
pub mod filter;
mod html;
pub mod inspect;
pub mod path;
pub mod plots;
pub mod words;

/// Size edges (UDP payload bytes) for histograms with many sizes: ranges that
/// keep the common tunnel-MTU boundaries (1280 ... 1452) apart.
const SIZE_EDGES: [u32; 15] = [
    32,
    64,
    128,
    256,
    512,
    1024,
    1280,
    1312,
    1372,
    1392,
    1420,
    1424,
    1440,
    1452,
    u32::MAX,
];

/// Histograms show each size on its own row up to this many distinct sizes,
/// and the ranges of [`SIZE_EDGES`] above: one rule for every command
/// (`analyze` text and HTML, `inspect`).
pub(crate) const EXACT_SIZES: usize = 16;

/// Width of the longest text histogram bar, in characters.
pub(crate) const BAR: u64 = 30;

/// The rows of a size histogram: one per size (labelled by `label`) when
/// there are at most [`EXACT_SIZES`], else the sums over the ranges of
/// [`SIZE_EDGES`] (see [`size_ranges`]).
pub(crate) fn size_bins<V: Copy + Default + PartialEq>(
    sizes: &std::collections::BTreeMap<u32, V>,
    label: impl Fn(u32, &V) -> String,
    add: impl Fn(V, V) -> V,
) -> Vec<(String, V)> {
    if sizes.len() <= EXACT_SIZES {
        sizes.iter().map(|(s, v)| (label(*s, v), *v)).collect()
    } else {
        size_ranges(sizes, add)
    }
}

/// Length of the bar of `n` when the longest, of `max`, is [`BAR`] long:
/// rounded up, so that one packet is always visible.
pub(crate) fn bar_len(n: u64, max: u64) -> usize {
    if n == 0 {
        0
    } else {
        (n.saturating_mul(BAR)).div_ceil(max.max(1)).max(1) as usize
    }
}

/// A clock offset or other signed duration: in seconds from a second up
/// (`+3.204 s`), in milliseconds below (`-0.412 ms`).
pub fn signed_duration(ns: i64) -> String {
    if ns.unsigned_abs() >= 1_000_000_000 {
        format!("{:+.3} s", ns as f64 / 1e9)
    } else {
        format!("{:+.3} ms", ns as f64 / 1e6)
    }
}

/// Sums per-size values into the ranges of [`SIZE_EDGES`], labelled `≤ 32`,
/// `33-64`, ..., `> 1452`; empty ranges are left out.
pub(crate) fn size_ranges<V: Copy + Default + PartialEq>(
    sizes: &std::collections::BTreeMap<u32, V>,
    add: impl Fn(V, V) -> V,
) -> Vec<(String, V)> {
    let mut lo = 0u32;
    let mut rows = Vec::new();
    for hi in SIZE_EDGES {
        let v = sizes
            .range(lo..=hi)
            .fold(V::default(), |acc, (_, v)| add(acc, *v));
        if v != V::default() {
            let label = match (lo, hi) {
                (_, u32::MAX) => format!("> {}", lo.saturating_sub(1)),
                (0, h) => format!("≤ {h}"),
                (l, h) if l == h => l.to_string(),
                (l, h) => format!("{l}-{h}"),
            };
            rows.push((label, v));
        }
        lo = hi.saturating_add(1);
    }
    rows
}

/// Colours of the table output on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paint {
    /// Red: errors, problems.
    Error,
    /// Yellow: warnings, inconclusive.
    Warning,
    /// Blue: information.
    Info,
    /// Green: healthy.
    Healthy,
}

/// `text` in the ANSI colour of `p` (bold for errors and a healthy verdict).
pub(crate) fn paint(p: Paint, text: &str) -> String {
    let code = match p {
        Paint::Error => "1;31",
        Paint::Warning => "33",
        Paint::Info => "34",
        Paint::Healthy => "1;32",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Renders a byte count with a thousands separator, for tables.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a timestamp (ns since the epoch) as UTC `YYYY-MM-DD HH:MM:SS.mmmmmm`.
pub fn utc(ts: crate::capture::Timestamp) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.0))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{} ns since 1970", ts.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;

    #[test]
    fn formats_numbers_and_times() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(
            utc(Timestamp(1_724_911_165_533_724_000)),
            "2024-08-29 05:59:25.533724"
        );
    }

    #[test]
    fn durations_switch_to_seconds_at_one_second() {
        assert_eq!(signed_duration(3_204_100_000), "+3.204 s");
        assert_eq!(signed_duration(-1_000_000_000), "-1.000 s");
        assert_eq!(signed_duration(999_499_999), "+999.500 ms");
        assert_eq!(signed_duration(0), "+0.000 ms");
        assert_eq!(signed_duration(-412_000), "-0.412 ms");
    }

    #[test]
    fn one_bucketing_rule() {
        use std::collections::BTreeMap;
        let few: BTreeMap<u32, u64> = (1..=EXACT_SIZES as u32).map(|s| (s * 10, 1)).collect();
        assert_eq!(
            size_bins(&few, |s, _| s.to_string(), |a, b| a + b).len(),
            EXACT_SIZES
        );
        let many: BTreeMap<u32, u64> = (1..=EXACT_SIZES as u32 + 1).map(|s| (s * 10, 1)).collect();
        let bins = size_bins(&many, |s, _| s.to_string(), |a, b| a + b);
        assert_eq!(bins, size_ranges(&many, |a, b| a + b));
        assert_eq!(bar_len(1, 1000), 1);
        assert_eq!(bar_len(1000, 1000), BAR as usize);
        assert_eq!(bar_len(0, 10), 0);
    }
}
