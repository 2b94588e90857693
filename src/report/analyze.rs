//! The `wgtrace analyze` report: verdict and fix first, evidence after; as a
//! table, GitHub Markdown, or versioned JSON (schema [`SCHEMA`], see `docs/analyze-json.md`).

use super::plots::PlotData;
use super::{filter, thousands, utc, words};
use crate::capture::FrameNo;
use crate::correlate::{Correlation, Direction, NatMapping, Side, Tunnel};
use crate::decode::Endpoint;
use crate::diagnose::{Finding, FindingKind, FrameRefs, Severity};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;
use std::fmt::Write as _;

mod text;
pub use text::histogram;

/// The JSON schema identifier of `analyze --format json`; bumped on any incompatible change.
pub const SCHEMA: &str = "wgtrace.analyze/3";

/// Said by every format of an anonymised report, beside the filters.
pub const ANONYMIZED_NOTE: &str =
    "addresses are anonymised (--anonymize): the Wireshark filters select \
     frames by number and apply to the original captures, but the addresses this report names \
     are anonymised ones that do not appear in those captures.";

/// Overall result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No error or warning findings, and the captures could be compared.
    Healthy,
    /// At least one error or warning.
    Problems,
    /// The captures cannot tell (they do not overlap, share no tunnel, are
    /// the same, hold no WireGuard): the first finding says why.
    Inconclusive,
}

impl Verdict {
    /// Upper-case word for headlines.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Healthy => "HEALTHY",
            Verdict::Problems => "PROBLEMS",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// Frames of one capture that prove a finding, with the Wireshark filter
/// that selects exactly them.
#[derive(Clone, Debug, Serialize)]
pub struct FramesReport {
    /// Capture side.
    pub side: Side,
    /// Capture display name.
    pub file: String,
    /// Every frame, ascending.
    pub frames: Vec<FrameNo>,
    /// `frames.len()`.
    pub total: u64,
    /// `frame.number in {...}`; `None` when the set has too many ranges.
    pub filter: Option<String>,
}

impl FramesReport {
    /// The report of `r`; one per file holding its frames when the end is a
    /// directory (`end`), each with the file's own frame numbers, so that
    /// every filter selects exactly the frames listed in the file it names.
    pub(super) fn from(r: FrameRefs, end: Option<&CaptureSummary>) -> Vec<FramesReport> {
        let one = |file: String, frames: Vec<FrameNo>| FramesReport {
            filter: filter::frames_filter(&frames),
            side: r.side,
            file,
            total: frames.len() as u64,
            frames,
        };
        // Frames of a separate inner capture are that file's own.
        let Some(end) = end.filter(|e| !e.files.is_empty() && e.file == r.file) else {
            return vec![one(r.file.clone(), r.frames.clone())];
        };
        let mut out: Vec<(String, Vec<FrameNo>)> = Vec::new();
        for &f in &r.frames {
            let (file, n) = end.locate(f);
            match out.last_mut() {
                Some((last, frames)) if last == file => frames.push(n),
                _ => out.push((file.to_string(), vec![n])),
            }
        }
        out.into_iter()
            .map(|(file, frames)| one(file, frames))
            .collect()
    }
}

/// The capture a finding's frames are in: by side, or by name along a path
/// (where `side` is the capture's side within its hop).
pub(super) fn capture_of<'a>(
    captures: &'a [CaptureSummary],
    r: &FrameRefs,
) -> Option<&'a CaptureSummary> {
    captures
        .iter()
        .find(|c| c.side == r.side && (c.point.is_none() || c.file == r.file))
        .or_else(|| captures.iter().find(|c| c.file == r.file))
}

/// A finding with its words.
#[derive(Clone, Debug, Serialize)]
pub struct ReportFinding {
    /// Kind and evidence (`kind`, `evidence` in JSON).
    #[serde(flatten)]
    pub kind: FindingKind,
    /// Severity.
    pub severity: Severity,
    /// One sentence with the numbers.
    pub summary: String,
    /// Frames per capture, each with its filter.
    pub frames: Vec<FramesReport>,
    /// The filter of the first capture's frames (see `frames[].filter`).
    pub filter: Option<String>,
    /// What to do.
    pub fix: Option<String>,
    /// The tunnel (`tunnels[].id`) it is about; `null` for the captures or the pair as a whole.
    pub tunnel: Option<u32>,
}

/// One tunnel common to both captures.
#[derive(Clone, Debug, Serialize)]
pub struct TunnelReport {
    /// Id, as in `findings[].tunnel` and `directions[].tunnel`.
    pub id: u32,
    /// Per capture (a, b): its own WireGuard endpoints in this tunnel.
    pub local: [Vec<Endpoint>; 2],
    /// Per capture: the far endpoints it saw (several after NAT rebinding or roaming).
    pub remote: [Vec<Endpoint>; 2],
    /// `healthy` or `problems`, from this tunnel's findings.
    pub verdict: Verdict,
    /// Messages found in both captures.
    pub matched: u64,
    /// Packets sent inside the window, both directions.
    pub sent: u64,
    /// Of those, missing.
    pub missing: u64,
    /// Completed handshakes seen at both ends: the first session, then each
    /// rekey or reconnection.
    pub handshakes: Vec<HandshakeReport>,
    /// Handshakes beyond those listed.
    pub handshakes_more: u64,
}

