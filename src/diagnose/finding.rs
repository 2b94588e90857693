//! Findings: a stable kind name, typed evidence, a severity and the frames
//! that prove it. No words: `report` renders summaries, fixes and filters.

use crate::capture::{FrameNo, Timestamp};
use crate::correlate::{NatMapping, Side};
use crate::decode::Endpoint;
use crate::flow::MartianReason;
use serde::Serialize;
use std::net::IpAddr;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something is broken.
    Error,
    /// Something is wrong or suspicious.
    Warning,
    /// Worth knowing, not a problem.
    Info,
}

impl Severity {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A direction of the tunnel: the sending and receiving captures, by side
/// and display name (the shortest path suffix that tells them apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirRef {
    /// Sending capture's side.
    pub from_side: Side,
    /// Sending capture's display name.
    pub from: String,
    /// Receiving capture's side (`None` with one capture).
    pub to_side: Option<Side>,
    /// Receiving capture's display name (empty with one capture).
    pub to: String,
    /// Sender's endpoint as the sending capture sees it, when known.
    pub from_endpoint: Option<Endpoint>,
    /// Receiver's endpoint as the sending capture addressed it, when known.
    pub to_endpoint: Option<Endpoint>,
}

/// A wire size: IP packet and UDP payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WireSize {
    /// IP packet (datagram) size in bytes.
    pub ip: u32,
    /// UDP payload (WireGuard message) size in bytes.
    pub udp: u16,
}

/// IP version of the underlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpVersion {
    /// IPv4: 60 bytes of outer overhead.
    Ipv4,
    /// IPv6: 80 bytes.
    Ipv6,
}

impl IpVersion {
    /// IP + UDP + WireGuard overhead.
    pub fn overhead(self) -> u32 {
        match self {
            IpVersion::Ipv4 => 60,
            IpVersion::Ipv6 => 80,
        }
    }
    /// IP header size.
    pub fn header(self) -> u32 {
        match self {
            IpVersion::Ipv4 => 20,
            IpVersion::Ipv6 => 40,
        }
    }
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            IpVersion::Ipv4 => "IPv4",
            IpVersion::Ipv6 => "IPv6",
        }
    }
}

/// Fisher's exact test of loss above vs below a size threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SizeTest {
    /// Packets at or above the threshold.
    pub sent_above: u64,
    /// Of which lost.
    pub lost_above: u64,
    /// Packets below.
    pub sent_below: u64,
    /// Of which lost.
    pub lost_below: u64,
    /// One-sided p-value (0 when smaller than the smallest double: see `log10_p`).
    pub p_value: f64,
    /// log10 of the p-value, exact where `p_value` underflows.
    pub log10_p: f64,
}

/// The tunnel MTU to set, and how tightly the captures pin it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MtuAdvice {
    /// The MTU to set on both peers.
    pub tunnel_mtu: u32,
    /// Underlay the overhead is for.
    pub underlay: IpVersion,
    /// Largest IP packet known to have crossed the path.
    pub largest_delivered_ip: Option<u32>,
    /// Smallest IP packet lost for its size (or announced path MTU + 1).
    pub smallest_lost_ip: u32,
    /// Largest tunnel MTU proven to work: its full-size packets were delivered.
    pub proven: Option<u32>,
    /// Largest tunnel MTU whose full-size packets stay below the smallest lost size.
    pub at_most: u32,
    /// Whether the captures pin the path MTU to one WireGuard padding step (16 bytes).
    pub pinned: bool,
    /// Where the value comes from.
    pub basis: MtuBasis,
    /// Inner `ping -M do -s N` sizes that would settle a wide bracket (empty when pinned).
    pub probe_ping_sizes: Vec<u32>,
}

/// What an [`MtuAdvice`] rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MtuBasis {
    /// The largest delivered and smallest lost sizes are one padding step apart.
    Bracket,
    /// The bracket is wide; the IPv6 minimum of 1280 (or the largest delivered size above it).
    WideBracket,
    /// The MTU an ICMP fragmentation-needed / packet-too-big announced.
    Icmp,
    /// One capture: the largest smaller packet the sender sent (not known to have arrived).
    SentOnly,
    /// The size of the first fragments the path made: the path MTU within 8 bytes.
    Fragment,
}

