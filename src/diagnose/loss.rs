//! Loss that size does not explain: one-way (total) loss, random loss, and
//! the capture's own drops; for one capture, gaps in the counters.

use super::direction::{Lost, SentSummary};
use super::finding::{DirRef, Finding, FindingKind, FrameRefs, LossBasis, Severity};
use super::Capture;
use crate::capture::FrameNo;
use crate::correlate::{Correlation, Direction, SentPacket, Side};
use crate::decode::{PacketKind, PeerIndex};
use std::collections::{HashMap, HashSet};

/// `one_way_loss`: nothing `d` sent arrived while the receiver's capture
/// ran, although the other direction delivered. Returns whether it fired.
pub(super) fn one_way(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    d: &Direction,
    reverse: &Direction,
    sender: Capture<'_>,
    lost: &Lost<'_>,
) -> bool {
    if d.sent == 0 || d.delivered > 0 || reverse.delivered == 0 {
        return false;
    }
    out.push(
        Finding::new(
            FindingKind::OneWayLoss {
                direction: dir.clone(),
                receiver_index: None,
                sent: d.sent,
                reverse_delivered: reverse.delivered,
                other_sessions_delivered: 0,
            },
            Severity::Error,
        )
        .with_frames(FrameRefs::new(
            sender.side,
            sender.name,
            lost().map(|p| p.frame),
        )),
    );
    true
}

/// Transport messages a session needs to have sent, all lost, to be called
/// one-way loss on its own (fewer are the last packets before a capture stopped).
const MIN_SESSION_SENT: u64 = 3;

/// `one_way_loss` per session: sessions of a direction that delivered
/// nothing while others delivered. Returns the record indexes of their lost
/// packets, which no other loss finding should count again.
pub(super) fn one_way_sessions(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    reverse: &Direction,
    sum: &SentSummary,
    sender: Capture<'_>,
) -> HashSet<u32> {
    let delivered_all: u64 = sum.sessions.iter().map(|s| s.2).sum();
    let mut dead: Vec<(u32, u64)> = sum
        .sessions
        .iter()
        .filter(|s| s.2 == 0 && s.1 >= MIN_SESSION_SENT)
        .map(|s| (s.0, s.1))
        .collect();
    dead.sort_unstable();
    let mut excluded = HashSet::new();
    if delivered_all == 0 {
        return excluded;
    }
    for (ix, sent) in dead {
        // Its lost packets, from the direction's lost list.
        let lost: Vec<u32> = sum
            .lost
            .iter()
            .copied()
            .filter(|&i| {
                sender.cap.records.get(i as usize).is_some_and(
                    |r| matches!(r.kind, PacketKind::WgTransport { receiver, .. } if receiver.0 == ix),
                )
            })
            .collect();
        let frames = lost
            .iter()
            .filter_map(|&i| sender.cap.records.get(i as usize))
            .map(|r| r.frame);
        out.push(
            Finding::new(
                FindingKind::OneWayLoss {
                    direction: dir.clone(),
                    receiver_index: Some(ix),
                    sent,
                    reverse_delivered: reverse.delivered,
                    other_sessions_delivered: delivered_all,
                },
                Severity::Error,
            )
            .with_frames(FrameRefs::new(sender.side, sender.name, frames)),
        );
        excluded.extend(lost);
    }
    excluded
}

/// `random_loss` or `capture_drops` for the lost packets of a direction that
/// `explained` leaves.
pub(super) fn random(
    out: &mut Vec<Finding>,
    dir: &DirRef,
    d: &Direction,
    sender: Capture<'_>,
    receiver: Capture<'_>,
    lost: &mut dyn Iterator<Item = SentPacket>,
) {
    let mut frames: Vec<FrameNo> = Vec::new();
    let mut sizes: Option<(u32, u32)> = None;
    for p in lost {
        frames.push(p.frame);
        sizes = Some(sizes.map_or((p.ip_len, p.ip_len), |(a, b)| {
            (a.min(p.ip_len), b.max(p.ip_len))
        }));
    }
    let n = frames.len() as u64;
    if n == 0 {
        return;
    }
    let frames = FrameRefs::new(sender.side, sender.name, frames);
    loss_or_drops(
        out,
        receiver,
        dir,
        LossBasis::Matched,
        n,
        d.sent,
        sizes,
        frames,
    );
}

/// `capture_drops` for one capture.
pub(super) fn drops_finding(
    cap: Capture<'_>,
    reported: Option<u64>,
    unexplained: u64,
    frames: Vec<FrameNo>,
) -> Finding {
    Finding::new(
        FindingKind::CaptureDrops {
            side: cap.side,
            file: cap.name.to_string(),
            reported,
            unexplained,
        },
        Severity::Warning,
    )
    .with_frames(FrameRefs::new(cap.side, cap.name, frames))
}