/// A handshake response seen at both ends.
#[derive(Clone, Debug, Serialize)]
pub struct HandshakeReport {
    /// Time in the first capture, UTC text.
    pub time: String,
    /// Nanoseconds since the epoch, first capture's clock.
    pub ts_ns: i64,
    /// Its frame in the first capture and in the second.
    pub frames: [FrameNo; 2],
}

impl TunnelReport {
    fn from(t: &Tunnel, findings: &[Finding]) -> TunnelReport {
        let problem = findings.iter().any(|f| {
            f.tunnel == Some(t.id) && matches!(f.severity, Severity::Error | Severity::Warning)
        });
        TunnelReport {
            id: t.id,
            local: t.local.clone(),
            remote: t.remote.clone(),
            verdict: if problem {
                Verdict::Problems
            } else {
                Verdict::Healthy
            },
            matched: t.matched,
            sent: t.directions.iter().map(|d| d.sent).sum(),
            missing: t.directions.iter().map(|d| d.missing).sum(),
            handshakes: t
                .handshakes
                .iter()
                .map(|h| HandshakeReport {
                    time: utc(h.ts),
                    ts_ns: h.ts.0,
                    frames: h.frames,
                })
                .collect(),
            handshakes_more: t.handshakes_more,
        }
    }

    /// `tunnel 1 (198.51.100.2:51822 ↔ 203.0.113.2:51823)`: the ends as each
    /// capture sees its own.
    pub fn label(&self) -> String {
        let ends = |v: &[Endpoint]| match v {
            [] => "?".to_string(),
            [e] => e.to_string(),
            [e, ..] => format!("{e} (+{})", v.len() - 1),
        };
        format!(
            "tunnel {} ({} ↔ {})",
            self.id,
            ends(&self.local[0]),
            ends(&self.local[1])
        )
    }
}

/// One input capture.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureSummary {
    /// `a` (first on the command line) or `b`.
    pub side: Side,
    /// Display name: the shortest path suffix that tells the inputs apart.
    pub file: String,
    /// The path as given.
    pub path: String,
    /// Packets read.
    pub packets: u64,
    /// Damage that stopped reading early (the report covers what came before).
    pub damage: Option<String>,
    /// For an end given as a directory, its files in the order read (time
    /// order); absent (empty) for a single file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSummary>,
    /// The separate capture of this end's tunnel interface (`--inner-a`,
    /// `--inner-b`), whose frames findings name by its own file; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner: Option<InnerFileSummary>,
    /// With three or more captures, its place in path order (0-based; `side`
    /// is then `a` for the first point and `b` for every later one); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point: Option<usize>,
}

/// A separate capture of an end's tunnel interface.
#[derive(Clone, Debug, Serialize)]
pub struct InnerFileSummary {
    /// Display name (as `findings[].frames[].file` names it).
    pub file: String,
    /// The path as given.
    pub path: String,
    /// Packets read.
    pub packets: u64,
}

/// One file of an end given as a directory.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    /// Display name: the end's display name, `/`, the file name.
    pub file: String,
    /// The path as found.
    pub path: String,
    /// Packets read from it.
    pub packets: u64,
    /// The end's frame number of its first packet: the file's frame `n` is
    /// the end's frame `first_frame - 1 + n`.
    pub first_frame: u64,
}

impl CaptureSummary {
    /// The file that holds the end's frame `no` and its frame number in that
    /// file (as Wireshark shows it); the capture itself for a single file.
    pub fn locate(&self, no: FrameNo) -> (&str, FrameNo) {
        let n = u64::from(no.0);
        let i = self.files.partition_point(|f| f.first_frame <= n);
        match i.checked_sub(1).map(|i| &self.files[i]) {
            Some(f) => (&f.file, FrameNo((n + 1 - f.first_frame) as u32)),
            None => (&self.file, no),
        }
    }

    /// `file:frame` for an end of several files, the bare number otherwise.
    pub fn frame_name(&self, no: FrameNo) -> String {
        if self.files.is_empty() {
            no.to_string()
        } else {
            let (file, n) = self.locate(no);
            format!("{file}:{n}")
        }
    }
}

/// Packets of one size.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SizeRow {
    /// UDP payload (WireGuard message) size.
    pub udp_payload: u16,
    /// IP packet size.
    pub ip_len: u32,
    /// Packets.
    pub packets: u64,
}

