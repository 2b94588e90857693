//! The whole pipeline for one incident: capture files in, an `analyze` report out.
//!
//! Shared by `wgtrace analyze` and `wgtrace batch`. The two captures are read
//! and decoded concurrently, one core each, so a pair takes about as long as
//! its larger file; then the facts of each and their correlation run in
//! parallel.

use crate::anonymize::Anonymizer;
use crate::capture::display_names;
use crate::capture::{capture_files, FileError, Input, TimeWindow, Timestamp};
use crate::correlate::{correlate, Correlation, Side, TunnelSelect};
use crate::decode::{concat, decode_capture_with, DecodedCapture};
use crate::diagnose::{diagnose_pair, diagnose_single, Capture};
use crate::diagnose::{Finding, FindingKind, Severity};
use crate::flow::{facts, inner_packets_from};
use crate::report::analyze::{
    AnalyzeReport, CaptureSummary, FileSummary, FocusReport, InnerFileSummary,
};
use crate::report::plots::plot_data;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod path;

/// An analysis: the report, and the damage of captures that were read only in part.
#[derive(Debug)]
pub struct Analysis {
    /// The report (it marks partial captures itself).
    pub report: AnalyzeReport,
    /// One error per damaged capture (truncated, corrupt), with its byte offset.
    pub damaged: Vec<FileError>,
    /// The decoded captures and their correlation, when [`Options::keep`] asked for them.
    pub kept: Option<Kept>,
}

/// What the report was made from, kept for [`crate::annotate`].
#[derive(Debug)]
pub struct Kept {
    /// The decoded captures, in command-line order.
    pub caps: Vec<DecodedCapture>,
    /// Their correlation (two captures), restricted as the report is.
    pub correlation: Option<Correlation>,
}

/// Told, while a capture is read, its path, the bytes consumed so far and the
/// total when known; for progress bars (the library itself never draws).
#[derive(Clone)]
pub struct Progress(pub Arc<ProgressFn>);

/// The callback behind [`Progress`]: path, bytes consumed, total bytes if known.
pub type ProgressFn = dyn Fn(&Path, u64, Option<u64>) + Send + Sync;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Opens and decodes one capture on at most `cores` threads (see
/// [`decode_capture_with`]), reporting progress if asked to.
///
/// A directory is one end written as several files (tcpdump `-C`/`-G`/`-W`,
/// dumpcap ring buffers): its capture files are read as one capture, in time
/// order (see [`concat()`]); an error names the file it concerns.
pub fn decode_file(
    path: &Path,
    progress: Option<&Progress>,
    cores: usize,
) -> Result<DecodedCapture, FileError> {
    if path.is_dir() {
        let files = capture_files(path).map_err(|error| FileError {
            path: path.to_path_buf(),
            error,
        })?;
        // One file per core: the files of a ring are small.
        let per_file = (cores / files.len()).max(1);
        let decoded = files
            .par_iter()
            .with_max_len(1)
            .map(|f| decode_one(f, progress, per_file))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(concat(path.to_path_buf(), decoded));
    }
    decode_one(path, progress, cores)
}

fn decode_one(
    path: &Path,
    progress: Option<&Progress>,
    cores: usize,
) -> Result<DecodedCapture, FileError> {
    Input::open(path)
        .and_then(|input| {
            let total = input.len_hint();
            match progress {
                Some(p) => decode_capture_with(input, &|n| (p.0)(path, n, total), cores),
                None => decode_capture_with(input, &|_| {}, cores),
            }
        })
        .map_err(|error| FileError {
            path: path.to_path_buf(),
            error,
        })
}

/// How to run the pipeline.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Anonymise every IP address of the report (after the analysis, which
    /// runs on the real ones; see [`crate::anonymize`]).
    pub anonymize: Option<Anonymizer>,
    /// Aggregate the data of the HTML report's plots ([`AnalyzeReport::plots`]);
    /// one more pass over the sent packets, so off for `batch`.
    pub plots: bool,
    /// Where to report reading progress.
    pub progress: Option<Progress>,
    /// Analyse only the tunnels this picks (two captures).
    pub select: Option<TunnelSelect>,
    /// Keep the decoded captures and the correlation in [`Analysis::kept`]
    /// (for `--annotate`; about 64 bytes a packet held longer).
    pub keep: bool,
    /// Leave out the packets outside this window before any analysis;
    /// relative bounds count from the earliest first packet of the captures.
    pub window: Option<TimeWindow>,
    /// Per end (A, B): a separate capture of its tunnel interface (`tcpdump
    /// -i wg0`), whose inner packets are matched to that end's outer ones.
    pub inner: [Option<PathBuf>; 2],
}

