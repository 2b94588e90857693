//! `wgtrace analyze A [B]`

use super::args::{AnalyzeArgs, AnalyzeFormat};
use super::output;
use wgtrace::annotate::write_annotated;
use wgtrace::pipeline::{analyze_files_with, Analysis, Kept, Options};
use wgtrace::report::analyze::Verdict;

/// Runs `analyze`; returns the exit code.
pub fn run(args: &AnalyzeArgs, opts: &Options, color: bool) -> u8 {
    let window = match time_window(args.from.as_deref(), args.until.as_deref()) {
        Ok(w) => w,
        Err(e) => {
            output::error(&e);
            return super::ERROR;
        }
    };
    let mut paths = vec![args.a.clone()];
    paths.extend(args.b.clone());
    paths.extend(args.more.iter().cloned());
    if paths.len() > 2 && (args.annotate.is_some() || args.tunnel.is_some() || args.peer.is_some())
    {
        output::error(
            "--annotate, --tunnel and --peer take two captures, not a path of three or more",
        );
        return super::ERROR;
    }
    let outputs: Vec<&std::path::Path> = args
        .output
        .iter()
        .chain(&args.html)
        .chain(&args.annotate)
        .map(|p| p.as_path())
        .collect();
    if let Err(e) = output::check_outputs(&outputs, &paths) {
        output::error(&e);
        return super::ERROR;
    }
    if args.annotate.is_some() && opts.anonymize.is_some() {
        output::error("--annotate writes the captures' own bytes, which --anonymize cannot hide: use one or the other");
        return super::ERROR;
    }
    if args.annotate.is_some() && paths.iter().any(|p| p.as_os_str() == "-") {
        output::error(
            "--annotate needs the captures as files: standard input cannot be read again",
        );
        return super::ERROR;
    }
    let opts = Options {
        plots: args.format == AnalyzeFormat::Html || args.html.is_some(),
        select: args
            .tunnel
            .map(wgtrace::correlate::TunnelSelect::Id)
            .or_else(|| args.peer.clone()),
        keep: args.annotate.is_some(),
        window,
        inner: [args.inner_a.clone(), args.inner_b.clone()],
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
    if let Some(f) = report
        .focus
        .as_ref()
        .filter(|f| f.packets.iter().all(|p| p.kept == 0))
    {
        output::error(&format!(
            "--from/--until: no packet of any capture lies in the window (from {} to {})",
            f.from.as_deref().unwrap_or("the start"),
            f.until.as_deref().unwrap_or("the end")
        ));
        return super::ERROR;
    }
    let text = match args.format {
        _ if args.quiet => report.to_quiet(),
        AnalyzeFormat::Table => match args.output {
            // A file is read later, elsewhere: 80 columns, no colour.
            Some(_) => report.to_table(80),
            None => report.to_table_styled(output::table_width(), color),
        },
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
    if let Some(path) = &args.annotate {
        if let Err(e) = annotate(path, &analysis) {
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

/// Writes the annotated pcapng of the analysed pair to `path`, all or nothing.
fn annotate(path: &std::path::Path, analysis: &Analysis) -> Result<(), String> {
    let Some(Kept {
        caps,
        correlation: Some(c),
    }) = &analysis.kept
    else {
        return Err("two captures are needed".into());
    };
    let [a, b] = caps.as_slice() else {
        return Err("two captures are needed".into());
    };
    let mut file = output::AtomicFile::create(path).map_err(|e| e.to_string())?;
    write_annotated(&mut file, [a, b], c, &analysis.report).map_err(|e| e.to_string())?;
    file.commit().map_err(|e| e.to_string())
}

/// `--from`/`--until` as a window; a bad value is a one-line error.
pub fn time_window(
    from: Option<&str>,
    until: Option<&str>,
) -> Result<Option<wgtrace::capture::TimeWindow>, String> {
    use wgtrace::capture::{TimeBound, TimeWindow};
    let parse = |flag: &str, v: Option<&str>| -> Result<Option<TimeBound>, String> {
        v.map(|v| v.parse::<TimeBound>().map_err(|e| format!("{flag}: {e}")))
            .transpose()
    };
    let w = TimeWindow {
        from: parse("--from", from)?,
        until: parse("--until", until)?,
    };
    if w.backwards() {
        return Err(format!(
            "--from {} is after --until {}: the window is empty",
            from.unwrap_or_default(),
            until.unwrap_or_default()
        ));
    }
    Ok((w.from.is_some() || w.until.is_some()).then_some(w))
}
