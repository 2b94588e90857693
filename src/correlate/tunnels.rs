//! Tunnels: the traffic of one pair of WireGuard endpoints, across both
//! captures, analysed on its own.
//!
//! Within a capture every correlated message belongs to an endpoint pair
//! (its own endpoint, the far one). Pairs are joined into one tunnel when a
//! message matched across the captures links them (so a NAT rewrite or a
//! rebinding at one end stays one tunnel), and when they carry the same
//! session: an index is chosen by the host that receives with it, so
//! `(owner endpoint, index)` names a session within a capture even when the
//! far end roams. Two WireGuard interfaces between the same hosts listen on
//! different ports, share no session, and stay apart.

use super::key::DUPLICATE;
use super::senders::matched_pairs;
use super::{Direction, NatMapping, Role, SizeCount, Unexplained};
use crate::decode::{DecodedCapture, Endpoint, EndpointId, PacketKind, PacketRecord};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// `tunnel_of` value of a record that belongs to no common tunnel.
pub const NO_TUNNEL: u16 = u16::MAX;

/// One tunnel common to both captures.
#[derive(Clone, Debug, Serialize)]
pub struct Tunnel {
    /// 0, 1, ... in order of first appearance in the first capture.
    pub id: u32,
    /// Per capture: its own endpoints in this tunnel, as it saw them.
    pub local: [Vec<Endpoint>; 2],
    /// Per capture: the far endpoints it exchanged this tunnel's packets with
    /// (several after NAT rebinding or roaming).
    pub remote: [Vec<Endpoint>; 2],
    /// A → B then B → A.
    pub directions: [Direction; 2],
    /// Messages found in both captures.
    pub matched: u64,
    /// Of those, WireGuard messages.
    pub matched_wg: u64,
    /// Received by a side but absent from the sender's capture.
    pub unexplained: [Unexplained; 2],
    /// Handshake responses found in both captures, in A's order: each
    /// starts a session (the first, then one per rekey or reconnection).
    pub handshakes: Vec<Handshake>,
    /// Handshakes beyond those listed.
    pub handshakes_more: u64,
}

/// A completed handshake, seen at both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Handshake {
    /// Time of the response in A's capture.
    pub ts: crate::capture::Timestamp,
    /// The response's frame in A's capture and in B's.
    pub frames: [crate::capture::FrameNo; 2],
}

/// Handshakes listed per tunnel (one every two minutes: 24 h of rekeys).
const HANDSHAKES: usize = 720;

/// Which tunnels to analyse (`--tunnel`, `--peer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelSelect {
    /// The tunnel with this id.
    Id(u32),
    /// Tunnels with an endpoint at this address (and port), in either capture.
    Peer {
        /// Address.
        ip: std::net::IpAddr,
        /// Port, when given.
        port: Option<u16>,
    },
}

impl std::str::FromStr for TunnelSelect {
    type Err = String;

    /// `ADDR`, `ADDR:PORT`, `[V6]:PORT` or `V6` as a peer.
    fn from_str(s: &str) -> Result<TunnelSelect, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse() {
            return Ok(TunnelSelect::Peer { ip, port: None });
        }
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            return Ok(TunnelSelect::Peer {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        bare.parse()
            .map(|ip| TunnelSelect::Peer { ip, port: None })
            .map_err(|_| format!("'{s}' is not an address, ADDR:PORT or [IPv6]:PORT"))
    }
}

impl std::fmt::Display for TunnelSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunnelSelect::Id(n) => write!(f, "--tunnel {n}"),
            TunnelSelect::Peer { ip, port: None } => write!(f, "--peer {ip}"),
            TunnelSelect::Peer { ip, port: Some(p) } => {
                write!(f, "--peer {}", Endpoint { ip: *ip, port: *p })
            }
        }
    }
}

impl Tunnel {
    /// Whether the selector picks this tunnel.
    pub fn matches(&self, sel: &TunnelSelect) -> bool {
        match sel {
            TunnelSelect::Id(n) => self.id == *n,
            TunnelSelect::Peer { ip, port } => self
                .local
                .iter()
                .chain(&self.remote)
                .flatten()
                .any(|e| e.ip == *ip && port.is_none_or(|p| p == e.port)),
        }
    }
}