/// One direction of the tunnel.
#[derive(Clone, Debug, Serialize)]
pub struct DirectionReport {
    /// The tunnel (`tunnels[].id`).
    pub tunnel: u32,
    /// Sending capture's side.
    pub from_side: Side,
    /// Sending capture's display name.
    pub from: String,
    /// Receiving capture's display name.
    pub to: String,
    /// Sender's address and port as the sending capture sees them (busiest mapping).
    pub from_endpoint: Option<Endpoint>,
    /// Receiver's address and port as the sender addressed them.
    pub to_endpoint: Option<Endpoint>,
    /// Packets sent while the receiver's capture ran.
    pub sent: u64,
    /// Seen at the receiver.
    pub delivered: u64,
    /// Never seen at the receiver.
    pub missing: u64,
    /// Sent while the far capture was not running.
    pub outside_window: u64,
    /// Hop counts (TTL difference).
    pub hops: Vec<u8>,
    /// Missing packets by size.
    pub missing_by_size: Vec<SizeRow>,
    /// Delivered packets by size.
    pub delivered_by_size: Vec<SizeRow>,
}

impl DirectionReport {
    fn from(d: &Direction, nat: &[NatMapping]) -> DirectionReport {
        let ends = nat
            .iter()
            .filter(|m| m.from_side == d.from_side && m.tunnel == d.tunnel)
            .max_by_key(|m| m.packets)
            .map(|m| (m.sent_src, m.sent_dst));
        let rows = |f: fn(&crate::correlate::SizeCount) -> u64| -> Vec<SizeRow> {
            d.by_size
                .iter()
                .filter(|(_, c)| f(c) > 0)
                .map(|(k, c)| SizeRow {
                    udp_payload: *k,
                    ip_len: c.ip_len,
                    packets: f(c),
                })
                .collect()
        };
        DirectionReport {
            tunnel: d.tunnel,
            from_side: d.from_side,
            from: d.from.clone(),
            to: d.to.clone(),
            from_endpoint: ends.map(|e| e.0),
            to_endpoint: ends.map(|e| e.1),
            sent: d.sent,
            delivered: d.delivered,
            missing: d.missing,
            outside_window: d.outside_window,
            hops: d.hops.clone(),
            missing_by_size: rows(|c| c.missing),
            delivered_by_size: rows(|c| c.delivered),
        }
    }
}

/// Records of one capture set aside as copies of a message it already holds
/// (see [`crate::correlate::Copies`]).
#[derive(Clone, Debug, Serialize)]
pub struct CopiesReport {
    /// Capture side.
    pub side: Side,
    /// Capture display name.
    pub file: String,
    /// Copies set aside (`duplicates` of this side).
    pub copies: u64,
    /// Of those, copies with source address == destination address: the
    /// message came back to the host that sent it (hairpin NAT).
    pub same_src_dst: u64,
    /// Source and destination of the first such copy.
    pub reflected: Option<[Endpoint; 2]>,
    /// Every copy's frame, per file, with a filter (as in `findings[].frames`).
    pub frames: Vec<FramesReport>,
}

/// The `--from`/`--until` window the captures were cut to before analysis.
#[derive(Clone, Debug, Serialize)]
pub struct FocusReport {
    /// Start (UTC text), null when open.
    pub from: Option<String>,
    /// Start, ns since the epoch.
    pub from_ns: Option<i64>,
    /// End (UTC text, inclusive), null when open.
    pub until: Option<String>,
    /// End, ns since the epoch.
    pub until_ns: Option<i64>,
    /// What relative bounds count from: the earliest first packet of the
    /// captures (UTC text), null when they hold none.
    pub reference: Option<String>,
    /// Same, ns since the epoch.
    pub reference_ns: Option<i64>,
    /// Per capture, in argument order: packets read, and kept in the window.
    pub packets: Vec<FocusPackets>,
}

/// Packets of one capture read and kept by the window.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FocusPackets {
    /// Read from the capture.
    pub read: u64,
    /// Inside the window: the packets the report is about.
    pub kept: u64,
}

impl FocusReport {
    /// `window` resolved to `[from, until]` ns (`i64::MIN`/`MAX` when open),
    /// relative to `start`; packets `read` and `kept` per capture.
    pub fn new(
        window: crate::capture::TimeWindow,
        start: Option<crate::capture::Timestamp>,
        (from, until): (i64, i64),
        read: Vec<u64>,
        kept: Vec<u64>,
    ) -> FocusReport {
        let from = window.from.map(|_| from);
        let until = window.until.map(|_| until);
        let text = |t: i64| utc(crate::capture::Timestamp(t));
        FocusReport {
            from: from.map(text),
            from_ns: from,
            until: until.map(text),
            until_ns: until,
            reference: start.map(utc),
            reference_ns: start.map(|t| t.0),
            packets: read
                .into_iter()
                .zip(kept)
                .map(|(read, kept)| FocusPackets { read, kept })
                .collect(),
        }
    }

