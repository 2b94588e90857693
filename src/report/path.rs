//! The `path` part of an `analyze` report of three or more captures taken
//! along one path: per hop what arrived, what was rewritten, what vanished
//! and where martians appear; as JSON (`path`), a table, Markdown, and the
//! HTML ladder diagram (see `ladder_svg`).

use super::analyze::{capture_of, AnalyzeReport, CaptureSummary, FramesReport, Verdict};
use super::thousands;
use crate::correlate::Side;
use crate::decode::Endpoint;
use crate::diagnose::path::{LostSize, Reflection, Rewrite};
use crate::diagnose::{FrameRefs, Heading, HopEvidence, PathDiagnosis, Severity};
use serde::Serialize;
use std::fmt::Write as _;

/// The path: its points and, per hop, what happened there.
#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    /// Display names of the captures, in path order.
    pub points: Vec<String>,
    /// One per consecutive pair of points.
    pub hops: Vec<HopReport>,
    /// The TTL check at every middle point.
    pub order: Vec<OrderReport>,
}

/// One hop: two consecutive points.
#[derive(Clone, Debug, Serialize)]
pub struct HopReport {
    /// The earlier point.
    pub a: String,
    /// The later point.
    pub b: String,
    /// WireGuard packets seen at `a` going towards `b` while `b`'s capture ran.
    pub sent_a_to_b: u64,
    /// Of those, seen at `b`.
    pub delivered_a_to_b: u64,
    /// Of those, never seen at `b`.
    pub lost_a_to_b: u64,
    /// Their frames at `a`, with a filter.
    pub lost_a_to_b_frames: Vec<FramesReport>,
    /// Lost by size.
    pub lost_a_to_b_by_size: Vec<LostSize>,
    /// TTL drops `a` → `b` of delivered packets (routers between the points).
    pub ttl_drops_a_to_b: Vec<u8>,
    /// Seen at `a` going towards `b` while `b`'s capture was not running.
    pub outside_window_a_to_b: u64,
    /// Same, from `b` towards `a`.
    pub sent_b_to_a: u64,
    /// Of those, seen at `a`.
    pub delivered_b_to_a: u64,
    /// Of those, never seen at `a`.
    pub lost_b_to_a: u64,
    /// Their frames at `b`.
    pub lost_b_to_a_frames: Vec<FramesReport>,
    /// Lost by size.
    pub lost_b_to_a_by_size: Vec<LostSize>,
    /// TTL drops `b` → `a`.
    pub ttl_drops_b_to_a: Vec<u8>,
    /// Seen at `b` going towards `a` while `a`'s capture was not running.
    pub outside_window_b_to_a: u64,
    /// NAT rewrites between the points (empty when none).
    pub rewritten: Vec<Rewrite>,
    /// Messages a point of this hop holds twice, come back with other addresses.
    pub reflected: Vec<ReflectionReport>,
    /// Martians (source == destination) first seen at this hop.
    pub martians: Vec<MartianReport>,
}

/// A reflection with the filter of its frames.
#[derive(Clone, Debug, Serialize)]
pub struct ReflectionReport {
    /// What came back, how, and the frames of both copies.
    #[serde(flatten)]
    pub reflection: Reflection,
    /// Selects exactly `first_frames` and `frames` in `file`.
    pub filter: Option<String>,
}

/// Martians at one point.
#[derive(Clone, Debug, Serialize)]
pub struct MartianReport {
    /// The point.
    pub file: String,
    /// Source.
    pub src: Endpoint,
    /// Destination (same address).
    pub dst: Endpoint,
    /// Packets.
    pub packets: u64,
    /// Of which handshake initiations.
    pub wg_initiations: u64,
    /// Their frames, with a filter.
    pub frames: Vec<FramesReport>,
}

/// The TTL check at one middle point.
#[derive(Clone, Debug, Serialize)]
pub struct OrderReport {
    /// The point.
    pub file: String,
    /// Messages seen there and at both neighbours whose TTLs agree with the order.
    pub consistent: u64,
    /// Messages whose TTLs contradict it.
    pub contradicting: u64,
    /// The first contradicting message at the previous point, this one, the next.
    pub example_frames: Vec<FramesReport>,
    /// Its TTLs there.
    pub example_ttls: Option<[u8; 3]>,
}

