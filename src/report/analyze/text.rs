//! The `analyze` report for people: terminal tables and GitHub Markdown.

use super::*;

impl AnalyzeReport {
    /// Tables for a terminal `width` columns wide, without colour.
    pub fn to_table(&self, width: u16) -> String {
        self.to_table_styled(width, false)
    }

    /// Tables for a terminal `width` columns wide; `color` marks severities
    /// and the verdict with ANSI colours (error red, warning yellow, info
    /// blue, healthy green). Wireshark filters, finding names and addresses
    /// are never broken across lines: prose is wrapped between words, and the
    /// filters are printed one per line after the findings table.
    pub fn to_table_styled(&self, width: u16, color: bool) -> String {
        let mut out = String::new();
        let (verdict, fixes) = self.headline();
        let w = usize::from(width.max(40));
        let word = self.verdict.word();
        match verdict.strip_prefix(word) {
            Some(rest) if color => {
                let _ = writeln!(
                    out,
                    "{}{rest}",
                    crate::report::paint(verdict_color(self.verdict), word)
                );
            }
            _ => {
                let _ = writeln!(out, "{verdict}");
            }
        }
        if let Some(l) = self.focus_line() {
            out.push_str(&wrap(&l, w, "  "));
        }
        for fix in &fixes {
            out.push_str(&wrap(&format!("FIX: {fix}"), w, "     "));
        }
        for f in self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
        {
            out.push_str(&wrap(&format!("- {}", f.summary), w, "  "));
        }
        for c in &self.captures {
            if let Some(d) = &c.damage {
                out.push_str(&wrap(&format!("PARTIAL: {}: {d}", c.file), w, "  "));
            }
        }
        if self.anonymized {
            out.push_str(&wrap(&format!("NOTE: {ANONYMIZED_NOTE}"), w, "      "));
        }
        let _ = writeln!(out);

        let mut t = table(width);
        t.set_header(vec!["severity", "finding", "frames"]);
        if color {
            t.enforce_styling();
        }
        for f in &self.findings {
            let mut ev = String::new();
            for fr in &f.frames {
                if !ev.is_empty() {
                    ev.push('\n');
                }
                let _ = write!(ev, "{}: {}", fr.file, frames_text(fr));
            }
            let sev = Cell::new(f.severity.name());
            t.add_row(vec![
                if color {
                    sev.fg(severity_cell_color(f.severity))
                } else {
                    sev
                },
                Cell::new(f.kind.name()),
                Cell::new(ev),
            ]);
        }
        // Finding names never split: the column is as wide as the longest.
        let longest = |col: &[&str]| col.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        let names: Vec<&str> = self.findings.iter().map(|f| f.kind.name()).collect();
        for (i, col) in [(0, vec!["severity", "warning"]), (1, names)] {
            if let Some(c) = t.column_mut(i) {
                // The constraint counts the cell padding (one space each side).
                let n = u16::try_from(longest(&col) + 2).unwrap_or(u16::MAX);
                c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
                    comfy_table::Width::Fixed(n),
                ));
            }
        }
        let _ = writeln!(out, "{t}");
        // Problems were summarised above the table; the info lines here.
        for f in self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Info)
        {
            let kind = if color {
                crate::report::paint(crate::report::Paint::Info, f.kind.name())
            } else {
                f.kind.name().to_string()
            };
            out.push_str(&wrap(&format!("- {kind}: {}", f.summary), w, "  "));
        }
        let filters: Vec<String> = self
            .findings
            .iter()
            .flat_map(|f| {
                f.frames.iter().filter_map(move |fr| {
                    let x = fr.filter.as_deref()?;
                    Some(format!("  {} ({}): {x}", f.kind.name(), fr.file))
                })
            })
            .collect();
        if !filters.is_empty() {
            let _ = writeln!(
                out,
                "Wireshark filters (finding (capture): filter, one per line):"
            );
            for l in filters {
                let _ = writeln!(out, "{l}");
            }
        }

        if !self.directions.is_empty() {
            let mut t = table(width);
            t.set_header(vec![
                "direction",
                "sent",
                "delivered",
                "missing",
                "outside window",
                "hops",
            ]);
            for d in &self.directions {
                let hops: Vec<String> = d.hops.iter().map(u8::to_string).collect();
                t.add_row(vec![
                    Cell::new(self.direction_label(d)),
                    num(d.sent),
                    num(d.delivered),
                    num(d.missing),
                    num(d.outside_window),
                    Cell::new(hops.join(",")),
                ]);
            }
            let _ = writeln!(out, "{t}");
            for d in &self.directions {
                let _ = write!(out, "{}", histogram(d, &self.direction_label(d)));
            }
        }
        out.push_str(&self.path_table(width));
        for l in self.context_lines().lines() {
            out.push_str(&wrap(l, w, "  "));
        }
        out
    }

    pub(in crate::report) fn context_lines(&self) -> String {
        let mut out = String::new();
        let names: Vec<&str> = self.captures.iter().map(|c| c.file.as_str()).collect();
        // Along a path these lines are about the two ends as a pair.
        let ends = if self.path.is_some() {
            "ends (first and last point): "
        } else {
            ""
        };
        for t in &self.tunnels {
            if self.tunnels.len() > 1 {
                let _ = writeln!(
                    out,
                    "{}: {}, {} of {} packets missing",
                    t.label(),
                    t.verdict.word().to_lowercase(),
                    t.missing,
                    t.sent
                );
            }
            // The first handshake opens the session; later ones are rekeys
            // (every two minutes of traffic) or reconnections.
            if t.handshakes.len() > 1 {
                let shown: Vec<String> = t
                    .handshakes
                    .iter()
                    .take(6)
                    .map(|h| {
                        let at = |i: usize| match self.captures.get(self.end_index(i)) {
                            Some(c) if !c.files.is_empty() => c.frame_name(h.frames[i]),
                            _ => format!(
                                "{} in {}",
                                h.frames[i],
                                names.get(self.end_index(i)).unwrap_or(&"?")
                            ),
                        };
                        format!("{} UTC (frame {}, {})", h.time, at(0), at(1))
                    })
                    .collect();
                let n = t.handshakes.len() as u64 + t.handshakes_more;
                let _ = writeln!(
                    out,
                    "{}{n} handshakes, so {} rekey{} or reconnection{}: {}{}",
                    if self.tunnels.len() > 1 {
                        format!("tunnel {}: ", t.id)
                    } else {
                        String::new()
                    },
                    n - 1,
                    if n == 2 { "" } else { "s" },
                    if n == 2 { "" } else { "s" },
                    shown.join("; "),
                    if n > 6 { "; ..." } else { "" }
                );
            }
        }
        if let Some(c) = &self.clock {
            let ms = |d: Option<f64>| d.map_or("n/a".to_string(), |d| format!("{d:.3} ms"));
            let files: Vec<&str> = self.captures.iter().map(|c| c.file.as_str()).collect();
            let (a, b) = (
                files.first().copied().unwrap_or("A"),
                files.get(self.end_index(1)).copied().unwrap_or("B"),
            );
            let _ = writeln!(
                out,
                "{ends}clock: {b} is {} ahead of {a}{}; one-way delay {a} → {b} {}, {b} → {a} {} ({} matched packets)",
                crate::report::signed_duration(c.offset_ns),
                if c.bracketed { "" } else { " (one direction only: assumes zero delay)" },
                ms(c.delay_ab_ms),
                ms(c.delay_ba_ms),
                c.samples
            );
        }
        if let Some(w) = &self.window {
            let _ = writeln!(
                out,
                "{ends}window: both captures ran from {} UTC for {:.3} s{}",
                w.start,
                w.seconds,
                if w.overlap {
                    ""
                } else {
                    " (they do not overlap)"
                }
            );
        }
        for m in &self.nat {
            if m.rewritten() {
                let _ = writeln!(
                    out,
                    "{ends}NAT: sent as {} → {}, received as {} → {} ({} packets)",
                    m.sent_src, m.sent_dst, m.recv_src, m.recv_dst, m.packets
                );
            } else {
                let _ = writeln!(
                    out,
                    "{ends}path: {} → {}, addresses unchanged between the ends ({} packets)",
                    m.sent_src, m.sent_dst, m.packets
                );
            }
        }
        for line in self.copies_lines() {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The capture of the pair's end `i` (0 or 1): along a path, the pair
    /// is the first and the last point.
    fn end_index(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.captures.len().saturating_sub(1).max(1)
        }
    }

    /// One sentence per capture holding copies of its own messages: which
    /// frames were set aside and what they are.
    pub(in crate::report) fn copies_lines(&self) -> Vec<String> {
        self.copies
            .iter()
            .map(|c| {
                let martian = self.findings.iter().any(|f| {
                    matches!(&f.kind, FindingKind::MartianSameSrcDst { file, .. } if *file == c.file)
                });
                copies_words(c, martian)
            })
            .collect()
    }

    /// GitHub-flavoured Markdown, to paste into a ticket.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let (verdict, fixes) = self.headline();
        let _ = writeln!(out, "## wgtrace: {verdict}\n");
        if let Some(l) = self.focus_line() {
            let _ = writeln!(out, "> {}\n", md(&l));
        }
        for f in self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
        {
            let _ = writeln!(out, "- {}", md(&f.summary));
        }
        if !fixes.is_empty() {
            let _ = writeln!(out, "\n**Fix**\n");
            for fix in &fixes {
                let _ = writeln!(out, "- {}", md(fix));
            }
        }
        for c in &self.captures {
            if let Some(d) = &c.damage {
                let _ = writeln!(out, "\n> **Partial:** `{}`: {}", c.file, md(d));
            }
        }
        if self.anonymized {
            let _ = writeln!(out, "\n> **Note:** {}", md(ANONYMIZED_NOTE));
        }
        let _ = writeln!(out, "\n### Findings\n");
        let _ = writeln!(out, "| severity | finding | evidence | frames | filter |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for f in &self.findings {
            let frames: Vec<String> = f
                .frames
                .iter()
                .map(|fr| format!("`{}`: {}", fr.file, frames_text(fr)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} |",
                f.severity.name(),
                f.kind.name(),
                md(&f.summary),
                frames.join("<br>"),
                self.filters(f)
                    .into_iter()
                    .map(|(file, x)| match file {
                        Some(file) => format!("`{}`: `{}`", md(file), md(x)),
                        None => format!("`{}`", md(x)),
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            );
        }
        if !self.directions.is_empty() {
            let _ = writeln!(out, "\n### Directions\n");
            let _ = writeln!(
                out,
                "| direction | sent | delivered | missing | outside window | missing by UDP size |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
            for d in &self.directions {
                let by: Vec<String> = d
                    .missing_by_size
                    .iter()
                    .map(|r| format!("{}×{}", r.packets, r.udp_payload))
                    .collect();
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    self.direction_label(d),
                    d.sent,
                    d.delivered,
                    d.missing,
                    d.outside_window,
                    by.join(", ")
                );
            }
            let _ = writeln!(out, "\n```text");
            for d in &self.directions {
                let _ = write!(out, "{}", histogram(d, &self.direction_label(d)));
            }
            let _ = writeln!(out, "```");
        }
        out.push_str(&self.path_markdown());
        let ctx = self.context_lines();
        if !ctx.is_empty() {
            let _ = writeln!(out);
            for l in ctx.lines() {
                let _ = writeln!(out, "- {}", md(l));
            }
        }
        out
    }
}

/// Word-wraps `text` to `width` columns; continuation lines start with `indent`.
pub(super) fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > indent.len() && len + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
        } else if len > 0 && !line.ends_with(' ') {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(super) fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub(super) fn verdict_color(v: Verdict) -> crate::report::Paint {
    match v {
        Verdict::Healthy => crate::report::Paint::Healthy,
        Verdict::Problems => crate::report::Paint::Error,
        Verdict::Inconclusive => crate::report::Paint::Warning,
    }
}

pub(super) fn severity_cell_color(s: Severity) -> comfy_table::Color {
    match s {
        Severity::Error => comfy_table::Color::Red,
        Severity::Warning => comfy_table::Color::Yellow,
        Severity::Info => comfy_table::Color::Blue,
    }
}

pub(super) fn table(width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    t
}

pub(super) fn num(n: u64) -> Cell {
    Cell::new(thousands(n)).set_alignment(CellAlignment::Right)
}

/// Delivered (█) vs lost (░) by UDP payload size, for one direction: exact
/// sizes when there are few, else ranges whose edges keep the common MTU
/// boundaries apart.
pub fn histogram(d: &DirectionReport, label: &str) -> String {
    let rows = size_rows(d);
    if rows.is_empty() {
        return String::new();
    }
    let max = rows.iter().map(|r| r.1 + r.2).max().unwrap_or(1).max(1);
    let mut out = format!(
        "{label}: delivered █ / lost ░\n  {:>14} {:>9} {:>7}\n",
        "UDP (IP) bytes", "delivered", "lost"
    );
    for (label, del, lost) in rows {
        let _ = writeln!(
            out,
            "  {label:>14} {:>9} {:>7} {}{}",
            thousands(del),
            thousands(lost),
            "█".repeat(crate::report::bar_len(del, max)),
            "░".repeat(crate::report::bar_len(lost, max))
        );
    }
    out
}