/// Why a handshake went unanswered, counted per initiation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HandshakeFate {
    /// Never seen at the responder's capture while it ran (path blocked).
    pub never_arrived: u64,
    /// Arrived, no response sent (key or configuration mismatch, or dropped as martian).
    pub not_answered: u64,
    /// Responder answered, the response never came back.
    pub response_lost: u64,
    /// Sent while the responder's capture was not running.
    pub outside_window: u64,
    /// Not known (one capture only).
    pub unknown: u64,
}

/// Where a capture's unanswered initiations were seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeView {
    /// The capture's host sent them.
    Initiator,
    /// The capture's host received them and sent no response.
    Responder,
    /// Each was seen more than once (in and out of a router or NAT box, or
    /// on two interfaces): the capture is on the way, not at either end.
    Passing,
}

/// How a loss count was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossBasis {
    /// Packets sent in one capture and missing from the other.
    Matched,
    /// Gaps in the WireGuard counters the receiver saw (one capture).
    CounterGaps,
}

/// A capture's time span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    /// First packet (ns since the epoch, the capture's own clock).
    pub first: Timestamp,
    /// Last packet.
    pub last: Timestamp,
}

/// WireGuard traffic one capture holds, for [`FindingKind::NoCommonTunnel`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WgSeen {
    /// Side.
    pub side: Side,
    /// Display name.
    pub file: String,
    /// (sender, receiver) endpoint pairs of its WireGuard messages, busiest first (at most 8).
    pub flows: Vec<(Endpoint, Endpoint)>,
    /// Sessions seen.
    pub sessions: u64,
    /// WireGuard messages.
    pub messages: u64,
}

/// A peer of one capture's host outside the tunnel the pair shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtherPeer {
    /// Its address and port, as the capture sees it.
    pub endpoint: Endpoint,
    /// WireGuard messages to and from it.
    pub messages: u64,
    /// Largest whole transport packet the capture's host sent it (IP bytes).
    pub largest_sent_ip: u32,
    /// Whole packets at or above the blackhole's threshold sent to it.
    pub big_sent: u64,
    /// First frame of its traffic.
    pub first_frame: FrameNo,
    /// Last frame.
    pub last_frame: FrameNo,
}

/// One endpoint change of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Roam {
    /// The receiver index of the session's messages from the peer that moved.
    pub session: Option<u32>,
    /// Old endpoint.
    pub from: Endpoint,
    /// New endpoint.
    pub to: Endpoint,
    /// First frame from the new endpoint.
    pub frame: FrameNo,
    /// Its time (ns since the epoch, the capture's clock).
    pub ts: Timestamp,
}

/// The WireGuard implementation the DF bits of a side's packets suggest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Implementation {
    /// DF on (almost) every IPv4 packet: a userspace implementation
    /// (wireguard-go, boringtun, ...), not the Linux kernel module.
    Userspace,
    /// DF on none: the Linux kernel module, or a userspace one with
    /// path-MTU discovery off.
    KernelOrNoPmtud,
    /// Some with DF, some without: no one implementation.
    Unknown,
}

/// The protocol of an inner flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InnerProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP / ICMPv6 echo request.
    EchoRequest,
    /// ICMP / ICMPv6 echo reply.
    EchoReply,
    /// Other ICMP / ICMPv6.
    Icmp,
    /// Any other IP protocol (its number).
    Other(u8),
}

/// Inner packets of one size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SizeCount {
    /// Inner IP packet size.
    pub ip: u32,
    /// Packets.
    pub packets: u64,
}

/// One flow inside the tunnel that lost packets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AffectedFlow {
    /// Protocol.
    pub protocol: InnerProtocol,
    /// Inner source (port 0 for ICMP).
    pub src: Endpoint,
    /// Inner destination.
    pub dst: Endpoint,
    /// The echo identifier of a ping flow (each `ping` run has its own).
    pub echo_id: Option<u16>,
    /// Its packets the sender put into the tunnel while the receiver's capture ran.
    pub sent: u64,
    /// Of which lost with their outer packet.
    pub lost: u64,
    /// The lost ones by inner IP size, largest first.
    pub lost_sizes: Vec<SizeCount>,
    /// The first lost inner packet's frame at the sender.
    pub first_lost_frame: FrameNo,
}

