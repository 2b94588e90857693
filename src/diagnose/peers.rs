//! Peers a capture holds besides the tunnel the pair shares: a server's
//! other clients. They are not counted, but whether big packets go to them
//! without trouble says whether a loss is specific to one path.

use super::finding::{Finding, FindingKind, FrameRefs, OtherPeer, Roam, Severity};
use super::Capture;
use crate::correlate::{Correlation, Side};
use crate::decode::{Endpoint, EndpointId, Flags, PacketKind};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashSet};

/// A record's (source, destination).
type Pair = (EndpointId, EndpointId);
/// What a pair is to the capture's host: an other peer and whether the host
/// sent to it, or nothing to count.
type Role = Option<(Endpoint, bool)>;

/// `other_peers` for each capture of the pair; `threshold` is the IP size
/// of a blackhole found from that capture's host, if any.
pub(super) fn other_peers(
    out: &mut Vec<Finding>,
    caps: [Capture<'_>; 2],
    c: &Correlation,
    thresholds: [Option<u32>; 2],
) {
    for s in [Side::A, Side::B] {
        let cap = caps[s.idx()];
        let local: HashSet<Endpoint> = c.local[s.idx()].iter().copied().collect();
        if local.is_empty() {
            continue;
        }
        // Endpoints of the shared tunnel as this capture sees them.
        let mut shared: HashSet<Endpoint> = HashSet::new();
        for m in &c.nat {
            if m.from_side == s {
                shared.insert(m.sent_dst);
            } else {
                shared.insert(m.recv_src);
            }
        }
        let threshold = thresholds[s.idx()];
        let mut peers: BTreeMap<Endpoint, OtherPeer> = BTreeMap::new();
        let mut frames = Vec::new();
        // What a (source, destination) pair is: decided once per pair, as
        // records come in long runs of a few pairs.
        let mut pair_memo: FxHashMap<Pair, Role> = FxHashMap::default();
        let mut last: crate::last_two::LastTwo<Pair, Role> = Default::default();
        for r in &cap.cap.records {
            if !r.kind.is_wireguard() {
                continue;
            }
            let key = (r.src, r.dst);
            let what = match last.get(&key) {
                Some(w) => w,
                None => {
                    let w = *pair_memo.entry(key).or_insert_with(|| {
                        let (src, dst) =
                            (cap.cap.endpoints.get(r.src), cap.cap.endpoints.get(r.dst));
                        let (peer, sent) = if local.contains(&src) {
                            (dst, true)
                        } else if local.contains(&dst) {
                            (src, false)
                        } else {
                            return None;
                        };
                        (!shared.contains(&peer)).then_some((peer, sent))
                    });
                    last.put(key, w);
                    w
                }
            };
            let Some((peer, sent)) = what else { continue };
            let p = peers.entry(peer).or_insert(OtherPeer {
                endpoint: peer,
                messages: 0,
                largest_sent_ip: 0,
                big_sent: 0,
                first_frame: r.frame,
                last_frame: r.frame,
            });
            p.messages += 1;
            p.last_frame = r.frame;
            // Whole packets of a known size (no unsplit super-packets).
            let whole = !r.flags.has(Flags::FIRST_FRAGMENT | Flags::SUPERPACKET);
            if sent && whole && matches!(r.kind, PacketKind::WgTransport { .. }) {
                p.largest_sent_ip = p.largest_sent_ip.max(r.ip_len);
                if threshold.is_some_and(|t| r.ip_len >= t) {
                    p.big_sent += 1;
                    frames.push(r.frame);
                }
            }
        }
        if peers.is_empty() {
            continue;
        }
        let peers: Vec<OtherPeer> = peers.into_values().collect();
        frames.extend(peers.iter().flat_map(|p| [p.first_frame, p.last_frame]));
        out.push(
            Finding::new(
                FindingKind::OtherPeers {
                    side: s,
                    file: cap.name.to_string(),
                    other: caps[s.other().idx()].name.to_string(),
                    threshold_ip: threshold,
                    peers,
                },
                Severity::Info,
            )
            .with_frames(FrameRefs::new(s, cap.name, frames)),
        );
    }
}

/// `endpoint_roaming` (info) for one capture: every source endpoint change
/// within a session.
pub(super) fn roaming(out: &mut Vec<Finding>, cap: Capture<'_>) {
    let mut changes: Vec<Roam> = Vec::new();
    for sess in &cap.facts.sessions.sessions {
        for ch in &sess.endpoint_changes {
            // Messages from the side that moved go to the other side's index.
            let other = 1 - usize::from(ch.side.min(1));
            changes.push(Roam {
                session: sess.sides.get(other).and_then(|s| s.index).map(|i| i.0),
                from: ch.from,
                to: ch.to,
                frame: ch.frame,
                ts: ch.ts,
            });
        }
    }
    if changes.is_empty() {
        return;
    }
    changes.sort_by_key(|c| c.frame);
    let frames: Vec<_> = changes.iter().map(|c| c.frame).collect();
    out.push(
        Finding::new(
            FindingKind::EndpointRoaming {
                side: cap.side,
                file: cap.name.to_string(),
                changes,
            },
            Severity::Info,
        )
        .with_frames(FrameRefs::new(cap.side, cap.name, frames)),
    );
}