impl PathReport {
    /// The report of a path diagnosis (`captures` give each frame list its file).
    pub fn new(d: &PathDiagnosis, captures: &[CaptureSummary]) -> PathReport {
        let frames = |side: Side, file: &str, f: &[crate::capture::FrameNo]| {
            if f.is_empty() {
                return Vec::new();
            }
            let r = FrameRefs::new(side, file, f.iter().copied());
            let end = capture_of(captures, &r);
            FramesReport::from(r, end)
        };
        let hops = d
            .hops
            .iter()
            .map(|h: &HopEvidence| {
                let [ab, ba] = &h.flows;
                HopReport {
                    a: h.a.clone(),
                    b: h.b.clone(),
                    sent_a_to_b: ab.sent,
                    delivered_a_to_b: ab.delivered,
                    lost_a_to_b: ab.lost,
                    lost_a_to_b_frames: frames(Side::A, &h.a, &ab.lost_frames),
                    lost_a_to_b_by_size: ab.lost_by_size.clone(),
                    ttl_drops_a_to_b: ab.ttl_drops.clone(),
                    outside_window_a_to_b: ab.outside_window,
                    sent_b_to_a: ba.sent,
                    delivered_b_to_a: ba.delivered,
                    lost_b_to_a: ba.lost,
                    lost_b_to_a_frames: frames(Side::B, &h.b, &ba.lost_frames),
                    lost_b_to_a_by_size: ba.lost_by_size.clone(),
                    ttl_drops_b_to_a: ba.ttl_drops.clone(),
                    outside_window_b_to_a: ba.outside_window,
                    rewritten: h.rewritten.clone(),
                    reflected: h
                        .reflections
                        .iter()
                        .map(|r| {
                            let mut all: Vec<_> =
                                r.first_frames.iter().chain(&r.frames).copied().collect();
                            all.sort_unstable();
                            ReflectionReport {
                                reflection: r.clone(),
                                filter: super::filter::frames_filter(&all),
                            }
                        })
                        .collect(),
                    martians: h
                        .martians
                        .iter()
                        .map(|m| MartianReport {
                            file: m.file.clone(),
                            src: m.src,
                            dst: m.dst,
                            packets: m.packets,
                            wg_initiations: m.wg_initiations,
                            frames: frames(
                                if m.point == h.index { Side::A } else { Side::B },
                                &m.file,
                                &m.frames,
                            ),
                        })
                        .collect(),
                }
            })
            .collect();
        let order = d
            .order
            .iter()
            .map(|o| OrderReport {
                file: d.points.get(o.point).cloned().unwrap_or_default(),
                consistent: o.consistent,
                contradicting: o.contradicting,
                example_frames: o.example.map_or(Vec::new(), |ex| {
                    ex.iter()
                        .zip([Side::A, Side::B, Side::B])
                        .enumerate()
                        .flat_map(|(i, (f, side))| {
                            let name = d.points.get(o.point + i - 1).cloned().unwrap_or_default();
                            frames(side, &name, &[*f])
                        })
                        .collect()
                }),
                example_ttls: o.example_ttls,
            })
            .collect();
        PathReport {
            points: d.points.clone(),
            hops,
            order,
        }
    }

    /// `phone.pcap → router.pcap → pi.pcap`.
    pub fn route(&self) -> String {
        self.points.join(" → ")
    }
}

impl AnalyzeReport {
    /// Makes this the report of captures along a path: adds `path` and
    /// writes the headline, which names the hop of the worst finding.
    pub fn set_path(&mut self, path: PathReport) {
        self.path = Some(path);
        self.path_headline();
    }

