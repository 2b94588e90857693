//! The `wgtrace batch` line (schema [`SCHEMA`], documented in
//! `docs/batch-json.md`) and the closing summary table.

use super::analyze::{AnalyzeReport, Verdict};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;
use std::collections::BTreeMap;

/// The JSON schema identifier of a batch line; bumped on any incompatible change.
pub const SCHEMA: &str = "wgtrace.batch/1";

/// An incident's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchVerdict {
    /// The analysis found nothing wrong.
    Healthy,
    /// The analysis found problems.
    Problems,
    /// The captures cannot tell.
    Inconclusive,
    /// A capture could not be read, or only in part: `error` says why. A
    /// partial analysis is still in `report`, with its own verdict.
    Error,
}

impl BatchVerdict {
    /// The verdict of an analysis that read its captures whole.
    pub fn of(v: Verdict) -> BatchVerdict {
        match v {
            Verdict::Healthy => BatchVerdict::Healthy,
            Verdict::Problems => BatchVerdict::Problems,
            Verdict::Inconclusive => BatchVerdict::Inconclusive,
        }
    }
}

/// One line of `wgtrace batch` output: one incident.
#[derive(Clone, Debug, Serialize)]
pub struct BatchRecord {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The incident's id (directory name, or the manifest's `id`).
    pub id: String,
    /// `healthy`, `problems`, `inconclusive`, or `error`.
    pub verdict: BatchVerdict,
    /// Why the verdict is `error` (`null` otherwise): the reading errors, `; `-separated.
    pub error: Option<String>,
    /// The captures analysed (the first two of the incident), paths as resolved.
    pub captures: Vec<String>,
    /// Captures of the incident beyond the first two, not analysed.
    pub skipped_captures: Vec<String>,
    /// The distinct `kind`s of the report's findings, sorted (empty without a report).
    pub kinds: Vec<&'static str>,
    /// The `analyze` report (schema `wgtrace.analyze/3`); `null` when no
    /// capture could be read at all.
    pub report: Option<AnalyzeReport>,
}

impl BatchRecord {
    /// The record of an incident: `errors` empty for a whole analysis.
    pub fn new(
        id: String,
        captures: Vec<String>,
        skipped_captures: Vec<String>,
        report: Option<AnalyzeReport>,
        errors: Vec<String>,
    ) -> BatchRecord {
        let mut kinds: Vec<&'static str> = report
            .iter()
            .flat_map(|r| r.findings.iter().map(|f| f.kind.name()))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        // A partial analysis may find nothing wrong in what it read; that is
        // no claim of health beside an error.
        if !errors.is_empty() || report.is_none() {
            kinds.retain(|k| *k != "healthy");
        }
        let verdict = match &report {
            Some(r) if errors.is_empty() => BatchVerdict::of(r.verdict),
            _ => BatchVerdict::Error,
        };
        let error = match (&report, errors.is_empty()) {
            (_, false) => Some(errors.join("; ")),
            (None, true) => Some("no report".to_string()),
            (Some(_), true) => None,
        };
        BatchRecord {
            schema: SCHEMA,
            id,
            verdict,
            error,
            captures,
            skipped_captures,
            kinds,
            report,
        }
    }

    /// The JSON line, without its newline.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"schema\":\"{SCHEMA}\",\"id\":{},\"verdict\":\"error\",\"error\":{}}}",
                serde_json::Value::String(self.id.clone()),
                serde_json::Value::String(e.to_string())
            )
        })
    }
}

/// Outcome counts of a batch run, for the closing summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Incidents in the input (all shards).
    pub total: u64,
    /// The shard run (index, count), if any.
    pub shard: Option<(u64, u64)>,
    /// Incidents skipped because `--resume` found them.
    pub skipped: u64,
    /// Incidents analysed in this run.
    pub analysed: u64,
    /// Of those, healthy.
    pub healthy: u64,
    /// Of those, with problems.
    pub problems: u64,
    /// Of those, inconclusive.
    pub inconclusive: u64,
    /// Of those, errors.
    pub errors: u64,
    /// Incidents with a finding of each kind.
    pub kinds: BTreeMap<&'static str, u64>,
}

impl BatchSummary {
    /// Counts one record.
    pub fn add(&mut self, r: &BatchRecord) {
        self.analysed += 1;
        match r.verdict {
            BatchVerdict::Healthy => self.healthy += 1,
            BatchVerdict::Problems => self.problems += 1,
            BatchVerdict::Inconclusive => self.inconclusive += 1,
            BatchVerdict::Error => self.errors += 1,
        }
        for k in &r.kinds {
            *self.kinds.entry(k).or_default() += 1;
        }
    }

    /// The summary table (for standard error).
    pub fn to_table(&self) -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        let num = |n: u64| Cell::new(n).set_alignment(CellAlignment::Right);
        t.set_header(vec!["batch summary", "incidents"]);
        let scope = match self.shard {
            Some((i, n)) => format!("in shard {i}/{n} (of {})", self.total),
            None => "in the input".to_string(),
        };
        t.add_row(vec![Cell::new(scope), num(self.analysed + self.skipped)]);
        t.add_row(vec![Cell::new("skipped (--resume)"), num(self.skipped)]);
        t.add_row(vec![Cell::new("analysed"), num(self.analysed)]);
        t.add_row(vec![Cell::new("healthy"), num(self.healthy)]);
        t.add_row(vec![Cell::new("problems"), num(self.problems)]);
        t.add_row(vec![Cell::new("inconclusive"), num(self.inconclusive)]);
        t.add_row(vec![Cell::new("errors"), num(self.errors)]);
        for (kind, n) in &self.kinds {
            t.add_row(vec![Cell::new(format!("with {kind}")), num(*n)]);
        }
        format!("{t}\n")
    }
}