    /// `focus (--from/--until): packets from ... to ...; kept ...`, one line.
    fn line(&self, names: &[String]) -> String {
        let rel = |t: Option<i64>| match (t, self.reference_ns) {
            (Some(t), Some(r)) => format!(
                " ({:.3} s after the earliest capture start)",
                (t as f64 - r as f64) / 1e9
            ),
            _ => String::new(),
        };
        let bound = |text: &Option<String>, ns: Option<i64>, open: &str| match text {
            Some(t) => format!("{t} UTC{}", rel(ns)),
            None => open.to_string(),
        };
        let kept: Vec<String> = self
            .packets
            .iter()
            .zip(names)
            .map(|(p, n)| {
                format!(
                    "{} of {} packets of {n}",
                    thousands(p.kept),
                    thousands(p.read)
                )
            })
            .collect();
        format!(
            "focus (--from/--until): only packets from {} to {}; kept {}",
            bound(&self.from, self.from_ns, "the start"),
            bound(&self.until, self.until_ns, "the end"),
            kept.join(", ")
        )
    }
}

/// Clock relation of the hosts.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ClockReport {
    /// Second capture's clock minus the first's, ns.
    pub offset_ns: i64,
    /// Same in ms.
    pub offset_ms: f64,
    /// Median one-way delay first → second, ms.
    pub delay_ab_ms: Option<f64>,
    /// Median one-way delay second → first, ms.
    pub delay_ba_ms: Option<f64>,
    /// Whether packets in both directions bracket the offset.
    pub bracketed: bool,
    /// Matched packets used.
    pub samples: u64,
}

/// The window both captures cover.
#[derive(Clone, Debug, Serialize)]
pub struct WindowReport {
    /// Start, ns since the epoch on the first capture's clock.
    pub start_ns: i64,
    /// End.
    pub end_ns: i64,
    /// Start as UTC text.
    pub start: String,
    /// Length in seconds.
    pub seconds: f64,
    /// Whether the captures overlap.
    pub overlap: bool,
}

/// The whole `analyze` report.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeReport {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Version of wgtrace.
    pub wgtrace_version: &'static str,
    /// `healthy`, `problems` or `inconclusive`.
    pub verdict: Verdict,
    /// Why, in one line (the first line of every format).
    pub headline: String,
    /// Inputs.
    pub captures: Vec<CaptureSummary>,
    /// Findings, most severe first.
    pub findings: Vec<ReportFinding>,
    /// The tunnels common to both captures (empty with one capture).
    pub tunnels: Vec<TunnelReport>,
    /// Two per tunnel (empty with one capture).
    pub directions: Vec<DirectionReport>,
    /// Clock (two captures).
    pub clock: Option<ClockReport>,
    /// Common window (two captures).
    pub window: Option<WindowReport>,
    /// Address mappings of matched packets.
    pub nat: Vec<NatMapping>,
    /// Matched messages.
    pub matched: u64,
    /// Duplicate records ignored per capture.
    pub duplicates: Vec<u64>,
    /// Those records, per capture that has any: which frames, and what they are.
    pub copies: Vec<CopiesReport>,
    /// The `--tunnel` / `--peer` the report was restricted with.
    pub selection: Option<String>,
    /// Every address in the report was anonymised (`--anonymize`); present
    /// only then. The frame numbers and Wireshark filters still apply to the
    /// original captures, but the addresses shown are not the ones in them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymized: bool,
    /// The `--from`/`--until` window applied, or null.
    pub focus: Option<FocusReport>,
    /// Three or more captures along one path: per hop what arrived, was
    /// rewritten and vanished; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<super::path::PathReport>,
    /// Plot data for the HTML report (two captures, when asked for); not part of the JSON.
    #[serde(skip)]
    pub plots: Option<PlotData>,
}

