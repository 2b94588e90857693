//! The `wgtrace` command line: parse arguments, run a command, map the result to an exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
