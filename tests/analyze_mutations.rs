//! The body of fuzz/fuzz_targets/analyze_pair.rs without the fuzzer: pairs of
//! deterministic pseudo-random mutations of recorded captures (bytes flipped,
//! overwritten, cut, spliced, repeated) through the whole `analyze` pipeline
//! and every renderer. In this debug build an arithmetic overflow panics, so
//! passing means no panic, and each result must be well-formed: a report
//! whose JSON has the schema and a verdict, damage named with its byte offset.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::{Path, PathBuf};
use wgtrace::pipeline::{analyze_files_with, Options};

/// xorshift64*: a fixed sequence, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Small recorded captures (and heads of larger ones), pcap and pcapng.
fn seeds() -> Vec<Vec<u8>> {
    let td = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let read = |rel: &str, max: usize| {
        let b = std::fs::read(td.join(rel)).unwrap();
        b[..b.len().min(max)].to_vec()
    };
    vec![
        read("wrong-key/vps.pcap", usize::MAX),
        read("wrong-key/laptop.pcap", usize::MAX),
        read("healthy/vps.pcap", 12_000),
        read("healthy/laptop.pcap", 12_000),
        read("pmtud-working/laptop.pcapng", 12_000),
        read("ipv6-underlay/vps.pcap", 8_000),
        read("hairpin-nat/router.pcap", 8_000),
        read("broken/bad-interface-id.pcapng", usize::MAX),
        read("fuzz-regressions/capture_file-ts-span-overflow", usize::MAX),
    ]
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 => {
                // Flip bits in a few bytes.
                for _ in 0..1 + rng.below(8) {
                    if !b.is_empty() {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                }
            }
            1 => {
                // Boundary values, where length and counter fields lie.
                const VALUES: [u8; 5] = [0, 0xff, 0x7f, 0x80, 0x01];
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    let n = (1 + rng.below(8)).min(b.len() - i);
                    let v = VALUES[rng.below(VALUES.len())];
                    b[i..i + n].fill(v);
                }
            }
            2 => b.truncate(rng.below(b.len() + 1)),
            3 => {
                // Splice: a head of this one and a tail of another seed.
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(b.len() + 1);
                let from = rng.below(other.len() + 1);
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            4 => {
                // Repeat a chunk (duplicate records, repeated headers).
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    let n = rng.below(256).min(b.len() - i);
                    let chunk = b[i..i + n].to_vec();
                    let at = rng.below(b.len() + 1);
                    b.splice(at..at, chunk);
                }
            }
            _ => {
                // Remove a chunk.
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    let n = rng.below(512).min(b.len() - i);
                    b.drain(i..i + n);
                }
            }
        }
    }
    b
}

fn check(paths: &[PathBuf], opts: &Options, round: usize) -> bool {
    match analyze_files_with(paths, opts) {
        Ok(analysis) => {
            let r = &analysis.report;
            let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
            assert_eq!(v["schema"], "wgtrace.analyze/3", "round {round}");
            let word = match v["verdict"].as_str() {
                Some("healthy") => "HEALTHY",
                Some("problems") => "PROBLEMS",
                Some("inconclusive") => "INCONCLUSIVE",
                other => panic!("round {round}: verdict {other:?}"),
            };
            assert_eq!(v["captures"].as_array().unwrap().len(), paths.len());
            assert!(r.to_table(80).starts_with(word), "round {round}");
            assert!(r.to_markdown().starts_with("## wgtrace: "), "round {round}");
            assert!(r.to_html().starts_with("<!DOCTYPE html>"), "round {round}");
            for d in &analysis.damaged {
                let msg = d.to_string();
                assert!(msg.contains("at byte"), "round {round}: {msg}");
                assert_eq!(msg.lines().count(), 1, "round {round}: {msg}");
            }
            true
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                paths.iter().any(|p| msg.contains(&p.display().to_string())),
                "round {round}: names the file: {msg}"
            );
            assert_eq!(msg.lines().count(), 1, "round {round}: {msg}");
            false
        }
    }
}

#[test]
fn mutated_pairs_through_the_whole_pipeline() {
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let paths = [dir.path().join("a.pcap"), dir.path().join("b.pcap")];
    let opts = Options {
        plots: true,
        ..Options::default()
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut reports, rounds) = (0, 1000);
    for round in 0..rounds {
        std::fs::write(&paths[0], mutate(&mut rng, &seeds)).unwrap();
        std::fs::write(&paths[1], mutate(&mut rng, &seeds)).unwrap();
        reports += usize::from(check(&paths, &opts, round));
        reports += usize::from(check(&paths[..1], &opts, round));
    }
    // Most mutations keep a readable header: the analysis itself is exercised.
    assert!(
        reports > rounds / 2,
        "only {reports} of {} runs gave a report",
        2 * rounds
    );
}
