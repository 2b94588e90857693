//! The pass over matched pairs: each pair's one-way delay, the (source,
//! destination) pairs of matched traffic, the address mapping between the
//! ends (NAT), fragmentation by the path, and the delivered packets.

use super::senders::{here, learn, matched_pairs, Here, Local, Senders};
use super::{file_name, NatMapping, PathFragmented, Role, Side};
use crate::decode::{DecodedCapture, EndpointId, Flags};
use crate::flow::incomplete_datagrams;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// (source, destination) pairs seen in matched traffic, per capture.
pub(super) type Pairs = [HashSet<(EndpointId, EndpointId)>; 2];

/// What the matched pass found.
pub(super) struct Matched {
    /// Delays A → B and B → A (receiver time − sender time, raw clocks).
    pub delays: [Vec<i64>; 2],
    /// Pairs each side sent on that the other received.
    pub sent_pairs: Pairs,
    /// Pairs each side received on.
    pub recv_pairs: Pairs,
    /// Mappings, in order of first use.
    pub nat: Vec<NatMapping>,
    /// Per sending side: whole packets that arrived fragmented.
    pub path_fragmented: [Vec<PathFragmented>; 2],
}

/// Walks the matched pairs with their senders decided, writing the roles of
/// the sent records (`Delivered`, or `Missing` when fragments were lost).
pub(super) fn pass(
    caps: [&DecodedCapture; 2],
    partner: &[Vec<u32>; 2],
    senders: &Senders,
    local: &mut Local,
    role: &mut [Vec<u8>; 2],
) -> Matched {
    let rec = |s: Side, i: u32| &caps[s.idx()].records[i as usize];
    let names = [file_name(caps[0]), file_name(caps[1])];
    let incomplete = {
        let (ia, ib) = rayon::join(
            || incomplete_datagrams(caps[0]),
            || incomplete_datagrams(caps[1]),
        );
        [ia, ib]
    };
    let mut out = Matched {
        delays: [
            Vec::with_capacity(senders.count[0]),
            Vec::with_capacity(senders.count[1]),
        ],
        sent_pairs: Default::default(),
        recv_pairs: Default::default(),
        nat: Vec::new(),
        path_fragmented: Default::default(),
    };
    let mut nat_of: HashMap<(Side, [EndpointId; 4]), usize> = HashMap::default();
    let mut last: crate::last_two::LastTwo<Here, usize> = Default::default();
    for ((i, j), &s) in matched_pairs(partner).zip(&senders.by_pair) {
        let (ra, rb) = (rec(Side::A, i), rec(Side::B, j));
        let (ta, tb) = (ra.ts.0, rb.ts.0);
        match s {
            Side::A => out.delays[0].push(tb.saturating_sub(ta)),
            Side::B => out.delays[1].push(ta.saturating_sub(tb)),
        }
        let (si, ri) = match s {
            Side::A => (i, j),
            Side::B => (j, i),
        };
        let (rs, rr) = (rec(s, si), rec(s.other(), ri));
        let h = here(s, ra, rb);
        let n = match last.get(&h) {
            Some(n) => n,
            None => {
                learn(local, s, ra, rb);
                out.sent_pairs[s.idx()].insert((rs.src, rs.dst));
                out.recv_pairs[s.other().idx()].insert((rr.src, rr.dst));
                let (se, re) = (&caps[s.idx()].endpoints, &caps[s.other().idx()].endpoints);
                let nat = &mut out.nat;
                let n = *nat_of
                    .entry((s, [rs.src, rs.dst, rr.src, rr.dst]))
                    .or_insert_with(|| {
                        nat.push(NatMapping {
                            from_side: s,
                            from: names[s.idx()].clone(),
                            sent_src: se.get(rs.src),
                            sent_dst: se.get(rs.dst),
                            recv_src: re.get(rr.src),
                            recv_dst: re.get(rr.dst),
                            packets: 0,
                            first_frames: (rs.frame, rr.frame),
                            tunnel: 0,
                            sent_ids: (rs.src, rs.dst),
                        });
                        nat.len() - 1
                    });
                last.put(h, n);
                n
            }
        };
        if let Some(m) = out.nat.get_mut(n) {
            m.packets += 1;
        }
        // The receiver saw it, so its capture was running: delivered,
        // unless it came as fragments and not all of them arrived.
        let complete = !incomplete[s.other().idx()]
            .get(ri as usize)
            .copied()
            .unwrap_or(false);
        if rr.flags.has(Flags::FIRST_FRAGMENT) && !rs.flags.has(Flags::FIRST_FRAGMENT) {
            out.path_fragmented[s.idx()].push(PathFragmented {
                sent: si,
                received: rr.frame,
                first_fragment: rr.frag_len,
                complete,
            });
        }
        if super::unsized_superpacket(rs) {
            continue;
        }
        role[s.idx()][si as usize] = if complete {
            Role::Delivered as u8
        } else {
            Role::Missing as u8
        };
    }
    for list in &mut out.path_fragmented {
        list.sort_unstable_by_key(|p| p.sent);
    }
    out
}
