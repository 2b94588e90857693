//! Messages without a partner: sent and lost, sent while the far capture
//! was not running, or received with no copy at the sender (the sender's
//! capture dropped them).

use super::key::NO_PARTNER;
use super::nat::Pairs;
use super::senders::{looks_locally_sent, Local};
use super::window::Spans;
use super::{MsgClass, Role, Side};
use crate::decode::DecodedCapture;

/// What the matched traffic taught, to judge the unmatched messages by.
pub(super) struct Known<'a> {
    /// Pairs each side sent on that the other received.
    pub sent_pairs: &'a Pairs,
    /// Pairs each side received on.
    pub recv_pairs: &'a Pairs,
    /// Endpoints each side sends from.
    pub local: &'a Local,
    /// When each capture ran.
    pub spans: &'a Spans,
    /// Flight margins A → B, B → A.
    pub margins: [i64; 2],
}

/// Writes the role of every unmatched message.
pub(super) fn unmatched(
    caps: [&DecodedCapture; 2],
    partner: &[Vec<u32>; 2],
    role: &mut [Vec<u8>; 2],
    k: &Known<'_>,
) {
    let Known {
        sent_pairs,
        recv_pairs,
        local,
        spans,
        margins,
    } = *k;
    for side in [Side::A, Side::B] {
        let cap = caps[side.idx()];
        let any_sent = !sent_pairs[side.idx()].is_empty();
        for (i, r) in cap.records.iter().enumerate() {
            if partner[side.idx()][i] != NO_PARTNER {
                continue;
            }
            let class = MsgClass::of(&r.kind);
            if class == MsgClass::Other || super::unsized_superpacket(r) {
                continue;
            }
            let pair = (r.src, r.dst);
            // Sent on a flow that delivered, or towards a peer whose own
            // packets to us are in both captures (so ours should be too).
            let sent = sent_pairs[side.idx()].contains(&pair)
                || recv_pairs[side.idx()].contains(&(r.dst, r.src))
                || (!any_sent
                    && class != MsgClass::Udp
                    && (local[side.idx()].contains(&r.src) || looks_locally_sent(r)));
            let slot = &mut role[side.idx()][i];
            if sent {
                *slot = if spans.receiver_ran(side, r.ts.0, margins[side.idx()]) {
                    Role::Missing as u8
                } else {
                    Role::OutsideWindow as u8
                };
            } else if recv_pairs[side.idx()].contains(&pair)
                && spans.sender_ran(side, r.ts.0, margins[side.other().idx()])
            {
                *slot = Role::Unexplained as u8;
            }
        }
    }
}
