//! Stage 6: reports rendered for people (tables, Markdown, HTML with plots) and for scripts (versioned JSON).
//!
//! Renderers are pure: a report in, a `String` out. Only the CLI writes.

pub mod analyze;
pub mod annotate;
pub mod batch;
pub mod filter;
mod html;
pub mod inspect;
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
    let secs = ts.0.div_euclid(1_000_000_000);
    let micros = ts.0.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
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
}
