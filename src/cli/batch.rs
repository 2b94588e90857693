//! `wgtrace batch`: the library's [`wgtrace::batch`] with the command line's
//! inputs and outputs (standard output, an output file replaced whole, or
//! appended to with `--resume`) and exit code.

use super::args::BatchArgs;
use super::output;
use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use wgtrace::batch::{self, BatchSummary, Shard};

/// Runs `batch`; returns the exit code (2 when any incident failed, 1 when
/// any had problems, 3 when any was inconclusive).
pub fn main(args: &BatchArgs, opts: &wgtrace::pipeline::Options) -> u8 {
    match run(args, opts) {
        Ok(Some(summary)) => {
            output::error_block(&summary.to_table());
            exit_code(&summary)
        }
        Ok(None) => super::OK,
        Err(e) => {
            output::error(&e);
            super::ERROR
        }
    }
}

fn exit_code(s: &BatchSummary) -> u8 {
    if s.errors > 0 {
        super::ERROR
    } else if s.problems > 0 {
        super::PROBLEMS
    } else if s.inconclusive > 0 {
        super::INCONCLUSIVE
    } else {
        super::OK
    }
}

/// The run; `None` when standard output was closed (`| head`).
fn run(
    args: &BatchArgs,
    opts: &wgtrace::pipeline::Options,
) -> Result<Option<BatchSummary>, String> {
    let all = batch::incidents(&args.source).map_err(|e| e.to_string())?;
    let shard = match &args.shard {
        Some(s) => Shard::parse(s).map(Some),
        None => Shard::from_env(|k| std::env::var(k).ok(), args.shards),
    }
    .map_err(|e| e.to_string())?;
    if let Some(out) = &args.output {
        // The manifest is an input too: overwriting it would lose the incident list.
        let mut inputs: Vec<PathBuf> = all.iter().flat_map(|i| i.captures.clone()).collect();
        inputs.push(args.source.clone());
        output::check_not_input(out, &inputs)?;
    }
    let done = match (&args.output, args.resume) {
        (Some(out), true) => {
            batch::resume_from(out).map_err(|e| format!("{}: cannot resume: {e}", out.display()))?
        }
        _ => HashSet::new(),
    };
    let plan = batch::plan(&all, shard, &done);
    let chunk = 4 * rayon::current_num_threads();
    let result = match &args.output {
        // Appending keeps each finished chunk, for the next --resume.
        Some(path) if args.resume => fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|f| batch::run(&plan, opts, chunk, &mut std::io::BufWriter::new(f))),
        Some(path) => output::AtomicFile::create(path).and_then(|mut f| {
            let summary = batch::run(&plan, opts, chunk, &mut std::io::BufWriter::new(&mut f))?;
            f.commit()?;
            Ok(summary)
        }),
        None => batch::run(&plan, opts, chunk, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(None),
        Err(e) => Err(format!("cannot write output: {e}")),
    }
}
