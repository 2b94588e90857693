//! The `wgtrace inspect` report: one capture's facts, as a table or versioned JSON.

use super::{thousands, utc};
use crate::flow::{CaptureFacts, MartianReason, WgDirection};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;
use std::fmt::Write as _;

/// The JSON schema identifier of `inspect --format json`; bumped on any incompatible change.
pub const SCHEMA: &str = "wgtrace.inspect/1";

/// The whole `inspect` report: one entry per input file, in argument order.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Version of wgtrace that wrote the report.
    pub wgtrace_version: &'static str,
    /// One entry per capture.
    pub captures: Vec<CaptureEntry>,
    /// Every address in the report was anonymised (`--anonymize`); present only then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymized: bool,
}

/// A capture that was read (perhaps partly), or one that could not be read at all.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum CaptureEntry {
    /// Facts of a capture; `damage` set when reading stopped early.
    Read(Box<CaptureFacts>),
    /// A file that could not be read.
    Failed {
        /// File as given.
        path: String,
        /// One-line reason, with the byte offset.
        error: String,
    },
}

impl InspectReport {
    /// Wraps the entries.
    pub fn new(captures: Vec<CaptureEntry>) -> InspectReport {
        InspectReport {
            schema: SCHEMA,
            wgtrace_version: env!("CARGO_PKG_VERSION"),
            captures,
            anonymized: false,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Human-readable tables, `width` columns wide.
    pub fn to_table(&self, width: u16) -> String {
        let mut out = String::new();
        for entry in &self.captures {
            match entry {
                CaptureEntry::Read(f) => render_capture(&mut out, f, width),
                CaptureEntry::Failed { path, error } => {
                    let _ = writeln!(out, "== {path} ==\nerror: {error}\n");
                }
            }
        }
        out
    }
}

fn table(width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    t
}

fn duration(f: &CaptureFacts) -> String {
    match (f.first_ts, f.last_ts) {
        // i128: pcapng timestamps span all of i64, so the difference may not fit in it.
        (Some(a), Some(b)) => format!(
            "{} UTC, {:.3} s",
            utc(a),
            (i128::from(b.0) - i128::from(a.0)) as f64 / 1e9
        ),
        _ => "no packets".into(),
    }
}

fn render_capture(out: &mut String, f: &CaptureFacts, width: u16) {
    let _ = writeln!(out, "== {} ==", f.path);
    if let Some(d) = &f.damage {
        let _ = writeln!(out, "PARTIAL: reading stopped: {d}");
    }
    for w in &f.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let mut t = table(width);
    let links: Vec<String> = f.link_types.iter().map(|l| l.name()).collect();
    let wg = &f.wireguard;
    let mut rows: Vec<(&str, String)> = vec![
        (
            "format",
            format!("{}{}", f.format, if f.gzip { " (gzip)" } else { "" }),
        ),
        ("link types", links.join(", ")),
        ("packets", thousands(f.packets)),
        ("time span", duration(f)),
        (
            "capture drops",
            f.capture_drops.map_or("not recorded".into(), thousands),
        ),
        (
            "WireGuard",
            format!(
                "{} initiation, {} response, {} cookie, {} transport ({} keepalive)",
                wg.initiation, wg.response, wg.cookie_reply, wg.transport, wg.keepalive
            ),
        ),
        (
            "sessions",
            format!(
                "{} ({} with handshake captured)",
                f.sessions.sessions.len(),
                f.sessions
                    .sessions
                    .iter()
                    .filter(|s| s.handshake_seen)
                    .count()
            ),
        ),
        (
            "unanswered handshakes",
            f.sessions
                .unanswered
                .iter()
                .map(|u| u.initiations)
                .sum::<u64>()
                .to_string(),
        ),
        (
            "ICMP frag-needed / too big",
            f.pmtu_signals.len().to_string(),
        ),
        ("other ICMP errors", f.icmp_errors.to_string()),
        (
            "src == dst packets",
            f.martians
                .iter()
                .filter(|m| m.reason == MartianReason::SameSrcDst)
                .map(|m| m.packets)
                .sum::<u64>()
                .to_string(),
        ),
        (
            "other martian sources",
            f.martians
                .iter()
                .filter(|m| m.reason != MartianReason::SameSrcDst)
                .map(|m| m.packets)
                .sum::<u64>()
                .to_string(),
        ),
        ("IP fragments (non-first)", f.fragments.to_string()),
        ("incomplete datagrams", f.incomplete_datagrams.to_string()),
    ];
    if !f.files.is_empty() {
        let files: Vec<String> = f
            .files
            .iter()
            .map(|x| format!("{} ({} packets)", x.path, thousands(x.packets)))
            .collect();
        rows.insert(3, ("files, in time order", files.join(", ")));
    }
    let sp = &f.superpackets;
    let offload = (sp.split + sp.unsplittable > 0).then(|| {
        (
            "GSO/GRO super-packets",
            format!(
                "{} split into {} messages, {} not splittable",
                thousands(sp.split),
                thousands(sp.messages),
                thousands(sp.unsplittable)
            ),
        )
    });
    for (k, v) in rows.into_iter().chain(offload) {
        t.add_row(vec![Cell::new(k), Cell::new(v)]);
    }
    let _ = writeln!(out, "{t}");

    if !f.directions.is_empty() {
        for (i, d) in f.directions.iter().enumerate() {
            let _ = writeln!(out, "[{}] WireGuard {} → {}", i + 1, d.from, d.to);
        }
        let mut t = table(width);
        t.set_header(vec![
            "#",
            "init",
            "resp",
            "data",
            "keepalive",
            "max IP",
            "DF",
            "frag",
            "TTL",
        ]);
        for (i, d) in f.directions.iter().enumerate() {
            let ttls: Vec<String> = d.ttls.iter().map(u8::to_string).collect();
            t.add_row(vec![
                Cell::new(format!("[{}]", i + 1)),
                num(d.messages.initiation),
                num(d.messages.response),
                num(d.messages.transport),
                num(d.messages.keepalive),
                num(u64::from(d.max_ip_len)),
                num(d.df_set),
                num(d.fragmented),
                Cell::new(ttls.join(",")),
            ]);
        }
        let _ = writeln!(out, "{t}");
        for (i, d) in f.directions.iter().enumerate() {
            if !d.sizes.is_empty() {
                let _ = write!(out, "[{}] {}", i + 1, size_histogram(d));
            }
        }
    }

    const SESSIONS_SHOWN: usize = 20;
    for (i, s) in f.sessions.sessions.iter().enumerate().take(SESSIONS_SHOWN) {
        let side = |n: usize| {
            let sd = &s.sides[n];
            format!(
                "{} ({})",
                sd.index.map_or("?".into(), |i| i.to_string()),
                sd.endpoints
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let how = match (s.initiation_frame, s.response_frame) {
            (Some(a), Some(b)) => format!(
                "handshake in frames {}/{}",
                f.frame_name(a),
                f.frame_name(b)
            ),
            (None, Some(b)) => format!("response in frame {}", f.frame_name(b)),
            _ => "handshake not captured".into(),
        };
        let _ = writeln!(
            out,
            "session {}: {} ⇄ {}; {how}; {} → responder, {} → initiator{}",
            i + 1,
            side(0),
            side(1),
            thousands(s.sides[1].received.packets),
            thousands(s.sides[0].received.packets),
            if s.endpoint_changes.is_empty() {
                String::new()
            } else {
                format!("; {} endpoint change(s)", s.endpoint_changes.len())
            }
        );
        for c in &s.endpoint_changes {
            let _ = writeln!(
                out,
                "  endpoint moved {} → {} at frame {}",
                c.from,
                c.to,
                f.frame_name(c.frame)
            );
        }
    }
    if f.sessions.sessions.len() > SESSIONS_SHOWN {
        let _ = writeln!(
            out,
            "… {} more sessions (see --format json)",
            f.sessions.sessions.len() - SESSIONS_SHOWN
        );
    }

    for u in &f.sessions.unanswered {
        let _ = writeln!(
            out,
            "unanswered: {} handshake initiation(s){} {} → {} between {} and {} (frames {})",
            u.initiations,
            if u.copies > 0 {
                format!(
                    " (seen {} more times after NAT or on another interface)",
                    u.copies
                )
            } else {
                String::new()
            },
            u.from,
            u.to,
            utc(u.first),
            utc(u.last),
            frames(f, &u.frames)
        );
    }
    for p in &f.pmtu_signals {
        let _ = writeln!(
            out,
            "{}: router {} told {} the MTU is {} (frame {}{})",
            if p.v6 {
                "ICMPv6 packet too big"
            } else {
                "ICMP fragmentation needed"
            },
            p.router,
            p.to,
            p.mtu,
            f.frame_name(p.frame),
            match (&p.quoted_from, &p.quoted_to, p.quoted_ip_len) {
                (Some(a), Some(b), Some(l)) => format!(", about a {l}-byte packet {a} → {b}"),
                _ => String::new(),
            }
        );
    }
    for m in &f.martians {
        let what = match m.reason {
            MartianReason::SameSrcDst => "source == destination",
            MartianReason::ThisNetwork => "source in 0.0.0.0/8",
            MartianReason::Loopback => "loopback source",
            MartianReason::Multicast => "multicast source",
            MartianReason::Broadcast => "broadcast source",
        };
        let _ = writeln!(
            out,
            "martian: {} packet(s) with {what}: {} → {} ({} WireGuard initiations; frames {})",
            m.packets,
            m.src,
            m.dst,
            m.wg_initiations,
            frames(f, &m.frames)
        );
    }
    out.push('\n');
}

fn num(n: u64) -> Cell {
    Cell::new(thousands(n)).set_alignment(CellAlignment::Right)
}

/// Frame numbers of `cap` as a short comma list (`file:frame` for a capture of several files).
pub fn frames(cap: &CaptureFacts, f: &[crate::capture::FrameNo]) -> String {
    let shown: Vec<String> = f.iter().take(8).map(|n| cap.frame_name(*n)).collect();
    let more = if f.len() > 8 {
        format!(", … and {} more: use --format json", f.len() - 8)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Text histogram of transport sizes (UDP payload bytes) of one direction.
pub fn size_histogram(d: &WgDirection) -> String {
    let mut out = format!(
        "data message sizes {} → {} (UDP payload bytes):\n",
        d.from, d.to
    );
    let bins = super::size_bins(&d.sizes, |s, _| s.to_string(), |a, b| a + b);
    let max = bins.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    for (label, c) in bins {
        let _ = writeln!(
            out,
            "  {label:>11} {:>8} {}",
            thousands(c),
            "█".repeat(super::bar_len(c, max))
        );
    }
    out
}
