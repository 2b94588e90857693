//! `wgtrace analyze A [B]`

use super::args::{AnalyzeArgs, AnalyzeFormat};
use super::output;
use wgtrace::pipeline::{analyze_files_with, Options};
use wgtrace::report::analyze::Verdict;

/// Runs `analyze`; returns the exit code.
pub fn run(args: &AnalyzeArgs, opts: &Options) -> u8 {
    let mut paths = vec![args.a.clone()];
    paths.extend(args.b.clone());
    let analysis = match analyze_files_with(&paths, opts) {
        Ok(a) => a,
        Err(e) => {
            output::error(&e.to_string());
            return super::ERROR;
        }
    };
    for d in &analysis.damaged {
        output::error(&format!("{d} (the report covers the packets before it)"));
    }
    let report = &analysis.report;
    let text = match args.format {
        AnalyzeFormat::Table => report.to_table(output::table_width()),
        AnalyzeFormat::Markdown => report.to_markdown(),
        AnalyzeFormat::Json => report.to_json() + "\n",
    };
    if let Err(e) = output::stdout(&text) {
        output::error(&format!("cannot write output: {e}"));
        return super::ERROR;
    }
    if !analysis.damaged.is_empty() {
        super::ERROR
    } else if report.verdict == Verdict::Problems {
        super::PROBLEMS
    } else {
        super::OK
    }
}