/// Analyses one capture, or two captures of the same tunnel, with default options.
///
/// Fails only when a capture cannot be read at all; damage after the file
/// header leaves a partial result and is listed in [`Analysis::damaged`].
pub fn analyze_files(paths: &[PathBuf]) -> Result<Analysis, FileError> {
    analyze_files_with(paths, &Options::default())
}

/// [`analyze_files`] with options.
pub fn analyze_files_with(paths: &[PathBuf], opts: &Options) -> Result<Analysis, FileError> {
    let mut caps: Vec<DecodedCapture> = match paths {
        [a] => vec![decode_file(
            a,
            opts.progress.as_ref(),
            rayon::current_num_threads(),
        )?],
        [a, b] => {
            let p = opts.progress.as_ref();
            // The two captures share the cores. (Letting both be cut into
            // pieces for every core balances them, but on 2 cores the
            // pieces' counting pass cost more than the idle core saved:
            // 200k pair, 827M against 945M instructions.)
            let cores = rayon::current_num_threads() / 2;
            let (a, b) = rayon::join(|| decode_file(a, p, cores), || decode_file(b, p, cores));
            vec![a?, b?]
        }
        [_, _, _, ..] => return path::analyze_path(paths, opts),
        [] => {
            return Err(FileError {
                path: PathBuf::new(),
                error: crate::capture::CaptureError::Open {
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "analyze takes at least one capture",
                    ),
                },
            })
        }
    };
    // Separate captures of the tunnel interfaces, by end.
    let mut inner: Vec<(usize, DecodedCapture, PathBuf)> = Vec::new();
    for (i, p) in opts.inner.iter().enumerate() {
        if let (Some(p), true) = (p, i < caps.len()) {
            let mut c = decode_file(p, opts.progress.as_ref(), rayon::current_num_threads())?;
            // Every packet of it was on the tunnel interface.
            for r in &mut c.records {
                r.flags.0 |= crate::decode::Flags::TUNNEL_IF;
            }
            inner.push((i, c, p.clone()));
        }
    }
    let focus = opts.window.map(|w| focus(&mut caps, w));
    let damaged = damaged(&caps, paths);
    // Facts of each capture and the correlation of the pair are independent.
    let (facts, mut correlation): (Vec<_>, _) = match caps.as_slice() {
        [a, b] => {
            let ((fa, fb), c) =
                rayon::join(|| rayon::join(|| facts(a), || facts(b)), || correlate(a, b));
            (vec![fa, fb], Some(c))
        }
        _ => (caps.iter().map(facts).collect(), None),
    };
    let mut all: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    all.extend(inner.iter().map(|(_, _, p)| p.as_path()));
    let mut names = display_names(&all);
    let inner_names = names.split_off(paths.len().min(names.len()));
    let mut facts = facts;
    let mut inner_summaries: Vec<Option<InnerFileSummary>> = vec![None; caps.len()];
    for ((i, c, p), name) in inner.into_iter().zip(inner_names) {
        inner_summaries[i] = Some(InnerFileSummary {
            file: name.clone(),
            path: p.display().to_string(),
            packets: c.info.frames,
        });
        if let (Some(f), Some(outer)) = (facts.get_mut(i), caps.get(i)) {
            f.inner = inner_packets_from(outer, Arc::new(c), name);
        }
    }
    if let (Some(c), [a, b]) = (&mut correlation, names.as_slice()) {
        c.rename([a.clone(), b.clone()]);
    }
    // A selector that picks nothing makes the pair inconclusive; it never
    // silently falls back to all tunnels.
    let mut unselected = None;
    if let (Some(c), Some(sel)) = (&mut correlation, &opts.select) {
        let keep: Vec<u32> = c
            .tunnels
            .iter()
            .filter(|t| t.matches(sel))
            .map(|t| t.id)
            .collect();
        if keep.is_empty() {
            unselected = Some(Finding::new(
                FindingKind::TunnelNotFound {
                    selector: sel.to_string(),
                    tunnels: c.tunnels.iter().map(|t| t.local.clone()).collect(),
                },
                Severity::Info,
            ));
        } else if keep.len() < c.tunnels.len() {
            *c = c.restrict(&keep);
        }
    }
    let sides = [Side::A, Side::B];
    let mut summaries = summaries(&caps, &names, paths, &sides, false);
    for (s, inner) in summaries.iter_mut().zip(inner_summaries) {
        s.inner = inner;
    }
    let captures: Vec<Capture<'_>> = caps
        .iter()
        .zip(&facts)
        .zip(&names)
        .zip(sides)
        .map(|(((cap, facts), name), side)| Capture {
            side,
            name,
            cap,
            facts,
        })
        .collect();
    let mut report = match (captures.as_slice(), &correlation) {
        ([a, b], Some(c)) if unselected.is_some() => {
            let findings = unselected.into_iter().collect();
            AnalyzeReport::new(summaries, findings, Some(c))
        }
        ([a, b], Some(c)) => {
            let findings = diagnose_pair([*a, *b], c);
            let plots = opts
                .plots
                .then(|| plot_data(c, [a.cap, b.cap], [a.facts, b.facts], &findings));
            let mut report = AnalyzeReport::new(summaries, findings, Some(c));
            report.plots = plots;
            if let Some(sel) = &opts.select {
                report.selected(&sel.to_string());
            }
            report
        }
        ([a, ..], _) => AnalyzeReport::new(summaries, diagnose_single(*a), None),
        ([], _) => AnalyzeReport::new(summaries, Vec::new(), None),
    };
    if let Some(f) = focus {
        report.focused(f);
    }
    if let Some(an) = &opts.anonymize {
        an.apply(&mut report);
    }
    drop(captures);
    let kept = opts.keep.then_some(Kept { caps, correlation });
    Ok(Analysis {
        report,
        damaged,
        kept,
    })
}

