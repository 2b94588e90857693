//! Handshakes that never complete, from the initiator's capture (what became
//! of each initiation at the responder) or the responder's alone.

use super::finding::{Finding, FindingKind, FrameRefs, HandshakeFate, HandshakeView, Severity};
use super::Capture;
use crate::capture::FrameNo;
use crate::decode::{Endpoint, PacketKind};
use std::collections::{HashMap, HashSet};

/// The other capture of a pair, as the handshake detector needs it.
#[derive(Clone, Copy)]
pub(super) struct Other<'a> {
    /// The capture.
    pub cap: Capture<'a>,
    /// Its clock minus the initiator capture's clock (ns).
    pub offset_ns: i64,
}

/// `handshake_unanswered` findings of `init`'s capture.
pub(super) fn unanswered(
    out: &mut Vec<Finding>,
    init: Capture<'_>,
    other: Option<Other<'_>>,
    local: &[Endpoint],
) {
    let sessions = &init.facts.sessions;
    if sessions.unanswered.is_empty() {
        // Nothing to explain; spare the pass over the other capture.
        return;
    }
    let by_frame: HashMap<FrameNo, usize> = init
        .cap
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.kind, PacketKind::WgInitiation { .. }))
        .map(|(i, r)| (r.frame, i))
        .collect();
    let rec = |f: FrameNo| by_frame.get(&f).and_then(|i| init.cap.records.get(*i));
    // The other capture's handshake messages, and when it ran (its own clock).
    let mut seen_init: HashSet<u32> = HashSet::new();
    let mut answered: HashSet<u32> = HashSet::new();
    let mut span: Option<(i64, i64)> = None;
    if let Some(o) = other {
        for r in &o.cap.cap.records {
            match r.kind {
                PacketKind::WgInitiation { sender, .. } => {
                    seen_init.insert(sender.0);
                }
                PacketKind::WgResponse { receiver, .. } => {
                    answered.insert(receiver.0);
                }
                _ => {}
            }
        }
        span = o
            .cap
            .facts
            .first_ts
            .zip(o.cap.facts.last_ts)
            .map(|(a, b)| (a.0, b.0));
    }
    for u in &sessions.unanswered {
        // Recovered later by a completed handshake from the same initiator: not a problem.
        let last = u.frames.iter().max().copied().unwrap_or(FrameNo(0));
        let recovered = sessions.sessions.iter().any(|s| {
            s.handshake_seen
                && s.response_frame.is_some_and(|f| f > last)
                && s.sides[0].endpoints.contains(&u.from)
        });
        if recovered && u.initiations < 3 {
            continue;
        }
        // Whether this host sent them or received them.
        let sent_here = if local.is_empty() {
            u.frames
                .iter()
                .any(|f| rec(*f).is_some_and(crate::correlate::looks_locally_sent))
        } else {
            local.contains(&u.from)
        };
        let view = if sent_here {
            HandshakeView::Initiator
        } else if u.copies > 0 {
            HandshakeView::Passing
        } else {
            HandshakeView::Responder
        };
        // With both captures, the initiator's tells the story; the responder's
        // view is needed only when its initiator's capture does not show them.
        if view != HandshakeView::Initiator
            && other.is_some_and(|o| {
                o.cap.facts.sessions.unanswered.iter().any(|x| {
                    x.sender_indexes
                        .iter()
                        .any(|i| u.sender_indexes.contains(i))
                })
            })
        {
            continue;
        }
        let mut fate = HandshakeFate::default();
        // Time of each initiation, by its sender index.
        let ts_of: HashMap<u32, i64> = u
            .frames
            .iter()
            .filter_map(|f| rec(*f))
            .filter_map(|r| match r.kind {
                PacketKind::WgInitiation { sender, .. } => Some((sender.0, r.ts.0)),
                _ => None,
            })
            .collect();
        for ix in &u.sender_indexes {
            match (view, other) {
                (HandshakeView::Responder, _) => fate.not_answered += 1,
                (HandshakeView::Passing, _) => fate.unknown += 1,
                (_, None) => fate.unknown += 1,
                (_, Some(o)) => {
                    let in_window = match (span, ts_of.get(&ix.0)) {
                        (Some((f, l)), Some(&t)) => {
                            let t = t.saturating_add(o.offset_ns);
                            t >= f && t <= l
                        }
                        _ => false,
                    };
                    if answered.contains(&ix.0) {
                        fate.response_lost += 1;
                    } else if seen_init.contains(&ix.0) {
                        fate.not_answered += 1;
                    } else if in_window {
                        fate.never_arrived += 1;
                    } else {
                        fate.outside_window += 1;
                    }
                }
            }
        }
        out.push(
            Finding::new(
                FindingKind::HandshakeUnanswered {
                    side: init.side,
                    file: init.name.to_string(),
                    view,
                    from: u.from,
                    to: u.to,
                    initiations: u.initiations,
                    fate,
                    cookie_replies: u.cookie_replies,
                },
                Severity::Error,
            )
            .with_frames(FrameRefs::new(
                init.side,
                init.name,
                u.frames.iter().copied(),
            )),
        );
    }
}
