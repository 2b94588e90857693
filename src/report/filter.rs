//! Wireshark display filters that select exactly a finding's frames.
//!
//! A filter on addresses and sizes would also select packets outside the
//! finding (delivered copies, packets outside the common window, the other
//! tunnel), so wgtrace names the frames themselves, as ranges.

use crate::capture::FrameNo;
use std::fmt::Write as _;

/// Frame sets with more ranges than this get no filter (the frames are in
/// the JSON): Wireshark parses such filters slowly, and nobody pastes them.
pub const MAX_RANGES: usize = 512;

/// `frame.number in {1, 4..9, 12}` for ascending, distinct `frames`; `None`
/// when there are none or too many ranges.
pub fn frames_filter(frames: &[FrameNo]) -> Option<String> {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for f in frames {
        let n = ranges.len();
        match ranges.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(f.0) => *hi = f.0,
            _ if n == MAX_RANGES => return None,
            _ => ranges.push((f.0, f.0)),
        }
    }
    if ranges.is_empty() {
        return None;
    }
    let mut out = String::from("frame.number in {");
    for (i, (lo, hi)) in ranges.iter().enumerate() {
        if i > 0 {
            // Wireshark 4 separates set members with commas (3.x also takes them).
            out.push_str(", ");
        }
        if lo == hi {
            let _ = write!(out, "{lo}");
        } else {
            let _ = write!(out, "{lo}..{hi}");
        }
    }
    out.push('}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let f: Vec<FrameNo> = [1, 2, 3, 5, 9, 10].into_iter().map(FrameNo).collect();
        assert_eq!(
            frames_filter(&f).as_deref(),
            Some("frame.number in {1..3, 5, 9..10}")
        );
        assert_eq!(frames_filter(&[]), None);
        let many: Vec<FrameNo> = (0..2000).map(|i| FrameNo(i * 2)).collect();
        assert_eq!(frames_filter(&many), None);
    }
}
