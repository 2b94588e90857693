//! Per-packet cost of the stages: reading + decoding a capture, computing its
//! facts, and matching two captures (correlate).
//!
//! Decode and facts run on the recorded `testdata/random-loss/vps.pcap` (real
//! traffic, ~500 packets), its records repeated to 100x, so a run measures
//! steady-state throughput rather than start-up. Matching needs two captures
//! of one tunnel with unique identities: a 50,000-message pair from the
//! generator (examples/gen_pair.rs) with a blackhole and random loss.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use wgtrace::capture::Input;
use wgtrace::decode::decode_capture;
use wgtrace::flow::facts;

#[allow(dead_code)]
#[path = "../examples/gen_pair.rs"]
mod gen_pair;

fn repeated_capture(times: usize) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/random-loss/vps.pcap");
    let bytes = std::fs::read(path).expect("recorded capture present");
    let (header, records) = bytes.split_at(24);
    let mut out = header.to_vec();
    for _ in 0..times {
        out.extend_from_slice(records);
    }
    out
}

fn bench(c: &mut Criterion) {
    let bytes = repeated_capture(100);
    let packets = decode_capture(Input::from_bytes("bench", bytes.clone()).expect("input"))
        .expect("decodes")
        .records
        .len() as u64;
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(packets));
    // The copy of the bytes is set-up, not part of what is timed.
    g.bench_function("read+decode", |b| {
        b.iter_batched(
            || Input::from_bytes("bench", bytes.clone()).expect("input"),
            |input| black_box(decode_capture(input).expect("decodes").records.len()),
            BatchSize::LargeInput,
        )
    });
    let decoded =
        decode_capture(Input::from_bytes("bench", bytes.clone()).expect("input")).expect("decodes");
    g.bench_function("facts", |b| b.iter(|| black_box(facts(&decoded).packets)));
    g.finish();

    let dir = std::env::temp_dir().join(format!("wgtrace-bench-{}", std::process::id()));
    gen_pair::generate(&gen_pair::Args {
        out: dir.clone(),
        packets: 50_000,
        tunnels: 1,
        threshold: 1424,
        loss: 0.002,
        offset_ns: 1_500_000_000,
        seed: 5,
        gso: 0,
    })
    .expect("generated pair");
    let open =
        |name: &str| decode_capture(Input::open(&dir.join(name)).expect("input")).expect("decodes");
    let (a, b) = (open("vps.pcap"), open("laptop.pcap"));
    let mut g = c.benchmark_group("match");
    g.throughput(Throughput::Elements(
        (a.records.len() + b.records.len()) as u64,
    ));
    g.bench_function("correlate", |bch| {
        bch.iter(|| black_box(wgtrace::correlate::correlate(&a, &b).matched))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
