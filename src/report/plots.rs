//! Data behind the plots of the HTML report, aggregated so that its size
//! depends on the plot's resolution, not on the number of packets.
//!
//! Built by [`plot_data`] while the decoded captures are still in memory (the
//! report itself keeps no packets). Per direction: delivered and lost packets
//! counted per (time bin, UDP payload size); the blackhole threshold of an
//! `mtu_blackhole` finding; and a timeline of handshakes, unanswered
//! initiations, ICMP path-MTU messages and martians. All times are on the first
//! capture's clock, in nanoseconds since the start of the common window.

use crate::capture::{FrameNo, Timestamp};
use crate::correlate::{Correlation, MsgClass, Side};
use crate::decode::{DecodedCapture, Endpoint};
use crate::diagnose::{Finding, FindingKind};
use crate::flow::{CaptureFacts, MartianReason};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// Time bins across the window (the scatter's horizontal resolution).
pub const TIME_BINS: u16 = 300;

/// Plot data of a two-capture report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlotData {
    /// Length of the common window, ns (the time axis runs from 0 to this).
    pub span_ns: i64,
    /// Width of one time bin, ns (at least 1).
    pub bin_ns: i64,
    /// A → B, then B → A.
    pub directions: Vec<DirectionPlot>,
}

/// Plot data of one direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirectionPlot {
    /// Sending capture's file name.
    pub from: String,
    /// Receiving capture's file name.
    pub to: String,
    /// Delivered and lost packets per (time bin, size), sorted by bin then size.
    pub scatter: Vec<ScatterCell>,
    /// The blackhole threshold, when an `mtu_blackhole` finding covers this direction.
    pub threshold: Option<Threshold>,
    /// Timeline events, sorted by time.
    pub events: Vec<TimelineEvent>,
}

/// Packets of one UDP payload size sent in one time bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScatterCell {
    /// Time bin (0..[`TIME_BINS`]).
    pub bin: u16,
    /// UDP payload size.
    pub udp_len: u16,
    /// IP datagram size.
    pub ip_len: u32,
    /// Seen by the receiver.
    pub delivered: u64,
    /// Never seen by the receiver.
    pub lost: u64,
}

/// Sizes below are delivered, sizes at or above `smallest_lost` are lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// Largest UDP payload delivered below the threshold.
    pub largest_delivered: Option<u16>,
    /// Smallest UDP payload lost.
    pub smallest_lost: u16,
    /// Tunnel MTU the finding recommends.
    pub tunnel_mtu: u32,
}

/// What happened on the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// Handshake initiation sent.
    Initiation,
    /// Handshake response sent.
    Response,
    /// Initiations that never got a response (first to last).
    Unanswered,
    /// ICMP fragmentation-needed / packet-too-big reached the sender.
    Icmp,
    /// A packet arrived with a martian source.
    Martian,
}

impl EventKind {
    /// All kinds, in the timeline's lane order.
    pub const ALL: [EventKind; 5] = [
        EventKind::Initiation,
        EventKind::Response,
        EventKind::Unanswered,
        EventKind::Icmp,
        EventKind::Martian,
    ];
    /// Stable name (used as a CSS class).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Initiation => "initiation",
            EventKind::Response => "response",
            EventKind::Unanswered => "unanswered",
            EventKind::Icmp => "icmp",
            EventKind::Martian => "martian",
        }
    }
    /// Lane label.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Initiation => "handshake initiation",
            EventKind::Response => "handshake response",
            EventKind::Unanswered => "unanswered initiations",
            EventKind::Icmp => "ICMP too big",
            EventKind::Martian => "martian at receiver",
        }
    }
}

/// One mark on the timeline (events of a kind in one time bin are merged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEvent {
    /// Kind.
    pub kind: EventKind,
    /// Start, ns since the window start (may lie outside the window).
    pub t_ns: i64,
    /// End, for spans (unanswered initiations); equal to `t_ns` otherwise.
    pub end_ns: i64,
    /// How many messages or packets.
    pub count: u64,
    /// Of which lost (handshakes sent inside the window).
    pub lost: u64,
    /// Capture that saw it.
    pub seen_in: String,
    /// Details (MTU, addresses), typed so that `--anonymize` can rewrite them.
    pub detail: EventDetail,
    /// First frame, in `seen_in`.
    pub frame: Option<FrameNo>,
}

