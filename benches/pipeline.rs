//! Per-packet cost of the stages: reading + decoding a capture, and computing its facts.
//!
//! Input: the recorded `testdata/random-loss/vps.pcap` (real traffic, ~500
//! packets), its records repeated to 100x, so a run measures steady-state
//! throughput rather than start-up.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use wgtrace::capture::Input;
use wgtrace::decode::decode_capture;
use wgtrace::flow::facts;

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
    g.bench_function("read+decode", |b| {
        b.iter(|| {
            let input = Input::from_bytes("bench", bytes.clone()).expect("input");
            black_box(decode_capture(input).expect("decodes").records.len())
        })
    });
    let decoded =
        decode_capture(Input::from_bytes("bench", bytes.clone()).expect("input")).expect("decodes");
    g.bench_function("facts", |b| b.iter(|| black_box(facts(&decoded).packets)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
