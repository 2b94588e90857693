//! The words of an annotated capture (`wgtrace analyze A B --annotate OUT`):
//! a comment on each packet whose fate the correlation knows, and the report
//! itself in the section header. The grammar is documented in
//! `docs/annotate.md`; scripts grep it, so change it only with that file.

use super::analyze::{AnalyzeReport, CaptureSummary};
use crate::correlate::{Fate, Side};

/// What every packet comment starts with.
pub const PREFIX: &str = "wgtrace: ";

/// The comment on one packet of capture `side`, from its fate; WireGuard
/// messages the correlation did not count get one too, non-WireGuard
/// packets without a fate none.
pub fn packet_comment(
    fate: Option<Fate>,
    wireguard: bool,
    side: Side,
    report: &AnalyzeReport,
) -> Option<String> {
    let far = capture(report, side.other());
    let far_name = far.map_or("the other capture", |c| c.file.as_str());
    let frame = |no| match far {
        Some(c) => format!("{} frame {}", c.file, c.frame_name(no)),
        None => format!("frame {no}"),
    };
    let words = match fate {
        Some(Fate::Delivered { to, delay_ns }) => {
            format!("delivered as {}, {}", frame(to), delay(delay_ns))
        }
        Some(Fate::Lost {
            first_fragment: None,
        }) => format!("lost (never reached {far_name})"),
        Some(Fate::Lost {
            first_fragment: Some(f),
        }) => format!(
            "lost (fragmented on the way; only the first fragment reached {far_name}: {})",
            frame(f)
        ),
        Some(Fate::OutsideWindow) => {
            format!("outside window (sent while {far_name} was not running)")
        }
        Some(Fate::Received { from, delay_ns }) => {
            format!("received from {}, {}", frame(from), delay(delay_ns))
        }
        Some(Fate::ReceivedPart { from }) => format!(
            "first fragment of {} (the other fragments never arrived: lost)",
            frame(from)
        ),
        Some(Fate::Unexplained) => {
            format!("unexplained (received, but absent from {far_name}, which was running)")
        }
        Some(Fate::Duplicate) => "duplicate (the same message earlier in this capture)".into(),
        Some(Fate::Uncounted { other }) => {
            format!("not counted (the same message as {})", frame(other))
        }
        None if wireguard => "not counted (in no tunnel of the analysis)".into(),
        None => return None,
    };
    Some(format!("{PREFIX}{words}"))
}

/// The report as section-header comments, one line each: the headline, the
/// fixes, every finding (`kind (severity): summary`), damage, and the clock
/// the merged packets are on.
pub fn section_comments(report: &AnalyzeReport) -> Vec<String> {
    let (headline, fixes) = report.headline();
    let mut out = vec![format!("{PREFIX}{headline}")];
    out.extend(fixes.iter().map(|f| format!("FIX: {f}")));
    for f in &report.findings {
        out.push(format!(
            "- {} ({}): {}",
            f.kind.name(),
            f.severity.name(),
            f.summary
        ));
    }
    for c in &report.captures {
        if let Some(d) = &c.damage {
            out.push(format!("PARTIAL: {}: {d}", c.file));
        }
    }
    if let (Some(a), Some(b), Some(clock)) = (
        capture(report, Side::A),
        capture(report, Side::B),
        &report.clock,
    ) {
        out.push(format!(
            "clock: timestamps on {a}'s clock ({b}'s clock is {} ahead, so its packets moved by {}); one interface per capture",
            delay(clock.offset_ns),
            delay(-clock.offset_ns),
            a = a.file,
            b = b.file,
        ));
    }
    out
}

fn capture(report: &AnalyzeReport, side: Side) -> Option<&CaptureSummary> {
    report.captures.iter().find(|c| c.side == side)
}

/// A signed time in milliseconds, to the microsecond: `+7.200 ms`.
fn delay(ns: i64) -> String {
    let sign = if ns < 0 { '-' } else { '+' };
    let us = ns.unsigned_abs().saturating_add(500) / 1000;
    format!("{sign}{}.{:03} ms", us / 1000, us % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_signed_milliseconds_to_the_microsecond() {
        assert_eq!(delay(7_200_000), "+7.200 ms");
        assert_eq!(delay(7_364), "+0.007 ms");
        assert_eq!(delay(7_500), "+0.008 ms");
        assert_eq!(delay(-1_234_567), "-1.235 ms");
        assert_eq!(delay(0), "+0.000 ms");
    }
}
