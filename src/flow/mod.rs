//! Stage 3: records of one capture to facts: WireGuard messages and sessions,
//! sizes per direction, path-MTU signals, martians, fragments.
//!
//! Facts are what was seen, not whether it matters (that is `diagnose`'s job).

mod fragments;
pub mod inner;
mod session;

pub use fragments::incomplete_datagrams;
pub use inner::{inner_packets, inner_packets_from, InnerLink, InnerPackets};
pub use session::{
    sessions, DirectionStats, EndpointChange, Session, SessionSide, Sessions, UnansweredHandshake,
};

use crate::capture::{CaptureInfo, FrameNo, LinkType, Timestamp};
use crate::decode::{
    DecodeIssue, DecodedCapture, Endpoint, Flags, PacketKind, PacketRecord, PeerIndex,
};
use crate::last_two::LastTwo;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// How many example frame numbers a fact keeps.
pub const EXAMPLES: usize = 10;

/// Counts of WireGuard messages by type, as a dissector would count them (one
/// per frame), except that each message of a split super-packet counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageCounts {
    /// Type 1.
    pub initiation: u64,
    /// Type 2.
    pub response: u64,
    /// Type 3.
    pub cookie_reply: u64,
    /// Type 4, keepalives included.
    pub transport: u64,
    /// Transport messages of exactly 32 bytes.
    pub keepalive: u64,
}

impl MessageCounts {
    /// All WireGuard messages.
    pub fn total(&self) -> u64 {
        self.initiation + self.response + self.cookie_reply + self.transport
    }
}

/// WireGuard traffic from one endpoint to another, with its sizes.
#[derive(Clone, Debug, Serialize)]
pub struct WgDirection {
    /// Sender.
    pub from: Endpoint,
    /// Receiver.
    pub to: Endpoint,
    /// Messages by type.
    pub messages: MessageCounts,
    /// Transport messages by UDP payload size (bytes -> count).
    pub sizes: BTreeMap<u32, u64>,
    /// Largest IP packet size of a transport message.
    pub max_ip_len: u32,
    /// Messages whose outer IPv4 header had Don't Fragment set.
    pub df_set: u64,
    /// Datagrams that arrived fragmented (first fragments seen).
    pub fragmented: u64,
    /// Sizes of the first fragments of fragmented datagrams: the largest is the path's MTU as far as it was probed.
    pub largest_fragment: u16,
    /// TTL / hop limit values seen.
    pub ttls: Vec<u8>,
}

/// An ICMP fragmentation-needed or packet-too-big message.
#[derive(Clone, Debug, Serialize)]
pub struct PmtuSignal {
    /// Frame of the ICMP message.
    pub frame: FrameNo,
    /// When it was captured.
    pub ts: Timestamp,
    /// ICMPv6 packet-too-big rather than ICMP fragmentation-needed.
    pub v6: bool,
    /// The router that sent it.
    pub router: IpAddr,
    /// Where the ICMP was addressed (the sender of the big packet).
    pub to: IpAddr,
    /// The MTU the router announced (0: not given).
    pub mtu: u32,
    /// Source of the packet that was too big.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_from: Option<Endpoint>,
    /// Destination of the packet that was too big.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_to: Option<Endpoint>,
    /// Its IP size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_ip_len: Option<u32>,
    /// WireGuard receiver index and counter of the quoted packet, when the router quoted enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_wireguard: Option<(PeerIndex, u64)>,
}

/// Why an address is martian (Linux `ip_route_input_slow` rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MartianReason {
    /// Source equals destination: hairpin NAT.
    SameSrcDst,
    /// 0.0.0.0/8 or `::`.
    ThisNetwork,
    /// 127.0.0.0/8 or `::1`.
    Loopback,
    /// Multicast source.
    Multicast,
    /// Limited broadcast source.
    Broadcast,
}

