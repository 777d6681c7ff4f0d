//! Coins: players run about a 100 x 100 field picking up coins, a gold one
//! worth five. The replicated types, declared once, and the simulation.

use std::collections::BTreeMap;
use tickwire::game::{Game, MatchSettings};
use tickwire::glam::Vec2;
use tickwire::protocol::{EntityId, PlayerId, Tick};
use tickwire::{Replicate, Replicated};

#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Player {
    #[replicate(id)]
    pub id: EntityId,
    /// Clients predict `pos + vel` each tick: a straight run costs nothing.
    #[replicate(fixed(quantum = 1.0 / 16.0, min = 0, max = 100), predict = linear(vel))]
    pub pos: Vec2,
    /// Per tick, on `pos`'s grid (linear prediction needs the same quantum).
    #[replicate(fixed(quantum = 1.0 / 16.0, min = -4, max = 4))]
    pub vel: Vec2,
    #[replicate(range = 0..=9999)]
    pub score: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Coin {
    #[replicate(id)]
    pub id: EntityId,
    #[replicate(fixed(quantum = 1.0 / 16.0, min = 0, max = 100))]
    pub pos: Vec2,
    pub gold: bool,
}

/// One entity kind per variant.
#[derive(Debug, Clone, PartialEq, Replicate)]
pub enum Thing {
    Player(Player),
    Coin(Coin),
}

/// The way a player wants to run; the game normalizes it.
#[derive(Debug, Clone, PartialEq, Replicate)]
pub struct Steer {
    #[replicate(fixed(quantum = 1.0 / 64.0, min = -1, max = 1))]
    pub dir: Vec2,
}

pub struct MyGame {
    seed: u64,
    spawned: u32,
    speed: f32, // per tick
    players: BTreeMap<PlayerId, Player>,
    coins: Vec<Coin>,
}

impl MyGame {
    /// A fresh entity id and a spawn point in whole units: same seed, same match.
    fn spawn(&mut self) -> (EntityId, Vec2) {
        self.spawned += 1;
        let h = (self.seed ^ u64::from(self.spawned)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let pos = Vec2::new(((h >> 40) % 100) as f32, ((h >> 20) % 100) as f32);
        (EntityId(self.spawned), pos)
    }
}

impl Game for MyGame {
    type Entity = Thing;
    type Input = Steer;

    fn new(settings: &MatchSettings) -> Self {
        let mut game = MyGame {
            seed: settings.seed,
            spawned: 0,
            speed: 20.0 / f32::from(settings.tick_rate), // 20 units a second
            players: BTreeMap::new(),
            coins: Vec::new(),
        };
        for _ in 0..20 {
            let (id, pos) = game.spawn();
            let gold = id.0 % 5 == 0;
            game.coins.push(Coin { id, pos, gold });
        }
        game
    }

    fn join(&mut self, player: PlayerId) -> EntityId {
        // A player coming back (resuming its session) keeps its entity.
        if !self.players.contains_key(&player) {
            let (id, pos) = self.spawn();
            let p = Player {
                id,
                pos,
                vel: Vec2::ZERO,
                score: 0,
            };
            self.players.insert(player, p);
        }
        self.players[&player].id
    }

    fn leave(&mut self, player: PlayerId) {
        self.players.remove(&player);
    }

    fn apply_input(&mut self, player: PlayerId, _seq: u32, input: &Steer) {
        if let Some(p) = self.players.get_mut(&player) {
            p.vel = input.dir.normalize_or_zero() * self.speed;
            // Clients see the state on the wire grid; simulating on that grid
            // too makes `pos + vel` land exactly where they predict it.
            Replicated::snap(p);
        }
    }

    fn step(&mut self, _tick: Tick) {
        for p in self.players.values_mut() {
            p.pos = (p.pos + p.vel).clamp(Vec2::ZERO, Vec2::splat(100.0));
        }
        for i in 0..self.coins.len() {
            let coin = self.coins[i];
            let near = |p: &&mut Player| p.pos.distance(coin.pos) < 1.0;
            if let Some(p) = self.players.values_mut().find(near) {
                p.score = (p.score + if coin.gold { 5 } else { 1 }).min(9999);
                self.coins[i].pos = self.spawn().1;
            }
        }
    }

    fn freeze(&self, out: &mut Vec<Thing>) {
        out.extend(self.players.values().map(|p| Thing::Player(*p)));
        out.extend(self.coins.iter().map(|c| Thing::Coin(*c)));
    }
}
