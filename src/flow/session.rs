//! WireGuard sessions of one capture, grouped by their indexes.
//!
//! A session is the index pair of one initiation/response exchange. Transport
//! messages carry the index of the peer that receives them, so each index
//! names one direction. Where the handshake was not captured (the capture
//! started mid-session), the two directions are paired by their mirrored
//! endpoints.

use crate::capture::{FrameNo, Timestamp};
use crate::decode::{Endpoint, EndpointId, Endpoints, PacketKind, PacketRecord, PeerIndex};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// Messages that travelled towards one side of a session.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DirectionStats {
    /// Transport messages (keepalives included).
    pub packets: u64,
    /// UDP payload bytes of those messages.
    pub bytes: u64,
    /// Keepalives (32-byte transport messages).
    pub keepalives: u64,
    /// First transport frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<FrameNo>,
    /// Last transport frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame: Option<FrameNo>,
}

/// One peer of a session, as this capture saw it.
#[derive(Clone, Debug, Serialize)]
pub struct SessionSide {
    /// The index this peer chose (the receiver index of messages sent to it).
    pub index: Option<PeerIndex>,
    /// The address and port this peer sent from, first seen first.
    pub endpoints: Vec<Endpoint>,
    /// Transport messages sent to this peer.
    pub received: DirectionStats,
}

/// A source endpoint change within a session: roaming or a NAT rebinding.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointChange {
    /// Which side moved (0: initiator or first seen, 1: responder or other).
    pub side: u8,
    /// Old endpoint.
    pub from: Endpoint,
    /// New endpoint.
    pub to: Endpoint,
    /// First frame from the new endpoint.
    pub frame: FrameNo,
    /// Its time.
    pub ts: Timestamp,
}

/// A WireGuard session seen in one capture.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    /// Whether the initiation/response exchange was captured; if not, side 0 is simply the first seen.
    pub handshake_seen: bool,
    /// Frame of the initiation, when captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiation_frame: Option<FrameNo>,
    /// Frame of the response, when captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_frame: Option<FrameNo>,
    /// Time of the first message of the session.
    pub first_seen: Timestamp,
    /// Time of the last message.
    pub last_seen: Timestamp,
    /// Initiator (or first seen peer) and responder.
    pub sides: [SessionSide; 2],
    /// Endpoint changes during the session.
    pub endpoint_changes: Vec<EndpointChange>,
}

/// Handshake initiations that no response in the capture answered.
#[derive(Clone, Debug, Serialize)]
pub struct UnansweredHandshake {
    /// Initiator endpoint.
    pub from: Endpoint,
    /// Responder endpoint as addressed.
    pub to: Endpoint,
    /// Number of distinct initiations (retries every 5 s use new indexes).
    pub initiations: u64,
    /// Further sightings of the same initiations in this capture (after NAT,
    /// or `-i any` recording a packet on two interfaces).
    pub copies: u64,
    /// Frames of the initiations and their copies.
    pub frames: Vec<FrameNo>,
    /// Sender indexes of the initiations.
    pub sender_indexes: Vec<PeerIndex>,
    /// Cookie replies received instead of responses.
    pub cookie_replies: u64,
    /// Time of the first initiation.
    pub first: Timestamp,
    /// Time of the last initiation.
    pub last: Timestamp,
}

/// Sessions and unanswered handshakes of one capture.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sessions {
    /// Sessions in order of first appearance.
    pub sessions: Vec<Session>,
    /// Initiations never answered, grouped by initiator and responder endpoints.
    pub unanswered: Vec<UnansweredHandshake>,
}

/// Sessions by the index their owner chose. An index is unique only on the
/// host that chose it: the key is (owner endpoint, index), where the owner is
/// the destination of the messages that carry it. A lookup whose owner moved
/// (it roamed, or its NAT rebound) falls back to the index alone when one
/// session holds it and the message comes from that session's other peer.
#[derive(Default)]
struct ByIndex(HashMap<PeerIndex, Vec<(EndpointId, usize, usize)>>);

impl ByIndex {
    fn insert(&mut self, owner: EndpointId, index: PeerIndex, s: usize, side: usize) {
        let v = self.0.entry(index).or_default();
        match v.iter_mut().find(|e| e.0 == owner) {
            Some(e) => *e = (owner, s, side),
            None => v.push((owner, s, side)),
        }
    }