/// Packets with a martian source, grouped by reason, source and destination.
#[derive(Clone, Debug, Serialize)]
pub struct Martian {
    /// Which rule.
    pub reason: MartianReason,
    /// Source endpoint.
    pub src: Endpoint,
    /// Destination endpoint.
    pub dst: Endpoint,
    /// Packets.
    pub packets: u64,
    /// Of which WireGuard handshake initiations.
    pub wg_initiations: u64,
    /// Of which WireGuard messages.
    pub wireguard: u64,
    /// Frames.
    pub frames: Vec<FrameNo>,
}

/// Counts of packets wgtrace could not decode, by reason.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Undecoded {
    /// Frames of a link type wgtrace does not read.
    pub unsupported_link_type: u64,
    /// Frames too short for their link header.
    pub truncated_link_header: u64,
    /// Frames whose IP header was invalid.
    pub bad_ip_header: u64,
    /// Frames that are not IP (ARP, ...).
    pub non_ip: u64,
}

/// UDP datagrams that held several WireGuard messages: the capture was taken
/// with segmentation or receive offloads on (UDP GSO / GRO), so it recorded
/// datagrams as the kernel handed them over, not as they were on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Superpackets {
    /// Datagrams split into their messages.
    pub split: u64,
    /// WireGuard messages those held.
    pub messages: u64,
    /// Datagrams that visibly held several messages but could not be split
    /// (each counted as one message, without a size).
    pub unsplittable: u64,
    /// First frame of either kind.
    pub first_frame: Option<FrameNo>,
}

/// One file of a capture given as a directory (rotated captures).
#[derive(Clone, Debug, Serialize)]
pub struct FileFacts {
    /// The file's path.
    pub path: String,
    /// Packets read from it.
    pub packets: u64,
    /// The capture-wide number of its first frame.
    pub first_frame: u64,
}

/// Everything one capture shows, ready to render (`wgtrace inspect`) or to correlate.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureFacts {
    /// File name as given.
    pub path: String,
    /// `pcap`, `pcap-nsec` or `pcapng`.
    pub format: &'static str,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
    /// Link types of the capture's interfaces.
    pub link_types: Vec<LinkType>,
    /// Interfaces (pcapng) or the one of classic pcap.
    pub interfaces: Vec<crate::capture::Interface>,
    /// Packet records read.
    pub packets: u64,
    /// Time of the first packet (ns since the epoch).
    pub first_ts: Option<Timestamp>,
    /// Time of the last packet.
    pub last_ts: Option<Timestamp>,
    /// Drops reported by the capture's own statistics (pcapng), if recorded.
    pub capture_drops: Option<u64>,
    /// WireGuard messages by type.
    pub wireguard: MessageCounts,
    /// WireGuard traffic per (sender, receiver) endpoint pair.
    pub directions: Vec<WgDirection>,
    /// Sessions and unanswered handshakes.
    pub sessions: Sessions,
    /// ICMP fragmentation-needed / packet-too-big messages outside the
    /// tunnel (those on a tunnel interface are about inner packets).
    pub pmtu_signals: Vec<PmtuSignal>,
    /// Other ICMP errors (unreachable, time exceeded) outside the tunnel.
    pub icmp_errors: u64,
    /// Packets with martian sources.
    pub martians: Vec<Martian>,
    /// Non-first IP fragments seen.
    pub fragments: u64,
    /// First fragments whose other fragments are not in the capture: their
    /// datagrams never arrived whole and are not counted as WireGuard messages.
    pub incomplete_datagrams: u64,
    /// Packets that could not be decoded.
    pub undecoded: Undecoded,
    /// UDP GSO/GRO super-packets (several WireGuard messages in one datagram).
    pub superpackets: Superpackets,
    /// Damage that ended reading early (the facts cover what came before).
    pub damage: Option<String>,
    /// Warnings worth showing (unsupported link types, ...).
    pub warnings: Vec<String>,
    /// The files of a capture given as a directory, in the order read (time
    /// order); absent for a single file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileFacts>,
    /// The tunnel's inner packets, matched to the outer ones (empty without
    /// a tunnel interface in the capture).
    #[serde(skip)]
    pub inner: InnerPackets,
}

