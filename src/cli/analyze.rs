//! `wgtrace analyze A [B]`

use super::args::{AnalyzeArgs, AnalyzeFormat};
use super::output;
use wgtrace::capture::{FileError, Input};
use wgtrace::correlate::{correlate, file_name};
use wgtrace::decode::{decode_capture, DecodedCapture};
use wgtrace::diagnose::{diagnose_pair, diagnose_single, Capture};
use wgtrace::flow::facts;
use wgtrace::report::analyze::{AnalyzeReport, CaptureSummary, Verdict};

/// Runs `analyze`; returns the exit code.
pub fn run(args: &AnalyzeArgs) -> u8 {
    let mut failed = false;
    let mut caps: Vec<DecodedCapture> = Vec::new();
    let mut paths = vec![&args.a];
    if let Some(b) = &args.b {
        paths.push(b);
    }
    for path in paths {
        match Input::open(path).and_then(decode_capture) {
            Ok(cap) => {
                if let Some(d) = &cap.info.damage {
                    failed = true;
                    output::error(&format!(
                        "{}: {d} (the report covers the {} packets before it)",
                        path.display(),
                        cap.info.frames
                    ));
                }
                caps.push(cap);
            }
            Err(error) => {
                output::error(
                    &FileError {
                        path: path.clone(),
                        error,
                    }
                    .to_string(),
                );
                return super::ERROR;
            }
        }
    }
    let facts: Vec<_> = caps.iter().map(facts).collect();
    let names: Vec<String> = caps.iter().map(file_name).collect();
    let summaries: Vec<CaptureSummary> = caps
        .iter()
        .zip(&names)
        .map(|(c, n)| CaptureSummary {
            file: n.clone(),
            packets: c.info.frames,
            damage: c.info.damage.as_ref().map(ToString::to_string),
        })
        .collect();
    let report = match (caps.as_slice(), facts.as_slice(), names.as_slice()) {
        ([a, b], [fa, fb], [na, nb]) => {
            let c = correlate(a, b);
            let findings = diagnose_pair(
                [
                    Capture {
                        name: na,
                        cap: a,
                        facts: fa,
                    },
                    Capture {
                        name: nb,
                        cap: b,
                        facts: fb,
                    },
                ],
                &c,
            );
            AnalyzeReport::new(summaries, findings, Some(&c))
        }
        ([a], [fa], [na]) => {
            let findings = diagnose_single(Capture {
                name: na,
                cap: a,
                facts: fa,
            });
            AnalyzeReport::new(summaries, findings, None)
        }
        _ => return super::ERROR,
    };
    let text = match args.format {
        AnalyzeFormat::Table => report.to_table(output::table_width()),
        AnalyzeFormat::Markdown => report.to_markdown(),
        AnalyzeFormat::Json => report.to_json() + "\n",
    };
    if let Err(e) = output::stdout(&text) {
        output::error(&format!("cannot write output: {e}"));
        return super::ERROR;
    }
    if failed {
        super::ERROR
    } else if report.verdict == Verdict::Problems {
        super::PROBLEMS
    } else {
        super::OK
    }
}