/// Capture drops of a pair: the statistics, or packets received that the
/// sender's capture lacks.
pub(super) fn capture_drops(out: &mut Vec<Finding>, caps: [Capture<'_>; 2], c: &Correlation) {
    for s in [Side::A, Side::B] {
        let cap = caps[s.idx()];
        let reported = cap.facts.capture_drops.filter(|d| *d > 0);
        let unexpl = &c.unexplained[s.other().idx()];
        let already = out.iter().any(
            |f| matches!(&f.kind, FindingKind::CaptureDrops { side, .. } if *side == cap.side),
        );
        if !already && (reported.is_some() || unexpl.packets > 0) {
            // The frames are the receiver's: packets it has that this capture lacks.
            let mut f = drops_finding(cap, reported, unexpl.packets, Vec::new());
            let other = caps[s.other().idx()];
            f = f.with_frames(FrameRefs::new(
                other.side,
                other.name,
                unexpl.frames.iter().copied(),
            ));
            out.push(f);
        }
    }
}

/// Counter reordering tolerated (Linux's replay window is about 8,000): only
/// gaps are counted, after sorting, so order does not matter; a jump larger
/// than this is taken as a new start (a capture cut, not loss).
const MAX_GAP: u64 = 8192;

/// One capture: loss estimated from gaps in the counters of the transport
/// messages it received, per session (receiver index).
pub(super) fn counter_gaps(out: &mut Vec<Finding>, cap: Capture<'_>) {
    // Received (not locally sent) transport counters by (receiver endpoint, index).
    let mut by_session: HashMap<(u32, PeerIndex), Vec<(u64, FrameNo)>> = HashMap::new();
    // A first fragment without the rest still carries its counter: that loss
    // is `fragments_dropped`'s, not a gap.
    for r in &cap.cap.records {
        if let PacketKind::WgTransport { receiver, counter } = r.kind {
            if !crate::correlate::looks_locally_sent(r) {
                by_session
                    .entry((r.dst.0, receiver))
                    .or_default()
                    .push((counter.0, r.frame));
            }
        }
    }
    let (mut missing, mut spanned) = (0u64, 0u64);
    // Frames right after each gap: where to look.
    let mut after_gap: Vec<FrameNo> = Vec::new();
    let mut sessions: Vec<_> = by_session.into_iter().collect();
    sessions.sort_by_key(|(k, _)| *k);
    for (_, mut v) in sessions {
        v.sort_unstable();
        v.dedup_by_key(|x| x.0);
        let Some(&(first, _)) = v.first() else {
            continue;
        };
        let mut prev = first;
        let mut span = 1u64;
        for &(ctr, frame) in v.iter().skip(1) {
            let gap = ctr - prev - 1;
            if gap > 0 && gap <= MAX_GAP {
                missing += gap;
                after_gap.push(frame);
            }
            span += if gap <= MAX_GAP { gap + 1 } else { 1 };
            prev = ctr;
        }
        spanned += span;
    }
    if missing == 0 {
        return;
    }
    let dir = DirRef {
        from_side: cap.side,
        from: String::new(),
        to_side: Some(cap.side),
        to: cap.name.to_string(),
        from_endpoint: None,
        to_endpoint: None,
    };
    let frames = FrameRefs::new(cap.side, cap.name, after_gap);
    loss_or_drops(
        out,
        cap,
        &dir,
        LossBasis::CounterGaps,
        missing,
        spanned,
        None,
        frames,
    );
}

/// `random_loss`, or `capture_drops` of the receiver's capture when its own
/// statistics report at least as many drops as were lost.
#[allow(clippy::too_many_arguments)]
fn loss_or_drops(
    out: &mut Vec<Finding>,
    receiver: Capture<'_>,
    dir: &DirRef,
    basis: LossBasis,
    lost: u64,
    sent: u64,
    sizes_ip: Option<(u32, u32)>,
    frames: FrameRefs,
) {
    let drops = receiver.facts.capture_drops.unwrap_or(0);
    if drops >= lost {
        out.push(drops_finding(receiver, Some(drops), 0, Vec::new()));
        return;
    }
    out.push(
        Finding::new(
            FindingKind::RandomLoss {
                direction: dir.clone(),
                basis,
                lost,
                sent,
                percent: 100.0 * lost as f64 / sent.max(1) as f64,
                sizes_ip,
            },
            Severity::Warning,
        )
        .with_frames(frames),
    );
}
