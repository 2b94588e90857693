//! What became of one record, as the correlation counted it: the
//! per-packet view of [`Correlation::role`] and [`Correlation::partner`],
//! for those who annotate packets (the counts of [`Direction`] are sums of
//! exactly these).
//!
//! [`Direction`]: super::Direction

use super::{Correlation, Role, Side, DUPLICATE, NO_TUNNEL};
use crate::capture::FrameNo;
use crate::decode::DecodedCapture;

/// The fate of one record of one capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Sent by this capture's host while the far capture ran, and seen there
    /// (counted as delivered).
    Delivered {
        /// The frame of the same message in the far capture.
        to: FrameNo,
        /// One-way delay on A's clock (the offset corrected), ns.
        delay_ns: i64,
    },
    /// Sent while the far capture ran and never seen there (counted as missing).
    Lost {
        /// The far capture's first fragment of it, when the path fragmented
        /// it and not every fragment arrived.
        first_fragment: Option<FrameNo>,
    },
    /// Sent while the far capture was not running (counted as outside the window).
    OutsideWindow,
    /// This capture's copy of a message the far capture sent and delivered.
    Received {
        /// The sender's frame.
        from: FrameNo,
        /// One-way delay on A's clock, ns.
        delay_ns: i64,
    },
    /// The first fragment of a message the far capture sent whose other
    /// fragments never arrived (counted as missing at the sender).
    ReceivedPart {
        /// The sender's frame.
        from: FrameNo,
    },
    /// Received, but absent from the sender's capture although it ran.
    Unexplained,
    /// The same message a second time in this capture (`-i any`, loops).
    Duplicate,
    /// Matched in the far capture but counted in no direction (a
    /// super-packet that could not be split, a tunnel left out by a selection).
    Uncounted {
        /// The far capture's frame.
        other: FrameNo,
    },
}

impl Correlation {
    /// The fate of record `i` of `side`; `None` for records the correlation
    /// neither matched nor counted (not a message, another peer's traffic,
    /// a tunnel left out). `caps` are the two captures correlated.
    pub fn fate(&self, side: Side, caps: [&DecodedCapture; 2], i: usize) -> Option<Fate> {
        let (s, o) = (side.idx(), side.other().idx());
        let role = *self.role[s].get(i)?;
        let partner = *self.partner[s].get(i)?;
        let counted =
            |x: usize, j: usize| self.tunnel_of[x].get(j).is_some_and(|t| *t != NO_TUNNEL);
        let far = |j: u32| caps[o].records.get(j as usize);
        let me = caps[s].records.get(i)?;
        // Delay on A's clock: B's times minus B's offset.
        let on_a = |x: usize, ts: i64| {
            if x == 1 {
                ts.saturating_sub(self.clock.offset_ns)
            } else {
                ts
            }
        };
        let delay =
            |from: usize, t0: i64, t1: i64| on_a(1 - from, t1).saturating_sub(on_a(from, t0));
        if counted(s, i) {
            if role == Role::Delivered as u8 {
                let r = far(partner)?;
                return Some(Fate::Delivered {
                    to: r.frame,
                    delay_ns: delay(s, me.ts.0, r.ts.0),
                });
            }
            if role == Role::Missing as u8 {
                let first_fragment = (partner < DUPLICATE)
                    .then(|| far(partner).map(|r| r.frame))
                    .flatten();
                return Some(Fate::Lost { first_fragment });
            }
            if role == Role::OutsideWindow as u8 {
                return Some(Fate::OutsideWindow);
            }
            if role == Role::Unexplained as u8 {
                return Some(Fate::Unexplained);
            }
        }
        if partner == DUPLICATE {
            return Some(Fate::Duplicate);
        }
        if partner > DUPLICATE {
            return None;
        }
        let j = partner as usize;
        let r = far(partner)?;
        let far_role = self.role[o].get(j).copied();
        if counted(o, j) && far_role == Some(Role::Delivered as u8) {
            return Some(Fate::Received {
                from: r.frame,
                delay_ns: delay(o, r.ts.0, me.ts.0),
            });
        }
        if counted(o, j) && far_role == Some(Role::Missing as u8) {
            return Some(Fate::ReceivedPart { from: r.frame });
        }
        Some(Fate::Uncounted { other: r.frame })
    }
}
