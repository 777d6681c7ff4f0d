//! The interest query at arena-v2's size: 2112 entities on an 8192 x 8192
//! map, 64 viewers each asking for everything within 1024 units. The grid is
//! rebuilt once per tick and queried by every viewer; the scan of every
//! entity for every viewer is the cost it replaces.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glam::Vec2;
use std::hint::black_box;
use tickwire::game::grid::SpatialGrid;
use tickwire::protocol::EntityId;

const WORLD: f32 = 8192.0;
const ENTITIES: usize = 2112;
const VIEWERS: usize = 64;
const VIEW_RADIUS: f32 = 1024.0;

fn interest(c: &mut Criterion) {
    let mut rng = fastrand::Rng::with_seed(2);
    let mut point = || Vec2::new(rng.f32() * WORLD, rng.f32() * WORLD);
    let entities: Vec<(EntityId, Vec2)> = (0..ENTITIES)
        .map(|i| (EntityId(i as u32 + 1), point()))
        .collect();
    let viewers: Vec<Vec2> = (0..VIEWERS).map(|_| point()).collect();
    let mut grid = SpatialGrid::new(Vec2::ZERO, Vec2::splat(WORLD), VIEW_RADIUS / 2.0);
    let mut out = Vec::with_capacity(ENTITIES);

    let mut group = c.benchmark_group("arena-v2 interest (2112 entities, 64 viewers, r = 1024)");
    group.throughput(Throughput::Elements(ENTITIES as u64));
    group.bench_function("grid rebuild", |b| {
        b.iter(|| grid.rebuild(black_box(&entities).iter().copied()))
    });
    grid.rebuild(entities.iter().copied());
    group.throughput(Throughput::Elements(VIEWERS as u64));
    group.bench_function("64 grid queries", |b| {
        b.iter(|| {
            let mut seen = 0;
            for &v in &viewers {
                out.clear();
                grid.query_radius(black_box(v), VIEW_RADIUS, &mut out);
                seen += out.len();
            }
            black_box(seen)
        })
    });
    group.bench_function("64 scans of every entity", |b| {
        b.iter(|| {
            let mut seen = 0;
            for &v in &viewers {
                out.clear();
                out.extend(
                    entities
                        .iter()
                        .filter(|(_, p)| {
                            p.distance_squared(black_box(v)) <= VIEW_RADIUS * VIEW_RADIUS
                        })
                        .map(|(id, _)| *id),
                );
                seen += out.len();
            }
            black_box(seen)
        })
    });
    group.finish();
}

criterion_group!(benches, interest);
criterion_main!(benches);