    /// (session, side that owns the index); `from_peer` tells whether a
    /// message's sender is the other peer of a session and side.
    fn get(
        &self,
        owner: EndpointId,
        index: PeerIndex,
        from_peer: impl Fn(usize, usize) -> bool,
    ) -> Option<(usize, usize)> {
        let v = self.0.get(&index)?;
        match v.iter().find(|e| e.0 == owner) {
            Some(e) => Some((e.1, e.2)),
            None => match v.as_slice() {
                [e] if from_peer(e.1, e.2) => Some((e.1, e.2)),
                _ => None,
            },
        }
    }
}

struct Builder<'a> {
    endpoints: &'a Endpoints,
    sessions: Vec<Session>,
    by_index: ByIndex,
    /// Per session, the endpoint each side sent from last: a roam back to an
    /// earlier endpoint is one change, not one per packet after it.
    current: Vec<[Option<Endpoint>; 2]>,
}

impl Builder<'_> {
    fn new_session(&mut self, r: &PacketRecord, handshake: bool) -> usize {
        let empty = || SessionSide {
            index: None,
            endpoints: Vec::new(),
            received: DirectionStats::default(),
        };
        self.sessions.push(Session {
            handshake_seen: handshake,
            initiation_frame: None,
            response_frame: None,
            first_seen: r.ts,
            last_seen: r.ts,
            sides: [empty(), empty()],
            endpoint_changes: Vec::new(),
        });
        self.current.push([None, None]);
        self.sessions.len() - 1
    }

    fn note_sender(
        &mut self,
        s: usize,
        side: usize,
        src: EndpointId,
        frame: FrameNo,
        ts: Timestamp,
    ) {
        let ep = self.endpoints.get(src);
        let sess = &mut self.sessions[s];
        let eps = &mut sess.sides[side].endpoints;
        let Some(current) = self.current.get_mut(s).and_then(|c| c.get_mut(side)) else {
            return;
        };
        let last = current.replace(ep);
        if let Some(last) = last {
            if last != ep {
                sess.endpoint_changes.push(EndpointChange {
                    side: side as u8,
                    from: last,
                    to: ep,
                    frame,
                    ts,
                });
            }
        }
        if eps.last() != Some(&ep) && !eps.contains(&ep) {
            eps.push(ep);
        }
    }
}

/// The last few transport identities seen: a copy of a message (`tcpdump -i
/// any` records forwarded packets twice) follows its original closely, so a
/// small ring catches it without a set as large as the capture.
struct Recent {
    /// Counters and receiver indexes apart, so that each compare runs over
    /// one plain array (vectorised).
    counters: [u64; 16],
    receivers: [u32; 16],
    next: usize,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            counters: [u64::MAX; 16],
            receivers: [0; 16],
            next: 0,
        }
    }
}

impl Recent {
    fn seen_again(&mut self, receiver: u32, counter: u64) -> bool {
        // Without early exit: all sixteen compares at once.
        let mut hits = 0u16;
        for (k, (&r, &c)) in self.receivers.iter().zip(&self.counters).enumerate() {
            hits |= u16::from((r == receiver) & (c == counter)) << k;
        }
        if hits != 0 {
            return true;
        }
        let at = self.next % 16;
        if let (Some(r), Some(c)) = (self.receivers.get_mut(at), self.counters.get_mut(at)) {
            (*r, *c) = (receiver, counter);
        }
        self.next = (at + 1) % 16;
        false
    }
}

