//! `arena-v2`: the large-world scenario (../shared/scenarios/arena-v2.md),
//! where interest management decides what each player is sent.
//!
//! An 8192 x 8192 world, 2048 NPCs moving as arena-v1's do, up to 64
//! players moving as arena-v1's do. A player sees the circle of radius 1024
//! around its entity (about 5% of the map), found through a [`SpatialGrid`]
//! rebuilt once per tick, each entity weighted by nearness: under a
//! bandwidth budget the nearest are sent first.

use super::{
    move_player_in, npc_pace, player_step, spawn_npcs, step_npcs, take_input_of, wish_of,
    ArenaInput, ArenaKind, Body, Npc, Walks, KIND_NPC, KIND_PLAYER, POS_SCALE, START_HP,
};
use crate::game::grid::SpatialGrid;
use crate::game::{Game, MatchSettings, View};
use crate::protocol::{EntityId, PlayerId, Tick};
use crate::replicate::{NoMessages, Replicate};
use glam::{IVec2, Vec2};

mod saved;

/// The world's side in world units.
pub const WORLD_SIZE: f32 = 8192.0;
/// The world's side in position quanta (1/64 unit, as arena-v1).
pub const WORLD_QUANTA: i32 = (WORLD_SIZE * POS_SCALE) as i32;
pub const NPC_COUNT: u32 = 2048;
/// Players a match holds by default (`tickwire serve --game arena-v2`).
pub const PLAYERS_PER_MATCH: u16 = 64;
/// A player sees everything within this many world units of its entity.
pub const VIEW_RADIUS: f32 = 1024.0;
/// The grid's cell, in world units: a view touches at most 5 x 5 cells.
const GRID_CELL: f32 = 512.0;
/// Within this distance every entity weighs the most: nearness weights
/// `VIEW_RADIUS / distance` would otherwise grow without bound.
const NEAREST: f32 = 32.0;

/// One arena-v2 entity: arena-v1's fields, over the larger world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub struct ArenaV2Entity {
    #[replicate(id)]
    pub id: EntityId,
    pub kind: ArenaKind,
    /// Position in 1/64 world units, predicted from the velocity.
    #[replicate(range = 0..=524288, predict = linear(vel))]
    pub pos: IVec2,
    /// Displacement per tick, in position quanta.
    #[replicate(varint)]
    pub vel: IVec2,
    #[replicate(angle(bits = 16))]
    pub angle: u16,
    #[replicate(range = 0..=255)]
    pub hp: u16,
    #[replicate(varint, predict = counter)]
    pub last_input_seq: u32,
}

const _: () = assert!(WORLD_QUANTA == 524288, "the pos range above is the world");

impl ArenaV2Entity {
    /// Position in world units.
    pub fn position(&self) -> Vec2 {
        self.pos.as_vec2() / POS_SCALE
    }
}

impl Walks for ArenaV2Entity {
    fn body(&mut self) -> Body<'_> {
        Body {
            pos: &mut self.pos,
            vel: &mut self.vel,
            angle: &mut self.angle,
        }
    }
}

#[derive(Debug)]
struct Player {
    id: PlayerId,
    entity: ArenaV2Entity,
    wish: IVec2,
}

/// The arena-v2 game.
#[derive(Debug)]
pub struct ArenaV2 {
    npcs: Vec<Npc<ArenaV2Entity>>,
    players: Vec<Player>,
    spawn_rng: fastrand::Rng,
    next_entity: u32,
    npc_step: i32,
    player_step: f32,
    turn_period: u32,
    /// Every entity by position (world units), as of the last step.
    grid: SpatialGrid,
}

fn random_position(rng: &mut fastrand::Rng) -> IVec2 {
    IVec2::new(rng.i32(0..=WORLD_QUANTA), rng.i32(0..=WORLD_QUANTA))
}

impl ArenaV2 {
    fn entities(&self) -> impl Iterator<Item = &ArenaV2Entity> + Clone {
        self.npcs
            .iter()
            .map(|n| &n.entity)
            .chain(self.players.iter().map(|p| &p.entity))
    }

    fn rebuild_grid(&mut self) {
        let mut grid =
            std::mem::replace(&mut self.grid, SpatialGrid::new(Vec2::ZERO, Vec2::ONE, 1.0));
        grid.rebuild(self.entities().map(|e| (e.id, e.position())));
        self.grid = grid;
    }

    /// The entity a player steers, if it is in the match.
    pub fn player_entity(&self, player: PlayerId) -> Option<&ArenaV2Entity> {
        self.players
            .iter()
            .find(|p| p.id == player)
            .map(|p| &p.entity)
    }
}

impl Game for ArenaV2 {
    type Entity = ArenaV2Entity;
    type Input = ArenaInput;
    type Message = NoMessages;
    type Event = NoMessages;

    fn new(settings: &MatchSettings) -> Self {
        let (npc_speed, turn_period) = npc_pace(settings.tick_rate);
        let mut spawn_rng = fastrand::Rng::with_seed(settings.seed);
        let npcs = spawn_npcs(
            settings.seed,
            NPC_COUNT,
            (npc_speed, turn_period),
            WORLD_QUANTA,
            &mut spawn_rng,
            |id, pos, vel, angle| ArenaV2Entity {
                id,
                kind: KIND_NPC,
                pos,
                vel,
                angle,
                hp: START_HP,
                last_input_seq: 0,
            },
        );
        let mut game = ArenaV2 {
            npcs,
            players: Vec::with_capacity(usize::from(settings.capacity)),
            spawn_rng,
            next_entity: NPC_COUNT + 1,
            npc_step: npc_speed.round() as i32,
            player_step: player_step(settings.tick_rate),
            turn_period,
            grid: SpatialGrid::new(Vec2::ZERO, Vec2::splat(WORLD_SIZE), GRID_CELL),
        };
        game.rebuild_grid();
        game
    }