/// One error per damaged capture, naming the damaged file.
fn damaged(caps: &[DecodedCapture], paths: &[PathBuf]) -> Vec<FileError> {
    let mut damaged = Vec::new();
    for (cap, path) in caps.iter().zip(paths) {
        if let Some(d) = &cap.info.damage {
            damaged.push(FileError {
                path: cap
                    .info
                    .damaged_part()
                    .map_or_else(|| path.clone(), Path::to_path_buf),
                error: clone_error(d),
            });
        }
    }
    damaged
}

/// One summary per capture; `path`: the captures are points along a path.
fn summaries(
    caps: &[DecodedCapture],
    names: &[String],
    paths: &[PathBuf],
    sides: &[Side],
    path: bool,
) -> Vec<CaptureSummary> {
    caps.iter()
        .zip(names)
        .zip(paths)
        .zip(sides)
        .enumerate()
        .map(|(i, (((c, n), p), side))| CaptureSummary {
            side: *side,
            point: path.then_some(i),
            inner: None,
            file: n.clone(),
            path: p.display().to_string(),
            packets: c.info.frames,
            damage: c.info.damage.as_ref().map(|d| match c.info.damaged_part() {
                Some(part) => format!("{}: {d}", part_name(n, part)),
                None => d.to_string(),
            }),
            files: c
                .info
                .parts
                .iter()
                .map(|part| FileSummary {
                    file: part_name(n, &part.path),
                    path: part.path.display().to_string(),
                    packets: part.frames,
                    first_frame: part.before + 1,
                })
                .collect(),
        })
        .collect()
}

/// Cuts every capture to the window `w` (relative bounds from the earliest
/// first packet of all of them); what was applied and kept.
pub fn focus(caps: &mut [DecodedCapture], w: TimeWindow) -> FocusReport {
    let start = caps.iter().filter_map(DecodedCapture::first_ts).min();
    let (from, until) = w.resolve(start.unwrap_or(Timestamp(0)));
    let read: Vec<u64> = caps.iter().map(|c| c.records.len() as u64).collect();
    let kept: Vec<u64> = caps
        .iter_mut()
        .map(|c| c.retain_between(from, until))
        .collect();
    FocusReport::new(w, start, (from, until), read, kept)
}

/// The display name of one file of a directory end: the end's, `/`, the file name.
fn part_name(end: &str, part: &Path) -> String {
    let file = part.file_name().unwrap_or(part.as_os_str());
    format!("{end}/{}", file.to_string_lossy())
}

/// Damage is reported twice (in the report and on stderr); errors hold an
/// `io::Error`, which does not clone, so the copy keeps its message.
fn clone_error(e: &crate::capture::CaptureError) -> crate::capture::CaptureError {
    use crate::capture::CaptureError as E;
    match e {
        E::TruncatedRecord { offset, needed } => E::TruncatedRecord {
            offset: *offset,
            needed: *needed,
        },
        E::Corrupt { offset, reason } => E::Corrupt {
            offset: *offset,
            reason: reason.clone(),
        },
        E::Read { offset, source } => E::Read {
            offset: *offset,
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => E::Corrupt {
            offset: 0,
            reason: other.to_string(),
        },
    }
}