/// One flow's TCP SYNs whose MSS does not fit the tunnel MTU the path allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MssFlow {
    /// SYN sender.
    pub src: Endpoint,
    /// SYN receiver.
    pub dst: Endpoint,
    /// The MSS option the SYN carried.
    pub mss: u16,
    /// SYNs (and SYN-ACKs) of this flow with that MSS, each counted once
    /// although both ends may show it.
    pub syns: u64,
    /// Whether it was a SYN-ACK (the answer's MSS).
    pub syn_ack: bool,
}

/// Why inner packets entered the tunnel and never left the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalDropCause {
    /// Nothing for this destination ever left: no peer's AllowedIPs holds
    /// it, or its peer has no endpoint or no session.
    NoPeer,
    /// Smaller packets for this destination left, these bigger ones did
    /// not: a send error (EMSGSIZE from segmentation offload, a local MTU).
    TooBig,
    /// Some packets for this destination left, others of the same sizes did
    /// not: send errors or a full queue.
    Intermittent,
}

/// Inner packets for one destination that never left the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalDropGroup {
    /// Inner destination address.
    pub dst: IpAddr,
    /// The likely cause.
    pub cause: LocalDropCause,
    /// Inner packets that never left.
    pub dropped: u64,
    /// Inner packets for this destination that left as outer packets.
    pub left: u64,
    /// Smallest and largest inner IP size dropped.
    pub sizes_ip: (u32, u32),
    /// Largest inner IP size that left, if any did.
    pub largest_left_ip: Option<u32>,
    /// Protocols of the dropped packets.
    pub protocols: Vec<InnerProtocol>,
}

/// Whether the sender of an inner flow reacted to ICMP
/// fragmentation-needed / packet-too-big that reached its tunnel interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InnerReaction {
    /// Every later packet of the flow it sent stayed at or below the MTU announced.
    Reacted,
    /// It went on sending packets larger than the MTU announced.
    NotReacted,
    /// It sent no later packet of the flow into the tunnel.
    NoLaterPackets,
    /// No capture shows the ICMP reach the sender's tunnel interface.
    Unknown,
}

/// ICMP fragmentation-needed / packet-too-big about one inner flow, as one
/// capture saw them on its tunnel interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InnerIcmpSeen {
    /// Capture.
    pub side: Side,
    /// Display name (of the file holding the inner packets).
    pub file: String,
    /// ICMP messages going into the tunnel there (the receiving end of the flow).
    pub sent: u64,
    /// ICMP messages coming out of the tunnel there (the sending end).
    pub received: u64,
    /// First of those frames.
    pub first_frame: FrameNo,
}

