//! Delta encode and decode of arena-v1 snapshots: full, and a steady-state
//! delta against the previous tick (80 entities each).

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tickwire::game::arena::ArenaEntity;
use tickwire::snapshot::{decode_delta, DeltaEncoder};

fn codec(c: &mut Criterion) {
    let mut m = common::SteadyMatch::new(7);
    let base = m.freeze();
    m.step();
    let current = m.freeze();
    let entities = current.entities.len() as u64;
    let mut encoder = DeltaEncoder::new();
    let full = encoder.encode(None, &current).to_vec();
    let delta = encoder.encode(Some(&base), &current).to_vec();
    eprintln!(
        "arena-v1 payload: full {} bytes, steady-state delta {} bytes",
        full.len(),
        delta.len()
    );

    let mut group = c.benchmark_group("arena-v1 codec");
    group.throughput(Throughput::Elements(entities));
    group.bench_function("encode full", |b| {
        b.iter(|| black_box(encoder.encode(None, black_box(&current)).len()))
    });
    group.bench_function("encode delta", |b| {
        b.iter(|| {
            black_box(
                encoder
                    .encode(Some(black_box(&base)), black_box(&current))
                    .len(),
            )
        })
    });
    group.bench_function("decode full", |b| {
        b.iter(|| {
            decode_delta::<ArenaEntity>(None, current.tick, black_box(&full)).expect("decodes")
        })
    });
    group.bench_function("decode delta", |b| {
        b.iter(|| decode_delta(Some(&base), current.tick, black_box(&delta)).expect("decodes"))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
