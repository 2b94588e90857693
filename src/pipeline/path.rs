//! The pipeline for three or more captures taken along one path, in path
//! order: every capture decoded, each hop (consecutive pair) correlated as a
//! pair, all in parallel, then the path diagnosed hop by hop. The one- and
//! two-capture pipeline does none of this.

use super::{damaged, decode_file, focus, summaries, Analysis, Kept, Options};
use crate::capture::{display_names, FileError};
use crate::correlate::{correlate, correlate_path, ttl_order, Side};
use crate::decode::DecodedCapture;
use crate::diagnose::{diagnose_pair, diagnose_path, Capture, FindingKind, Severity};
use crate::flow::facts;
use crate::report::analyze::AnalyzeReport;
use crate::report::path::PathReport;
use crate::report::plots::plot_data;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Analyses `paths` (at least three) as points along one path.
pub(super) fn analyze_path(paths: &[PathBuf], opts: &Options) -> Result<Analysis, FileError> {
    let p = opts.progress.as_ref();
    // The captures share the cores; each gets at least one.
    let cores = (rayon::current_num_threads() / paths.len()).max(1);
    let mut caps = paths
        .par_iter()
        .with_max_len(1)
        .map(|f| decode_file(f, p, cores))
        .collect::<Result<Vec<DecodedCapture>, _>>()?;
    let focused = opts.window.map(|w| focus(&mut caps, w));
    let damaged = damaged(&caps, paths);
    let refs: Vec<&DecodedCapture> = caps.iter().collect();
    // The facts of each point, the hops, and the two ends as a pair (for
    // what the ends alone show: the blackhole, its MTU, the NAT end to end).
    let (first, last) = (refs[0], refs[refs.len() - 1]);
    let (facts, (mut hops, mut ends)) = rayon::join(
        || refs.par_iter().map(|c| facts(c)).collect::<Vec<_>>(),
        || rayon::join(|| correlate_path(&refs), || correlate(first, last)),
    );
    let order = ttl_order(&refs, &hops);
    let names = display_names(&paths.iter().map(PathBuf::as_path).collect::<Vec<&Path>>());
    for (k, h) in hops.iter_mut().enumerate() {
        if let (Some(a), Some(b)) = (names.get(k), names.get(k + 1)) {
            h.rename([a.clone(), b.clone()]);
        }
    }
    if let (Some(a), Some(b)) = (names.first(), names.last()) {
        ends.rename([a.clone(), b.clone()]);
    }
    let sides: Vec<Side> = (0..caps.len())
        .map(|i| if i == 0 { Side::A } else { Side::B })
        .collect();
    let summaries = summaries(&caps, &names, paths, &sides, true);
    let points: Vec<Capture<'_>> = caps
        .iter()
        .zip(&facts)
        .zip(&names)
        .zip(&sides)
        .map(|(((cap, facts), name), side)| Capture {
            side: *side,
            name,
            cap,
            facts,
        })
        .collect();
    let d = diagnose_path(&points, &hops, order);
    let pair = [points[0], points[points.len() - 1]];
    // Path findings first: among equally severe ones they lead (and the
    // headline names the hop); the ends' own `healthy` is the path's to say.
    let mut findings = d.findings.clone();
    findings.extend(
        diagnose_pair(pair, &ends)
            .into_iter()
            .filter(|f| !matches!(f.kind, FindingKind::Healthy { .. })),
    );
    findings.sort_by_key(|f| f.severity);
    let path_problem = findings.iter().any(|f| {
        matches!(f.severity, Severity::Error | Severity::Warning)
            && !matches!(f.kind, FindingKind::PathHealthy { .. })
    });
    if path_problem {
        findings.retain(|f| !matches!(f.kind, FindingKind::PathHealthy { .. }));
    }
    let plots = opts.plots.then(|| {
        plot_data(
            &ends,
            [pair[0].cap, pair[1].cap],
            [pair[0].facts, pair[1].facts],
            &findings,
        )
    });
    drop(points);
    let path = PathReport::new(&d, &summaries);
    let mut report = AnalyzeReport::new(summaries, findings, Some(&ends));
    report.plots = plots;
    report.set_path(path);
    if let Some(f) = focused {
        report.focused(f);
    }
    if let Some(an) = &opts.anonymize {
        an.apply(&mut report);
    }
    let kept = opts.keep.then_some(Kept {
        caps,
        correlation: None,
    });
    Ok(Analysis {
        report,
        damaged,
        kept,
    })
}