/// Union-find over endpoint pairs.
#[derive(Default)]
struct Nodes {
    id: HashMap<(u8, EndpointId, EndpointId), u32>,
    keys: Vec<(u8, EndpointId, EndpointId)>,
    parent: Vec<u32>,
    matched: Vec<bool>,
}

impl Nodes {
    fn get(&mut self, side: usize, pair: (EndpointId, EndpointId)) -> u32 {
        let k = (side as u8, pair.0, pair.1);
        if let Some(n) = self.id.get(&k) {
            return *n;
        }
        let n = self.keys.len() as u32;
        self.id.insert(k, n);
        self.keys.push(k);
        self.parent.push(n);
        self.matched.push(false);
        n
    }

    fn find(&mut self, mut n: u32) -> u32 {
        while self.parent[n as usize] != n {
            let p = self.parent[n as usize];
            self.parent[n as usize] = self.parent[p as usize];
            n = p;
        }
        n
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.parent[hi as usize] = lo;
        }
    }
}

/// The endpoint pair (own, far) of a record in the correlation, if it has a role.
fn pair_of(r: &PacketRecord, role: u8, partner: u32) -> Option<(EndpointId, EndpointId)> {
    if super::unsized_superpacket(r) {
        // Neither sent nor received as any one message: no orientation.
        return None;
    }
    let sent = role == Role::Delivered as u8
        || role == Role::Missing as u8
        || role == Role::OutsideWindow as u8;
    if sent {
        Some((r.src, r.dst))
    } else if role == Role::Unexplained as u8 || partner < DUPLICATE {
        Some((r.dst, r.src))
    } else {
        None
    }
}

/// The sessions a record names: (owner endpoint, index).
type Sessions = [Option<(EndpointId, u32)>; 2];

fn sessions(r: &PacketRecord) -> Sessions {
    match r.kind {
        PacketKind::WgTransport { receiver, .. } | PacketKind::WgCookieReply { receiver } => {
            [Some((r.dst, receiver.0)), None]
        }
        PacketKind::WgInitiation { sender, .. } => [Some((r.src, sender.0)), None],
        PacketKind::WgResponse {
            sender, receiver, ..
        } => [Some((r.src, sender.0)), Some((r.dst, receiver.0))],
        _ => [None, None],
    }
}

/// The tunnels of a correlation.
pub(super) struct Split {
    /// Per record of A and of B: its tunnel, or [`NO_TUNNEL`].
    pub tunnel_of: [Vec<u16>; 2],
    pub tunnels: Vec<Tunnel>,
}

