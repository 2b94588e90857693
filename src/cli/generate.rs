//! `wgtrace completions SHELL` and `wgtrace man`: shell completion scripts
//! and the manual page, generated from the clap definitions in `args`, so
//! they never disagree with the parser.

use super::args::Cli;
use super::{output, ERROR, OK};
use clap::CommandFactory as _;
use clap_complete::Shell;
use roff::{bold, roman, Roff};
use std::io;

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: Shell) -> u8 {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wgtrace", &mut script);
    emit(&script)
}

/// Writes the manual page (roff) to standard output.
pub fn man() -> u8 {
    match render_man() {
        Ok(page) => emit(page.as_bytes()),
        Err(e) => {
            output::error(&format!("cannot render the manual page: {e}"));
            ERROR
        }
    }
}

fn emit(bytes: &[u8]) -> u8 {
    match output::stdout(&String::from_utf8_lossy(bytes)) {
        Ok(()) => OK,
        Err(e) => {
            output::error(&format!("cannot write to standard output: {e}"));
            ERROR
        }
    }
}

/// One page, wgtrace(1): the top-level sections as clap_mangen renders them,
/// a list of the commands, one section per command with its description,
/// synopsis and options (as subsections), then the exit status.
fn render_man() -> io::Result<String> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let top = clap_mangen::Man::new(cmd.clone()).manual("User Commands");
    // The title keeps roff's apostrophe preamble; every later part drops its copy.
    let mut page = rendered(|w| top.render_title(w))?;
    for section in [
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ] {
        page += &body(&rendered(|w| section(&top, w))?);
    }

    let mut list = Roff::new();
    list.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands() {
        list.control("TP", [])
            .text([bold(format!("wgtrace {}", sub.get_name()))])
            .text([roman(
                sub.get_about().map(|a| a.to_string()).unwrap_or_default(),
            )]);
    }
    page += &body(&list.render());

    for sub in cmd.get_subcommands() {
        let mut heading = Roff::new();
        heading.control(
            "SH",
            [format!("WGTRACE {}", sub.get_name().to_uppercase()).as_str()],
        );
        page += &body(&heading.render());
        let man = clap_mangen::Man::new(sub.clone());
        // The description without its own heading, then the rest as subsections.
        let description = body(&rendered(|w| man.render_description_section(w))?);
        page += description.split_once('\n').map_or("", |(_, rest)| rest);
        page += &subsections(&body(&rendered(|w| man.render_synopsis_section(w))?));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page += &subsections(&body(&rendered(|w| man.render_options_section(w))?));
        }
    }

    let mut exit = Roff::new();
    exit.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_STATUS {
        exit.control("TP", [])
            .text([bold(code)])
            .text([roman(meaning)]);
    }
    page += &body(&exit.render());
    page += &body(&rendered(|w| top.render_version_section(w))?);
    Ok(page)
}

const EXIT_STATUS: [(&str, &str); 4] = [
    ("0", "ran fine, nothing wrong"),
    ("1", "ran fine, problems found"),
    (
        "2",
        "an input could not be read or was damaged, bad arguments, or an output would overwrite an input",
    ),
    ("3", "ran fine, the captures cannot tell (INCONCLUSIVE)"),
];

/// What `render` writes, as text (clap_mangen and roff write UTF-8).
fn rendered(render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<String> {
    let mut out = Vec::new();
    render(&mut out)?;
    String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A rendered part without roff's apostrophe preamble (the page has it once, at the top).
fn body(roff: &str) -> String {
    roff.split_inclusive('\n')
        .filter(|l| !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq"))
        .collect()
}

/// Sections (`.SH`) turned into subsections (`.SS`).
fn subsections(roff: &str) -> String {
    roff.split_inclusive('\n')
        .map(|l| match l.strip_prefix(".SH ") {
            Some(rest) => format!(".SS {rest}"),
            None => l.to_owned(),
        })
        .collect()
}
