//! Two arbitrary captures through the whole `analyze` pipeline (files, decode,
//! facts, correlation, diagnosis, plots) and every renderer: must return, never panic.
//!
//! Bytes 0..2 (little-endian) are the length of capture A, the rest after it
//! is capture B. The pipeline reads files (memory-mapped, decoded in pieces),
//! so the captures are written to files: that is the path users take.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use wgtrace::pipeline::{analyze_files_with, Options};

fuzz_target!(|data: &[u8]| {
    let (len, rest) = match data.split_first_chunk::<2>() {
        Some((l, r)) => (usize::from(u16::from_le_bytes(*l)), r),
        None => (0, data),
    };
    let (a, b) = rest.split_at(len.min(rest.len()));
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let paths: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|n| dir.join(format!("wgtrace-fuzz-{pid}-{n}.pcap")))
        .collect();
    if std::fs::write(&paths[0], a).is_err() || std::fs::write(&paths[1], b).is_err() {
        return;
    }
    let opts = Options {
        plots: true,
        ..Options::default()
    };
    // The pair, and A alone (the single-capture diagnosis).
    for n in [2, 1] {
        if let Ok(analysis) = analyze_files_with(&paths[..n], &opts) {
            let r = &analysis.report;
            let _ = (r.to_table(80), r.to_markdown(), r.to_json(), r.to_html());
            let _ = analysis.damaged.iter().map(ToString::to_string).count();
        }
    }
});