fn martian_reason(src: IpAddr, dst: IpAddr) -> Option<MartianReason> {
    if src == dst {
        return Some(MartianReason::SameSrcDst);
    }
    match src {
        IpAddr::V4(a) => {
            let o = a.octets();
            // Linux takes 0.0.0.0 to multicast (IGMP, mDNS) and to the limited
            // broadcast (DHCP): `ip_mc_validate_source`, `ip_route_input_slow`.
            let to_group = match dst {
                IpAddr::V4(d) => d.is_multicast() || d.is_broadcast(),
                IpAddr::V6(_) => false,
            };
            if o[0] == 0 && to_group {
                None
            } else if o[0] == 0 {
                Some(MartianReason::ThisNetwork)
            } else if a.is_loopback() {
                Some(MartianReason::Loopback)
            } else if a.is_multicast() {
                Some(MartianReason::Multicast)
            } else if a.is_broadcast() {
                Some(MartianReason::Broadcast)
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            if a.is_unspecified() {
                // Duplicate address detection legitimately uses ::
                None
            } else if a.is_loopback() {
                Some(MartianReason::Loopback)
            } else if a.is_multicast() {
                Some(MartianReason::Multicast)
            } else {
                None
            }
        }
    }
}

/// Computes the facts of a decoded capture.
pub fn facts(cap: &DecodedCapture) -> CaptureFacts {
    let info: &CaptureInfo = &cap.info;
    let eps = &cap.endpoints;
    let mut counts = MessageCounts::default();
    let mut dirs: Vec<WgDirection> = Vec::new();
    let mut dir_of: HashMap<(u32, u32), usize> = HashMap::default();
    let mut pmtu = Vec::new();
    let mut icmp_errors = 0;
    let mut martians: Vec<Martian> = Vec::new();
    let mut martian_of: HashMap<(MartianReason, u32, u32), usize> = HashMap::default();
    let mut fragments = 0;
    let mut undecoded = Undecoded::default();
    let mut superpackets = Superpackets::default();
    // Transport sizes per direction, counted in hash maps and sorted once at the end.
    let mut sizes: Vec<HashMap<u32, u64>> = Vec::new();
    let mut span: Option<(Timestamp, Timestamp)> = None;
    // Packets come in runs of one flow: the last (src, dst) pairs, their
    // directions, and whether they may be martians.
    let mut last_dir: LastTwo<(u32, u32), usize> = LastTwo::default();
    let mut last_martian: LastTwo<(u32, u32), bool> = LastTwo::default();

    // A dissector sees a fragmented message once, when it is complete.
    let incomplete = incomplete_datagrams(cap);
    let incomplete_count = incomplete.iter().filter(|x| **x).count() as u64;
    let mut inner_seen = 0u64;
    for (i, r) in cap.records.iter().enumerate() {
        span = Some(span.map_or((r.ts, r.ts), |(f, l)| (f.min(r.ts), l.max(r.ts))));
        inner_seen += u64::from(r.flags.has(Flags::TUNNEL_IF));
        if r.flags.has(Flags::SPLIT | Flags::SUPERPACKET) {
            note_superpacket(
                &mut superpackets,
                r,
                i.checked_sub(1).and_then(|p| cap.records.get(p)),
            );
        }
        if r.kind.is_wireguard() && !incomplete.get(i).copied().unwrap_or(false) {
            count_message(&mut counts, r);
            let pair = (r.src.0, r.dst.0);
            let d = match last_dir.get(&pair) {
                Some(d) => d,
                None => {
                    let d = *dir_of.entry(pair).or_insert_with(|| {
                        dirs.push(WgDirection {
                            from: eps.get(r.src),
                            to: eps.get(r.dst),
                            messages: MessageCounts::default(),
                            sizes: BTreeMap::new(),
                            max_ip_len: 0,
                            df_set: 0,
                            fragmented: 0,
                            largest_fragment: 0,
                            ttls: Vec::new(),
                        });
                        sizes.push(HashMap::default());
                        dirs.len() - 1
                    });
                    last_dir.put(pair, d);
                    d
                }
            };
            let dir = &mut dirs[d];
            count_message(&mut dir.messages, r);
            // A super-packet wgtrace could not split has no message size.
            if matches!(r.kind, PacketKind::WgTransport { .. }) && !r.flags.has(Flags::SUPERPACKET)
            {
                *sizes[d].entry(u32::from(r.udp_len)).or_default() += 1;
                dir.max_ip_len = dir.max_ip_len.max(r.ip_len);
            }
            if r.flags.has(Flags::DF) {
                dir.df_set += 1;
            }
            if r.flags.has(Flags::FIRST_FRAGMENT) {
                dir.fragmented += 1;
                dir.largest_fragment = dir.largest_fragment.max(r.frag_len);
            }
            if !dir.ttls.contains(&r.ttl) && dir.ttls.len() < 8 {
                dir.ttls.push(r.ttl);
            }
        }
        match &r.kind {
            // An ICMP error on the tunnel interface is about inner traffic,
            // not the WireGuard underlay (see `diagnose` `inner_pmtud`).
            PacketKind::IcmpError(_) if r.flags.has(Flags::TUNNEL_IF) => {}
            PacketKind::IcmpError(e) => {
                if let Some(mtu) = e.mtu {
                    let q = e.quoted.as_ref();
                    pmtu.push(PmtuSignal {
                        frame: r.frame,
                        ts: r.ts,
                        v6: e.v6,
                        router: eps.get(r.src).ip,
                        to: eps.get(r.dst).ip,
                        mtu,
                        quoted_from: q.map(|q| q.src),
                        quoted_to: q.map(|q| q.dst),
                        quoted_ip_len: q.map(|q| q.ip_len),
                        quoted_wireguard: q.and_then(|q| q.wireguard).map(|(i, c)| (i, c.0)),
                    });
                } else {
                    icmp_errors += 1;
                }
            }
            PacketKind::Fragment { .. } => fragments += 1,
            PacketKind::Undecodable(DecodeIssue::UnsupportedLinkType) => {
                undecoded.unsupported_link_type += 1
            }
            PacketKind::Undecodable(DecodeIssue::TruncatedLinkHeader) => {
                undecoded.truncated_link_header += 1
            }
            PacketKind::Undecodable(DecodeIssue::BadIpHeader) => undecoded.bad_ip_header += 1,
            PacketKind::NonIp { .. } => undecoded.non_ip += 1,
            _ => {}
        }
        // The further messages of a split super-packet are no further packets.
        let continuation = r.flags.has(Flags::SPLIT)
            && i.checked_sub(1)
                .and_then(|p| cap.records.get(p))
                .is_some_and(|p| p.frame == r.frame);
        if continuation {
            continue;
        }
        // Whether a packet is a martian depends on its endpoints only.
        let pair = (r.src.0, r.dst.0);
        let maybe = last_martian.get(&pair).unwrap_or(true);
        if maybe {
            let m = note_martian(r, cap, &mut martians, &mut martian_of);
            last_martian.put(pair, m);
        }
    }
    for (dir, sizes) in dirs.iter_mut().zip(sizes) {
        dir.sizes = sizes.into_iter().collect();
    }

    let mut warnings = Vec::new();
    for (i, iface) in info.interfaces.iter().enumerate() {
        if !iface.link.is_supported() {
            warnings.push(format!(
                "interface {i} has link type {}, which wgtrace does not decode: its {} packets were skipped",
                iface.link, iface.packets
            ));
        }
    }
    CaptureFacts {
        path: cap.path.display().to_string(),
        format: info.format.map_or("unknown", |f| f.name()),
        gzip: info.gzip,
        link_types: info.link_types(),
        interfaces: info.interfaces.clone(),
        packets: info.frames,
        first_ts: span.map(|s| s.0),
        last_ts: span.map(|s| s.1),
        capture_drops: info.capture_drops(),
        wireguard: counts,
        directions: dirs,
        sessions: sessions(&cap.records, eps),
        pmtu_signals: pmtu,
        icmp_errors,
        martians,
        fragments,
        incomplete_datagrams: incomplete_count,
        undecoded,
        superpackets,
        damage: info.damage.as_ref().map(|d| match info.damaged_part() {
            Some(part) => format!("{}: {d}", part.display()),
            None => d.to_string(),
        }),
        warnings,
        files: info
            .parts
            .iter()
            .map(|p| FileFacts {
                path: p.path.display().to_string(),
                packets: p.frames,
                first_frame: p.before + 1,
            })
            .collect(),
        inner: inner::inner_packets_counted(cap, inner_seen),
    }
}

impl CaptureFacts {
    /// `file:frame` (file name and Wireshark's number in that file) for a
    /// capture of several files; the bare number otherwise.
    pub fn frame_name(&self, no: crate::capture::FrameNo) -> String {
        let n = u64::from(no.0);
        let i = self.files.partition_point(|f| f.first_frame <= n);
        match i.checked_sub(1).map(|i| &self.files[i]) {
            Some(f) => {
                let name = std::path::Path::new(&f.path)
                    .file_name()
                    .map_or_else(|| f.path.clone(), |x| x.to_string_lossy().into_owned());
                format!("{name}:{}", n + 1 - f.first_frame)
            }
            None => no.to_string(),
        }
    }
}

/// Counts `r`, a record of a super-packet; `prev` is the record before it.
fn note_superpacket(s: &mut Superpackets, r: &PacketRecord, prev: Option<&PacketRecord>) {
    if r.flags.has(Flags::SUPERPACKET) {
        s.unsplittable += 1;
    } else {
        // The messages of one frame are consecutive records.
        let same_frame = prev.is_some_and(|p| p.frame == r.frame && p.flags.has(Flags::SPLIT));
        s.split += u64::from(!same_frame);
        s.messages += 1;
    }
    s.first_frame.get_or_insert(r.frame);
}

fn count_message(c: &mut MessageCounts, r: &PacketRecord) {
    match r.kind {
        PacketKind::WgInitiation { .. } => c.initiation += 1,
        PacketKind::WgResponse { .. } => c.response += 1,
        PacketKind::WgCookieReply { .. } => c.cookie_reply += 1,
        PacketKind::WgTransport { .. } => {
            c.transport += 1;
            if r.udp_len == 32 {
                c.keepalive += 1;
            }
        }
        _ => {}
    }
}

/// Counts `r` if it is a martian; returns whether it was.
fn note_martian(
    r: &PacketRecord,
    cap: &DecodedCapture,
    out: &mut Vec<Martian>,
    index: &mut HashMap<(MartianReason, u32, u32), usize>,
) -> bool {
    if r.src == crate::decode::EndpointId::NONE || r.flags.has(Flags::LOOPBACK) {
        return false;
    }
    let (src, dst) = (cap.endpoints.get(r.src), cap.endpoints.get(r.dst));
    let Some(reason) = martian_reason(src.ip, dst.ip) else {
        return false;
    };
    let i = *index.entry((reason, r.src.0, r.dst.0)).or_insert_with(|| {
        out.push(Martian {
            reason,
            src,
            dst,
            packets: 0,
            wg_initiations: 0,
            wireguard: 0,
            frames: Vec::new(),
        });
        out.len() - 1
    });
    let m = &mut out[i];
    m.packets += 1;
    if matches!(r.kind, PacketKind::WgInitiation { .. }) {
        m.wg_initiations += 1;
    }
    if r.kind.is_wireguard() {
        m.wireguard += 1;
    }
    m.frames.push(r.frame);
    true
}
