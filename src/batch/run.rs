//! Analysing the incidents: in parallel a chunk at a time, written in order.

use super::{Incident, Shard};
use crate::pipeline::{analyze_files_with, Options};
use crate::report::batch::{BatchRecord, BatchSummary};
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

/// What one run will do.
#[derive(Debug)]
pub struct Plan {
    /// Incidents in the input (all shards).
    pub total: usize,
    /// The shard, if any.
    pub shard: Option<Shard>,
    /// Incidents of the shard already in the output (`--resume`).
    pub skipped: usize,
    /// The incidents to analyse, in id order.
    pub todo: Vec<Incident>,
}

/// The incidents of `shard` (all without one) not in `done`; `all` sorted by id.
pub fn plan(all: &[Incident], shard: Option<Shard>, done: &HashSet<String>) -> Plan {
    let selected = shard.map_or(all, |s| s.select(all));
    let todo: Vec<Incident> = selected
        .iter()
        .filter(|i| !done.contains(&i.id))
        .cloned()
        .collect();
    Plan {
        total: all.len(),
        shard,
        skipped: selected.len() - todo.len(),
        todo,
    }
}

/// Analyses one incident: its first two captures (or its only one). A capture
/// that cannot be read, or only in part, makes the verdict `error`.
pub fn analyze_incident(inc: &Incident, opts: &Options) -> BatchRecord {
    let shown =
        |p: &[PathBuf]| -> Vec<String> { p.iter().map(|c| c.display().to_string()).collect() };
    let pair = &inc.captures[..inc.captures.len().min(2)];
    let skipped = shown(&inc.captures[pair.len()..]);
    let (report, errors) = match analyze_files_with(pair, opts) {
        Ok(a) => (
            Some(a.report),
            a.damaged.iter().map(ToString::to_string).collect(),
        ),
        Err(e) => (None, vec![e.to_string()]),
    };
    BatchRecord::new(inc.id.clone(), shown(pair), skipped, report, errors)
}

/// Runs the plan with [`analyze_incident`], writing one line per incident.
pub fn run<W: Write>(
    plan: &Plan,
    opts: &Options,
    chunk: usize,
    out: &mut W,
) -> std::io::Result<BatchSummary> {
    run_with(plan, chunk, out, |i| analyze_incident(i, opts))
}

/// Runs `analyze` on the plan's incidents in parallel, `chunk` at a time,
/// writing one JSON line per incident in order and flushing after each
/// chunk (what `--resume` keeps after an interruption).
pub fn run_with<W: Write>(
    plan: &Plan,
    chunk: usize,
    out: &mut W,
    analyze: impl Fn(&Incident) -> BatchRecord + Sync,
) -> std::io::Result<BatchSummary> {
    let mut summary = BatchSummary {
        total: plan.total as u64,
        shard: plan.shard.map(|s| (s.index, s.count)),
        skipped: plan.skipped as u64,
        ..BatchSummary::default()
    };
    for part in plan.todo.chunks(chunk.max(1)) {
        let records: Vec<BatchRecord> = part.par_iter().map(&analyze).collect();
        for r in &records {
            summary.add(r);
            out.write_all(r.to_json_line().as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::batch::BatchVerdict;

    fn incidents(n: usize) -> Vec<Incident> {
        (0..n)
            .map(|i| Incident {
                id: format!("inc-{i:02}"),
                captures: vec![PathBuf::from(format!("/nonexistent/{i}.pcap"))],
            })
            .collect()
    }

    #[test]
    fn shards_concatenated_are_the_whole_run() {
        let all = incidents(11);
        let opts = Options::default();
        let mut whole = Vec::new();
        run(&plan(&all, None, &HashSet::new()), &opts, 4, &mut whole).expect("runs");
        let mut merged = Vec::new();
        let mut sizes = Vec::new();
        for index in 0..3 {
            let p = plan(&all, Some(Shard { index, count: 3 }), &HashSet::new());
            sizes.push(p.todo.len());
            run(&p, &opts, 2, &mut merged).expect("runs");
        }
        assert_eq!(sizes, [3, 4, 4]);
        assert_eq!(String::from_utf8(merged), String::from_utf8(whole));
    }

    #[test]
    fn an_unreadable_capture_is_an_error_never_healthy() {
        let r = analyze_incident(&incidents(1)[0], &Options::default());
        assert_eq!(r.verdict, BatchVerdict::Error);
        assert!(r.report.is_none());
        let e = r.error.as_deref().unwrap_or_default();
        assert!(e.contains("/nonexistent/0.pcap"), "{e}");
        let line: serde_json::Value = serde_json::from_str(&r.to_json_line()).expect("a JSON line");
        assert_eq!(line["schema"], "wgtrace.batch/1");
        assert_eq!(line["verdict"], "error");
    }

    #[test]
    fn resume_skips_what_is_done() {
        let all = incidents(5);
        let done: HashSet<String> = ["inc-01".to_string(), "inc-03".to_string()].into();
        let p = plan(&all, None, &done);
        assert_eq!(p.skipped, 2);
        let ids: Vec<&str> = p.todo.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["inc-00", "inc-02", "inc-04"]);
    }
}