/// Each finding's summary and fix; with several tunnels, the words read the
/// findings of the same tunnel and name it.
fn words_of(
    findings: &[Finding],
    tunnels: &[TunnelReport],
    names: &[String],
) -> Vec<(String, Option<String>)> {
    let several = tunnels.len() > 1;
    findings
        .iter()
        .map(|f| {
            let related: Vec<Finding> = if several {
                findings
                    .iter()
                    .filter(|g| g.tunnel.is_none() || g.tunnel == f.tunnel)
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            let all = if several { &related[..] } else { findings };
            let mut summary = words::summary(f, all, names);
            let mut fix = words::fix(f, all);
            // Which tunnel the words are about, when there are several.
            if let Some(t) = f.tunnel.filter(|_| several) {
                if let Some(t) = tunnels.iter().find(|x| x.id == t) {
                    summary = format!("{}: {summary}", t.label());
                    fix = fix.map(|x| format!("{}: {x}", t.label()));
                }
            }
            (summary, fix)
        })
        .collect()
}

impl AnalyzeReport {
    /// Builds the report.
    pub fn new(
        captures: Vec<CaptureSummary>,
        findings: Vec<Finding>,
        correlation: Option<&Correlation>,
    ) -> AnalyzeReport {
        // A pair that cannot be compared is inconclusive whatever one end
        // alone shows: the headline says both.
        let verdict = if findings.iter().any(|f| f.kind.is_inconclusive()) {
            Verdict::Inconclusive
        } else if findings
            .iter()
            .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
        {
            Verdict::Problems
        } else {
            Verdict::Healthy
        };
        let names: Vec<String> = captures.iter().map(|c| c.file.clone()).collect();
        let tunnels: Vec<TunnelReport> = correlation.map_or(Vec::new(), |c| {
            c.tunnels
                .iter()
                .map(|t| TunnelReport::from(t, &findings))
                .collect()
        });
        let several = tunnels.len() > 1;
        // Words first (they read the findings of the same tunnel), then the
        // findings move in: frame lists can hold most of a capture.
        let said = words_of(&findings, &tunnels, &names);
        let rendered: Vec<ReportFinding> = findings
            .into_iter()
            .zip(said)
            .map(|(f, (summary, fix))| {
                let frames: Vec<FramesReport> = f
                    .frames
                    .into_iter()
                    .flat_map(|r| {
                        let end = capture_of(&captures, &r);
                        FramesReport::from(r, end)
                    })
                    .collect();
                ReportFinding {
                    kind: f.kind,
                    severity: f.severity,
                    summary,
                    filter: frames.first().and_then(|r| r.filter.clone()),
                    frames,
                    fix,
                    tunnel: f.tunnel,
                }
            })
            .collect();
        let headline = headline(verdict, &names, &rendered, &tunnels);
        let copies: Vec<CopiesReport> = correlation.map_or(Vec::new(), |c| {
            [Side::A, Side::B]
                .into_iter()
                .zip(&c.copies)
                .filter(|(_, x)| !x.frames.is_empty())
                .map(|(side, x)| {
                    // Along a path the pair is the first and the last point.
                    let i = match side {
                        Side::A => 0,
                        Side::B => captures.len().saturating_sub(1),
                    };
                    let file = names.get(i).cloned().unwrap_or_default();
                    let end = captures.get(i);
                    CopiesReport {
                        side,
                        copies: x.frames.len() as u64,
                        same_src_dst: x.same_src_dst,
                        reflected: x.reflected.map(|(a, b)| [a, b]),
                        frames: FramesReport::from(
                            FrameRefs::new(side, &file, x.frames.iter().copied()),
                            end,
                        ),
                        file,
                    }
                })
                .collect()
        });
        let (directions, clock, window, nat, matched, duplicates) = match correlation {
            Some(c) => (
                if several {
                    c.tunnels
                        .iter()
                        .flat_map(|t| t.directions.iter())
                        .map(|d| DirectionReport::from(d, &c.nat))
                        .collect()
                } else {
                    c.directions
                        .iter()
                        .map(|d| DirectionReport::from(d, &c.nat))
                        .collect()
                },
                Some(ClockReport {
                    offset_ns: c.clock.offset_ns,
                    offset_ms: c.clock.offset_ns as f64 / 1e6,
                    delay_ab_ms: c.clock.delay_ab_ns.map(|d| d as f64 / 1e6),
                    delay_ba_ms: c.clock.delay_ba_ns.map(|d| d as f64 / 1e6),
                    bracketed: c.clock.bracketed,
                    samples: c.clock.samples,
                }),
                Some(WindowReport {
                    start_ns: c.window.start.0,
                    end_ns: c.window.end.0,
                    start: utc(c.window.start),
                    seconds: c.window.end.0.saturating_sub(c.window.start.0) as f64 / 1e9,
                    overlap: c.window.overlap,
                }),
                c.nat.clone(),
                c.matched,
                c.duplicates.to_vec(),
            ),
            None => (Vec::new(), None, None, Vec::new(), 0, Vec::new()),
        };
        AnalyzeReport {
            schema: SCHEMA,
            wgtrace_version: env!("CARGO_PKG_VERSION"),
            verdict,
            headline,
            captures,
            findings: rendered,
            tunnels,
            directions,
            clock,
            window,
            nat,
            matched,
            duplicates,
            copies,
            selection: None,
            anonymized: false,
            focus: None,
            path: None,
            plots: None,
        }
    }

    /// Writes the words (summaries, fixes, headline) again from the typed
    /// fields, after these changed (anonymised addresses).
    pub fn reword(&mut self) {
        let names: Vec<String> = self.captures.iter().map(|c| c.file.clone()).collect();
        let findings: Vec<Finding> = self
            .findings
            .iter()
            .map(|f| Finding {
                kind: f.kind.clone(),
                severity: f.severity,
                frames: Vec::new(),
                tunnel: f.tunnel,
            })
            .collect();
        let said = words_of(&findings, &self.tunnels, &names);
        for (f, (summary, fix)) in self.findings.iter_mut().zip(said) {
            f.summary = summary;
            f.fix = fix;
        }
        self.headline = headline(self.verdict, &names, &self.findings, &self.tunnels);
        self.path_headline();
        if let Some(sel) = self.selection.clone() {
            self.selected(&sel);
        }
    }

    /// Marks the report as restricted to the tunnels `selector` picked; the
    /// headline names them.
    pub fn selected(&mut self, selector: &str) {
        let picked: Vec<String> = self.tunnels.iter().map(TunnelReport::label).collect();
        if !picked.is_empty() {
            self.headline = format!("{} [{selector}: {}]", self.headline, picked.join(", "));
        }
        self.selection = Some(selector.to_string());
    }

    /// One line for scripts and prompts (`--quiet`): `healthy`,
    /// `problems: mtu_blackhole vps.pcap→laptop.pcap, ...; set MTU = 1392`
    /// or `inconclusive: captures_disjoint`.
    pub fn to_quiet(&self) -> String {
        let line = match self.verdict {
            Verdict::Healthy => "healthy".to_string(),
            Verdict::Inconclusive => {
                let mut kinds: Vec<&str> = self
                    .findings
                    .iter()
                    .filter(|f| f.kind.is_inconclusive())
                    .map(|f| f.kind.name())
                    .collect();
                kinds.dedup();
                format!("inconclusive: {}", kinds.join(", "))
            }
            Verdict::Problems => {
                let mut items: Vec<String> = Vec::new();
                for f in &self.findings {
                    if !matches!(f.severity, Severity::Error | Severity::Warning) {
                        continue;
                    }
                    let item = match finding_direction(&f.kind) {
                        Some(d) if d.to.is_empty() => format!("{} from {}", f.kind.name(), d.from),
                        Some(d) => format!("{} {}→{}", f.kind.name(), d.from, d.to),
                        None => f.kind.name().to_string(),
                    };
                    let item = match self.tunnel_named(f.tunnel) {
                        Some(t) => format!("{item} (tunnel {})", t.id),
                        None => item,
                    };
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                // The MTU to set, per tunnel when there are several: setting
                // a broken tunnel's MTU on a healthy one is no fix.
                let mut mtus: std::collections::BTreeMap<Option<u32>, u32> = Default::default();
                for f in &self.findings {
                    if let Some(m) = finding_mtu(&f.kind) {
                        let t = self.tunnel_named(f.tunnel).map(|t| t.id);
                        let e = mtus.entry(t).or_insert(m);
                        *e = (*e).min(m);
                    }
                }
                let mtu: Vec<String> = mtus
                    .iter()
                    .map(|(t, m)| match t.and_then(|t| self.tunnel_named(Some(t))) {
                        Some(t) => format!("set MTU = {m} on {}", t.label()),
                        None => format!("set MTU = {m}"),
                    })
                    .collect();
                format!(
                    "problems: {}{}",
                    items.join(", "),
                    if mtu.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", mtu.join("; "))
                    }
                )
            }
        };
        line + "\n"
    }

    /// Tunnel `id`, when the report has several (one needs no naming).
    fn tunnel_named(&self, id: Option<u32>) -> Option<&TunnelReport> {
        let id = id?;
        (self.tunnels.len() > 1)
            .then(|| self.tunnels.iter().find(|t| t.id == id))
            .flatten()
    }

    /// Marks the report as cut to a time window before analysis.
    pub fn focused(&mut self, focus: FocusReport) {
        self.focus = Some(focus);
    }

    /// The line saying which window the report covers, if one was applied.
    pub fn focus_line(&self) -> Option<String> {
        let names: Vec<String> = self.captures.iter().map(|c| c.file.clone()).collect();
        self.focus.as_ref().map(|f| f.line(&names))
    }

    /// `vps.pcap → laptop.pcap`, after the tunnel's label when there are several.
    pub fn direction_label(&self, d: &DirectionReport) -> String {
        let plain = format!("{} → {}", d.from, d.to);
        match self.tunnels.iter().find(|t| t.id == d.tunnel) {
            Some(t) if self.tunnels.len() > 1 => format!("tunnel {}: {plain}", t.id),
            _ => plain,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The headline and the distinct fixes, most severe first.
    pub(super) fn headline(&self) -> (String, Vec<String>) {
        let mut fixes: Vec<String> = Vec::new();
        // Two findings that set the same MTU on the same tunnel (a blackhole
        // and the fragments that show it) are one thing to do: the first,
        // most severe, says it; each finding keeps its own reasoning.
        let mut mtus: Vec<(Option<u32>, u32)> = Vec::new();
        for f in &self.findings {
            if let Some(fix) = &f.fix {
                if let Some(mtu) = finding_mtu(&f.kind) {
                    if mtus.contains(&(f.tunnel, mtu)) {
                        continue;
                    }
                    mtus.push((f.tunnel, mtu));
                }
                if !fixes.contains(fix) {
                    fixes.push(fix.clone());
                }
            }
        }
        (self.headline.clone(), fixes)
    }
}

/// The first line of every format: the verdict, the captures, and what it
/// rests on or why the captures cannot tell.
fn headline(
    verdict: Verdict,
    names: &[String],
    findings: &[ReportFinding],
    tunnels: &[TunnelReport],
) -> String {
    let files = names.join(" ↔ ");
    // With several tunnels, which of them the problems are in.
    let which = if tunnels.len() > 1 && verdict == Verdict::Problems {
        let bad: Vec<String> = tunnels
            .iter()
            .filter(|t| t.verdict == Verdict::Problems)
            .map(TunnelReport::label)
            .collect();
        let shared = findings.iter().any(|f| {
            f.tunnel.is_none() && matches!(f.severity, Severity::Error | Severity::Warning)
        });
        match (bad.is_empty(), shared) {
            (true, _) => format!(" in {} tunnels", tunnels.len()),
            (false, false) => format!(
                " in {} of {} tunnels: {}",
                bad.len(),
                tunnels.len(),
                bad.join(", ")
            ),
            (false, true) => format!(
                " in {} tunnels: {} and the captures as a whole",
                tunnels.len(),
                bad.join(", ")
            ),
        }
    } else if tunnels.len() > 1 {
        format!(" ({} tunnels)", tunnels.len())
    } else {
        String::new()
    };
    let alone = if names.len() == 1 {
        " (from this end alone)"
    } else {
        ""
    };
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match verdict {
        Verdict::Problems => {
            let (e, w) = (count(Severity::Error), count(Severity::Warning));
            format!(
                "PROBLEMS: {files}{alone} ({e} error{}, {w} warning{}){which}",
                plural(e),
                plural(w)
            )
        }
        Verdict::Inconclusive => {
            let why = findings
                .iter()
                .find(|f| f.kind.is_inconclusive())
                .map_or(String::new(), |f| f.summary.clone());
            let (e, w) = (count(Severity::Error), count(Severity::Warning));
            let alone = if e + w > 0 {
                format!(
                    " Each end alone still shows {e} error{} and {w} warning{} (below).",
                    plural(e),
                    plural(w)
                )
            } else {
                String::new()
            };
            format!("INCONCLUSIVE: {files}: {why}{alone}")
        }
        Verdict::Healthy => {
            let why = findings
                .iter()
                .find(|f| matches!(f.kind, FindingKind::Healthy { .. }))
                .map_or(String::new(), |f| format!(": {}", f.summary));
            format!("HEALTHY: {files}{alone}{which}{why}")
        }
    }
}

/// What the copies a capture holds are, in words: `5 copies set aside in
/// pi.pcap (each message counted once): frames 7, 11 are ...`; `martian`:
/// the report has a `martian_same_src_dst` finding about that capture.
fn copies_words(c: &CopiesReport, martian: bool) -> String {
    let frames: Vec<String> = c
        .frames
        .iter()
        .map(|fr| {
            if fr.file == c.file {
                frames_text(fr)
            } else {
                format!("{}: {}", fr.file, frames_text(fr))
            }
        })
        .collect();
    let (n, r) = (c.copies, c.same_src_dst);
    let other = n - r;
    let s = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let head = format!(
        "{n} cop{} set aside in {} (each message counted once): frame{} {}",
        s(n, "y", "ies"),
        c.file,
        s(n, "", "s"),
        frames.join("; ")
    );
    let reflected = match &c.reflected {
        Some([src, dst]) => format!(
            "{} a message this capture already holds coming back to the host \
             that sent it, with source == destination ({src} → {dst}): hairpin \
             NAT on the way reflected {} onto the link {} left{}",
            s(r, "is", "are each"),
            s(r, "it", "them"),
            s(r, "it", "they"),
            if martian {
                " (see martian_same_src_dst)"
            } else {
                ""
            }
        ),
        None => String::new(),
    };
    let recorded = |n: u64| {
        format!(
            "{} a message this capture already holds, recorded again (a capture of several interfaces, \
             such as tcpdump -i any, records a packet on each one it crosses)",
            s(n, "is", "are each")
        )
    };
    match (r, other) {
        (0, _) => format!("{head} {}", recorded(n)),
        (_, 0) => format!("{head} {reflected}"),
        (r, o) => format!(
            "{head}: {r} of them {reflected}; the other {o} {}",
            recorded(o)
        ),
    }
}

impl AnalyzeReport {
    /// The Wireshark filters to print for a finding: the first capture's
    /// alone (unlabelled) when every end is a single file; one per file,
    /// labelled with it, when an end is a directory, as each filter holds the
    /// frame numbers of its own file.
    pub(super) fn filters<'a>(&self, f: &'a ReportFinding) -> Vec<(Option<&'a str>, &'a str)> {
        if self.captures.iter().all(|c| c.files.is_empty()) {
            return f.filter.as_deref().map(|x| (None, x)).into_iter().collect();
        }
        f.frames
            .iter()
            .filter_map(|fr| Some((Some(fr.file.as_str()), fr.filter.as_deref()?)))
            .collect()
    }
}

/// Frames shown in text formats; JSON lists them all.
const SHOWN_FRAMES: usize = 20;

/// `6, 8, 10` or, beyond [`SHOWN_FRAMES`], `6, 8, … and 38 more: use --format json`.
pub(super) fn frames_text(fr: &FramesReport) -> String {
    let list: Vec<String> = fr
        .frames
        .iter()
        .take(SHOWN_FRAMES)
        .map(|f| f.to_string())
        .collect();
    if fr.frames.len() > SHOWN_FRAMES {
        format!(
            "{}, … and {} more: use --format json",
            list.join(", "),
            fr.frames.len() - SHOWN_FRAMES
        )
    } else {
        list.join(", ")
    }
}

/// The direction a finding is about, if it is about one.
fn finding_direction(k: &FindingKind) -> Option<&crate::diagnose::DirRef> {
    use FindingKind as K;
    match k {
        K::MtuBlackhole { direction, .. }
        | K::IcmpFragNeededAbsent { direction, .. }
        | K::FragmentsDropped { direction, .. }
        | K::FragmentedPath { direction, .. }
        | K::PmtudWorking { direction, .. }
        | K::OneWayLoss { direction, .. }
        | K::RandomLoss { direction, .. } => Some(direction),
        _ => None,
    }
}

/// The tunnel MTU a finding advises, if any.
fn finding_mtu(k: &FindingKind) -> Option<u32> {
    use FindingKind as K;
    match k {
        K::MtuBlackhole { tunnel_mtu, .. } => Some(*tunnel_mtu),
        K::FragmentsDropped { mtu, .. } | K::FragmentedPath { mtu, .. } => Some(mtu.tunnel_mtu),
        K::PmtudWorking { mtu, .. } => mtu.as_ref().map(|m| m.tunnel_mtu),
        _ => None,
    }
}

/// Histogram rows of one direction: (label, delivered, lost) per UDP payload
/// size ("UDP (IP)"), or per size range, by the one rule of
/// [`super::size_bins`]. Shared by the text and HTML reports.
pub(super) fn size_rows(d: &DirectionReport) -> Vec<(String, u64, u64)> {
    let mut sizes: std::collections::BTreeMap<u32, (u32, u64, u64)> = Default::default();
    for r in &d.delivered_by_size {
        let e = sizes.entry(u32::from(r.udp_payload)).or_default();
        e.0 = r.ip_len;
        e.1 += r.packets;
    }
    for r in &d.missing_by_size {
        let e = sizes.entry(u32::from(r.udp_payload)).or_default();
        e.0 = r.ip_len;
        e.2 += r.packets;
    }
    super::size_bins(
        &sizes,
        |udp, (ip, _, _)| format!("{udp} ({ip})"),
        |a, b| (a.0.max(b.0), a.1 + b.1, a.2 + b.2),
    )
    .into_iter()
    .map(|(label, (_, del, lost))| (label, del, lost))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::text::wrap;
    use super::*;

    fn copies(frames: &[u32], same_src_dst: u64) -> CopiesReport {
        let ep = |s: &str| -> Endpoint {
            let a: std::net::SocketAddr = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            Endpoint {
                ip: a.ip(),
                port: a.port(),
            }
        };
        CopiesReport {
            side: Side::B,
            file: "pi.pcap".into(),
            copies: frames.len() as u64,
            same_src_dst,
            reflected: (same_src_dst > 0)
                .then(|| [ep("192.168.1.2:43712"), ep("192.168.1.2:51820")]),
            frames: vec![FramesReport {
                side: Side::B,
                file: "pi.pcap".into(),
                frames: frames.iter().map(|f| FrameNo(*f)).collect(),
                total: frames.len() as u64,
                filter: None,
            }],
        }
    }

    #[test]
    fn copies_in_words() {
        let hairpin = copies_words(&copies(&[7, 11, 13, 15, 17], 5), true);
        assert_eq!(
            hairpin,
            "5 copies set aside in pi.pcap (each message counted once): frames 7, 11, 13, 15, 17 \
             are each a message this capture already holds coming back to the host that sent it, \
             with source == destination (192.168.1.2:43712 → 192.168.1.2:51820): hairpin NAT on \
             the way reflected them onto the link they left (see martian_same_src_dst)"
        );
        let any = copies_words(&copies(&[4], 0), false);
        assert!(
            any.starts_with(
                "1 copy set aside in pi.pcap (each message counted once): frame 4 is a message"
            ),
            "{any}"
        );
        assert!(any.contains("tcpdump -i any"), "{any}");
        let mixed = copies_words(&copies(&[3, 4, 9], 1), false);
        assert!(mixed.contains(": 1 of them is a message"), "{mixed}");
        assert!(mixed.contains("the other 2 are each a message"), "{mixed}");
        assert!(!mixed.contains('['), "no bare lists: {mixed}");
    }

    #[test]
    fn wraps_to_width() {
        let w = wrap("FIX: one two three four five six", 12, "     ");
        assert!(w.lines().all(|l| l.chars().count() <= 12), "{w}");
        assert!(w.starts_with("FIX: one two"));
        assert_eq!(wrap("", 10, " "), "");
    }
}
