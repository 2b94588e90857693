//! `wgtrace analyze A [B]`

use super::args::{AnalyzeArgs, AnalyzeFormat};
use super::output;
use wgtrace::pipeline::{analyze_files_with, Options};
use wgtrace::report::analyze::Verdict;

/// Runs `analyze`; returns the exit code.
pub fn run(args: &AnalyzeArgs, opts: &Options) -> u8 {
    let mut paths = vec![args.a.clone()];
    paths.extend(args.b.clone());
    let outputs: Vec<&std::path::Path> = args
        .output
        .iter()
        .chain(&args.html)
        .map(|p| p.as_path())
        .collect();
    if let Err(e) = output::check_outputs(&outputs, &paths) {
        output::error(&e);
        return super::ERROR;
    }
    let opts = Options {
        plots: args.format == AnalyzeFormat::Html || args.html.is_some(),
        select: args
            .tunnel
            .map(wgtrace::correlate::TunnelSelect::Id)
            .or_else(|| args.peer.clone()),
        ..opts.clone()
    };
    let analysis = match analyze_files_with(&paths, &opts) {
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
        AnalyzeFormat::Table => report.to_table(match args.output {
            Some(_) => 80,
            None => output::table_width(),
        }),
        AnalyzeFormat::Markdown => report.to_markdown(),
        AnalyzeFormat::Json => report.to_json() + "\n",
        AnalyzeFormat::Html => report.to_html(),
    };
    if let Some(path) = &args.html {
        if let Err(e) = output::write_atomically(path, report.to_html().as_bytes()) {
            output::error(&format!("cannot write {}: {e}", path.display()));
            return super::ERROR;
        }
    }
    let written = match &args.output {
        Some(path) => output::write_atomically(path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display())),
        None => output::stdout(&text).map_err(|e| e.to_string()),
    };
    if let Err(e) = written {
        output::error(&format!("cannot write output: {e}"));
        return super::ERROR;
    }
    if !analysis.damaged.is_empty() {
        super::ERROR
    } else {
        match report.verdict {
            Verdict::Problems => super::PROBLEMS,
            Verdict::Inconclusive => super::INCONCLUSIVE,
            Verdict::Healthy => super::OK,
        }
    }
}
