//! Errors of the capture reader: each names the byte offset where reading stopped.

use std::io;
use std::path::PathBuf;

/// Why a capture file could not be read (completely).
///
/// Every variant that concerns the content carries the byte offset, counted in
/// the decompressed stream for gzip input, so the message can point at the damage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened or mapped.
    #[error("cannot open: {source}")]
    Open {
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The path names a directory.
    #[error("is a directory, not a capture file")]
    IsDirectory,
    /// A directory given as a capture end holds no pcap or pcapng file.
    #[error("directory holds no pcap or pcapng capture files")]
    NoCaptures,
    /// The file holds no bytes at all.
    #[error("empty file (0 bytes), not a capture")]
    Empty,
    /// The first bytes are no pcap or pcapng magic number.
    #[error("not a pcap or pcapng capture at byte 0: starts with {magic} ({guess})")]
    NotACapture {
        /// The first bytes, in hex.
        magic: String,
        /// What the file looks like instead.
        guess: &'static str,
    },
    /// The file ends inside the file header.
    #[error("file header cut short at byte {offset}: {needed} more bytes needed")]
    TruncatedHeader {
        /// Where the header stops.
        offset: u64,
        /// Bytes missing.
        needed: usize,
    },
    /// The file ends inside a packet record or block.
    #[error("record cut short at byte {offset}: the file ends {needed} bytes too early")]
    TruncatedRecord {
        /// Start of the incomplete record.
        offset: u64,
        /// Bytes missing (at least).
        needed: usize,
    },
    /// A record or block whose header is impossible (lying length, bad magic, ...).
    #[error("corrupt record at byte {offset}: {reason}")]
    Corrupt {
        /// Start of the corrupt record.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading (or decompressing) failed part way.
    #[error("read error at byte {offset}: {source}")]
    Read {
        /// How far reading got.
        offset: u64,
        /// The underlying error (gzip errors arrive here too).
        #[source]
        source: io::Error,
    },
}

/// A [`CaptureError`] together with the file it concerns: the one-line message users see.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct FileError {
    /// The file as given on the command line (`-` for standard input).
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub error: CaptureError,
}