    /// The headline of a path report: verdict, the route, and the most
    /// severe finding's summary (which names its hop).
    pub(super) fn path_headline(&mut self) {
        let Some(p) = &self.path else { return };
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let first = self
            .findings
            .first()
            .map_or(String::new(), |f| f.summary.clone());
        self.headline = match self.verdict {
            Verdict::Problems => {
                let (e, w) = (count(Severity::Error), count(Severity::Warning));
                format!(
                    "PROBLEMS: {} ({e} error{}, {w} warning{}): {first}",
                    p.route(),
                    plural(e),
                    plural(w)
                )
            }
            Verdict::Inconclusive => {
                let why = self
                    .findings
                    .iter()
                    .find(|f| f.kind.is_inconclusive())
                    .map_or(first, |f| f.summary.clone());
                format!("INCONCLUSIVE: {}: {why}", p.route())
            }
            Verdict::Healthy => format!("HEALTHY: {}: {first}", p.route()),
        };
    }

    /// The per-hop table of a path report, for a terminal `width` wide.
    pub(super) fn path_table(&self, width: u16) -> String {
        let Some(p) = &self.path else {
            return String::new();
        };
        let mut out = format!("path: {}\n", p.route());
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(width);
        t.set_header(vec![
            "hop",
            "→ arrived / lost",
            "← arrived / lost",
            "TTL drop",
        ]);
        for h in &p.hops {
            t.add_row(vec![
                format!("{} → {}", h.a, h.b),
                flow_cell(h.delivered_a_to_b, h.lost_a_to_b, &h.lost_a_to_b_by_size),
                flow_cell(h.delivered_b_to_a, h.lost_b_to_a, &h.lost_b_to_a_by_size),
                ttl_cell(h),
            ]);
        }
        let _ = writeln!(out, "{t}");
        for (k, h) in p.hops.iter().enumerate() {
            for e in events(h) {
                let _ = writeln!(out, "  hop {} ({} → {}): {e}", k + 1, h.a, h.b);
            }
        }
        out
    }

    /// The per-hop table of a path report, in Markdown.
    pub(super) fn path_markdown(&self) -> String {
        let Some(p) = &self.path else {
            return String::new();
        };
        let mut out = format!("\n### Path: {}\n\n", p.route().replace('|', "\\|"));
        out.push_str("| hop | → arrived / lost | ← arrived / lost | TTL drop | rewritten, martians |\n|---|---|---|---|---|\n");
        for h in &p.hops {
            let _ = writeln!(
                out,
                "| `{}` → `{}` | {} | {} | {} | {} |",
                h.a,
                h.b,
                flow_cell(h.delivered_a_to_b, h.lost_a_to_b, &h.lost_a_to_b_by_size),
                flow_cell(h.delivered_b_to_a, h.lost_b_to_a, &h.lost_b_to_a_by_size),
                ttl_cell(h),
                events(h).join("<br>").replace('|', "\\|")
            );
        }
        out
    }
}

fn flow_cell(delivered: u64, lost: u64, by_size: &[LostSize]) -> String {
    let sizes: Vec<String> = by_size
        .iter()
        .map(|s| format!("{}×{}", s.packets, s.size.ip))
        .collect();
    if sizes.is_empty() {
        format!("{} / {}", thousands(delivered), thousands(lost))
    } else {
        format!(
            "{} / {} (IP {})",
            thousands(delivered),
            thousands(lost),
            sizes.join(", ")
        )
    }
}

