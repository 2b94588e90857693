//! Packets the path fragmented (the sender sent them whole, without DF, as
//! the Linux kernel module does): `fragments_dropped` when a fragment never
//! arrived, `fragmented_path` when all did.

use super::finding::{DirRef, Finding, FindingKind, FrameRefs, IpVersion, Severity};
use super::{mtu, Capture};
use crate::correlate::{Correlation, Direction};
use crate::decode::Flags;

/// Findings about the packets of `d` that the path fragmented; returns the
/// largest first fragment the receiver saw (the path carried that much).
pub(super) fn path(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    d: &Direction,
    c: &Correlation,
    sender: Capture<'_>,
    receiver: Capture<'_>,
    v: IpVersion,
) -> Option<u32> {
    let list = &c.path_fragmented[d.from_side.idx()];
    let first_fragment = list.iter().map(|p| u32::from(p.first_fragment)).max()?;
    let advice = mtu::advise(Some(first_fragment), first_fragment + 8, v);
    let lost: Vec<_> = list.iter().filter(|p| !p.complete).collect();
    let rec = |i: u32| sender.cap.records.get(i as usize);
    if lost.is_empty() {
        out.push(
            Finding::new(
                FindingKind::FragmentedPath {
                    direction: dir.clone(),
                    underlay: v,
                    datagrams: list.len() as u64,
                    sent: d.sent,
                    first_fragment,
                    mtu: advice,
                },
                Severity::Warning,
            )
            .with_frames(FrameRefs::new(
                sender.side,
                sender.name,
                list.iter().filter_map(|p| rec(p.sent)).map(|r| r.frame),
            )),
        );
        return Some(first_fragment);
    }
    let sizes = lost
        .iter()
        .filter_map(|p| rec(p.sent))
        .fold((u32::MAX, 0), |(lo, hi), r| (lo.min(r.ip_len), hi.max(r.ip_len)));
    let df_set = lost
        .iter()
        .filter_map(|p| rec(p.sent))
        .filter(|r| r.flags.has(Flags::DF))
        .count() as u64;
    out.push(
        Finding::new(
            FindingKind::FragmentsDropped {
                direction: dir.clone(),
                underlay: v,
                datagrams: lost.len() as u64,
                fragmented: list.len() as u64,
                sizes_ip: sizes,
                first_fragment,
                df_set,
                mtu: advice,
            },
            Severity::Error,
        )
        .with_frames(FrameRefs::new(
            sender.side,
            sender.name,
            lost.iter().filter_map(|p| rec(p.sent)).map(|r| r.frame),
        ))
        .with_frames(FrameRefs::new(
            receiver.side,
            receiver.name,
            lost.iter().map(|p| p.received),
        )),
    );
    Some(first_fragment)
}