/// Splits the correlated records into tunnels, and counts each tunnel's
/// directions. Records of endpoint pairs that share no message with the
/// other capture (while some pair does) belong to no common tunnel: their
/// roles are cleared, so another peer's traffic is never counted as lost.
pub(super) fn split(
    caps: [&DecodedCapture; 2],
    partner: &[Vec<u32>; 2],
    role: &mut [Vec<u8>; 2],
    local: &super::senders::Local,
    nat: &mut [NatMapping],
    names: &[String; 2],
) -> Split {
    let mut nodes = Nodes::default();
    let mut node_of: [Vec<u32>; 2] = Default::default();
    let mut owner: HashMap<(u8, EndpointId, u32), u32> = HashMap::default();
    const NONE: u32 = u32::MAX;
    for s in 0..2 {
        let recs = &caps[s].records;
        let mut v = vec![NONE; recs.len()];
        let mut last: crate::last_two::LastTwo<(EndpointId, EndpointId), u32> = Default::default();
        let mut recent: [(u32, u32, u32); 4] = [(u32::MAX, u32::MAX, u32::MAX); 4];
        let mut next_slot = 0;
        for (i, r) in recs.iter().enumerate() {
            let Some(pair) = pair_of(r, role[s][i], partner[s][i]) else {
                continue;
            };
            let n = last.get_or(pair, || nodes.get(s, pair));
            v[i] = n;
            // Transport data, nearly all records, names one session; the two
            // directions of a stream alternate: remember a few.
            if let PacketKind::WgTransport { receiver, .. } = r.kind {
                let k = (n, r.dst.0, receiver.0);
                if recent.contains(&k) {
                    continue;
                }
                recent[next_slot] = k;
                next_slot = (next_slot + 1) % recent.len();
            }
            for (ep, ix) in sessions(r).into_iter().flatten() {
                let first = *owner.entry((s as u8, ep, ix)).or_insert(n);
                nodes.union(first, n);
            }
        }
        node_of[s] = v;
    }
    let mut last = None;
    for (i, j) in matched_pairs(partner) {
        let (na, nb) = (node_of[0][i as usize], node_of[1][j as usize]);
        if na == NONE || nb == NONE || last == Some((na, nb)) {
            continue;
        }
        last = Some((na, nb));
        nodes.matched[na as usize] = true;
        nodes.union(na, nb);
    }
    let n = nodes.keys.len();
    let roots: Vec<u32> = (0..n as u32).map(|x| nodes.find(x)).collect();
    let mut common = vec![false; n];
    for x in 0..n {
        if nodes.matched[x] {
            common[roots[x] as usize] = true;
        }
    }
    // Without any message in both captures nothing is common; keep every
    // pair then, for what one end shows.
    let any_common = common.iter().any(|c| *c);
    // Tunnel ids in order of first appearance, A first: nodes were made in
    // that order.
    let mut id_of_root: Vec<u16> = vec![NO_TUNNEL; n];
    let mut next: u16 = 0;
    for &r in &roots {
        let r = r as usize;
        if id_of_root[r] == NO_TUNNEL && (common[r] || !any_common) && next < NO_TUNNEL - 1 {
            id_of_root[r] = next;
            next += 1;
        }
    }
    let mk_dir = |t: usize, s: super::Side| Direction::empty(t as u32, s, names);
    let mut tunnels: Vec<Tunnel> = (0..usize::from(next))
        .map(|t| Tunnel {
            id: t as u32,
            local: Default::default(),
            remote: Default::default(),
            directions: [mk_dir(t, super::Side::A), mk_dir(t, super::Side::B)],
            matched: 0,
            matched_wg: 0,
            unexplained: Default::default(),
            handshakes: Vec::new(),
            handshakes_more: 0,
        })
        .collect();
    // Endpoints of each tunnel.
    for (x, &(s, own, far)) in nodes.keys.iter().enumerate() {
        let t = id_of_root[roots[x] as usize];
        if let Some(tu) = tunnels.get_mut(usize::from(t)) {
            let eps = &caps[usize::from(s)].endpoints;
            let (o, f) = (eps.get(own), eps.get(far));
            let s = usize::from(s);
            // The own endpoint only when the correlation knows it as local
            // (an endpoint pair of received packets is oriented the same way).
            if local[s].contains(&own) && !tu.local[s].contains(&o) {
                tu.local[s].push(o);
            }
            if !tu.remote[s].contains(&f) {
                tu.remote[s].push(f);
            }
        }
    }
    for tu in &mut tunnels {
        for v in tu.local.iter_mut().chain(tu.remote.iter_mut()) {
            v.sort();
        }
    }
    for m in nat.iter_mut() {
        let s = m.from_side.idx();
        m.tunnel = nodes
            .id
            .get(&(s as u8, m.sent_ids.0, m.sent_ids.1))
            .map_or(u32::from(NO_TUNNEL), |x| {
                u32::from(id_of_root[roots[*x as usize] as usize])
            });
    }
    // Per record: its tunnel; counts per tunnel and direction, each capture
    // on its own thread.
    let tid: Vec<u16> = roots.iter().map(|&r| id_of_root[r as usize]).collect();
    let nt = tunnels.len();
    let [role_a, role_b] = role;
    let [node_a, node_b] = &node_of;
    let ((tun_a, cnt_a), (tun_b, cnt_b)) = rayon::join(
        || count_side(0, caps, &partner[0], role_a, node_a, &tid, nt),
        || count_side(1, caps, &partner[1], role_b, node_b, &tid, nt),
    );
    for (s, counts) in [cnt_a, cnt_b].into_iter().enumerate() {
        for (tu, c) in tunnels.iter_mut().zip(counts) {
            let d = &mut tu.directions[s];
            d.sent = c.delivered + c.missing;
            d.delivered = c.delivered;
            d.missing = c.missing;
            d.outside_window = c.outside_window;
            d.hops = c.hops;
            d.hops.sort_unstable();
            d.by_size = c.sizes.into_iter().collect();
            tu.matched += c.matched;
            tu.matched_wg += c.matched_wg;
            tu.unexplained[s] = c.unexplained;
            tu.handshakes.extend(c.handshakes);
            tu.handshakes_more += c.handshakes_more;
        }
    }
    Split {
        tunnel_of: [tun_a, tun_b],
        tunnels,
    }
}