/// What a timeline event is about, beyond its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventDetail {
    /// Nothing more to say.
    None,
    /// Unanswered initiations of one flow.
    Flow {
        /// Sender.
        from: Endpoint,
        /// Addressed to.
        to: Endpoint,
    },
    /// An ICMP fragmentation-needed / packet-too-big.
    Icmp {
        /// ICMPv6 packet too big (else ICMPv4 fragmentation needed).
        v6: bool,
        /// The router that sent it.
        router: IpAddr,
        /// Its destination.
        to: IpAddr,
        /// The MTU it announced.
        mtu: u32,
    },
    /// One martian packet of a group.
    Martian {
        /// Source.
        src: Endpoint,
        /// Destination.
        dst: Endpoint,
        /// Why it is martian.
        reason: MartianReason,
        /// Which example (1-based).
        example: usize,
        /// Of how many such packets.
        packets: u64,
    },
}

impl EventDetail {
    /// Whether there is nothing to say.
    pub fn is_empty(&self) -> bool {
        *self == EventDetail::None
    }
}

impl std::fmt::Display for EventDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventDetail::None => Ok(()),
            EventDetail::Flow { from, to } => write!(f, "{from} → {to}"),
            EventDetail::Icmp {
                v6,
                router,
                to,
                mtu,
            } => write!(
                f,
                "{} from {router} to {to}, MTU {mtu}",
                if *v6 {
                    "packet too big"
                } else {
                    "fragmentation needed"
                }
            ),
            EventDetail::Martian {
                src,
                dst,
                reason,
                example,
                packets,
            } => write!(
                f,
                "{src} → {dst} ({reason:?}; example {example} of {packets} such packets)"
            ),
        }
    }
}

/// Computes the plot data of a correlated pair.
///
/// Memory stays flat in the number of packets: sent packets are streamed
/// and counted per (time bin, size), never collected.
pub fn plot_data(
    c: &Correlation,
    caps: [&DecodedCapture; 2],
    facts: [&CaptureFacts; 2],
    findings: &[Finding],
) -> PlotData {
    if c.tunnels.len() <= 1 {
        return plot_one(c, caps, facts, findings);
    }
    // One pair of directions per tunnel, in the report's order, on the
    // common time axis.
    let mut all = PlotData::default();
    for t in &c.tunnels {
        let v = c.restrict(&[t.id]);
        let mine: Vec<Finding> = findings
            .iter()
            .filter(|f| f.tunnel.is_none_or(|x| x == t.id))
            .cloned()
            .collect();
        let p = plot_one(&v, caps, facts, &mine);
        all.span_ns = p.span_ns;
        all.bin_ns = p.bin_ns;
        all.directions.extend(p.directions);
    }
    all
}

