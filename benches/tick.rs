//! One arena-v1 match tick (inputs, step, freeze into a shared snapshot), and 100 matches.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tickwire::tick::Published;

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena-v1 tick");
    let mut one = common::SteadyMatch::new(1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("1 match: step + freeze", |b| {
        b.iter(|| {
            one.step();
            black_box(std::sync::Arc::new(Published::new(one.freeze())))
        })
    });
    let mut hundred: Vec<_> = (0..100).map(common::SteadyMatch::new).collect();
    group.throughput(Throughput::Elements(100));
    group.bench_function("100 matches: step + freeze", |b| {
        b.iter(|| {
            for m in hundred.iter_mut() {
                m.step();
                black_box(std::sync::Arc::new(Published::new(m.freeze())));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, tick);
criterion_main!(benches);
