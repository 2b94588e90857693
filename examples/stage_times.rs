//! Times each stage of `analyze` on a capture pair, best of N runs, so the
//! stage that dominates is visible without a profiler.
//!
//!     cargo run --release --example stage_times -- vps.pcap laptop.pcap [RUNS]

#![allow(clippy::print_stdout, clippy::print_stderr)] // a measuring tool prints its result

use std::path::PathBuf;
use std::time::{Duration, Instant};
use wgtrace::correlate::correlate;
use wgtrace::diagnose::{diagnose_pair, Capture};
use wgtrace::flow::facts;
use wgtrace::pipeline::decode_file;
use wgtrace::report::analyze::{AnalyzeReport, CaptureSummary};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (a, b) = match args.as_slice() {
        [a, b, ..] => (PathBuf::from(a), PathBuf::from(b)),
        _ => {
            eprintln!("usage: stage_times A B [RUNS]");
            std::process::exit(2);
        }
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut best = [Duration::MAX; 7];
    let names = [
        "decode A alone",
        "decode B alone",
        "decode A ∥ B",
        "facts A ∥ B",
        "correlate",
        "diagnose",
        "report json",
    ];
    let all = rayon::current_num_threads();
    for _ in 0..runs {
        let mut t = [Duration::ZERO; 7];
        let s = Instant::now();
        drop(decode_file(&a, None, all).expect("decode A"));
        t[0] = s.elapsed();
        let s = Instant::now();
        drop(decode_file(&b, None, all).expect("decode B"));
        t[1] = s.elapsed();
        let s = Instant::now();
        let half = all / 2;
        let (ca, cb) = rayon::join(
            || decode_file(&a, None, half),
            || decode_file(&b, None, half),
        );
        let (ca, cb) = (ca.expect("decode A"), cb.expect("decode B"));
        t[2] = s.elapsed();
        let s = Instant::now();
        let (fa, fb) = rayon::join(|| facts(&ca), || facts(&cb));
        t[3] = s.elapsed();
        let s = Instant::now();
        let c = correlate(&ca, &cb);
        t[4] = s.elapsed();
        let s = Instant::now();
        let caps = [
            Capture {
                side: wgtrace::correlate::Side::A,
                name: "a",
                cap: &ca,
                facts: &fa,
            },
            Capture {
                side: wgtrace::correlate::Side::B,
                name: "b",
                cap: &cb,
                facts: &fb,
            },
        ];
        let findings = diagnose_pair(caps, &c);
        t[5] = s.elapsed();
        let s = Instant::now();
        let summaries = [&ca, &cb]
            .iter()
            .zip([wgtrace::correlate::Side::A, wgtrace::correlate::Side::B])
            .map(|(c, side)| CaptureSummary {
                side,
                path: c.path.display().to_string(),
                file: c.path.display().to_string(),
                packets: c.info.frames,
                damage: None,
                files: Vec::new(),
                inner: None,
                point: None,
            })
            .collect();
        let json = AnalyzeReport::new(summaries, findings, Some(&c)).to_json();
        t[6] = s.elapsed();
        std::hint::black_box(json);
        for (b, t) in best.iter_mut().zip(t) {
            *b = (*b).min(t);
        }
    }
    for (n, b) in names.iter().zip(best) {
        println!("{n:<16} {:>8.1} ms", b.as_secs_f64() * 1e3);
    }
}