fn plot_one(
    c: &Correlation,
    caps: [&DecodedCapture; 2],
    facts: [&CaptureFacts; 2],
    findings: &[Finding],
) -> PlotData {
    let start = c.window.start.0;
    let span_ns = c.window.end.0.saturating_sub(start).max(1);
    let bin_ns = (span_ns - 1) / i64::from(TIME_BINS) + 1;
    let bin_ns = bin_ns.max(1);
    let offset = c.clock.offset_ns;
    // Relative time on A's clock.
    let rel = |side: Side, ts: Timestamp| -> i64 {
        match side {
            Side::A => ts.0.saturating_sub(start),
            Side::B => ts.0.saturating_sub(offset).saturating_sub(start),
        }
    };
    let bin_of = |t: i64| -> u16 { (t.max(0) / bin_ns).min(i64::from(TIME_BINS) - 1) as u16 };

    let mut directions = Vec::with_capacity(2);
    for d in &c.directions {
        let side = d.from_side;
        let far = side.other();
        let mut cells: HashMap<(u16, u16), ScatterCell> = HashMap::default();
        let mut handshakes: HashMap<(EventKind, u16), TimelineEvent> = HashMap::default();
        for p in c.sent_packets(side, caps) {
            let t = rel(side, p.ts);
            let bin = bin_of(t);
            let cell = cells.entry((bin, p.udp_len)).or_insert(ScatterCell {
                bin,
                udp_len: p.udp_len,
                ip_len: p.ip_len,
                delivered: 0,
                lost: 0,
            });
            if p.received.is_some() {
                cell.delivered += 1;
            } else {
                cell.lost += 1;
            }
            let kind = match p.class {
                MsgClass::Initiation => EventKind::Initiation,
                MsgClass::Response => EventKind::Response,
                _ => continue,
            };
            let e = handshakes.entry((kind, bin)).or_insert(TimelineEvent {
                kind,
                t_ns: t,
                end_ns: t,
                count: 0,
                lost: 0,
                seen_in: d.from.clone(),
                detail: EventDetail::None,
                frame: Some(p.frame),
            });
            e.count += 1;
            e.end_ns = e.end_ns.max(t);
            if p.received.is_none() {
                e.lost += 1;
            }
        }
        let mut scatter: Vec<ScatterCell> = cells.into_values().collect();
        scatter.sort_unstable_by_key(|c| (c.bin, c.udp_len));
        let mut events: Vec<TimelineEvent> = handshakes.into_values().collect();

        // Unanswered initiations the sender saw go out.
        let local = &c.local[side.idx()];
        for u in &facts[side.idx()].sessions.unanswered {
            if !local.is_empty() && !local.contains(&u.from) {
                continue;
            }
            events.push(TimelineEvent {
                kind: EventKind::Unanswered,
                t_ns: rel(side, u.first),
                end_ns: rel(side, u.last),
                count: u.initiations,
                lost: 0,
                seen_in: d.from.clone(),
                detail: EventDetail::Flow {
                    from: u.from,
                    to: u.to,
                },
                frame: u.frames.first().copied(),
            });
        }
        // ICMP path-MTU messages reach the sender of the big packets.
        let mut icmp: HashMap<(u16, u32), TimelineEvent> = HashMap::default();
        for s in &facts[side.idx()].pmtu_signals {
            let t = rel(side, s.ts);
            let e = icmp.entry((bin_of(t), s.mtu)).or_insert(TimelineEvent {
                kind: EventKind::Icmp,
                t_ns: t,
                end_ns: t,
                count: 0,
                lost: 0,
                seen_in: d.from.clone(),
                detail: EventDetail::Icmp {
                    v6: s.v6,
                    router: s.router,
                    to: s.to,
                    mtu: s.mtu,
                },
                frame: Some(s.frame),
            });
            e.count += 1;
            e.end_ns = e.end_ns.max(t);
        }
        events.extend(icmp.into_values());
        // Martians arrive at the receiver.
        let far_cap = caps[far.idx()];
        for m in &facts[far.idx()].martians {
            for (i, f) in m.frames.iter().enumerate() {
                let Some(r) = far_cap
                    .records
                    .binary_search_by_key(f, |r| r.frame)
                    .ok()
                    .and_then(|i| far_cap.records.get(i))
                else {
                    continue;
                };
                let t = rel(far, r.ts);
                events.push(TimelineEvent {
                    kind: EventKind::Martian,
                    t_ns: t,
                    end_ns: t,
                    count: 1,
                    lost: 0,
                    seen_in: d.to.clone(),
                    detail: EventDetail::Martian {
                        src: m.src,
                        dst: m.dst,
                        reason: m.reason,
                        example: i + 1,
                        packets: m.packets,
                    },
                    frame: Some(*f),
                });
            }
        }
        events.sort_by_key(|e| (e.t_ns, e.kind, e.frame));

        let threshold = findings.iter().find_map(|f| match &f.kind {
            FindingKind::MtuBlackhole {
                direction,
                largest_delivered,
                smallest_lost,
                tunnel_mtu,
                ..
            } if direction.from_side == d.from_side && direction.to_side.is_some() => {
                Some(Threshold {
                    largest_delivered: largest_delivered.map(|w| w.udp),
                    smallest_lost: smallest_lost.udp,
                    tunnel_mtu: *tunnel_mtu,
                })
            }
            _ => None,
        });
        directions.push(DirectionPlot {
            from: d.from.clone(),
            to: d.to.clone(),
            scatter,
            threshold,
            events,
        });
    }
    PlotData {
        span_ns,
        bin_ns,
        directions,
    }
}