fn ttl_cell(h: &HopReport) -> String {
    let drops: Vec<String> = h
        .ttl_drops_a_to_b
        .iter()
        .chain(&h.ttl_drops_b_to_a)
        .map(|d| {
            if *d == 0 {
                "0".to_string()
            } else {
                format!("−{d}")
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    drops.join(",")
}

/// What a hop rewrote, reflected and where martians appear, one line each.
fn events(h: &HopReport) -> Vec<String> {
    let mut v = Vec::new();
    for r in &h.rewritten {
        let kind = match (r.snat, r.dnat) {
            (true, true) => "SNAT+DNAT",
            (true, false) => "SNAT",
            (false, true) => "DNAT",
            (false, false) => "?",
        };
        let arrow = match r.heading {
            Heading::AToB => "→",
            Heading::BToA => "←",
        };
        v.push(format!(
            "{arrow} {kind} {} → {} became {} → {}",
            r.before_src, r.before_dst, r.after_src, r.after_dst
        ));
    }
    for r in &h.reflected {
        let r = &r.reflection;
        v.push(format!(
            "reflected at {}: {} → {} came back as {} → {}",
            r.file, r.before_src, r.before_dst, r.after_src, r.after_dst
        ));
    }
    for m in &h.martians {
        v.push(format!(
            "martian at {}: {} → {} ({} packets)",
            m.file, m.src, m.dst, m.packets
        ));
    }
    v
}

const WIDTH: f64 = 960.0;
const MARGIN: f64 = 90.0;
const ROW: f64 = 30.0;

/// The ladder diagram: one column per capture point, in path order; per hop
/// and way an arrow of what arrived; each group of lost packets (by size) an
/// arrow from the end it came from to the hop where it vanished, ending in a
/// cross; rewrites, reflections and martians marked where they happen.
pub(super) fn ladder_svg(o: &mut String, p: &PathReport, esc: &dyn Fn(&str) -> String) {
    let n = p.points.len().max(2);
    let step = (WIDTH - 2.0 * MARGIN) / (n - 1) as f64;
    let x = |k: usize| MARGIN + k as f64 * step;
    // Rows: the arrived arrows each way, then one per lost group, then the marks.
    let mut rows: Vec<String> = Vec::new();
    let mut y = 60.0;
    for heading in [Heading::AToB, Heading::BToA] {
        let mut row = String::new();
        for (k, h) in p.hops.iter().enumerate() {
            let (sent, delivered) = match heading {
                Heading::AToB => (h.sent_a_to_b, h.delivered_a_to_b),
                Heading::BToA => (h.sent_b_to_a, h.delivered_b_to_a),
            };
            if sent == 0 {
                continue;
            }
            let (x0, x1) = match heading {
                Heading::AToB => (x(k) + 4.0, x(k + 1) - 4.0),
                Heading::BToA => (x(k + 1) - 4.0, x(k) + 4.0),
            };
            let title = format!(
                "{} of {} WireGuard packets seen at {} arrived at {}",
                delivered,
                sent,
                if heading == Heading::AToB { &h.a } else { &h.b },
                if heading == Heading::AToB { &h.b } else { &h.a },
            );
            let _ = write!(
                row,
                "<g class=\"arrived\" id=\"arrived-{}-{k}\"><title>{}</title><line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" marker-end=\"url(#arrow)\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} arrived</text></g>",
                heading_name(heading),
                esc(&title),
                (x0 + x1) / 2.0,
                y - 6.0,
                thousands(delivered)
            );
        }
        if !row.is_empty() {
            rows.push(row);
            y += ROW;
        }
    }
    for (k, h) in p.hops.iter().enumerate() {
        for (heading, lost) in [
            (Heading::AToB, &h.lost_a_to_b_by_size),
            (Heading::BToA, &h.lost_b_to_a_by_size),
        ] {
            for (g, s) in lost.iter().enumerate() {
                let (x0, end) = match heading {
                    Heading::AToB => (x(0), (x(k) + x(k + 1)) / 2.0),
                    Heading::BToA => (x(n - 1), (x(k) + x(k + 1)) / 2.0),
                };
                let (from, to) = match heading {
                    Heading::AToB => (&h.a, &h.b),
                    Heading::BToA => (&h.b, &h.a),
                };
                let title = format!(
                    "{} packets of {} bytes (IP; UDP {}) seen at {from}, never at {to}",
                    s.packets, s.size.ip, s.size.udp
                );
                let _ = write!(
                    o_row(&mut rows),
                    "<g class=\"lost\" id=\"lost-{}-{k}-{g}\" data-hop=\"{k}\" data-ip=\"{}\" data-n=\"{}\"><title>{}</title><line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{end:.1}\" y2=\"{y:.1}\"/><path class=\"cross\" d=\"M{:.1} {:.1}l12 12m0 -12l-12 12\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} × {} B lost</text></g>",
                    heading_name(heading),
                    s.size.ip,
                    s.packets,
                    esc(&title),
                    end - 6.0,
                    y - 6.0,
                    (x0 + end) / 2.0,
                    y - 6.0,
                    thousands(s.packets),
                    s.size.ip
                );
                y += ROW;
            }
        }
    }
    for (k, h) in p.hops.iter().enumerate() {
        for (i, r) in h.rewritten.iter().enumerate() {
            let kind = match (r.snat, r.dnat) {
                (true, true) => "SNAT+DNAT",
                (true, false) => "SNAT",
                (false, true) => "DNAT",
                (false, false) => "NAT",
            };
            let what = if r.snat {
                format!("{kind} {} → {}", r.before_src, r.after_src)
            } else {
                format!("{kind} {} → {}", r.before_dst, r.after_dst)
            };
            let title = format!(
                "{} → {} became {} → {} between {} and {} ({} packets)",
                r.before_src, r.before_dst, r.after_src, r.after_dst, h.a, h.b, r.packets
            );
            let _ = write!(
                o_row(&mut rows),
                "<g class=\"rewrite\" id=\"rewrite-{k}-{i}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\" rx=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
                esc(&title),
                x(k) + 6.0,
                y - 13.0,
                step - 12.0,
                (x(k) + x(k + 1)) / 2.0,
                y,
                esc(&what)
            );
            y += ROW;
        }
        for (i, r) in h.reflected.iter().enumerate() {
            let r = &r.reflection;
            let cx = x(r.point);
            let title = format!(
                "{} messages pass {} as {} → {} and come back as {} → {}",
                r.packets, r.file, r.before_src, r.before_dst, r.after_src, r.after_dst
            );
            let _ = write!(
                o_row(&mut rows),
                "<g class=\"reflection\" id=\"reflection-{k}-{i}\"><title>{}</title><path d=\"M{cx:.1} {:.1}h40a8 8 0 0 1 0 16h-40\" marker-end=\"url(#arrow)\"/><text x=\"{:.1}\" y=\"{:.1}\">came back as {} → {}</text></g>",
                esc(&title),
                y - 12.0,
                cx + 54.0,
                y,
                r.after_src,
                r.after_dst
            );
            y += ROW;
        }
        for (i, m) in h.martians.iter().enumerate() {
            let k2 = p.points.iter().position(|q| *q == m.file).unwrap_or(k);
            let title = format!(
                "{} WireGuard packets with source == destination ({} → {}) first seen at {}",
                m.packets, m.src, m.dst, m.file
            );
            let _ = write!(
                o_row(&mut rows),
                "<g class=\"martian\" id=\"martian-{k}-{i}\"><title>{}</title><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"6\"/><text x=\"{:.1}\" y=\"{:.1}\">martian: {} → {}</text></g>",
                esc(&title),
                x(k2),
                y - 4.0,
                x(k2) + 10.0,
                y,
                m.src,
                m.dst
            );
            y += ROW;
        }
    }
    let h = y + 10.0;
    let _ = write!(
        o,
        "<svg id=\"ladder\" class=\"ladder\" viewBox=\"0 0 {WIDTH} {h:.1}\" width=\"{WIDTH}\" height=\"{h:.1}\" role=\"img\" aria-label=\"What each hop between the capture points delivered, lost and rewrote\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\"/></marker></defs>"
    );
    for (k, name) in p.points.iter().enumerate() {
        let _ = write!(
            o,
            "<g class=\"point\" id=\"point-{k}\"><text x=\"{:.1}\" y=\"20\" text-anchor=\"middle\">{}</text><line x1=\"{:.1}\" y1=\"28\" x2=\"{:.1}\" y2=\"{:.1}\"/></g>",
            x(k),
            esc(name),
            x(k),
            x(k),
            h - 6.0
        );
    }
    for r in rows {
        o.push_str(&r);
    }
    o.push_str("</svg>\n");
}

/// A fresh row's buffer.
fn o_row(rows: &mut Vec<String>) -> &mut String {
    rows.push(String::new());
    let last = rows.len() - 1;
    &mut rows[last]
}

fn heading_name(h: Heading) -> &'static str {
    match h {
        Heading::AToB => "a-to-b",
        Heading::BToA => "b-to-a",
    }
}
