//! Findings: typed, with a stable kind name, evidence, frames, a filter and a fix.

use crate::capture::FrameNo;
use crate::correlate::NatMapping;
use crate::decode::Endpoint;
use crate::flow::MartianReason;
use serde::Serialize;

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

/// A direction of the tunnel, by capture file names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirRef {
    /// Sending capture.
    pub from: String,
    /// Receiving capture (empty with one capture).
    pub to: String,
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
    /// One-sided p-value.
    pub p_value: f64,
}

/// Why a handshake went unanswered, counted per initiation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HandshakeFate {
    /// Never seen at the responder's capture (path blocked).
    pub never_arrived: u64,
    /// Arrived, no response sent (key or configuration mismatch, or dropped as martian).
    pub not_answered: u64,
    /// Responder answered, the response never came back.
    pub response_lost: u64,
    /// Not known (one capture only, or outside the other capture's window).
    pub unknown: u64,
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
        /// Largest size delivered below the threshold.
        largest_delivered: Option<WireSize>,
        /// Smallest lost size.
        smallest_lost: WireSize,
        /// Path MTU lies in this range (IP bytes).
        path_mtu_min: u32,
        /// Upper end of the range.
        path_mtu_max: u32,
        /// Underlay.
        underlay: IpVersion,
        /// Tunnel MTU to set on both peers.
        tunnel_mtu: u32,
        /// Lost big packets had DF set (all / some / none counted).
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
        /// Lost big packets.
        big_lost: u64,
        /// Of which with DF set.
        df_set: u64,
    },
    /// ICMP reached the sender and it adapted (or not).
    PmtudWorking {
        /// Direction.
        direction: DirRef,
        /// ICMP messages that reached the sender.
        icmp: u64,
        /// Smallest MTU announced.
        announced_mtu: u32,
        /// Packets sent fragmented after the first ICMP.
        fragmented_after: u64,
        /// Packets bigger than the announced MTU sent whole after the first ICMP.
        too_big_after: u64,
    },
    /// Source == destination.
    MartianSameSrcDst {
        /// Capture.
        file: String,
        /// The address and port.
        endpoint: Endpoint,
        /// Destination (same address).
        dst: Endpoint,
        /// Packets.
        packets: u64,
        /// Of which handshake initiations.
        wg_initiations: u64,
        /// The public endpoint the sender addressed, when the other capture shows it.
        addressed: Option<Endpoint>,
    },
    /// Other martian sources.
    MartianSource {
        /// Capture.
        file: String,
        /// Rule.
        reason: MartianReason,
        /// Source.
        src: Endpoint,
        /// Destination.
        dst: Endpoint,
        /// Packets.
        packets: u64,
    },
    /// Initiations without a response.
    HandshakeUnanswered {
        /// Capture of the initiator.
        file: String,
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
    /// Loss not explained by size.
    RandomLoss {
        /// Direction.
        direction: DirRef,
        /// Lost packets not explained otherwise.
        lost: u64,
        /// Packets sent in the window.
        sent: u64,
        /// Loss rate in percent.
        percent: f64,
    },
    /// The capture itself dropped packets.
    CaptureDrops {
        /// Capture.
        file: String,
        /// Drops the capture's statistics report.
        reported: Option<u64>,
        /// Packets the other end received that this capture does not show being sent.
        unexplained: u64,
    },
    /// NAT between the ends.
    NatRewrite {
        /// Mappings of matched packets.
        mappings: Vec<NatMapping>,
    },
    /// Nothing wrong.
    Healthy {
        /// Matched packets.
        matched: u64,
        /// Packets missing (explained by informational findings, e.g. PMTUD's first drop).
        missing: u64,
    },
}

impl FindingKind {
    /// The stable snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::MtuBlackhole { .. } => "mtu_blackhole",
            FindingKind::IcmpFragNeededAbsent { .. } => "icmp_frag_needed_absent",
            FindingKind::PmtudWorking { .. } => "pmtud_working",
            FindingKind::MartianSameSrcDst { .. } => "martian_same_src_dst",
            FindingKind::MartianSource { .. } => "martian_source",
            FindingKind::HandshakeUnanswered { .. } => "handshake_unanswered",
            FindingKind::RandomLoss { .. } => "random_loss",
            FindingKind::CaptureDrops { .. } => "capture_drops",
            FindingKind::NatRewrite { .. } => "nat_rewrite",
            FindingKind::Healthy { .. } => "healthy",
        }
    }
}

/// Frames of one capture that prove a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrameRefs {
    /// Capture file name.
    pub file: String,
    /// Frame numbers (at most [`MAX_FRAMES`]).
    pub frames: Vec<FrameNo>,
    /// How many frames there are in all.
    pub total: u64,
}

/// Frame lists are capped at this length.
pub const MAX_FRAMES: usize = 20;

impl FrameRefs {
    /// Keeps the first [`MAX_FRAMES`] frames.
    pub fn new(file: &str, frames: impl IntoIterator<Item = FrameNo>) -> FrameRefs {
        let mut all: Vec<FrameNo> = frames.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        let total = all.len() as u64;
        all.truncate(MAX_FRAMES);
        FrameRefs {
            file: file.to_string(),
            frames: all,
            total,
        }
    }

    /// [`FrameRefs::new`] for frames in capture order (strictly ascending):
    /// counts them without holding them all, however many there are.
    pub fn ascending(file: &str, frames: impl IntoIterator<Item = FrameNo>) -> FrameRefs {
        let mut kept = Vec::with_capacity(MAX_FRAMES);
        let mut total = 0;
        let mut prev: Option<FrameNo> = None;
        for f in frames {
            debug_assert!(prev.is_none_or(|p| p < f), "frames out of order");
            if prev == Some(f) {
                continue;
            }
            prev = Some(f);
            total += 1;
            if kept.len() < MAX_FRAMES {
                kept.push(f);
            }
        }
        FrameRefs {
            file: file.to_string(),
            frames: kept,
            total,
        }
    }
}

/// One diagnosis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Kind and evidence (`kind`, `evidence` in JSON).
    #[serde(flatten)]
    pub kind: FindingKind,
    /// Severity.
    pub severity: Severity,
    /// One sentence with the numbers.
    pub summary: String,
    /// Frames per capture.
    pub frames: Vec<FrameRefs>,
    /// Wireshark display filter showing the packets.
    pub filter: Option<String>,
    /// What to do.
    pub fix: Option<String>,
}
