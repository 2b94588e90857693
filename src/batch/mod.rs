//! Stage 8: many incidents offline, in parallel, as JSON Lines (`wgtrace batch`).
//!
//! Incidents come from a directory of incident folders ([`sources`]) or a
//! manifest ([`manifest`]: CSV `id,capture,capture...` or JSON lines
//! `{"id": ..., "captures": [...]}`), sorted by id. [`Shard`] picks a
//! contiguous, balanced slice of them for one task of a scheduler (a
//! Kubernetes Indexed Job, a Slurm array); [`resume`] finds what an earlier,
//! interrupted run already wrote; [`run()`] analyses the rest, a chunk at a
//! time in parallel, and writes one [`BatchRecord`] line per incident in id
//! order, so the output does not depend on scheduling and the shards' outputs
//! concatenated in shard order are the output of one run over all incidents.

pub mod manifest;
pub mod resume;
pub mod run;
pub mod shard;
pub mod sources;

pub use crate::report::batch::{BatchRecord, BatchSummary, BatchVerdict, SCHEMA};
pub use resume::resume_from;
pub use run::{analyze_incident, plan, run, run_with, Plan};
pub use shard::Shard;
pub use sources::incidents;

use std::path::PathBuf;

/// One incident: an id and its captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable identifier (directory name or manifest id).
    pub id: String,
    /// Capture files, in the order given (directory: sorted by name).
    pub captures: Vec<PathBuf>,
}

/// Why a batch cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory or manifest cannot be read.
    #[error("{}: {source}", path.display())]
    Source {
        /// The directory or manifest (or a folder in it).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A manifest line that is not an incident.
    #[error("{} line {line}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Two incidents with one id.
    #[error("{}: incident id {id:?} appears twice", path.display())]
    DuplicateId {
        /// The directory or manifest.
        path: PathBuf,
        /// The id.
        id: String,
    },
    /// A shard that cannot be: `--shard`, `--shards` or the scheduler's environment.
    #[error("{0}")]
    Shard(String),
}
