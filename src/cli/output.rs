//! Writing to the terminal and to output files: broken pipes are not errors,
//! errors are one line, an output file never overwrites an input and is
//! replaced whole or not at all.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

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

/// Width for tables: `COLUMNS` when set to a number, else the terminal's
/// (comfy-table's own detection) when standard output is one, else 80.
pub fn table_width() -> u16 {
    width_from(
        std::env::var("COLUMNS").ok().as_deref(),
        io::stdout().is_terminal(),
        || comfy_table::Table::new().width(),
    )
}

fn width_from(columns: Option<&str>, tty: bool, detect: impl Fn() -> Option<u16>) -> u16 {
    if let Some(n) = columns.and_then(|c| c.trim().parse::<u16>().ok()) {
        if n > 0 {
            return n;
        }
    }
    if tty {
        if let Some(w) = detect().filter(|w| *w > 0) {
            return w;
        }
    }
    80
}

/// Whether to colour the table output: `--color always`/`never`, or for
/// `auto` when standard output is a terminal and `NO_COLOR` is unset or empty.
pub fn color(choice: super::args::ColorChoice) -> bool {
    color_from(
        choice,
        std::env::var_os("NO_COLOR").as_deref(),
        io::stdout().is_terminal(),
    )
}

fn color_from(
    choice: super::args::ColorChoice,
    no_color: Option<&std::ffi::OsStr>,
    tty: bool,
) -> bool {
    use super::args::ColorChoice as C;
    match choice {
        C::Always => true,
        C::Never => false,
        C::Auto => tty && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// What makes two paths the same file: device and inode where the OS has
/// them (so a symlink or hard link to a file is that file), else the
/// canonical path; a file that does not exist yet is known by its
/// canonical directory and name.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

/// An input's identity: `-` is standard input.
fn input_identity(path: &Path) -> Option<Identity> {
    if path == Path::new("-") {
        stdin_identity()
    } else {
        identity(path)
    }
}

/// An output's identity (`-o -` names a file called `-`).
fn identity(path: &Path) -> Option<Identity> {
    match fs::metadata(path) {
        Ok(meta) => Some(meta_identity(path, &meta)),
        Err(_) => {
            let name = path.file_name()?;
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            Some(Identity::Path(fs::canonicalize(dir).ok()?.join(name)))
        }
    }
}

#[cfg(unix)]
fn meta_identity(_path: &Path, meta: &fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity::Inode(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn meta_identity(path: &Path, _meta: &fs::Metadata) -> Identity {
    Identity::Path(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Standard input redirected from a file (`- < a.pcap`) is that file.
#[cfg(unix)]
fn stdin_identity() -> Option<Identity> {
    use std::os::fd::AsFd;
    let file = fs::File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    meta.is_file().then(|| meta_identity(Path::new("-"), &meta))
}

#[cfg(not(unix))]
fn stdin_identity() -> Option<Identity> {
    None
}

/// Whether outputs `a` and `b` name the same file (through symlinks and hard links too).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (identity(a), identity(b)) {
        (Some(x), Some(y)) => x == y,
        // Cannot be looked at, so cannot be written either.
        _ => false,
    }
}

/// Refuses to write `out` when it is one of the input captures; called
/// before anything is read, so a refusal does no work and touches nothing.
pub fn check_not_input(out: &Path, inputs: &[PathBuf]) -> Result<(), String> {
    // An output that does not exist yet is no input (that could be harmed):
    // a batch of many captures then costs no look-ups.
    let Some(id) = identity(out).filter(|_| out.exists()) else {
        return Ok(());
    };
    match inputs
        .iter()
        .find(|i| input_identity(i).as_ref() == Some(&id))
    {
        Some(input) => Err(format!(
            "refusing to write {}: it is the input capture {}",
            out.display(),
            input.display()
        )),
        None => Ok(()),
    }
}

/// [`check_not_input`] for each output, and no two outputs the same file.
pub fn check_outputs(outputs: &[&Path], inputs: &[PathBuf]) -> Result<(), String> {
    for (n, out) in outputs.iter().enumerate() {
        check_not_input(out, inputs)?;
        if let Some(other) = outputs[..n].iter().find(|o| same_file(out, o)) {
            return Err(format!(
                "refusing to write {}: it is also the other output {}",
                out.display(),
                other.display()
            ));
        }
    }
    Ok(())
}

/// A file written under a temporary name beside its target and renamed over
/// it by [`AtomicFile::commit`], so that readers never see a half-written
/// output; dropped without a commit (an error), the temporary file is removed.
pub struct AtomicFile {
    file: Option<fs::File>,
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file `.<name>.wgtrace-tmp-<pid>` in the target's directory.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        // Through a symlink the file it points to is replaced, not the link.
        let target = match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            _ => path.to_path_buf(),
        };
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".wgtrace-tmp-{}", std::process::id()));
        let tmp = target.with_file_name(tmp_name);
        let open = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
        };
        let file = match open() {
            // Left by an earlier process that had the same id and was killed.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp)?;
                open()?
            }
            other => other?,
        };
        let out = AtomicFile {
            file: Some(file),
            tmp,
            target,
        };
        if let (Ok(meta), Some(f)) = (fs::metadata(&out.target), &out.file) {
            // A replaced file keeps its permissions.
            f.set_permissions(meta.permissions())?;
        }
        Ok(out)
    }

    /// Flushes the data to disk and renames the temporary file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        fs::rename(&self.tmp, &self.target)?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` through an [`AtomicFile`]: all or nothing.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::super::args::ColorChoice as C;
    use super::*;

    #[test]
    fn width_columns_then_terminal_then_80() {
        assert_eq!(width_from(Some("60"), false, || Some(200)), 60);
        assert_eq!(width_from(Some("junk"), true, || Some(132)), 132);
        assert_eq!(width_from(None, true, || Some(132)), 132);
        assert_eq!(width_from(None, true, || None), 80);
        assert_eq!(width_from(None, false, || Some(132)), 80);
        assert_eq!(width_from(Some("0"), false, || None), 80);
    }

    #[test]
    fn colour_choice() {
        let set = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(color_from(C::Auto, None, true));
        assert!(color_from(C::Auto, empty, true));
        assert!(!color_from(C::Auto, set, true));
        assert!(!color_from(C::Auto, None, false));
        assert!(color_from(C::Always, set, false));
        assert!(!color_from(C::Never, None, true));
    }
}