/// What one capture's records add to one tunnel.
#[derive(Default)]
struct SideCounts {
    delivered: u64,
    missing: u64,
    outside_window: u64,
    hops: Vec<u8>,
    sizes: HashMap<u16, SizeCount>,
    matched: u64,
    matched_wg: u64,
    unexplained: Unexplained,
    handshakes: Vec<Handshake>,
    handshakes_more: u64,
}

/// Counts side `s`'s records per tunnel (`tid`: node → tunnel id) and
/// clears the roles of records in no common tunnel; returns each record's tunnel.
fn count_side(
    s: usize,
    caps: [&DecodedCapture; 2],
    partner: &[u32],
    role: &mut [u8],
    node_of: &[u32],
    tid: &[u16],
    tunnels: usize,
) -> (Vec<u16>, Vec<SideCounts>) {
    const NONE: u32 = u32::MAX;
    let recs = &caps[s].records;
    let far = &caps[1 - s].records;
    let mut out: Vec<SideCounts> = (0..tunnels).map(|_| SideCounts::default()).collect();
    let mut v = vec![NO_TUNNEL; recs.len()];
    // Sizes repeat in runs: add up a run, then into the map.
    let mut run: Option<(usize, u16, SizeCount)> = None;
    let flush = |out: &mut Vec<SideCounts>, run: Option<(usize, u16, SizeCount)>| {
        if let Some((t, len, c)) = run {
            if let Some(o) = out.get_mut(t) {
                let e = o.sizes.entry(len).or_default();
                e.ip_len = e.ip_len.max(c.ip_len);
                e.delivered += c.delivered;
                e.missing += c.missing;
            }
        }
    };
    for (i, r) in recs.iter().enumerate() {
        let x = node_of[i];
        if x == NONE {
            continue;
        }
        let t = tid[x as usize];
        let ro = &mut role[i];
        if usize::from(t) >= tunnels {
            *ro = Role::Other as u8;
            continue;
        }
        v[i] = t;
        let t = usize::from(t);
        let o = &mut out[t];
        let p = partner[i];
        if s == 0 && p < DUPLICATE {
            o.matched += 1;
            o.matched_wg += u64::from(r.kind.is_wireguard());
            if let (PacketKind::WgResponse { .. }, Some(f)) = (&r.kind, far.get(p as usize)) {
                if o.handshakes.len() < HANDSHAKES {
                    o.handshakes.push(Handshake {
                        ts: r.ts,
                        frames: [r.frame, f.frame],
                    });
                } else {
                    o.handshakes_more += 1;
                }
            }
        }
        let delivered = *ro == Role::Delivered as u8;
        if delivered || *ro == Role::Missing as u8 {
            if delivered {
                o.delivered += 1;
                if let Some(rr) = far.get(p as usize) {
                    let hop = r.ttl.saturating_sub(rr.ttl);
                    if !o.hops.contains(&hop) {
                        o.hops.push(hop);
                    }
                }
            } else {
                o.missing += 1;
            }
            match &mut run {
                Some((rt, len, c)) if *rt == t && *len == r.udp_len => {
                    c.ip_len = c.ip_len.max(r.ip_len);
                    c.delivered += u64::from(delivered);
                    c.missing += u64::from(!delivered);
                }
                _ => {
                    flush(&mut out, run.take());
                    run = Some((
                        t,
                        r.udp_len,
                        SizeCount {
                            ip_len: r.ip_len,
                            delivered: u64::from(delivered),
                            missing: u64::from(!delivered),
                        },
                    ));
                }
            }
        } else if *ro == Role::OutsideWindow as u8 {
            o.outside_window += 1;
        } else if *ro == Role::Unexplained as u8 {
            o.unexplained.packets += 1;
            o.unexplained.frames.push(r.frame);
        }
    }
    flush(&mut out, run);
    (v, out)
}