    fn join(&mut self, player: PlayerId) -> EntityId {
        if let Some(p) = self.players.iter().find(|p| p.id == player) {
            return p.entity.id;
        }
        let id = EntityId(self.next_entity);
        self.next_entity += 1;
        self.players.push(Player {
            id: player,
            entity: ArenaV2Entity {
                id,
                kind: KIND_PLAYER,
                pos: random_position(&mut self.spawn_rng),
                vel: IVec2::ZERO,
                angle: 0,
                hp: START_HP,
                last_input_seq: 0,
            },
            wish: IVec2::ZERO,
        });
        id
    }

    fn leave(&mut self, player: PlayerId) {
        self.players.retain(|p| p.id != player);
    }

    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &ArenaInput) {
        if let Some(p) = self.players.iter_mut().find(|p| p.id == player) {
            p.wish = wish_of(input, self.player_step);
            take_input_of(
                &mut p.entity.angle,
                &mut p.entity.last_input_seq,
                seq,
                input,
            );
        }
    }

    fn step(&mut self, tick: Tick) {
        let (period, speed) = (self.turn_period, self.npc_step);
        step_npcs(&mut self.npcs, tick, period, speed, WORLD_QUANTA);
        for p in &mut self.players {
            move_player_in(&mut p.entity.pos, &mut p.entity.vel, p.wish, WORLD_QUANTA);
        }
        self.rebuild_grid();
    }

    fn freeze(&self, out: &mut Vec<ArenaV2Entity>) {
        out.extend(self.entities().copied());
    }

    fn interest(&self, viewer: PlayerId, view: &mut View) -> bool {
        let Some(me) = self.player_entity(viewer) else {
            // A spectator sees the whole world.
            return false;
        };
        let center = me.position();
        self.grid.for_each_within(center, VIEW_RADIUS, |id, pos| {
            view.see(id, VIEW_RADIUS / pos.distance(center).max(NEAREST));
        });
        true
    }

    fn save(&self) -> Option<Vec<u8>> {
        Some(saved::save(self))
    }

    fn restore(_settings: &MatchSettings, bytes: &[u8]) -> Option<Self> {
        saved::restore(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{decode_delta, encode_delta, Snapshot};

    fn settings() -> MatchSettings {
        MatchSettings {
            seed: 5,
            tick_rate: 30,
            capacity: PLAYERS_PER_MATCH,
        }
    }

    fn frozen(game: &ArenaV2, tick: u32) -> Snapshot<ArenaV2Entity> {
        let mut out = Vec::new();
        game.freeze(&mut out);
        Snapshot::new(Tick(tick), out)
    }

    #[test]
    fn a_player_sees_exactly_the_entities_within_its_radius_nearest_heaviest() {
        let mut game = ArenaV2::new(&settings());
        let me = game.join(PlayerId(1));
        for t in 1..=45 {
            game.step(Tick(t));
        }
        let world = frozen(&game, 45);
        assert_eq!(world.entities.len(), NPC_COUNT as usize + 1);
        let mut view = View::new();
        assert!(game.interest(PlayerId(1), &mut view));
        let center = world.get(me).unwrap().position();
        let mut seen: Vec<EntityId> = view.entries.iter().map(|e| e.0).collect();
        seen.sort_unstable();
        let expected: Vec<EntityId> = world
            .entities
            .iter()
            .filter(|e| e.position().distance(center) <= VIEW_RADIUS)
            .map(|e| e.id)
            .collect();
        assert_eq!(seen, expected);
        // About 5% of the map: some tens to a few hundred of 2048 NPCs.
        assert!((20..400).contains(&seen.len()), "{} in view", seen.len());
        let weight = |id| view.entries.iter().find(|e| e.0 == id).unwrap().1;
        let distance = |id: EntityId| world.get(id).unwrap().position().distance(center);
        let (near, far) = view
            .entries
            .iter()
            .map(|e| e.0)
            .filter(|&id| id != me)
            .fold((None::<EntityId>, None::<EntityId>), |(n, f), id| {
                let n = n.filter(|&n| distance(n) <= distance(id)).or(Some(id));
                let f = f.filter(|&f| distance(f) >= distance(id)).or(Some(id));
                (n, f)
            });
        assert!(weight(near.unwrap()) > weight(far.unwrap()));
        // A spectator (no entity) sees everything.
        assert!(!game.interest(PlayerId(9), &mut View::new()));
    }

    #[test]
    fn the_large_world_round_trips_and_keeps_everything_inside_its_walls() {
        let mut game = ArenaV2::new(&settings());
        game.join(PlayerId(1));
        game.apply_input(
            PlayerId(1),
            1,
            &ArenaInput {
                move_x: 127,
                move_y: -127,
                aim: 1.0,
                buttons: 0,
            },
        );
        let before = frozen(&game, 0);
        for t in 1..=600 {
            game.step(Tick(t));
        }
        let after = frozen(&game, 600);
        for e in &after.entities {
            assert!((0..=WORLD_QUANTA).contains(&e.pos.x), "{e:?}");
            assert!((0..=WORLD_QUANTA).contains(&e.pos.y), "{e:?}");
        }
        let bytes = encode_delta(Some(&before), &after);
        assert_eq!(
            decode_delta(Some(&before), Tick(600), &bytes).unwrap(),
            after
        );
        let full = encode_delta(None, &after);
        assert_eq!(decode_delta(None, Tick(600), &full).unwrap(), after);
    }
}
