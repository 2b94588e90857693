//! Stage 7: the command line. Only this module prints or decides exit codes.
//!
//! Exit codes: 0 nothing wrong, 1 problems found, 2 error (unreadable
//! input, bad arguments), 3 inconclusive (the captures cannot tell). A
//! closed pipe on output counts as success.

mod analyze;
mod args;
mod batch;
mod generate;
mod inspect;
mod output;
mod progress;

use clap::Parser as _;
use std::process::ExitCode;

/// Exit code for "ran fine, found nothing wrong".
pub const OK: u8 = 0;
/// Exit code for "ran fine, found problems".
pub const PROBLEMS: u8 = 1;
/// Exit code for errors.
pub const ERROR: u8 = 2;
/// Exit code for "ran fine, the captures cannot tell".
pub const INCONCLUSIVE: u8 = 3;

/// Parses arguments and runs the chosen command.
pub fn main() -> ExitCode {
    let args = match args::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { ERROR } else { OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Generated from the argument definitions; they read no capture.
    match &args.command {
        args::Command::Completions(a) => return ExitCode::from(generate::completions(a.shell)),
        args::Command::Man => return ExitCode::from(generate::man()),
        _ => {}
    }
    if let Some(n) = args.threads {
        // Only fails if a pool already exists, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let anonymize = match (&args.anonymize_key, args.anonymize) {
        (Some(key), _) => match wgtrace::anonymize::Anonymizer::from_key_file(key) {
            Ok(an) => Some(an),
            Err(e) => {
                output::error(&e.to_string());
                return ExitCode::from(ERROR);
            }
        },
        (None, true) => Some(wgtrace::anonymize::Anonymizer::random()),
        (None, false) => None,
    };
    let opts = wgtrace::pipeline::Options {
        anonymize,
        plots: false,
        progress: progress::bars(),
        select: None,
        keep: false,
        window: None,
        inner: [None, None],
    };
    let code = match args.command {
        args::Command::Inspect(a) => inspect::run(&a, &opts, output::color(args.color)),
        args::Command::Analyze(a) => analyze::run(&a, &opts, output::color(args.color)),
        args::Command::Batch(a) => batch::main(&a, &opts),
        args::Command::Completions(_) | args::Command::Man => OK,
    };
    ExitCode::from(code)
}
