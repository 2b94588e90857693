//! Captures taken with segmentation or receive offloads on.
//!
//! With UDP GSO the sending kernel hands the capture one datagram that the
//! NIC (or the stack, later) cuts into packets; with GRO the receiving
//! kernel merges packets before the capture sees them. Decoding splits such
//! super-packets into their WireGuard messages where it can
//! ([`crate::decode::Flags::SPLIT`], [`crate::decode::Flags::SUPERPACKET`]).

use super::finding::{Finding, FindingKind, FrameRefs, Severity};
use super::Capture;
use crate::decode::Flags;

/// A warning naming every super-packet frame of `cap`, if it has any.
pub(super) fn superpackets(out: &mut Vec<Finding>, cap: Capture<'_>) {
    let s = &cap.facts.superpackets;
    if s.split + s.unsplittable == 0 {
        return;
    }
    let frames = cap
        .cap
        .records
        .iter()
        .filter(|r| r.flags.has(Flags::SPLIT | Flags::SUPERPACKET))
        .map(|r| r.frame);
    out.push(
        Finding::new(
            FindingKind::OffloadSuperpackets {
                side: cap.side,
                file: cap.name.to_string(),
                split: s.split,
                messages: s.messages,
                unsplittable: s.unsplittable,
            },
            Severity::Warning,
        )
        .with_frames(FrameRefs::new(cap.side, cap.name, frames)),
    );
}
