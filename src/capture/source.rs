//! Where capture bytes come from: a memory map for regular files, a stream for gzip and stdin.

use super::error::CaptureError;
use flate2::bufread::MultiGzDecoder;
use memmap2::Mmap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of one capture, ready to be parsed.
pub enum Source {
    /// A regular uncompressed file, parsed in place.
    Mapped(Mmap),
    /// Bytes already in memory (tests, fuzzing).
    Bytes(Vec<u8>),
    /// A stream read in chunks: gzip-compressed input or standard input.
    Stream(Box<dyn Read + Send>),
}

/// A capture input: its name and its bytes.
pub struct Input {
    /// The path as the user gave it (`-` for standard input).
    pub path: PathBuf,
    /// Its bytes.
    pub source: Source,
    /// Whether the bytes are gzip-decompressed on the way.
    pub gzip: bool,
}

impl Input {
    /// Size in bytes when known in advance (memory-mapped or in-memory input).
    pub fn len_hint(&self) -> Option<u64> {
        match &self.source {
            Source::Mapped(m) => Some(m.len() as u64),
            Source::Bytes(b) => Some(b.len() as u64),
            Source::Stream(_) => None,
        }
    }

    /// Opens a capture: `-` is standard input; gzip is recognised by its magic bytes.
    pub fn open(path: &Path) -> Result<Input, CaptureError> {
        if path == Path::new("-") {
            return Input::from_reader(path, Box::new(io::stdin()));
        }
        let open = |source| CaptureError::Open { source };
        let meta = std::fs::metadata(path).map_err(open)?;
        if meta.is_dir() {
            return Err(CaptureError::IsDirectory);
        }
        let file = File::open(path).map_err(open)?;
        if meta.is_file() {
            if meta.len() == 0 {
                return Err(CaptureError::Empty);
            }
            let map = map_file(&file).map_err(open)?;
            if map.starts_with(&GZIP_MAGIC) {
                let input = Input::from_reader(path, Box::new(io::Cursor::new(map)))?;
                return Ok(input);
            }
            return Ok(Input {
                path: path.to_path_buf(),
                source: Source::Mapped(map),
                gzip: false,
            });
        }
        // FIFOs, character devices, process substitution: stream them.
        Input::from_reader(path, Box::new(file))
    }

    /// Wraps in-memory bytes (gzip is detected here too).
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Input, CaptureError> {
        let path = path.into();
        if bytes.starts_with(&GZIP_MAGIC) {
            return Input::from_reader(&path, Box::new(io::Cursor::new(bytes)));
        }
        Ok(Input {
            path,
            source: Source::Bytes(bytes),
            gzip: false,
        })
    }

    fn from_reader(path: &Path, reader: Box<dyn Read + Send>) -> Result<Input, CaptureError> {
        let mut buffered = BufReader::with_capacity(1 << 16, reader);
        let head = buffered
            .fill_buf()
            .map_err(|source| CaptureError::Read { offset: 0, source })?;
        if head.is_empty() {
            return Err(CaptureError::Empty);
        }
        let gzip = head.starts_with(&GZIP_MAGIC);
        let source: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(Input {
            path: path.to_path_buf(),
            source: Source::Stream(source),
            gzip,
        })
    }
}

/// The capture files of a directory given as one end (rotated captures):
/// regular files that start with a pcap or pcapng magic, plain or
/// gzip-compressed, whatever their names (`rot.pcap1`, `ring_00001_….pcapng`);
/// other files are ignored. Sorted by name; the reader orders them by time.
pub fn capture_files(dir: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    let open = |source| CaptureError::Open { source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(open)? {
        let path = entry.map_err(open)?.path();
        if path.is_file() && looks_like_capture(&path) {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(CaptureError::NoCaptures);
    }
    files.sort();
    Ok(files)
}

/// Whether the file's first bytes (after gzip decompression) are a capture magic.
fn looks_like_capture(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        // Unreadable: keep it, so that opening it reports why.
        return true;
    };
    let mut head = [0u8; 4];
    let mut reader = BufReader::new(file);
    let read = |r: &mut dyn Read, head: &mut [u8; 4]| r.read_exact(head).is_ok();
    if !read(&mut reader, &mut head) {
        return false;
    }
    if head.starts_with(&GZIP_MAGIC) {
        let Ok(file) = File::open(path) else {
            return true;
        };
        let mut gz = MultiGzDecoder::new(BufReader::new(file));
        if !read(&mut gz, &mut head) {
            return false;
        }
    }
    let magic = u32::from_le_bytes(head);
    super::parser::is_capture_magic(magic)
}

/// Maps a capture file read-only.
///
/// This is the crate's one `unsafe` block. Mapping is unsound if another
/// process truncates the file while it is mapped (the kernel then raises
/// SIGBUS on access); appending, as tcpdump does, is harmless: the map keeps
/// the length the file had when it was opened.
#[allow(unsafe_code)]
fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: the map is read-only and lives as long as the `Input`; see the
    // doc comment for the one case (concurrent truncation) this cannot guard.
    unsafe { Mmap::map(file) }
}
