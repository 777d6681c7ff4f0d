//! arena-v1 states for the benches: a full match (16 players, 64 NPCs) in steady play.

use tickwire::game::arena::{Arena, ArenaEntity, ArenaInput};
use tickwire::game::{Game, MatchSettings};
use tickwire::protocol::{PlayerId, Tick};
use tickwire::snapshot::Snapshot;

pub fn settings(seed: u64) -> MatchSettings {
    MatchSettings {
        seed,
        tick_rate: 30,
        capacity: 16,
    }
}

/// A match with 16 players that change direction every second, as arena-v1's bots do.
pub struct SteadyMatch {
    pub game: Arena,
    pub tick: u32,
    rng: fastrand::Rng,
    inputs: Vec<ArenaInput>,
}

impl SteadyMatch {
    pub fn new(seed: u64) -> Self {
        let mut game = Arena::new(&settings(seed));
        for p in 0..16 {
            game.join(PlayerId(p));
        }
        let mut m = SteadyMatch {
            game,
            tick: 0,
            rng: fastrand::Rng::with_seed(seed),
            inputs: vec![ArenaInput::default(); 16],
        };
        for _ in 0..90 {
            m.step();
        }
        m
    }

    /// One tick: every player sends an input (a new direction every second), then the game steps.
    pub fn step(&mut self) {
        self.tick += 1;
        for p in 0..16u64 {
            // Each player picks a new direction and aim once a second, at its own phase.
            if self.tick % 30 == p as u32 % 30 {
                self.inputs[p as usize] = ArenaInput {
                    move_x: self.rng.i8(-127..=127),
                    move_y: self.rng.i8(-127..=127),
                    aim: self.rng.f32() * std::f32::consts::TAU,
                    buttons: 0,
                };
            }
            let input = self.inputs[p as usize];
            self.game.apply_input(PlayerId(p), self.tick, &input);
        }
        self.game.step(Tick(self.tick));
    }

    pub fn freeze(&self) -> Snapshot<ArenaEntity> {
        let mut out = Vec::with_capacity(80);
        self.game.freeze(&mut out);
        Snapshot::new(Tick(self.tick), out)
    }
}