/// Groups the WireGuard messages of a capture into sessions.
///
/// Copies of a transport message seen again shortly after (a packet recorded
/// on two interfaces) count once.
pub fn sessions(records: &[PacketRecord], endpoints: &Endpoints) -> Sessions {
    let mut b = Builder {
        endpoints,
        sessions: Vec::new(),
        by_index: ByIndex::default(),
        current: Vec::new(),
    };
    // Initiations waiting for a response, by (initiator endpoint, sender index).
    let mut pending: HashMap<(EndpointId, PeerIndex), &PacketRecord> = HashMap::default();
    let mut answered: rustc_hash::FxHashSet<(EndpointId, PeerIndex)> = Default::default();
    let mut cookies: HashMap<PeerIndex, u64> = HashMap::default();
    // Transport streams whose index no captured handshake explains: (src, dst) -> session.
    let mut orphan_pairs: HashMap<(EndpointId, EndpointId), usize> = HashMap::default();
    let mut initiations: Vec<&PacketRecord> = Vec::new();
    let mut recent = Recent::default();
    // The previous transport message's receiver index and sender, with its
    // session and side: the rest of a stream needs neither the index lookup
    // nor the sender check. Handshakes reset it (they move indexes).
    let mut last: crate::last_two::LastTwo<PeerIndex, (EndpointId, usize, usize)> =
        Default::default();

    for r in records {
        if r.kind.is_wireguard() && !matches!(r.kind, PacketKind::WgTransport { .. }) {
            last = Default::default();
        }
        match &r.kind {
            PacketKind::WgInitiation { sender, .. } => {
                pending.insert((r.src, *sender), r);
                initiations.push(r);
            }
            PacketKind::WgResponse {
                sender, receiver, ..
            } => {
                answered.insert((r.dst, *receiver));
                let s = b.new_session(r, true);
                let init = pending.get(&(r.dst, *receiver)).copied();
                {
                    let sess = &mut b.sessions[s];
                    sess.sides[0].index = Some(*receiver);
                    sess.sides[1].index = Some(*sender);
                    sess.response_frame = Some(r.frame);
                    if let Some(i) = init {
                        sess.initiation_frame = Some(i.frame);
                        sess.first_seen = i.ts;
                    }
                }
                if let Some(i) = init {
                    b.note_sender(s, 0, i.src, i.frame, i.ts);
                }
                b.note_sender(s, 1, r.src, r.frame, r.ts);
                b.by_index.insert(r.dst, *receiver, s, 0);
                b.by_index.insert(r.src, *sender, s, 1);
            }
            PacketKind::WgCookieReply { receiver } => {
                *cookies.entry(*receiver).or_default() += 1;
            }
            PacketKind::WgTransport { receiver, counter } => {
                if recent.seen_again(receiver.0, counter.0) {
                    continue;
                }
                // Keyed by index alone: a new sender of the index misses,
                // so every endpoint change is noted.
                let (s, side) = match last.get(receiver) {
                    Some((src, s, side)) if src == r.src => (s, side),
                    _ => {
                        let sender = endpoints.get(r.src);
                        let sessions = &b.sessions;
                        let from_peer = |s: usize, side: usize| {
                            sessions
                                .get(s)
                                .is_some_and(|x| x.sides[1 - side].endpoints.contains(&sender))
                        };
                        let (s, side) = match b.by_index.get(r.dst, *receiver, from_peer) {
                            Some(v) => v,
                            None => {
                                // Mid-session capture: pair with the mirrored stream if one exists.
                                let (s, side) = match orphan_pairs.get(&(r.dst, r.src)) {
                                    Some(&s)
                                        if b.sessions[s].sides[0].index.is_some()
                                            && b.sessions[s].sides[1].index.is_none() =>
                                    {
                                        (s, 1)
                                    }
                                    _ => (b.new_session(r, false), 0),
                                };
                                b.sessions[s].sides[side].index = Some(*receiver);
                                b.by_index.insert(r.dst, *receiver, s, side);
                                orphan_pairs.insert((r.src, r.dst), s);
                                (s, side)
                            }
                        };
                        b.note_sender(s, 1 - side, r.src, r.frame, r.ts);
                        last.put(*receiver, (r.src, s, side));
                        (s, side)
                    }
                };
                let sess = &mut b.sessions[s];
                sess.last_seen = sess.last_seen.max(r.ts);
                let st = &mut sess.sides[side].received;
                st.packets += 1;
                st.bytes += u64::from(r.udp_len);
                if r.udp_len == 32 {
                    st.keepalives += 1;
                }
                st.first_frame.get_or_insert(r.frame);
                st.last_frame = Some(r.frame);
            }
            _ => {}
        }
    }

    let mut groups: Vec<UnansweredHandshake> = Vec::new();
    let mut group_of: HashMap<(EndpointId, EndpointId), usize> = HashMap::default();
    let mut group_of_sender: HashMap<PeerIndex, usize> = HashMap::default();
    for r in initiations {
        let PacketKind::WgInitiation { sender, .. } = r.kind else {
            continue;
        };
        if answered.contains(&(r.src, sender)) {
            continue;
        }
        if let Some(&g) = group_of_sender.get(&sender) {
            groups[g].copies += 1;
            groups[g].frames.push(r.frame);
            continue;
        }
        let g = *group_of.entry((r.src, r.dst)).or_insert_with(|| {
            groups.push(UnansweredHandshake {
                from: endpoints.get(r.src),
                to: endpoints.get(r.dst),
                initiations: 0,
                copies: 0,
                frames: Vec::new(),
                sender_indexes: Vec::new(),
                cookie_replies: 0,
                first: r.ts,
                last: r.ts,
            });
            groups.len() - 1
        });
        group_of_sender.insert(sender, g);
        let u = &mut groups[g];
        u.initiations += 1;
        u.frames.push(r.frame);
        u.sender_indexes.push(sender);
        u.cookie_replies += cookies.get(&sender).copied().unwrap_or(0);
        u.last = r.ts;
    }
    Sessions {
        sessions: b.sessions,
        unanswered: groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::decode::{Counter, Flags, PacketKind};
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
            port,
        }
    }

    /// Transport to the server's index from the given source, one per entry.
    fn records(eps: &mut Endpoints, from: &[Endpoint]) -> Vec<PacketRecord> {
        let server = eps.intern(ep(1, 51820));
        from.iter()
            .enumerate()
            .map(|(i, e)| PacketRecord {
                ts: Timestamp(1_000_000_000 * i as i64),
                kind: PacketKind::WgTransport {
                    receiver: PeerIndex(7),
                    counter: Counter(i as u64),
                },
                frame: FrameNo(i as u32 + 1),
                ip_len: 124,
                src: eps.intern(*e),
                dst: server,
                udp_len: 96,
                frag_len: 124,
                ttl: 61,
                flags: Flags(0),
                iface: 0,
            })
            .collect()
    }

    #[test]
    fn a_roam_and_a_roam_back_are_two_changes() {
        let (x, y) = (ep(2, 40000), ep(2, 40001));
        let mut eps = Endpoints::default();
        let recs = records(&mut eps, &[x, x, y, y, y, x, x, x, x]);
        let s = sessions(&recs, &eps);
        assert_eq!(s.sessions.len(), 1);
        let changes = &s.sessions[0].endpoint_changes;
        let got: Vec<(Endpoint, Endpoint, u32)> =
            changes.iter().map(|c| (c.from, c.to, c.frame.0)).collect();
        assert_eq!(got, vec![(x, y, 3), (y, x, 6)]);
        // Endpoints are listed once each, first seen first.
        let side = s.sessions[0].sides.iter().find(|s| !s.endpoints.is_empty());
        assert_eq!(side.map(|s| s.endpoints.clone()), Some(vec![x, y]));
    }

    #[test]
    fn one_index_chosen_by_two_hosts_is_two_sessions() {
        // The server receives with its index 7 from a laptop, and sends a
        // phone's traffic with the phone's index 7: unrelated sessions.
        let mut eps = Endpoints::default();
        let (laptop, phone) = (ep(2, 40000), ep(3, 40000));
        let mut recs = records(&mut eps, &[laptop, laptop, laptop]);
        let server = eps.intern(ep(1, 51820));
        let to_phone = eps.intern(phone);
        let mut out = recs[0].clone();
        out.src = server;
        out.dst = to_phone;
        out.kind = PacketKind::WgTransport {
            receiver: PeerIndex(7),
            counter: Counter(100),
        };
        recs.push(out);
        let s = sessions(&recs, &eps);
        assert_eq!(s.sessions.len(), 2, "{:?}", s.sessions);
        assert!(s.sessions.iter().all(|x| x.endpoint_changes.is_empty()));
    }

    #[test]
    fn messages_to_a_roamed_owner_stay_in_its_session() {
        // The server sends with the laptop's index 9; the laptop moves from x to y.
        let mut eps = Endpoints::default();
        let (x, y) = (ep(2, 40000), ep(2, 40001));
        let server = eps.intern(ep(1, 51820));
        let mut recs = records(&mut eps, &[x, y, y]);
        for (i, r) in recs.iter_mut().enumerate() {
            r.dst = r.src;
            r.src = server;
            r.kind = PacketKind::WgTransport {
                receiver: PeerIndex(9),
                counter: Counter(i as u64),
            };
        }
        let s = sessions(&recs, &eps);
        assert_eq!(s.sessions.len(), 1, "{:?}", s.sessions);
        assert_eq!(s.sessions[0].sides[0].received.packets, 3);
    }

    #[test]
    fn a_steady_endpoint_is_no_change() {
        let mut eps = Endpoints::default();
        let x = ep(3, 40000);
        let recs = records(&mut eps, &[x; 5]);
        let s = sessions(&recs, &eps);
        assert!(s.sessions[0].endpoint_changes.is_empty());
    }
}