/// What a finding is, with its typed evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "evidence", rename_all = "snake_case")]
pub enum FindingKind {
    /// Loss depends on size.
    MtuBlackhole {
        /// Direction.
        direction: DirRef,
        /// Whether both ends prove it (false: inferred from retries at one end).
        confirmed: bool,
        /// The statistical test (two captures).
        test: Option<SizeTest>,
        /// Largest whole packet delivered below the threshold.
        largest_delivered: Option<WireSize>,
        /// Smallest lost size.
        smallest_lost: WireSize,
        /// The path MTU is at least this (IP bytes).
        path_mtu_min: u32,
        /// And at most this.
        path_mtu_max: u32,
        /// Underlay.
        underlay: IpVersion,
        /// Tunnel MTU to set on both peers (`mtu.tunnel_mtu`).
        tunnel_mtu: u32,
        /// The advice and its bounds.
        mtu: MtuAdvice,
        /// Lost big packets with DF set.
        df_set: u64,
        /// Lost big packets.
        big_lost: u64,
        /// Gaps between retries of the big size, ms (exponential backoff).
        retry_gaps_ms: Vec<u64>,
    },
    /// Big packets lost, no ICMP fragmentation-needed / packet-too-big reached the sender.
    IcmpFragNeededAbsent {
        /// Direction.
        direction: DirRef,
        /// Underlay (IPv6 has no DF: only the source fragments).
        underlay: IpVersion,
        /// Lost big packets.
        big_lost: u64,
        /// Of which with DF set (IPv4).
        df_set: u64,
    },
    /// Whole packets the path fragmented, of which some fragment never
    /// reached the receiver: lost although their first fragment arrived.
    FragmentsDropped {
        /// Direction.
        direction: DirRef,
        /// Underlay.
        underlay: IpVersion,
        /// Datagrams lost that way.
        datagrams: u64,
        /// Of the datagrams the path fragmented in this direction.
        fragmented: u64,
        /// IP sizes (smallest, largest) of the lost datagrams as sent.
        sizes_ip: (u32, u32),
        /// Largest first fragment seen at the receiver (IP bytes): the path MTU is at least this.
        first_fragment: u32,
        /// Lost datagrams with DF set at the sender (a router fragments only without it).
        df_set: u64,
        /// The tunnel MTU that avoids fragmentation.
        mtu: MtuAdvice,
    },
    /// Everything arrives, but the path fragments every full-size packet.
    FragmentedPath {
        /// Direction.
        direction: DirRef,
        /// Underlay.
        underlay: IpVersion,
        /// Whole packets the path fragmented, all delivered.
        datagrams: u64,
        /// Of the packets sent in this direction.
        sent: u64,
        /// Largest first fragment seen at the receiver (IP bytes).
        first_fragment: u32,
        /// The tunnel MTU that avoids fragmentation.
        mtu: MtuAdvice,
    },
    /// ICMP reached the sender, which now fragments or sends smaller packets:
    /// it works, at a cost, because the tunnel MTU is above the path MTU.
    PmtudWorking {
        /// Direction.
        direction: DirRef,
        /// Underlay.
        underlay: IpVersion,
        /// ICMP messages that reached the sender.
        icmp: u64,
        /// Smallest MTU announced (0: not given).
        announced_mtu: u32,
        /// Packets sent fragmented after the first ICMP.
        fragmented_after: u64,
        /// Packets bigger than the announced MTU sent whole after the first ICMP.
        too_big_after: u64,
        /// Packets lost before the sender adapted.
        lost_before: u64,
        /// The tunnel MTU to set, when the captures tell.
        mtu: Option<MtuAdvice>,
    },
    /// Source == destination.
    MartianSameSrcDst {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// The address and port.
        endpoint: Endpoint,
        /// Destination (same address).
        dst: Endpoint,
        /// Packets.
        packets: u64,
        /// Of which handshake initiations.
        wg_initiations: u64,
        /// Whether the capture holds any handshake response.
        response_sent: bool,
        /// The public endpoint the sender addressed, when the other capture shows it.
        addressed: Option<Endpoint>,
    },
    /// Other martian sources.
    MartianSource {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Rule.
        reason: MartianReason,
        /// Source.
        src: Endpoint,
        /// Destination.
        dst: Endpoint,
        /// Packets.
        packets: u64,
        /// Whether they are WireGuard traffic (or to a WireGuard port); others are info.
        wireguard: bool,
    },
    /// Initiations without a response.
    HandshakeUnanswered {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Whether that capture is the initiator's or the responder's.
        view: HandshakeView,
        /// Initiator.
        from: Endpoint,
        /// Responder as addressed.
        to: Endpoint,
        /// Initiations.
        initiations: u64,
        /// What became of them.
        fate: HandshakeFate,
        /// Cookie replies received.
        cookie_replies: u64,
    },
    /// Every packet of one direction lost while the other direction works.
    OneWayLoss {
        /// Direction that lost everything.
        direction: DirRef,
        /// The session (receiver index, as sent) that lost everything while
        /// other sessions of this direction delivered; `None`: the whole direction.
        receiver_index: Option<u32>,
        /// Packets sent that way (on that session) while the receiver's capture ran.
        sent: u64,
        /// Packets delivered the other way meanwhile.
        reverse_delivered: u64,
        /// Packets other sessions of this direction delivered (session-level only).
        other_sessions_delivered: u64,
    },
    /// Loss not explained by size.
    RandomLoss {
        /// Direction.
        direction: DirRef,
        /// How it was counted.
        basis: LossBasis,
        /// Lost packets not explained otherwise.
        lost: u64,
        /// Packets sent in the window (or counters spanned, for gaps).
        sent: u64,
        /// Loss rate in percent.
        percent: f64,
        /// Sizes of the lost packets, when known: the smallest and largest.
        sizes_ip: Option<(u32, u32)>,
    },
    /// One capture: the largest whole packets of one WireGuard direction,
    /// and whether they carried DF, so a reader sees what was tried.
    LargestPackets {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Sender.
        from: Endpoint,
        /// Receiver.
        to: Endpoint,
        /// Whether the capture's host sent them (else it received them).
        sent_here: bool,
        /// Largest whole (unfragmented) IP packet.
        largest: WireSize,
        /// Packets of that size.
        packets: u64,
        /// Of which with DF set (IPv4).
        df_set: u64,
        /// Datagrams of this direction sent or received as fragments.
        fragmented: u64,
        /// Underlay.
        underlay: IpVersion,
    },
    /// A peer's source endpoint changed within a session: roaming or a NAT
    /// rebinding (WireGuard follows it; worth knowing when packets vanish).
    EndpointRoaming {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// The changes, in capture order.
        changes: Vec<Roam>,
    },
    /// A capture holds peers besides the shared tunnel: not counted.
    OtherPeers {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// The other capture's display name.
        other: String,
        /// The blackhole threshold from this host, if one was found (IP bytes).
        threshold_ip: Option<u32>,
        /// The peers, by endpoint.
        peers: Vec<OtherPeer>,
    },
    /// The capture itself dropped packets.
    CaptureDrops {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Drops the capture's statistics report.
        reported: Option<u64>,
        /// Packets the other end received that this capture does not show being sent.
        unexplained: u64,
    },
    /// The capture was taken with segmentation or receive offloads on (UDP
    /// GSO / GRO): some captured datagrams held several WireGuard messages.
    OffloadSuperpackets {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Datagrams split into their messages.
        split: u64,
        /// WireGuard messages those held (each counted on its own).
        messages: u64,
        /// Datagrams that held several messages but could not be split (left
        /// out of sizes and of sent, delivered and lost counts).
        unsplittable: u64,
    },
    /// The DF bits of the outer IPv4 WireGuard packets one side sent, and the
    /// implementation they suggest (only beside findings about that side's packet sizes).
    SenderDf {
        /// Sending capture.
        side: Side,
        /// Display name.
        file: String,
        /// IPv4 WireGuard packets it sent whole (fragments never carry DF).
        ipv4_sent: u64,
        /// Of which with DF set.
        df_set: u64,
        /// Of which without.
        df_clear: u64,
        /// What that suggests.
        likely: Implementation,
    },
    /// NAT between the ends.
    NatRewrite {
        /// Mappings of matched packets.
        mappings: Vec<NatMapping>,
    },
    /// The two captures cover times that do not overlap, and nothing matched.
    CapturesDisjoint {
        /// A's span.
        a: Span,
        /// B's span.
        b: Span,
        /// Time between the end of the earlier and the start of the later, ns.
        gap_ns: i64,
    },
    /// Both captures hold WireGuard, but no message of one is in the other.
    NoCommonTunnel {
        /// What each holds.
        seen: Vec<WgSeen>,
    },
    /// `--tunnel` / `--peer` picked none of the tunnels the captures share.
    TunnelNotFound {
        /// The selector, as given (`--peer 192.0.2.7`).
        selector: String,
        /// The common tunnels: per tunnel, each capture's own endpoints.
        tunnels: Vec<[Vec<Endpoint>; 2]>,
    },
    /// The two inputs hold the same packets.
    SameCapture {
        /// Packets in each.
        packets: u64,
    },
    /// A capture holds no WireGuard message.
    NoWireguard {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Packets it holds.
        packets: u64,
        /// It looks like a capture of the tunnel interface (raw IP, inner packets).
        tunnel_interface: bool,
    },
    /// A capture holds no packets at all.
    EmptyCapture {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
    },
    /// Flows inside the tunnel whose packets were lost with their outer
    /// packets between the captures (the sender's capture shows its tunnel
    /// interface).
    AffectedFlows {
        /// Direction of the lost outer packets.
        direction: DirRef,
        /// The flows, most losses first.
        flows: Vec<AffectedFlow>,
        /// Lost outer packets no inner packet at the sender accounts for.
        unattributed: u64,
    },
    /// TCP SYNs inside the tunnel announce an MSS whose segments (MSS + 40
    /// over inner IPv4, + 60 over IPv6) exceed the tunnel MTU the path allows.
    TcpMssTooLarge {
        /// The tunnel MTU the path allows (as the MTU finding computed it).
        tunnel_mtu: u32,
        /// The largest MSS that fits it over inner IPv4 (`tunnel_mtu` − 40).
        mss_fits_v4: u32,
        /// Over inner IPv6 (`tunnel_mtu` − 60).
        mss_fits_v6: u32,
        /// The flows.
        flows: Vec<MssFlow>,
    },
    /// Inner packets entered the tunnel interface and no outer packet
    /// carried them out of the same host.
    LocalDrop {
        /// Capture.
        side: Side,
        /// Display name.
        file: String,
        /// Inner packets that never left.
        dropped: u64,
        /// Inner packets sent into the tunnel in all (matched or not).
        sent: u64,
        /// Per destination.
        groups: Vec<LocalDropGroup>,
    },
    /// ICMP fragmentation-needed / packet-too-big inside the tunnel (on a
    /// tunnel interface) about one inner flow, from one router, and whether
    /// the flow's sender reacted.
    InnerPmtud {
        /// Protocol of the flow, as the ICMP quotes it.
        protocol: InnerProtocol,
        /// The flow's sender (the packets that were too big came from it).
        src: Endpoint,
        /// Its destination.
        dst: Endpoint,
        /// The echo identifier of a ping flow (`protocol` `echo_request`; each `ping` run has its own).
        echo_id: Option<u16>,
        /// Inner source address of the ICMP (the router, or the receiving host).
        router: IpAddr,
        /// Inner IP version (ICMPv6 packet-too-big rather than ICMP type 3 code 4).
        version: IpVersion,
        /// Smallest MTU announced (0: not given).
        announced_mtu: u32,
        /// Distinct ICMP messages (each counted once although both ends show it).
        icmp: u64,
        /// Per capture showing them.
        seen: Vec<InnerIcmpSeen>,
        /// The capture of the sender's tunnel interface, if any.
        sender_side: Option<Side>,
        /// Its display name (of the file holding the inner packets).
        sender_file: Option<String>,
        /// ICMP messages sent into the tunnel at the receiving end that the
        /// sender's capture, running then, never shows coming out of it.
        lost_in_tunnel: u64,
        /// Of those, how many the sender's host received as outer packets
        /// (its WireGuard dropped them instead of passing them on).
        lost_arrived: u64,
        /// Whether the sender reacted.
        reaction: InnerReaction,
        /// Largest packet of the flow the sender sent into the tunnel before
        /// the first ICMP reached it (inner IP bytes).
        largest_before: Option<u32>,
        /// Packets of the flow it sent later, at or below the MTU.
        fit_after: u64,
        /// Largest of those.
        largest_after: Option<u32>,
        /// Packets of the flow it sent later, larger than the MTU.
        too_big_after: u64,
        /// Their inner IP sizes, largest first.
        too_big_sizes: Vec<SizeCount>,
    },
    /// Along the path: WireGuard packets seen at one point and, while the
    /// next point's capture ran, never there: the hop between them drops them.
    PathLoss {
        /// The hop (between points `hop` and `hop + 1`).
        hop: usize,
        /// Which way the lost packets went.
        heading: super::path::Heading,
        /// The end of the path they came from (first or last point).
        origin: String,
        /// The last point they were seen at.
        from: String,
        /// The next point, where they never arrived.
        to: String,
        /// Packets sent across the hop that way while `to`'s capture ran.
        sent: u64,
        /// Of which lost.
        lost: u64,
        /// Smallest lost packet.
        smallest_lost: Option<WireSize>,
        /// Largest delivered packet below it.
        largest_delivered: Option<WireSize>,
        /// Only packets of `smallest_lost` and more were lost, smaller ones arrived.
        size_dependent: bool,
        /// Routers between the two points (TTL drop of delivered packets), when one value.
        routers: Option<u8>,
        /// ICMP fragmentation-needed / packet-too-big seen at the points the
        /// packets passed before the drop (`icmp_checked`).
        icmp_seen: u64,
        /// Those points.
        icmp_checked: Vec<String>,
    },
    /// Along the path: addresses rewritten between two consecutive points.
    PathNat {
        /// The hop.
        hop: usize,
        /// Its earlier point.
        a: String,
        /// Its later point.
        b: String,
        /// The rewrites, before and after.
        rewrites: Vec<super::path::Rewrite>,
        /// Routers between the points (TTL drop), when one value.
        routers: Option<u8>,
    },
    /// Along the path: a point holds messages twice, the second copy come
    /// back onto its link with source == destination (hairpin NAT beyond it).
    PathReflection {
        /// What came back, and how.
        reflection: Box<super::path::Reflection>,
    },
    /// Along the path: where WireGuard packets with source == destination
    /// first appear.
    PathMartian {
        /// The point (index in path order).
        point: usize,
        /// Its display name.
        file: String,
        /// The hop they appear at (`point - 1`; 0 when at the first point).
        hop: usize,
        /// Source.
        src: Endpoint,
        /// Destination (same address).
        dst: Endpoint,
        /// Packets at that point.
        packets: u64,
        /// Of which handshake initiations.
        wg_initiations: u64,
        /// Every point that holds such packets, in path order.
        seen_at: Vec<String>,
        /// Whether any point holds a handshake response.
        response_seen: bool,
        /// The SNAT that gave them their source, when a hop shows it.
        snat: Option<Box<super::path::Rewrite>>,
        /// The two points it happened between.
        snat_between: Option<[String; 2]>,
        /// The DNAT that gave them their destination, between two points.
        dnat: Option<Box<super::path::Rewrite>>,
        /// The two points it happened between.
        dnat_between: Option<[String; 2]>,
        /// Or the reflection that brought them back onto a point's link with it.
        reflected: Option<Box<super::path::Reflection>>,
    },
    /// Along the path: the given order contradicts the TTLs at a point (it
    /// is not between its neighbours on the packets' way).
    PathOrder {
        /// The point.
        point: usize,
        /// Its display name.
        file: String,
        /// The point given before it.
        prev: String,
        /// The point given after it.
        next: String,
        /// Messages whose TTLs agree with the order there.
        consistent: u64,
        /// Messages whose TTLs contradict it.
        contradicting: u64,
        /// TTLs of the first contradicting message: at the nearest point
        /// before with another TTL, at the point, at the nearest after.
        example_ttls: Option<[u8; 3]>,
    },
    /// Along the path: two consecutive points share no WireGuard message
    /// (nothing crossed the hop either way while both ran): the path cannot
    /// be followed across it.
    PathHopSilent {
        /// The hop.
        hop: usize,
        /// Its earlier point.
        a: String,
        /// Its later point.
        b: String,
        /// WireGuard messages each of the two holds.
        messages: [u64; 2],
    },
    /// Along the path: every WireGuard packet that reached a point reached the next.
    PathHealthy {
        /// The points, in path order.
        points: Vec<String>,
        /// Packets delivered across all hops (each hop counted).
        delivered: u64,
    },
    /// Nothing wrong.
    Healthy {
        /// Matched packets (two captures).
        matched: u64,
        /// Delivered A → B.
        delivered_ab: u64,
        /// Delivered B → A.
        delivered_ba: u64,
        /// Packets missing (explained by informational findings).
        missing: u64,
        /// Length of the common window, seconds (two captures).
        window_seconds: f64,
        /// WireGuard messages (one capture).
        messages: u64,
        /// One capture only: what one end alone shows.
        one_end: bool,
    },
}

