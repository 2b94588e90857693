//! Writing to the terminal: broken pipes are not errors, errors are one line.

use std::io::{self, IsTerminal, Write};

/// Writes `text` to standard output; a closed pipe (`| head`) is fine.
pub fn stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints one line to standard error, prefixed with `wgtrace: `.
pub fn error(line: &str) {
    let _ = writeln!(io::stderr().lock(), "wgtrace: {line}");
}

/// Prints a block (several lines) to standard error as it is.
pub fn error_block(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Width for tables: the terminal's, or 80 when output goes elsewhere.
pub fn table_width() -> u16 {
    if io::stdout().is_terminal() {
        if let Some((w, _)) = terminal_width() {
            return w;
        }
    }
    80
}

fn terminal_width() -> Option<(u16, u16)> {
    let cols = std::env::var("COLUMNS").ok()?.parse().ok()?;
    Some((cols, 0))
}
