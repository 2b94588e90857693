//! A time window to focus an analysis on: `--from` / `--until`.
//!
//! A bound is an instant (RFC 3339, e.g. `2026-11-22T03:43:20Z` or
//! `2026-11-22 03:43:20.5+01:00`) or a number of seconds into the capture
//! (`12`, `12.5`, `12.5s`), counted from the **earliest start of the given
//! captures**: the first packet of whichever capture began first, each
//! capture's timestamps read as recorded (no clock-offset correction).

use super::Timestamp;
use std::str::FromStr;

/// One end of a time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeBound {
    /// An instant, ns since the Unix epoch.
    At(Timestamp),
    /// Nanoseconds after the earliest first packet of the captures.
    After(i64),
}

/// Why a time bound could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is neither an RFC 3339 time (2026-11-22T03:43:20Z) nor seconds into the capture (12.5): {why}")]
pub struct TimeBoundError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FromStr for TimeBound {
    type Err = TimeBoundError;

    fn from_str(s: &str) -> Result<TimeBound, TimeBoundError> {
        let err = |why| TimeBoundError {
            input: s.to_string(),
            why,
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err("empty"));
        }
        if t.len() >= 10 && t.as_bytes().get(4) == Some(&b'-') {
            return rfc3339(t).map(TimeBound::At).map_err(err);
        }
        let num = t.strip_suffix('s').unwrap_or(t);
        seconds(num).map(TimeBound::After).map_err(err)
    }
}

/// `--from` and `--until`: either may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// Packets before this are left out.
    pub from: Option<TimeBound>,
    /// Packets after this are left out.
    pub until: Option<TimeBound>,
}

impl TimeWindow {
    /// Whether `from` is after `until` when both are given the same way (the
    /// mixed case can only be told once the captures are read: see
    /// [`TimeWindow::resolve`]).
    pub fn backwards(&self) -> bool {
        match (self.from, self.until) {
            (Some(TimeBound::At(a)), Some(TimeBound::At(b))) => a > b,
            (Some(TimeBound::After(a)), Some(TimeBound::After(b))) => a > b,
            _ => false,
        }
    }

    /// The window in ns since the epoch (inclusive), relative bounds counted
    /// from `start` (the earliest first packet of the captures).
    pub fn resolve(&self, start: Timestamp) -> (i64, i64) {
        let at = |b: TimeBound| match b {
            TimeBound::At(t) => t.0,
            TimeBound::After(ns) => start.0.saturating_add(ns),
        };
        (
            self.from.map_or(i64::MIN, at),
            self.until.map_or(i64::MAX, at),
        )
    }
}

/// Decimal seconds (`12`, `0.25`), at most nanosecond precision, not negative.
fn seconds(s: &str) -> Result<i64, &'static str> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err("no digits");
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err("expected digits and at most one '.'");
    }
    if frac.len() > 9 {
        return Err("more than 9 decimals");
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "too large")?
    };
    let f: i64 = format!("{frac:0<9}").parse().map_err(|_| "bad decimals")?;
    w.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(f))
        .ok_or("too large")
}

/// `YYYY-MM-DD(T| )HH:MM:SS[.frac](Z|±HH:MM| UTC)` to ns since the epoch.
fn rfc3339(s: &str) -> Result<Timestamp, &'static str> {
    use time::format_description::well_known::Rfc3339;
    // RFC 3339 lets a space stand for the `T` (its section 5.6 note), and
    // wgtrace prints times as `2024-08-29 05:59:25.533724 UTC`: both are
    // taken, as the `T` / `Z` form the parser wants.
    let mut t = s.to_string();
    if t.as_bytes().get(10) == Some(&b' ') {
        t.replace_range(10..11, "T");
    }
    if let Some(base) = t.strip_suffix(" UTC").or_else(|| t.strip_suffix("UTC")) {
        t = format!("{base}Z");
    }
    let when = time::OffsetDateTime::parse(&t, &Rfc3339).map_err(|e| match e {
        time::error::Parse::TryFromParsed(_) => "no such date or time",
        _ => "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or an offset such as +01:00",
    })?;
    i64::try_from(when.unix_timestamp_nanos())
        .map(Timestamp)
        .map_err(|_| "out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        match s.parse::<TimeBound>() {
            Ok(TimeBound::At(t)) => t.0,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn reads_rfc3339_and_seconds() {
        // 2024-08-29 05:59:25.533724 UTC, as `utc` prints it.
        let t = 1_724_911_165_533_724_000;
        assert_eq!(at("2024-08-29T05:59:25.533724Z"), t);
        assert_eq!(at("2024-08-29 05:59:25.533724 UTC"), t);
        assert_eq!(at("2024-08-29T07:59:25.533724+02:00"), t);
        assert_eq!(at("2024-08-29t04:59:25.533724-01:00"), t);
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(at("2000-02-29T00:00:00Z"), 951_782_400_000_000_000);
        assert_eq!("12".parse(), Ok(TimeBound::After(12_000_000_000)));
        assert_eq!("12.5s".parse(), Ok(TimeBound::After(12_500_000_000)));
        assert_eq!(".25".parse(), Ok(TimeBound::After(250_000_000)));
        for bad in [
            "",
            "-3",
            "1e3",
            "12.5.1",
            "2024-08-29T05:59:25",
            "2024-02-30T00:00:00Z",
            "2024-08-29T25:00:00Z",
            "2024-08-29T05:59:25+2",
            "yesterday",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<TimeBound>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn resolves_relative_to_the_earliest_start() {
        let w = TimeWindow {
            from: Some(TimeBound::After(2_000_000_000)),
            until: Some(TimeBound::At(Timestamp(50_000_000_000))),
        };
        assert_eq!(
            w.resolve(Timestamp(10_000_000_000)),
            (12_000_000_000, 50_000_000_000)
        );
        assert_eq!(
            TimeWindow::default().resolve(Timestamp(5)),
            (i64::MIN, i64::MAX)
        );
        let backwards = TimeWindow {
            from: Some(TimeBound::After(3)),
            until: Some(TimeBound::After(2)),
        };
        assert!(backwards.backwards());
        assert!(!w.backwards());
    }
}