impl FindingKind {
    /// The stable snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::MtuBlackhole { .. } => "mtu_blackhole",
            FindingKind::IcmpFragNeededAbsent { .. } => "icmp_frag_needed_absent",
            FindingKind::PmtudWorking { .. } => "pmtud_working",
            FindingKind::FragmentsDropped { .. } => "fragments_dropped",
            FindingKind::FragmentedPath { .. } => "fragmented_path",
            FindingKind::MartianSameSrcDst { .. } => "martian_same_src_dst",
            FindingKind::MartianSource { .. } => "martian_source",
            FindingKind::HandshakeUnanswered { .. } => "handshake_unanswered",
            FindingKind::OneWayLoss { .. } => "one_way_loss",
            FindingKind::RandomLoss { .. } => "random_loss",
            FindingKind::LargestPackets { .. } => "largest_packets",
            FindingKind::OtherPeers { .. } => "other_peers",
            FindingKind::EndpointRoaming { .. } => "endpoint_roaming",
            FindingKind::CaptureDrops { .. } => "capture_drops",
            FindingKind::OffloadSuperpackets { .. } => "offload_superpackets",
            FindingKind::SenderDf { .. } => "sender_df",
            FindingKind::NatRewrite { .. } => "nat_rewrite",
            FindingKind::CapturesDisjoint { .. } => "captures_disjoint",
            FindingKind::NoCommonTunnel { .. } => "no_common_tunnel",
            FindingKind::SameCapture { .. } => "same_capture",
            FindingKind::TunnelNotFound { .. } => "tunnel_not_found",
            FindingKind::NoWireguard { .. } => "no_wireguard",
            FindingKind::EmptyCapture { .. } => "empty_capture",
            FindingKind::AffectedFlows { .. } => "affected_flows",
            FindingKind::TcpMssTooLarge { .. } => "tcp_mss_too_large",
            FindingKind::LocalDrop { .. } => "local_drop",
            FindingKind::InnerPmtud { .. } => "inner_pmtud",
            FindingKind::PathLoss { .. } => "path_loss",
            FindingKind::PathNat { .. } => "path_nat",
            FindingKind::PathReflection { .. } => "path_reflection",
            FindingKind::PathMartian { .. } => "path_martian",
            FindingKind::PathOrder { .. } => "path_order",
            FindingKind::PathHopSilent { .. } => "path_hop_silent",
            FindingKind::PathHealthy { .. } => "path_healthy",
            FindingKind::Healthy { .. } => "healthy",
        }
    }

    /// Whether this finding means the captures cannot tell how the tunnel does.
    pub fn is_inconclusive(&self) -> bool {
        matches!(
            self,
            FindingKind::CapturesDisjoint { .. }
                | FindingKind::NoCommonTunnel { .. }
                | FindingKind::SameCapture { .. }
                | FindingKind::TunnelNotFound { .. }
                | FindingKind::NoWireguard { .. }
                | FindingKind::EmptyCapture { .. }
                | FindingKind::PathOrder { .. }
                | FindingKind::PathHopSilent { .. }
        )
    }
}

