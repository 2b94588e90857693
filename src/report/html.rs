//! The `analyze` report as one self-contained HTML file: verdict and fixes,
//! findings, then per direction a size-over-time scatter, a delivered/lost
//! histogram and a timeline (inline SVG, written here: every element gets a
//! stable id or class and a tooltip, which plotting crates' SVG backends do
//! not offer), then the evidence tables. No scripts, no external resources.
//!
//! Pure: a report in, a `String` out.

use super::analyze::{
    frames_text, size_rows, AnalyzeReport, DirectionReport, ReportFinding, Verdict,
};
use super::plots::{DirectionPlot, EventKind, PlotData, ScatterCell, TIME_BINS};
use super::{thousands, words};
use crate::diagnose::{AffectedFlow, FindingKind, Severity};
use std::fmt::Write as _;

/// Scatters with more cells than this are drawn as a few density paths
/// instead of one element (with a tooltip) per cell.
const DETAILED_CELLS: usize = 2000;
/// Above this many distinct sizes, the scatter merges sizes into bands.
const MAX_ROWS: usize = 120;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 28.0;

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1000px;padding:16px 24px;color:#1b1b1b;background:#fff;line-height:1.45}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin:1.2em 0 .3em}
.verdict{padding:10px 16px;border-radius:6px}.verdict.problems{background:#fde8e6;border-left:6px solid #c62828}.verdict.healthy{background:#e6f4ea;border-left:6px solid #2e7d32}.verdict.inconclusive{background:#eef1f5;border-left:6px solid #546e7a}
.fixes li{margin:.4em 0}.fix{background:#fff8e1;border-left:4px solid #f9a825;padding:6px 10px;list-style:none}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.sev-error{color:#b71c1c;font-weight:600}.sev-warning{color:#e65100;font-weight:600}.sev-info{color:#555}
code{background:#f3f3f3;padding:1px 4px;border-radius:3px;font-size:.92em;overflow-wrap:anywhere}
td code.kind{white-space:nowrap}
.partial{background:#fff3e0;padding:6px 10px}
svg{display:block;max-width:100%;height:auto;font-size:12px;font-family:inherit}
svg .axis line,svg .axis path{stroke:#888}svg .grid line{stroke:#eee}svg text{fill:#333}
svg .delivered{fill:#1f77b4}svg .lost{fill:#d62728}svg circle.delivered{fill-opacity:.75}svg rect.lost{stroke:#7f0000;stroke-width:.6}
svg .threshold{stroke:#7b1fa2;stroke-width:1.5;stroke-dasharray:6 4}svg text.threshold-label{fill:#7b1fa2}
svg .ev.initiation{fill:#1f77b4}svg .ev.response{fill:#2ca02c}svg .ev.unanswered{fill:#d62728;fill-opacity:.8}svg .ev.icmp{fill:#ff7f0e}svg .ev.martian{fill:#9467bd}
svg .ev.has-lost{stroke:#d62728;stroke-width:2}
svg.ladder .point line{stroke:#888}svg.ladder .arrived line,svg.ladder .reflection path{stroke:#1f77b4;stroke-width:2;fill:none}svg.ladder marker path{fill:#555}svg.ladder .lost line,svg.ladder .lost .cross{stroke:#d62728;stroke-width:2.5}svg.ladder .rewrite rect{fill:#fff3e0;stroke:#ef6c00}svg.ladder .martian circle{fill:#9467bd}
.muted{color:#666}footer{margin-top:2em;color:#777;font-size:.85em}
";

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl AnalyzeReport {
    /// One self-contained HTML page (inline CSS and SVG, no scripts or links).
    ///
    /// Plots need [`AnalyzeReport::plots`] (see
    /// [`crate::pipeline::Options`]); without it the page has the
    /// findings and tables only.
    pub fn to_html(&self) -> String {
        let mut o = String::with_capacity(64 * 1024);
        let (verdict, fixes) = self.headline();
        let class = match self.verdict {
            Verdict::Healthy => "healthy",
            Verdict::Problems => "problems",
            Verdict::Inconclusive => "inconclusive",
        };
        let _ = write!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>wgtrace: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            esc(&verdict)
        );
        let _ = writeln!(
            o,
            "<header id=\"verdict\" class=\"verdict {class}\"><h1>{}</h1>",
            esc(&verdict)
        );
        if let Some(l) = self.focus_line() {
            let _ = writeln!(o, "<p id=\"focus\" class=\"focus\">{}</p>", esc(&l));
        }
        let problems: Vec<_> = self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .collect();
        if !problems.is_empty() {
            o.push_str("<ul class=\"problems\">\n");
            for f in problems {
                let _ = writeln!(o, "<li>{}</li>", esc(&f.summary));
            }
            o.push_str("</ul>\n");
        }
        o.push_str("</header>\n");
        if !fixes.is_empty() {
            o.push_str("<section id=\"fixes\" class=\"fixes\">\n<h2>Fix</h2>\n<ul>\n");
            for fix in &fixes {
                let _ = writeln!(o, "<li class=\"fix\">{}</li>", esc(fix));
            }
            o.push_str("</ul>\n</section>\n");
        }
        for c in &self.captures {
            if let Some(d) = &c.damage {
                let _ = writeln!(
                    o,
                    "<p class=\"partial\"><strong>Partial:</strong> {}: {} (the report covers the packets before it)</p>",
                    esc(&c.file),
                    esc(d)
                );
            }
        }
        if let Some(p) = &self.path {
            let _ = writeln!(
                o,
                "<section id=\"path\">\n<h2>Along the path: {}</h2>",
                esc(&p.route())
            );
            super::path::ladder_svg(&mut o, p, &esc);
            o.push_str("</section>\n");
        }
        self.findings_html(&mut o);
        if let Some(p) = &self.plots {
            for (i, dp) in p.directions.iter().enumerate() {
                // Plots come per tunnel and direction, in the report's order.
                let dr = self
                    .directions
                    .get(i)
                    .filter(|d| d.from == dp.from && d.to == dp.to);
                let label = dr.map_or_else(
                    || format!("{} → {}", dp.from, dp.to),
                    |d| self.direction_label(d),
                );
                let affected = self.affected_flows(dp, dr);
                direction_html(&mut o, i, p, dp, dr, &label, &affected);
            }
        } else if !self.directions.is_empty() {
            o.push_str("<p class=\"muted\">Plots were not computed for this report.</p>\n");
        }
        self.evidence_html(&mut o);
        let _ = writeln!(
            o,
            "<footer>wgtrace {} · schema {}</footer>\n</body>\n</html>",
            esc(self.wgtrace_version),
            esc(self.schema)
        );
        o
    }

    /// The inner flows whose packets this direction lost, from its
    /// `affected_flows` findings.
    fn affected_flows(
        &self,
        dp: &DirectionPlot,
        dr: Option<&DirectionReport>,
    ) -> Vec<(&AffectedFlow, &ReportFinding)> {
        self.findings
            .iter()
            .filter(|f| dr.is_none_or(|d| f.tunnel.is_none_or(|t| t == d.tunnel)))
            .filter_map(|f| match &f.kind {
                FindingKind::AffectedFlows {
                    direction, flows, ..
                } if direction.from == dp.from && direction.to == dp.to => Some((flows, f)),
                _ => None,
            })
            .flat_map(|(flows, f)| flows.iter().map(move |x| (x, f)))
            .collect()
    }

    fn findings_html(&self, o: &mut String) {
        o.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
        if self.anonymized {
            let _ = writeln!(
                o,
                "<p class=\"note anonymized\"><strong>Note:</strong> {}</p>",
                esc(super::analyze::ANONYMIZED_NOTE)
            );
        }
        if self.findings.is_empty() {
            o.push_str("<p class=\"muted\">No findings.</p>\n</section>\n");
            return;
        }
        o.push_str(
            "<table class=\"findings\">\n<tr><th>severity</th><th>finding</th><th>summary</th><th>frames</th><th>Wireshark filter</th></tr>\n",
        );
        for f in &self.findings {
            let sev = f.severity.name();
            let mut frames = String::new();
            for fr in &f.frames {
                if !frames.is_empty() {
                    frames.push_str("<br>");
                }
                let _ = write!(
                    frames,
                    "<code>{}</code>: {}",
                    esc(&fr.file),
                    esc(&frames_text(fr))
                );
            }
            let filter = self
                .filters(f)
                .into_iter()
                .map(|(file, x)| match file {
                    Some(file) => format!("<code>{}</code>: <code>{}</code>", esc(file), esc(x)),
                    None => format!("<code>{}</code>", esc(x)),
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = writeln!(
                o,
                "<tr class=\"finding {sev}\"><td class=\"sev-{sev}\">{sev}</td><td><code class=\"kind\">{}</code></td><td>{}</td><td>{frames}</td><td>{filter}</td></tr>",
                esc(f.kind.name()),
                esc(&f.summary)
            );
        }
        o.push_str("</table>\n</section>\n");
    }

    fn evidence_html(&self, o: &mut String) {
        o.push_str("<section id=\"evidence\">\n<h2>Evidence</h2>\n");
        o.push_str("<h3>Captures</h3>\n<table id=\"captures\">\n<tr><th>file</th><th>packets</th><th>damage</th></tr>\n");
        for c in &self.captures {
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&c.file),
                thousands(c.packets),
                esc(c.damage.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</table>\n");
        if !self.directions.is_empty() {
            o.push_str("<h3>Directions</h3>\n<table id=\"directions\">\n<tr><th>direction</th><th>sent</th><th>delivered</th><th>missing</th><th>outside window</th><th>hops</th></tr>\n");
            for d in &self.directions {
                let hops: Vec<String> = d.hops.iter().map(u8::to_string).collect();
                let _ = writeln!(
                    o,
                    "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(&self.direction_label(d)),
                    thousands(d.sent),
                    thousands(d.delivered),
                    thousands(d.missing),
                    thousands(d.outside_window),
                    esc(&hops.join(","))
                );
            }
            o.push_str("</table>\n");
        }
        if let Some(c) = &self.clock {
            let ms = |d: Option<f64>| d.map_or("n/a".to_string(), |d| format!("{d:.3} ms"));
            let _ = writeln!(
                o,
                "<h3>Clock</h3>\n<table id=\"clock\">\n<tr><th>offset (second − first)</th><th>delay first → second</th><th>delay second → first</th><th>bracketed</th><th>matched packets</th></tr>\n<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n</table>",
                super::signed_duration(c.offset_ns),
                ms(c.delay_ab_ms),
                ms(c.delay_ba_ms),
                if c.bracketed { "yes" } else { "no (assumes zero delay)" },
                thousands(c.samples)
            );
        }
        if let Some(w) = &self.window {
            let _ = writeln!(
                o,
                "<h3>Window</h3>\n<table id=\"window\">\n<tr><th>start (UTC)</th><th>seconds</th><th>overlap</th></tr>\n<tr><td>{}</td><td class=\"num\">{:.3}</td><td>{}</td></tr>\n</table>",
                esc(&w.start),
                w.seconds,
                if w.overlap { "yes" } else { "no" }
            );
        }
        if !self.nat.is_empty() {
            o.push_str("<h3>NAT</h3>\n<table id=\"nat\">\n<tr><th>sent as</th><th>received as</th><th>rewritten</th><th>packets</th></tr>\n");
            for m in &self.nat {
                let _ = writeln!(
                    o,
                    "<tr><td><code>{} → {}</code></td><td><code>{} → {}</code></td><td>{}</td><td class=\"num\">{}</td></tr>",
                    esc(&m.sent_src.to_string()),
                    esc(&m.sent_dst.to_string()),
                    esc(&m.recv_src.to_string()),
                    esc(&m.recv_dst.to_string()),
                    if m.rewritten() { "yes" } else { "no" },
                    thousands(m.packets)
                );
            }
            o.push_str("</table>\n");
        }
        for line in self.copies_lines() {
            let _ = writeln!(o, "<p class=\"copies\">{}</p>", esc(&line));
        }
        o.push_str("</section>\n");
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`.
fn tick_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    m * mag
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

/// Horizontal time axis (seconds) with grid lines, for a plot `h` tall at `top`.
fn time_axis(o: &mut String, span_s: f64, pw: f64, top: f64, h: f64) {
    let step = tick_step(span_s, 8.0);
    o.push_str("<g class=\"axis x\">");
    let _ = write!(
        o,
        "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\"/>",
        y = top + h,
        x2 = LEFT + pw
    );
    let mut v = 0.0;
    while v <= span_s + step * 1e-9 {
        let x = LEFT + v / span_s.max(1e-9) * pw;
        let _ = write!(
            o,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke-opacity=\".15\"/><text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text>",
            fmt_tick(v, step),
            y = top + h + 5.0,
            ty = top + h + 18.0
        );
        v += step;
    }
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">seconds since the common window started</text></g>",
        LEFT + pw / 2.0,
        top + h + 34.0
    );
}

fn direction_html(
    o: &mut String,
    i: usize,
    p: &PlotData,
    dp: &DirectionPlot,
    dr: Option<&DirectionReport>,
    label: &str,
    affected: &[(&AffectedFlow, &ReportFinding)],
) {
    let _ = writeln!(
        o,
        "<section id=\"direction-{i}\" class=\"direction\">\n<h2>{}</h2>",
        esc(label)
    );
    if let Some(d) = dr {
        let _ = writeln!(
            o,
            "<p class=\"stats\">{} packets sent while both captures ran: {} delivered, {} lost.</p>",
            thousands(d.sent),
            thousands(d.delivered),
            thousands(d.missing)
        );
    }
    o.push_str("<h3>Packet sizes over time</h3>\n");
    scatter_svg(o, i, p, dp);
    o.push_str("<h3>Delivered vs lost by size</h3>\n");
    match dr {
        Some(d) => histogram_svg(o, i, d),
        None => o.push_str("<p class=\"muted\">No packets.</p>\n"),
    }
    affected_html(o, i, affected);
    o.push_str("<h3>Timeline</h3>\n");
    timeline_svg(o, i, p, dp);
    o.push_str("</section>\n");
}

/// The inner flows behind a direction's losses, beside its loss plot: what
/// the user saw fail, with the sender's frames of the lost inner packets.
fn affected_html(o: &mut String, i: usize, affected: &[(&AffectedFlow, &ReportFinding)]) {
    if affected.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h3>Inner flows that lost packets</h3>\n<table id=\"affected-{i}\" class=\"affected\">\n\
         <tr><th>flow</th><th>lost</th><th>sent</th><th>inner IP sizes lost</th><th>first lost frame</th></tr>"
    );
    for (f, finding) in affected {
        let sizes: Vec<String> = f
            .lost_sizes
            .iter()
            .map(|s| format!("{} ×{}", s.ip, s.packets))
            .collect();
        let file = finding.frames.first().map_or("", |fr| fr.file.as_str());
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td><code>{}</code>: {}</td></tr>",
            esc(&words::inner::flow_label(f.protocol, f)),
            f.lost,
            f.sent,
            esc(&sizes.join(", ")),
            esc(file),
            f.first_lost_frame
        );
    }
    o.push_str("</table>\n");
    if let Some((_, finding)) = affected.first() {
        for fr in &finding.frames {
            if let Some(filter) = &fr.filter {
                let _ = writeln!(
                    o,
                    "<p class=\"filter\">Lost inner packets in <code>{}</code>: <code>{}</code></p>",
                    esc(&fr.file),
                    esc(filter)
                );
            }
        }
    }
}

/// UDP payload size → rows: exact sizes, or bands of `band` bytes when there are many.
fn band_of(cells: &[ScatterCell]) -> u16 {
    let mut sizes: Vec<u16> = cells.iter().map(|c| c.udp_len).collect();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.len() <= MAX_ROWS {
        1
    } else {
        let max = sizes.last().copied().unwrap_or(1);
        (max / MAX_ROWS as u16).max(1)
    }
}

fn scatter_svg(o: &mut String, i: usize, p: &PlotData, dp: &DirectionPlot) {
    let pw = WIDTH - LEFT - RIGHT;
    let ph = 300.0;
    let h = TOP + ph + 44.0;
    let span_s = p.span_ns as f64 / 1e9;
    let max_udp = dp.scatter.iter().map(|c| c.udp_len).max().unwrap_or(0);
    let ymax = (f64::from(max_udp.max(1452)) / 250.0).ceil() * 250.0 + 50.0;
    let y = |udp: f64| TOP + ph - udp / ymax * ph;
    let bin_w = pw / f64::from(TIME_BINS);
    let x = |bin: u16| LEFT + (f64::from(bin) + 0.5) * bin_w;
    let _ = write!(
        o,
        "<svg id=\"scatter-{i}\" class=\"scatter\" viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" role=\"img\" aria-label=\"UDP payload size of each packet sent from {} to {} over time, delivered and lost\">",
        esc(&dp.from),
        esc(&dp.to)
    );
    // Size axis.
    o.push_str("<g class=\"axis y\">");
    let _ = write!(
        o,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\"/>",
        TOP + ph
    );
    let mut v = 0.0;
    while v <= ymax {
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke-opacity=\".15\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            LEFT - 5.0,
            LEFT + pw,
            LEFT - 8.0,
            yy + 4.0
        );
        v += 250.0;
    }
    let _ = write!(
        o,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">UDP payload (bytes)</text></g>",
        TOP + ph / 2.0
    );
    time_axis(o, span_s, pw, TOP, ph);
    // Legend.
    let lx = LEFT + pw - 300.0;
    let _ = write!(
        o,
        "<g class=\"legend\"><circle class=\"delivered\" cx=\"{:.1}\" cy=\"14\" r=\"4\"/><text x=\"{:.1}\" y=\"18\">delivered</text><rect class=\"lost\" x=\"{:.1}\" y=\"10\" width=\"8\" height=\"8\"/><text x=\"{:.1}\" y=\"18\">lost</text>{}</g>",
        lx,
        lx + 8.0,
        lx + 80.0,
        lx + 92.0,
        if dp.threshold.is_some() {
            format!(
                "<line class=\"threshold\" x1=\"{:.1}\" y1=\"14\" x2=\"{:.1}\" y2=\"14\"/><text x=\"{:.1}\" y=\"18\">blackhole threshold</text>",
                lx + 140.0,
                lx + 170.0,
                lx + 175.0
            )
        } else {
            String::new()
        }
    );
    if dp.scatter.is_empty() {
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"empty\">no packets sent in this direction while both captures ran</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    } else if dp.scatter.len() <= DETAILED_CELLS {
        let t = |c: &ScatterCell| {
            let t0 = f64::from(c.bin) * p.bin_ns as f64 / 1e9;
            let t1 = t0 + p.bin_ns as f64 / 1e9;
            format!(
                "{} B UDP ({} B IP), {t0:.3}-{t1:.3} s: {} delivered, {} lost",
                c.udp_len, c.ip_len, c.delivered, c.lost
            )
        };
        o.push_str("<g class=\"points delivered\">");
        for c in dp.scatter.iter().filter(|c| c.delivered > 0) {
            let _ = write!(
                o,
                "<circle class=\"delivered\" data-udp=\"{}\" data-n=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>{}</title></circle>",
                c.udp_len,
                c.delivered,
                x(c.bin),
                y(f64::from(c.udp_len)),
                t(c)
            );
        }
        o.push_str("</g><g class=\"points lost\">");
        for c in dp.scatter.iter().filter(|c| c.lost > 0) {
            let _ = write!(
                o,
                "<rect class=\"lost\" data-udp=\"{}\" data-n=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\"><title>{}</title></rect>",
                c.udp_len,
                c.lost,
                x(c.bin) - 4.0,
                y(f64::from(c.udp_len)) - 4.0,
                t(c)
            );
        }
        o.push_str("</g>");
    } else {
        density_paths(o, dp, band_of(&dp.scatter), bin_w, &x, &y);
    }
    if let Some(th) = dp.threshold {
        let at = match th.largest_delivered {
            Some(d) => (f64::from(d) + f64::from(th.smallest_lost)) / 2.0,
            None => f64::from(th.smallest_lost) - 0.5,
        };
        let yy = y(at);
        let label = match th.largest_delivered {
            Some(d) => format!(
                "blackhole: ≤ {d} B delivered, ≥ {} B lost → tunnel MTU {}",
                th.smallest_lost, th.tunnel_mtu
            ),
            None => format!(
                "blackhole: ≥ {} B lost → tunnel MTU {}",
                th.smallest_lost, th.tunnel_mtu
            ),
        };
        let _ = write!(
            o,
            "<line id=\"threshold-{i}\" class=\"threshold\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"><title>{}</title></line><text class=\"threshold-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT + pw,
            esc(&label),
            LEFT + 6.0,
            yy + 16.0,
            esc(&label)
        );
    }
    o.push_str("</svg>\n");
}

/// Many cells: one path per (outcome, density level), cells as small rectangles.
fn density_paths(
    o: &mut String,
    dp: &DirectionPlot,
    band: u16,
    bin_w: f64,
    x: &dyn Fn(u16) -> f64,
    y: &dyn Fn(f64) -> f64,
) {
    use std::collections::BTreeMap;
    // Merge sizes into bands.
    let mut merged: BTreeMap<(u16, u16), (u64, u64)> = BTreeMap::new();
    for c in &dp.scatter {
        let e = merged.entry((c.bin, c.udp_len / band * band)).or_default();
        e.0 += c.delivered;
        e.1 += c.lost;
    }
    let w = bin_w.max(1.0);
    let hgt = 4.0;
    for (class, pick) in [
        (
            "delivered",
            (|v: &(u64, u64)| v.0) as fn(&(u64, u64)) -> u64,
        ),
        ("lost", |v: &(u64, u64)| v.1),
    ] {
        let max = merged.values().map(pick).max().unwrap_or(0);
        if max == 0 {
            continue;
        }
        let mut paths = [String::new(), String::new(), String::new(), String::new()];
        for ((bin, udp), v) in &merged {
            let n = pick(v);
            if n == 0 {
                continue;
            }
            let level = ((4.0 * (1.0 + n as f64).ln() / (1.0 + max as f64).ln()).ceil() as usize)
                .clamp(1, 4)
                - 1;
            let mid = f64::from(*udp) + f64::from(band) / 2.0 - 0.5;
            if let Some(path) = paths.get_mut(level) {
                let _ = write!(
                    path,
                    "M{:.1} {:.1}h{w:.1}v{hgt}h-{w:.1}z",
                    x(*bin) - w / 2.0,
                    y(mid) - hgt / 2.0
                );
            }
        }
        let _ = write!(
            o,
            "<g class=\"density {class}\" data-band=\"{band}\"><title>{class} packets: darker = more (up to {} per cell)</title>",
            thousands(max)
        );
        for (l, d) in paths.iter().enumerate() {
            if !d.is_empty() {
                let _ = write!(
                    o,
                    "<path class=\"{class} level-{}\" fill-opacity=\"{:.2}\" d=\"{d}\"/>",
                    l + 1,
                    0.25 * (l + 1) as f64
                );
            }
        }
        o.push_str("</g>");
    }
}

fn histogram_svg(o: &mut String, i: usize, d: &DirectionReport) {
    let rows = size_rows(d);
    let row_h = 22.0;
    let label_w = 130.0;
    let num_w = 150.0;
    let h = TOP + rows.len().max(1) as f64 * row_h + 10.0;
    let bar_max = WIDTH - label_w - num_w - 20.0;
    let _ = write!(
        o,
        "<svg id=\"histogram-{i}\" class=\"histogram\" viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" role=\"img\" aria-label=\"Delivered and lost packets by UDP payload size from {} to {}\">",
        esc(&d.from),
        esc(&d.to)
    );
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"16\" text-anchor=\"end\">UDP (IP) bytes</text><text x=\"{:.1}\" y=\"16\">delivered / lost</text><rect class=\"delivered\" x=\"{:.1}\" y=\"7\" width=\"10\" height=\"10\"/><text x=\"{:.1}\" y=\"16\">delivered</text><rect class=\"lost\" x=\"{:.1}\" y=\"7\" width=\"10\" height=\"10\"/><text x=\"{:.1}\" y=\"16\">lost</text>",
        label_w - 8.0,
        label_w + bar_max + 10.0,
        label_w,
        label_w + 14.0,
        label_w + 90.0,
        label_w + 104.0
    );
    if rows.is_empty() {
        let _ = write!(
            o,
            "<text x=\"{label_w}\" y=\"{:.1}\" class=\"empty\">no packets</text>",
            TOP + 14.0
        );
    }
    let max = rows.iter().map(|r| r.1 + r.2).max().unwrap_or(1).max(1) as f64;
    for (k, (label, del, lost)) in rows.iter().enumerate() {
        let yy = TOP + k as f64 * row_h;
        let wd = *del as f64 / max * bar_max;
        let wl = *lost as f64 / max * bar_max;
        // Bars never vanish: one packet is at least one pixel.
        let wd = if *del > 0 { wd.max(1.5) } else { 0.0 };
        let wl = if *lost > 0 { wl.max(1.5) } else { 0.0 };
        let title = format!("{label} bytes: {del} delivered, {lost} lost");
        let _ = write!(
            o,
            "<g class=\"row\" data-size=\"{}\"><title>{}</title><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            esc(label),
            esc(&title),
            label_w - 8.0,
            yy + 15.0,
            esc(label)
        );
        if *del > 0 {
            let _ = write!(
                o,
                "<rect class=\"bar delivered\" x=\"{label_w}\" y=\"{:.1}\" width=\"{wd:.1}\" height=\"{:.1}\"/>",
                yy + 3.0,
                row_h - 6.0
            );
        }
        if *lost > 0 {
            let _ = write!(
                o,
                "<rect class=\"bar lost\" x=\"{:.1}\" y=\"{:.1}\" width=\"{wl:.1}\" height=\"{:.1}\"/>",
                label_w + wd,
                yy + 3.0,
                row_h - 6.0
            );
        }
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\">{} / {}</text></g>",
            label_w + bar_max + 10.0,
            yy + 15.0,
            thousands(*del),
            thousands(*lost)
        );
    }
    o.push_str("</svg>\n");
}

fn timeline_svg(o: &mut String, i: usize, p: &PlotData, dp: &DirectionPlot) {
    let lane_h = 26.0;
    let label_w = 170.0;
    let left = label_w;
    let pw = WIDTH - left - RIGHT;
    let lanes = EventKind::ALL.len() as f64;
    let top = 10.0;
    let h = top + lanes * lane_h + 44.0;
    let span = p.span_ns.max(1) as f64;
    let x = |t: i64| left + (t as f64 / span).clamp(0.0, 1.0) * pw;
    let _ = write!(
        o,
        "<svg id=\"timeline-{i}\" class=\"timeline\" viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" role=\"img\" aria-label=\"Handshakes, unanswered initiations, ICMP messages and martians from {} to {} over time\">",
        esc(&dp.from),
        esc(&dp.to)
    );
    for (k, kind) in EventKind::ALL.iter().enumerate() {
        let yy = top + k as f64 * lane_h;
        let _ = write!(
            o,
            "<g class=\"lane {}\"><line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></g>",
            kind.name(),
            yy + lane_h / 2.0,
            left + pw,
            yy + lane_h / 2.0,
            left - 8.0,
            yy + lane_h / 2.0 + 4.0,
            kind.label()
        );
    }
    // The time axis, shifted to this plot's left edge.
    let mut axis = String::new();
    time_axis(&mut axis, span / 1e9, pw, top, lanes * lane_h);
    let _ = write!(
        o,
        "<g transform=\"translate({:.1} 0)\">{axis}</g>",
        left - LEFT
    );
    for e in &dp.events {
        let Some(k) = EventKind::ALL.iter().position(|k| *k == e.kind) else {
            continue;
        };
        let cy = top + k as f64 * lane_h + lane_h / 2.0;
        let outside = e.end_ns < 0 || e.t_ns > p.span_ns;
        let title = format!(
            "{}: {} at {:.3} s{}{} (seen in {}{}){}{}",
            e.kind.label(),
            e.count,
            e.t_ns as f64 / 1e9,
            if e.end_ns > e.t_ns {
                format!("-{:.3} s", e.end_ns as f64 / 1e9)
            } else {
                String::new()
            },
            if e.lost > 0 {
                format!(", {} lost", e.lost)
            } else {
                String::new()
            },
            e.seen_in,
            e.frame.map_or(String::new(), |f| format!(", frame {f}")),
            if e.detail.is_empty() {
                String::new()
            } else {
                format!("; {}", e.detail)
            },
            if outside {
                " (outside the common window)"
            } else {
                ""
            }
        );
        let lost = if e.lost > 0 { " has-lost" } else { "" };
        let (x0, x1) = (x(e.t_ns), x(e.end_ns));
        match e.kind {
            EventKind::Unanswered => {
                let _ = write!(
                    o,
                    "<rect class=\"ev {}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\"><title>{}</title></rect>",
                    e.kind.name(),
                    x0 - 2.0,
                    cy - 6.0,
                    (x1 - x0).max(0.0) + 4.0,
                    esc(&title)
                );
            }
            EventKind::Icmp => {
                let _ = write!(
                    o,
                    "<path class=\"ev {}\" d=\"M{x0:.1} {:.1}l6 6l-6 6l-6 -6z\"><title>{}</title></path>",
                    e.kind.name(),
                    cy - 6.0,
                    esc(&title)
                );
            }
            _ => {
                let _ = write!(
                    o,
                    "<circle class=\"ev {}{lost}\" cx=\"{x0:.1}\" cy=\"{cy:.1}\" r=\"5\"><title>{}</title></circle>",
                    e.kind.name(),
                    esc(&title)
                );
            }
        }
        if e.count > 1 && e.kind != EventKind::Unanswered {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
                x0 + 6.0,
                cy - 5.0,
                e.count
            );
        } else if e.kind == EventKind::Unanswered {
            // Inside a long bar, else beside it on the side with room.
            let (tx, anchor, fill) = if x1 - x0 > 90.0 {
                (x1 - 6.0, "end", "#fff")
            } else if x1 + 90.0 < left + pw {
                (x1 + 6.0, "start", "#333")
            } else {
                (x0 - 6.0, "end", "#333")
            };
            let _ = write!(
                o,
                "<text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"{anchor}\" style=\"fill:{fill}\">{} unanswered</text>",
                cy + 4.0,
                e.count
            );
        }
    }
    if dp.events.is_empty() {
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"empty\">no handshakes, ICMP messages or martians in this direction</text>",
            left + pw / 2.0,
            top + lanes * lane_h / 2.0
        );
    }
    o.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::{esc, tick_step};

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn nice_ticks() {
        assert_eq!(tick_step(20.0, 8.0), 2.0);
        assert_eq!(tick_step(100.0, 8.0), 10.0);
        assert!((tick_step(0.3, 8.0) - 0.05).abs() < 1e-12);
    }
}
