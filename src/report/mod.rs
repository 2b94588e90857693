//! Stage 6: reports rendered for people (tables, Markdown, HTML with plots) and for scripts (versioned JSON).
//!
//! Renderers are pure: a report in, a `String` out. Only the CLI writes.

pub mod analyze;
mod html;
pub mod inspect;
pub mod plots;

/// Renders a byte count with a thousands separator, for tables.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
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