/// Frames of one capture that prove a finding: all of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrameRefs {
    /// Capture side.
    pub side: Side,
    /// Capture display name.
    pub file: String,
    /// Frame numbers, ascending, each once.
    pub frames: Vec<FrameNo>,
    /// How many frames there are (`frames.len()`).
    pub total: u64,
}

impl FrameRefs {
    /// Sorts and de-duplicates `frames`.
    pub fn new(side: Side, file: &str, frames: impl IntoIterator<Item = FrameNo>) -> FrameRefs {
        let mut all: Vec<FrameNo> = frames.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        FrameRefs {
            side,
            file: file.to_string(),
            total: all.len() as u64,
            frames: all,
        }
    }
}

/// One diagnosis: what, how bad, and the frames that prove it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Kind and evidence (`kind`, `evidence` in JSON).
    #[serde(flatten)]
    pub kind: FindingKind,
    /// Severity.
    pub severity: Severity,
    /// Frames per capture.
    pub frames: Vec<FrameRefs>,
    /// The tunnel ([`crate::correlate::Tunnel::id`]) it is about; `None`
    /// for what concerns a capture or the pair as a whole.
    pub tunnel: Option<u32>,
}

impl Finding {
    /// A finding without frames.
    pub fn new(kind: FindingKind, severity: Severity) -> Finding {
        Finding {
            kind,
            severity,
            frames: Vec::new(),
            tunnel: None,
        }
    }

    /// Adds frames of one capture (left out when empty).
    pub fn with_frames(mut self, refs: FrameRefs) -> Finding {
        if !refs.frames.is_empty() {
            self.frames.push(refs);
        }
        self
    }
}
