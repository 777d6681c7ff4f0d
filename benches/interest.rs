//! Interest management at arena-v2's size: 2112 entities on an 8192 x 8192
//! map, 64 viewers each seeing everything within 1024 units.
//!
//! - the query alone: the grid rebuilt once per tick and queried by every
//!   viewer, against the scan of every entity for every viewer it replaces;
//! - one arena-v2 match tick on the tick thread: step, freeze, and every
//!   player's view (the game's `interest`);
//! - the writers' side: 64 viewers' frames of one tick, each against the
//!   view it acknowledged the tick before, without a budget and under
//!   `--bandwidth-budget 4000`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glam::Vec2;
use std::hint::black_box;
use std::sync::Arc;
use tickwire::game::arena::v2::{ArenaV2, ArenaV2Entity};
use tickwire::game::arena::ArenaInput;
use tickwire::game::grid::SpatialGrid;
use tickwire::game::{Game, MatchSettings, View};
use tickwire::protocol::{EntityId, PlayerId, Tick};
use tickwire::snapshot::Snapshot;
use tickwire::tick::{Budget, Published, Viewer, Views};

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

/// An arena-v2 match with 64 players walking in seeded random directions.
struct V2Match {
    game: ArenaV2,
    players: Vec<(PlayerId, EntityId)>,
    tick: u32,
    rng: fastrand::Rng,
    scratch: View,
}

impl V2Match {
    fn new() -> Self {
        let mut game = ArenaV2::new(&MatchSettings {
            seed: 11,
            tick_rate: 30,
            capacity: 64,
        });
        let players = (1..=VIEWERS as u64)
            .map(|p| (PlayerId(p), game.join(PlayerId(p))))
            .collect();
        V2Match {
            game,
            players,
            tick: 0,
            rng: fastrand::Rng::with_seed(3),
            scratch: View::new(),
        }
    }

    /// One tick: a new direction for a thirtieth of the players (one a
    /// second each, as the bots), step, freeze, views.
    fn step(&mut self) -> Arc<Published<ArenaV2Entity>> {
        self.tick += 1;
        for &(player, _) in &self.players {
            if self.rng.u32(0..30) == 0 {
                let input = ArenaInput {
                    move_x: self.rng.i8(-127..=127),
                    move_y: self.rng.i8(-127..=127),
                    aim: 0.0,
                    buttons: 0,
                };
                self.game.apply_input(player, self.tick, &input);
            }
        }
        self.game.step(Tick(self.tick));
        let mut entities = Vec::with_capacity(ENTITIES);
        self.game.freeze(&mut entities);
        let snapshot = Snapshot::new(Tick(self.tick), entities);
        let viewers = self.players.iter().map(|&(p, e)| (p, Some(e)));
        let views = Views::build(&self.game, &snapshot, viewers, &mut self.scratch);
        Arc::new(Published::with_views(snapshot, views))
    }
}

fn v2_tick(c: &mut Criterion) {
    let mut m = V2Match::new();
    let mut group = c.benchmark_group("arena-v2 match (2112 entities, 64 players)");
    group.throughput(Throughput::Elements(1));
    group.bench_function("tick: step + freeze + 64 views", |b| {
        b.iter(|| black_box(m.step()))
    });
    group.finish();
}

fn v2_frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena-v2 frames (64 viewers, 1 tick)");
    group.throughput(Throughput::Elements(VIEWERS as u64));
    for (name, budget) in [("no budget", None), ("budget 4000 B/s", Some(4000))] {
        let mut m = V2Match::new();
        let mut viewers: Vec<Viewer<ArenaV2Entity>> = (0..VIEWERS)
            .map(|_| Viewer::new(budget.map(|b| Budget::new(b, 30))))
            .collect();
        // Warm: every viewer holds a view to delta against.
        let frames = |m: &mut V2Match, viewers: &mut Vec<Viewer<ArenaV2Entity>>| {
            let published = m.step();
            let views = published.views.as_ref().expect("arena-v2 has views");
            let mut bytes = 0;
            for (v, &(player, own)) in viewers.iter_mut().zip(&m.players) {
                let acked = published.snapshot.tick.0 - 1;
                bytes += v
                    .frame(&published, views.of(player), acked, Some(own))
                    .frame
                    .len();
            }
            bytes
        };
        for _ in 0..30 {
            frames(&mut m, &mut viewers);
        }
        let per_tick = frames(&mut m, &mut viewers);
        eprintln!("arena-v2 {name}: {per_tick} bytes for 64 viewers in one tick");
        // The tick itself is measured above; here it is part of each
        // iteration, so this is the frames' cost plus one tick.
        group.bench_function(format!("tick + 64 frames, {name}"), |b| {
            b.iter(|| black_box(frames(&mut m, &mut viewers)))
        });
    }
    group.finish();
}

criterion_group!(benches, interest, v2_tick, v2_frames);
criterion_main!(benches);
