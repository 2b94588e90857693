//! The time both captures ran, and which packets fall inside it.

use super::{Side, Window};
use crate::capture::Timestamp;
use crate::decode::DecodedCapture;

/// First and last record times of each capture, both on A's clock.
#[derive(Clone, Copy, Debug)]
pub(super) struct Spans {
    /// A's span, on A's clock.
    a: Option<(i64, i64)>,
    /// B's span, on A's clock.
    b: Option<(i64, i64)>,
    /// B's clock − A's clock.
    offset: i64,
}

fn span(c: &DecodedCapture) -> Option<(i64, i64)> {
    c.records.iter().fold(None, |s, r| {
        let t = r.ts.0;
        Some(s.map_or((t, t), |(f, l): (i64, i64)| (f.min(t), l.max(t))))
    })
}

impl Spans {
    pub(super) fn of(caps: [&DecodedCapture; 2], offset: i64) -> Spans {
        Spans {
            a: span(caps[0]),
            b: span(caps[1]).map(|(f, l)| (f.saturating_sub(offset), l.saturating_sub(offset))),
            offset,
        }
    }

    /// The common window, on A's clock.
    pub(super) fn window(&self) -> Window {
        match (self.a, self.b) {
            (Some((fa, la)), Some((fb, lb))) => {
                let (s, e) = (fa.max(fb), la.min(lb));
                Window {
                    start: Timestamp(s),
                    end: Timestamp(e.max(s)),
                    overlap: s <= e,
                }
            }
            _ => Window::default(),
        }
    }

    /// The span of `of`'s capture on `clock`'s clock.
    fn on(&self, of: Side, clock: Side) -> Option<(i64, i64)> {
        let s = match of {
            Side::A => self.a,
            Side::B => self.b,
        };
        let shift = match clock {
            Side::A => 0,
            Side::B => self.offset,
        };
        s.map(|(f, l)| (f.saturating_add(shift), l.saturating_add(shift)))
    }

    /// Whether a packet `sender` sent at `ts` (its own clock) was sent while
    /// the receiver's capture ran, leaving `margin` for the flight.
    pub(super) fn receiver_ran(&self, sender: Side, ts: i64, margin: i64) -> bool {
        self.on(sender.other(), sender)
            .is_some_and(|(f, l)| ts >= f && ts.saturating_add(margin) <= l)
    }

    /// Whether a packet `receiver` received at `ts` (its own clock) was sent
    /// while the sender's capture ran.
    pub(super) fn sender_ran(&self, receiver: Side, ts: i64, margin: i64) -> bool {
        self.on(receiver.other(), receiver)
            .is_some_and(|(f, l)| ts.saturating_sub(margin) >= f && ts <= l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(a: (i64, i64), b: (i64, i64), offset: i64) -> Spans {
        Spans {
            a: Some(a),
            b: Some((b.0 - offset, b.1 - offset)),
            offset,
        }
    }

    #[test]
    fn window_is_the_overlap_on_a_clock() {
        // B runs 100..300 on its clock, 1000 ahead: 1100..1300 on B = 100..300 on A.
        let s = spans((0, 200), (1100, 1300), 1000);
        let w = s.window();
        assert_eq!((w.start.0, w.end.0, w.overlap), (100, 200, true));
        assert!(!spans((0, 10), (20, 30), 0).window().overlap);
    }

    #[test]
    fn edges_leave_room_for_the_flight() {
        let s = spans((0, 200), (1100, 1300), 1000);
        // A sends at 150: B ran 100..300 on A's clock.
        assert!(s.receiver_ran(Side::A, 150, 10));
        assert!(!s.receiver_ran(Side::A, 295, 10));
        assert!(!s.receiver_ran(Side::A, 50, 10));
        // B sends at 1150 (its clock) = 150 on A's: A ran until 200.
        assert!(s.receiver_ran(Side::B, 1150, 10));
        assert!(!s.receiver_ran(Side::B, 1195, 10));
        // B received at 1150: sent while A ran (0..200 on A = 1000..1200 on B).
        assert!(s.sender_ran(Side::B, 1150, 10));
        assert!(!s.sender_ran(Side::B, 1005, 10));
    }
}
