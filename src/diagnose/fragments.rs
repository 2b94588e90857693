//! Packets the path fragmented (the sender sent them whole, without DF, as
//! the Linux kernel module does): `fragments_dropped` when a fragment never
//! arrived, `fragmented_path` when all did.

use super::finding::{DirRef, Finding, FindingKind, FrameRefs, IpVersion, MtuBasis, Severity};
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
    let mut advice = mtu::advise(Some(first_fragment), first_fragment + 8, v);
    advice.basis = MtuBasis::Fragment;
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
        .fold((u32::MAX, 0), |(lo, hi), r| {
            (lo.min(r.ip_len), hi.max(r.ip_len))
        });
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

/// One capture: first fragments that arrived without the rest of their
/// datagram, per sender (what the receiver alone can tell).
pub(super) fn lone_one_end(out: &mut Vec<Finding>, cap: Capture<'_>) {
    if cap.facts.incomplete_datagrams == 0 {
        return;
    }
    let incomplete = crate::flow::incomplete_datagrams(cap.cap);
    let mut by_pair: std::collections::BTreeMap<(u32, u32), Vec<usize>> = Default::default();
    for (i, gone) in incomplete.iter().enumerate() {
        if let (true, Some(r)) = (*gone, cap.cap.records.get(i)) {
            by_pair.entry((r.src.0, r.dst.0)).or_default().push(i);
        }
    }
    for ((src, dst), idx) in by_pair {
        let recs: Vec<_> = idx.iter().filter_map(|i| cap.cap.records.get(*i)).collect();
        let v = if recs.iter().any(|r| r.flags.has(Flags::IPV6)) {
            IpVersion::Ipv6
        } else {
            IpVersion::Ipv4
        };
        let first_fragment = recs
            .iter()
            .map(|r| u32::from(r.frag_len))
            .max()
            .unwrap_or(0);
        let sizes = recs.iter().fold((u32::MAX, 0), |(lo, hi), r| {
            (lo.min(r.ip_len), hi.max(r.ip_len))
        });
        let mut advice = mtu::advise(Some(first_fragment), first_fragment + 8, v);
        advice.basis = MtuBasis::Fragment;
        let ends = &cap.cap.endpoints;
        out.push(
            Finding::new(
                FindingKind::FragmentsDropped {
                    direction: DirRef {
                        from_side: cap.side,
                        from: String::new(),
                        to_side: Some(cap.side),
                        to: cap.name.to_string(),
                        from_endpoint: Some(ends.get(crate::decode::EndpointId(src))),
                        to_endpoint: Some(ends.get(crate::decode::EndpointId(dst))),
                    },
                    underlay: v,
                    datagrams: recs.len() as u64,
                    fragmented: recs.len() as u64,
                    sizes_ip: sizes,
                    first_fragment,
                    df_set: 0,
                    mtu: advice,
                },
                Severity::Error,
            )
            .with_frames(FrameRefs::new(
                cap.side,
                cap.name,
                recs.iter().map(|r| r.frame),
            )),
        );
    }
}
