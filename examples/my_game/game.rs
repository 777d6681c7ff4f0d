//! Coin race: whoever reaches the coin scores, and the coin jumps elsewhere.

use std::collections::BTreeMap;
use tickwire::protocol::{EntityId, PlayerId, Tick};
use tickwire::{game::Game, game::MatchSettings, glam::Vec2, NoMessages, Replicate, Replicated};

#[derive(Debug, Clone, Copy, PartialEq, Default, Replicate)]
pub struct Player {
    #[replicate(id)]
    pub id: EntityId,
    /// Clients predict `pos + vel` (both on one grid): a straight run costs nothing.
    #[replicate(fixed(quantum = 1.0 / 16.0, min = 0, max = 100), predict = linear(vel))]
    pub pos: Vec2,
    #[replicate(fixed(quantum = 1.0 / 16.0, min = -4, max = 4))]
    pub vel: Vec2,
    #[replicate(range = 0..=9999)]
    pub score: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Coin {
    #[replicate(fixed(quantum = 1.0 / 16.0, min = 0, max = 100))]
    pub pos: Vec2,
}

/// One entity kind per variant; the coin is the match's singleton (entity 0).
#[derive(Debug, Clone, PartialEq, Replicate)]
pub enum Thing {
    Player(Player),
    #[replicate(singleton)]
    Coin(Coin),
}

#[derive(Debug, Clone, PartialEq, Replicate)]
pub struct Steer {
    #[replicate(fixed(quantum = 1.0 / 64.0, min = -1, max = 1))]
    pub dir: Vec2,
}

#[derive(Default)]
pub struct MyGame {
    joined: u32,
    players: BTreeMap<PlayerId, Player>,
    coin: Vec2,
}

fn spot(seed: u64, n: u32) -> Vec2 {
    let h = (seed ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Vec2::new(((h >> 40) % 100) as f32, ((h >> 20) % 100) as f32)
}

impl Game for MyGame {
    type Entity = Thing;
    type Input = Steer;
    type Message = NoMessages;
    type Event = NoMessages;

    fn new(settings: &MatchSettings) -> Self {
        MyGame {
            coin: spot(settings.seed, 0),
            ..Default::default()
        }
    }

    fn join(&mut self, player: PlayerId) -> EntityId {
        let p = self.players.entry(player).or_default(); // a returning player keeps it
        if p.id.0 == 0 {
            self.joined += 1;
            (p.id, p.pos) = (EntityId(self.joined), spot(0, self.joined));
        }
        p.id
    }

    fn leave(&mut self, player: PlayerId) {
        self.players.remove(&player);
    }

    fn apply_input(&mut self, player: PlayerId, _seq: u32, input: &Steer) {
        if let Some(p) = self.players.get_mut(&player) {
            p.vel = input.dir.normalize_or_zero(); // one unit per tick at most
            Replicated::snap(p); // on the wire's grid, `pos + vel` is what clients predict
        }
    }

    fn step(&mut self, tick: Tick) {
        for p in self.players.values_mut() {
            p.pos = (p.pos + p.vel).clamp(Vec2::ZERO, Vec2::splat(100.0));
            if p.pos.distance(self.coin) < 1.0 {
                p.score = (p.score + 1).min(9999);
                self.coin = spot(tick.0.into(), p.id.0);
            }
        }
    }

    fn freeze(&self, out: &mut Vec<Thing>) {
        out.push(Thing::Coin(Coin { pos: self.coin }));
        out.extend(self.players.values().map(|p| Thing::Player(*p)));
    }
}
