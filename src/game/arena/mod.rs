//! `arena`: the built-in game, exactly the arena-v1 reference scenario.
//!
//! A 1000 x 1000 world, 64 NPCs (even indices walk at 50 units/s and turn every
//! 2 s of simulated time, odd ones stand still) and up to 16 players moving at
//! 200 units/s. The simulation runs in fixed point, in the same quanta the
//! snapshot carries (1/64 unit for positions, quanta per tick for velocities),
//! so the state a client decodes is bit-identical to the server's, and a body
//! moving in a straight line is exactly predictable from its velocity: the
//! delta codec then sends nothing for it.

mod messages;
mod saved;
pub mod v2;

pub use messages::{
    ArenaEvent, ArenaMessage, ChatLine, KickOrder, Said, SaidRole, Standing, Standings, Who,
};

use super::{Denied, Game, MatchSettings, Outbox, Sender};
use crate::protocol::{EntityId, PlayerId, Tick};
use crate::replicate::Replicate;
use glam::{IVec2, Vec2};
use std::f32::consts::TAU;

/// Position quanta per world unit.
pub const POS_SCALE: f32 = 64.0;
/// The world's side in world units.
pub const WORLD_SIZE: f32 = 1000.0;
/// The world's side in position quanta.
pub const WORLD_QUANTA: i32 = (WORLD_SIZE * POS_SCALE) as i32;
pub const NPC_COUNT: u32 = 64;
pub const NPC_SPEED: f32 = 50.0;
pub const PLAYER_SPEED: f32 = 200.0;
pub const START_HP: u16 = 100;
/// `ArenaInput::buttons` bit that fires a hitscan shot along `aim` (once per
/// press: the bit's rising edge). arena-v1's bots never press it.
pub const FIRE: u8 = 1;
/// What a hit takes off the target's `hp`.
pub const SHOT_DAMAGE: u16 = 10;
/// A shot hits an entity whose centre passes within this of its line, in
/// position quanta (2 world units).
pub const HIT_RADIUS: f32 = 2.0 * POS_SCALE;
/// Seconds of simulated time between two turns of a walking NPC.
pub const NPC_TURN_SECONDS: u32 = 2;

/// What an arena entity is; one bit on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub enum ArenaKind {
    Player,
    Npc,
}

pub const KIND_PLAYER: ArenaKind = ArenaKind::Player;
pub const KIND_NPC: ArenaKind = ArenaKind::Npc;

/// One replicated arena entity, in wire quanta: the simulation itself runs
/// on this grid, so the state a client decodes is the server's, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub struct ArenaEntity {
    #[replicate(id)]
    pub id: EntityId,
    pub kind: ArenaKind,
    /// Position in 1/64 world units; a body moving in a straight line is
    /// predicted exactly from its velocity, so it costs nothing.
    #[replicate(range = 0..=64000, predict = linear(vel))]
    pub pos: IVec2,
    /// Displacement per tick, in position quanta.
    #[replicate(varint)]
    pub vel: IVec2,
    /// Heading, a full turn in 65536 steps.
    #[replicate(angle(bits = 16))]
    pub angle: u16,
    #[replicate(range = 0..=255)]
    pub hp: u16,
    /// Players only: the newest input sequence number applied; a player
    /// sending one input per tick advances it by one per tick.
    #[replicate(varint, predict = counter)]
    pub last_input_seq: u32,
}

const _: () = assert!(WORLD_QUANTA == 64000, "the pos range above is the world");

impl ArenaEntity {
    /// Position in world units.
    pub fn position(&self) -> Vec2 {
        self.pos.as_vec2() / POS_SCALE
    }

    /// Heading in radians, in [0, 2π).
    pub fn angle_radians(&self) -> f32 {
        f32::from(self.angle) * TAU / 65536.0
    }
}

/// Quantizes an angle in radians to 16 bits; non-finite angles give `None`.
pub fn quantize_angle(radians: f32) -> Option<u16> {
    if !radians.is_finite() {
        return None;
    }
    let turns = radians.rem_euclid(TAU) / TAU;
    Some(((turns * 65536.0).round() as u32 & 0xFFFF) as u16)
}

/// One arena-v1 input: `move_x`/`move_y` in -127..=127 map to -1..=1, `aim`
/// in radians (16 bits of a turn on the wire), `buttons` a bit set (unused by
/// arena-v1). Five bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Default, Replicate)]
pub struct ArenaInput {
    #[replicate(range = -127..=127)]
    pub move_x: i8,
    #[replicate(range = -127..=127)]
    pub move_y: i8,
    #[replicate(angle(bits = 16))]
    pub aim: f32,
    pub buttons: u8,
}

/// A walking NPC of arena or arena-v2.
#[derive(Debug)]
struct Npc<E> {
    entity: E,
    walker: Walker,
}

/// An entity an NPC's walker moves: arena's and arena-v2's.
trait Walks {
    fn body(&mut self) -> Body<'_>;
}

impl Walks for ArenaEntity {
    fn body(&mut self) -> Body<'_> {
        Body {
            pos: &mut self.pos,
            vel: &mut self.vel,
            angle: &mut self.angle,
        }
    }
}

/// NPC speed in position quanta per tick, and ticks between two turns, at
/// `tick_rate`.
fn npc_pace(tick_rate: u16) -> (f32, u32) {
    let rate = tick_rate.max(1);
    (
        NPC_SPEED * POS_SCALE / f32::from(rate),
        NPC_TURN_SECONDS * u32::from(rate),
    )
}

/// `count` NPCs of `seed`, numbered from 1, each placed at random within
/// `0..=edge` and made by `make(id, pos, vel, angle)`.
fn spawn_npcs<E>(
    seed: u64,
    count: u32,
    (speed, turn_period): (f32, u32),
    edge: i32,
    rng: &mut fastrand::Rng,
    make: impl Fn(EntityId, IVec2, IVec2, u16) -> E,
) -> Vec<Npc<E>> {
    (0..count)
        .map(|index| {
            let (walker, angle, vel) = Walker::new(seed, index, turn_period, speed);
            let pos = IVec2::new(rng.i32(0..=edge), rng.i32(0..=edge));
            Npc {
                entity: make(EntityId(index + 1), pos, vel, angle),
                walker,
            }
        })
        .collect()
}

/// One tick of every NPC's walk, bouncing off the walls at 0 and `edge`.
fn step_npcs<E: Walks>(npcs: &mut [Npc<E>], tick: Tick, period: u32, speed: i32, edge: i32) {
    for npc in npcs {
        npc.walker
            .step(tick, period, speed, edge, npc.entity.body());
    }
}

#[derive(Debug)]
struct Player {
    id: PlayerId,
    entity: ArenaEntity,
    /// Displacement per tick the player asks for, before walls.
    wish: IVec2,
    /// Said `Ready`.
    ready: bool,
    /// The newest input held FIRE: a shot needs a new press.
    firing: bool,
}

/// The arena-v1 game.
#[derive(Debug)]
pub struct Arena {
    npcs: Vec<Npc<ArenaEntity>>,
    players: Vec<Player>,
    spawn_rng: fastrand::Rng,
    next_entity: u32,
    npc_step: i32,
    player_step: f32,
    turn_period: u32,
}

fn heading_velocity(angle: f32, quanta_per_tick: f32) -> IVec2 {
    (Vec2::from_angle(angle) * quanta_per_tick)
        .round()
        .as_ivec2()
}

fn velocity_angle(vel: IVec2) -> u16 {
    quantize_angle(vel.as_vec2().to_angle()).unwrap_or(0)
}

impl Arena {
    /// Applies an input; whether it is a new press of FIRE (a shot).
    fn take(&mut self, player: PlayerId, seq: u32, input: &ArenaInput) -> bool {
        let Some(p) = self.players.iter_mut().find(|p| p.id == player) else {
            return false;
        };
        p.wish = wish_of(input, self.player_step);
        take_input(&mut p.entity, seq, input);
        let pressed = input.buttons & FIRE != 0;
        let fires = pressed && !p.firing;
        p.firing = pressed;
        fires
    }

    /// A shot of `player` along its aim, at `targets` (entity positions in
    /// quanta, as the shot is judged): the first one on the line loses hp.
    fn shoot(&mut self, player: PlayerId, targets: &[(EntityId, Vec2)]) {
        let Some(p) = self.players.iter().find(|p| p.id == player) else {
            return;
        };
        let (me, from) = (p.entity.id, p.entity.pos.as_vec2());
        let aim = Vec2::from_angle(p.entity.angle_radians());
        let hit = hitscan(me, from, aim, targets);
        if let Some(target) = hit {
            let victim = self
                .npcs
                .iter_mut()
                .map(|n| &mut n.entity)
                .chain(self.players.iter_mut().map(|p| &mut p.entity))
                .find(|e| e.id == target);
            if let Some(e) = victim {
                e.hp = e.hp.saturating_sub(SHOT_DAMAGE);
            }
        }
    }

    fn random_position(rng: &mut fastrand::Rng) -> IVec2 {
        IVec2::new(rng.i32(0..=WORLD_QUANTA), rng.i32(0..=WORLD_QUANTA))
    }

    /// The entity a player steers, if it is in the match.
    pub fn player_entity(&self, player: PlayerId) -> Option<&ArenaEntity> {
        self.players
            .iter()
            .find(|p| p.id == player)
            .map(|p| &p.entity)
    }
}

/// The nearest target (other than the shooter) whose centre lies within
/// `HIT_RADIUS` of the ray from `from` along the unit vector `aim`.
fn hitscan(
    shooter: EntityId,
    from: Vec2,
    aim: Vec2,
    targets: &[(EntityId, Vec2)],
) -> Option<EntityId> {
    targets
        .iter()
        .filter(|(id, _)| *id != shooter)
        .filter_map(|&(id, at)| {
            let along = (at - from).dot(aim);
            let miss = (at - from - aim * along).length();
            (along > 0.0 && miss <= HIT_RADIUS).then_some((id, along))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id)
}

/// Moves `pos` by `vel`, reflecting off the walls at 0 and `edge`; returns
/// the new position and velocity.
fn bounce(pos: i32, vel: i32, edge: i32) -> (i32, i32) {
    let next = pos.saturating_add(vel);
    if next < 0 {
        ((-next).min(edge), -vel)
    } else if next > edge {
        ((2 * edge - next).max(0), -vel)
    } else {
        (next, vel)
    }
}

/// Moves `pos` by `wish`, stopping at the walls at 0 and `edge`; returns the
/// new position and the velocity to predict with (zero along an axis
/// blocked by a wall).
fn clamp_move(pos: i32, wish: i32, edge: i32) -> (i32, i32) {
    let next = pos.saturating_add(wish).clamp(0, edge);
    let blocked = (next == 0 && wish < 0) || (next == edge && wish > 0);
    (next, if blocked { 0 } else { wish })
}

/// A walking NPC's own randomness and turn phase (arena-v1's NPC motion,
/// shared by arena-v2): seeded from the match seed and the NPC's index.
#[derive(Debug)]
struct Walker {
    walks: bool,
    rng: fastrand::Rng,
    /// Ticks into the turn period at which this NPC turns; spread so that NPCs
    /// do not all turn on the same tick.
    turn_phase: u32,
}

impl Walker {
    /// NPC `index`'s walker, and its first heading and velocity (even
    /// indices walk at `speed` quanta per tick, odd ones stand).
    fn new(seed: u64, index: u32, turn_period: u32, speed: f32) -> (Self, u16, IVec2) {
        let mut rng = fastrand::Rng::with_seed(
            seed ^ u64::from(index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let walks = index % 2 == 0;
        let heading = rng.f32() * TAU;
        let vel = if walks {
            heading_velocity(heading, speed)
        } else {
            IVec2::ZERO
        };
        let turn_phase = rng.u32(0..turn_period);
        let walker = Walker {
            walks,
            rng,
            turn_phase,
        };
        (walker, quantize_angle(heading).unwrap_or(0), vel)
    }

    /// One tick of a walking NPC: a new seeded heading on its turn phase,
    /// then a step that bounces off the walls at 0 and `edge`.
    fn step(&mut self, tick: Tick, period: u32, speed: i32, edge: i32, body: Body<'_>) {
        if !self.walks {
            return;
        }
        if tick.0 % period == self.turn_phase {
            let heading = self.rng.f32() * TAU;
            *body.vel = heading_velocity(heading, speed as f32);
            *body.angle = velocity_angle(*body.vel);
        }
        let (x, vx) = bounce(body.pos.x, body.vel.x, edge);
        let (y, vy) = bounce(body.pos.y, body.vel.y, edge);
        let bounced = vx != body.vel.x || vy != body.vel.y;
        *body.pos = IVec2::new(x, y);
        *body.vel = IVec2::new(vx, vy);
        if bounced {
            *body.angle = velocity_angle(*body.vel);
        }
    }
}

/// The moving parts of an arena entity, whichever world it is in.
struct Body<'a> {
    pos: &'a mut IVec2,
    vel: &'a mut IVec2,
    angle: &'a mut u16,
}

// The player's own movement, shared by the simulation (`apply_input`,
// `step`) and the client's prediction (`Predict`): one code path, so a
// client predicts exactly what the server computes.

/// A player's displacement per tick, in position quanta, at `tick_rate`.
fn player_step(tick_rate: u16) -> f32 {
    PLAYER_SPEED * POS_SCALE / f32::from(tick_rate.max(1))
}

/// The displacement per tick an input asks for: any non-zero move at full speed.
fn wish_of(input: &ArenaInput, step: f32) -> IVec2 {
    let dir = Vec2::new(
        f32::from(input.move_x.max(-127)),
        f32::from(input.move_y.max(-127)),
    ) / 127.0;
    (dir.normalize_or_zero() * step).round().as_ivec2()
}

/// What an input does to its player's entity at once: the aim, and its seq.
fn take_input(entity: &mut ArenaEntity, seq: u32, input: &ArenaInput) {
    take_input_of(&mut entity.angle, &mut entity.last_input_seq, seq, input);
}

fn take_input_of(angle: &mut u16, last_seq: &mut u32, seq: u32, input: &ArenaInput) {
    if let Some(a) = quantize_angle(input.aim) {
        *angle = a;
    }
    *last_seq = seq;
}

/// One tick of a player's movement: by `wish`, stopping at the walls.
fn move_player(entity: &mut ArenaEntity, wish: IVec2) {
    move_player_in(&mut entity.pos, &mut entity.vel, wish, WORLD_QUANTA);
}

/// A player's step in a world whose walls are at 0 and `edge`.
fn move_player_in(pos: &mut IVec2, vel: &mut IVec2, wish: IVec2, edge: i32) {
    let (x, vx) = clamp_move(pos.x, wish.x, edge);
    let (y, vy) = clamp_move(pos.y, wish.y, edge);
    *pos = IVec2::new(x, y);
    *vel = IVec2::new(vx, vy);
}

impl crate::game::Predict for Arena {
    fn applied_input(own: &ArenaEntity) -> u32 {
        own.last_input_seq
    }

    fn predict_input(
        own: &mut ArenaEntity,
        seq: u32,
        input: &ArenaInput,
        _world: &crate::game::PredictWorld<'_, ArenaEntity>,
    ) {
        take_input(own, seq, input);
    }

    fn predict_step(
        own: &mut ArenaEntity,
        input: &ArenaInput,
        world: &crate::game::PredictWorld<'_, ArenaEntity>,
    ) {
        move_player(own, wish_of(input, player_step(world.tick_rate)));
    }

    fn agrees(a: &ArenaEntity, b: &ArenaEntity) -> bool {
        (a.pos, a.vel, a.angle, a.hp) == (b.pos, b.vel, b.angle, b.hp)
    }
}

impl Game for Arena {
    type Entity = ArenaEntity;
    type Input = ArenaInput;
    type Message = ArenaMessage;
    type Event = ArenaEvent;

    fn new(settings: &MatchSettings) -> Self {
        let (npc_speed, turn_period) = npc_pace(settings.tick_rate);
        let mut spawn_rng = fastrand::Rng::with_seed(settings.seed);
        let npcs = spawn_npcs(
            settings.seed,
            NPC_COUNT,
            (npc_speed, turn_period),
            WORLD_QUANTA,
            &mut spawn_rng,
            |id, pos, vel, angle| ArenaEntity {
                id,
                kind: KIND_NPC,
                pos,
                vel,
                angle,
                hp: START_HP,
                last_input_seq: 0,
            },
        );
        Arena {
            npcs,
            players: Vec::with_capacity(usize::from(settings.capacity)),
            spawn_rng,
            next_entity: NPC_COUNT + 1,
            npc_step: npc_speed.round() as i32,
            player_step: player_step(settings.tick_rate),
            turn_period,
        }
    }

    fn join(&mut self, player: PlayerId) -> EntityId {
        if let Some(p) = self.players.iter().find(|p| p.id == player) {
            return p.entity.id;
        }
        let id = EntityId(self.next_entity);
        self.next_entity += 1;
        self.players.push(Player {
            id: player,
            entity: ArenaEntity {
                id,
                kind: KIND_PLAYER,
                pos: Self::random_position(&mut self.spawn_rng),
                vel: IVec2::ZERO,
                angle: 0,
                hp: START_HP,
                last_input_seq: 0,
            },
            wish: IVec2::ZERO,
            ready: false,
            firing: false,
        });
        id
    }

    fn leave(&mut self, player: PlayerId) {
        self.players.retain(|p| p.id != player);
    }

    fn on_message(
        &mut self,
        from: Sender,
        message: ArenaMessage,
        out: &mut Outbox<ArenaEvent>,
    ) -> Result<(), Denied> {
        self.handle_message(from, message, out)
    }

    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &ArenaInput) {
        if self.take(player, seq, input) {
            // Without a stated view, a shot is judged against the world as it is.
            let now: Vec<(EntityId, Vec2)> = self
                .npcs
                .iter()
                .map(|n| &n.entity)
                .chain(self.players.iter().map(|p| &p.entity))
                .map(|e| (e.id, e.pos.as_vec2()))
                .collect();
            self.shoot(player, &now);
        }
    }

    fn apply_input_seen(
        &mut self,
        player: PlayerId,
        seq: u32,
        input: &ArenaInput,
        seen: &crate::game::Rewind<'_, ArenaEntity>,
    ) {
        if self.take(player, seq, input) {
            // Lag compensation: targets where the shooter saw them, between
            // the two kept snapshots around its view.
            let then: Vec<(EntityId, Vec2)> = seen
                .after
                .entities
                .iter()
                .filter_map(|e| seen.entity(e.id))
                .map(|(a, b)| (a.id, a.pos.as_vec2().lerp(b.pos.as_vec2(), seen.alpha)))
                .collect();
            self.shoot(player, &then);
        }
    }

    fn step(&mut self, tick: Tick) {
        let (period, speed) = (self.turn_period, self.npc_step);
        step_npcs(&mut self.npcs, tick, period, speed, WORLD_QUANTA);
        for p in &mut self.players {
            move_player(&mut p.entity, p.wish);
        }
    }

    fn freeze(&self, out: &mut Vec<ArenaEntity>) {
        out.extend(self.npcs.iter().map(|n| n.entity));
        out.extend(self.players.iter().map(|p| p.entity));
    }

    fn save(&self) -> Option<Vec<u8>> {
        Some(saved::save(self))
    }

    fn restore(settings: &MatchSettings, bytes: &[u8]) -> Option<Self> {
        saved::restore(settings, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::NetEntity;
    use crate::snapshot::{decode_delta, encode_delta, Snapshot};
    use proptest::prelude::*;

    fn settings(seed: u64) -> MatchSettings {
        MatchSettings {
            seed,
            tick_rate: 30,
            capacity: 16,
        }
    }

    fn frozen(game: &Arena, tick: u32) -> Snapshot<ArenaEntity> {
        let mut out = Vec::new();
        game.freeze(&mut out);
        Snapshot::new(Tick(tick), out)
    }

    fn run(game: &mut Arena, ticks: std::ops::RangeInclusive<u32>) {
        for t in ticks {
            game.step(Tick(t));
        }
    }

    #[test]
    fn the_same_seed_plays_the_same_match() {
        let (mut a, mut b, mut c) = (
            Arena::new(&settings(9)),
            Arena::new(&settings(9)),
            Arena::new(&settings(10)),
        );
        for g in [&mut a, &mut b, &mut c] {
            run(g, 1..=300);
        }
        assert_eq!(frozen(&a, 300), frozen(&b, 300));
        assert_ne!(frozen(&a, 300), frozen(&c, 300));
    }

    #[test]
    fn even_npcs_walk_at_50_units_per_second_and_odd_ones_stand_still() {
        let mut game = Arena::new(&settings(1));
        let before = frozen(&game, 0);
        game.step(Tick(1));
        let after = frozen(&game, 1);
        for (index, (b, a)) in before
            .entities
            .iter()
            .zip(&after.entities)
            .enumerate()
            .take(NPC_COUNT as usize)
        {
            if index % 2 == 1 {
                assert_eq!(a.pos, b.pos, "odd NPC {index} moved");
                assert_eq!(a.vel, IVec2::ZERO);
            } else {
                let speed = a.vel.as_vec2().length() / POS_SCALE * 30.0;
                assert!(
                    (speed - NPC_SPEED).abs() < 0.5,
                    "NPC {index} walks at {speed}"
                );
            }
        }
    }

    #[test]
    fn every_entity_stays_inside_the_walls() {
        let mut game = Arena::new(&settings(4));
        let p = game.join(PlayerId(1));
        game.apply_input(
            PlayerId(1),
            1,
            &ArenaInput {
                move_x: 127,
                move_y: 127,
                aim: 0.0,
                buttons: 0,
            },
        );
        run(&mut game, 1..=3000);
        let snap = frozen(&game, 3000);
        for e in &snap.entities {
            assert!(
                (0..=WORLD_QUANTA).contains(&e.pos.x) && (0..=WORLD_QUANTA).contains(&e.pos.y),
                "{e:?}"
            );
        }
        // The player pushed into the corner and stopped there, predicting no motion.
        let player = snap.get(p).unwrap();
        assert_eq!(player.pos, IVec2::splat(WORLD_QUANTA));
        assert_eq!(player.vel, IVec2::ZERO);
    }

    #[test]
    fn inputs_are_clamped_and_move_at_player_speed() {
        let mut game = Arena::new(&settings(2));
        game.join(PlayerId(1));
        game.apply_input(
            PlayerId(1),
            1,
            &ArenaInput {
                move_x: -128,
                move_y: 0,
                aim: f32::NAN,
                buttons: 0,
            },
        );
        game.step(Tick(1));
        let e = *game.player_entity(PlayerId(1)).unwrap();
        let speed = e.vel.as_vec2().length() / POS_SCALE * 30.0;
        assert!((speed - PLAYER_SPEED).abs() < 0.5, "player speed {speed}");
        assert!(e.vel.x < 0 && e.vel.y == 0);
        assert_eq!(e.angle, 0, "a NaN aim is ignored");
        assert_eq!(e.last_input_seq, 1);
        // A diagonal is normalized: no faster than a straight line.
        game.apply_input(
            PlayerId(1),
            2,
            &ArenaInput {
                move_x: 127,
                move_y: 127,
                aim: 7.0,
                buttons: 0,
            },
        );
        game.step(Tick(2));
        let e = *game.player_entity(PlayerId(1)).unwrap();
        let speed = e.vel.as_vec2().length() / POS_SCALE * 30.0;
        assert!((speed - PLAYER_SPEED).abs() < 0.5, "diagonal speed {speed}");
        assert_eq!(e.angle, quantize_angle(7.0 - TAU).unwrap());
    }

    #[test]
    fn a_leaving_player_loses_its_entity() {
        let mut game = Arena::new(&settings(2));
        let a = game.join(PlayerId(1));
        let b = game.join(PlayerId(2));
        assert_ne!(a, b);
        game.leave(PlayerId(1));
        let snap = frozen(&game, 1);
        assert!(snap.get(a).is_none());
        assert!(snap.get(b).is_some());
    }

    #[test]
    fn straight_line_motion_costs_nothing_in_a_delta() {
        let mut game = Arena::new(&settings(3));
        run(&mut game, 1..=5);
        let base = frozen(&game, 5);
        // Tick 6 is not a turn tick for any NPC whose phase differs; count changes.
        run(&mut game, 6..=6);
        let next = frozen(&game, 6);
        let payload = encode_delta(Some(&base), &next);
        let turned = next
            .entities
            .iter()
            .zip(&base.entities)
            .filter(|(n, b)| **n != b.predict(1))
            .count();
        assert!(
            payload.len() <= 1 + turned * 12,
            "{} bytes for {turned} changed entities",
            payload.len()
        );
        let full = encode_delta(None, &next);
        assert!(full.len() > 10 * payload.len().max(1));
        assert_eq!(decode_delta(Some(&base), Tick(6), &payload).unwrap(), next);
    }

    #[test]
    fn a_removed_entity_costs_about_its_id() {
        let mut game = Arena::new(&settings(3));
        game.join(PlayerId(1));
        let base = frozen(&game, 1);
        let mut current = base.clone();
        current.tick = Tick(2);
        current.entities = base.entities.iter().map(|e| e.predict(1)).collect();
        let unchanged = encode_delta(Some(&base), &current);
        assert_eq!(unchanged.len(), 1, "an unchanged world is one byte");
        current.entities.pop();
        let removed = encode_delta(Some(&base), &current);
        assert!(
            removed.len() <= 3,
            "{} bytes to remove one entity",
            removed.len()
        );
        assert_eq!(
            decode_delta(Some(&base), Tick(2), &removed).unwrap(),
            current
        );
    }

    #[test]
    fn the_documented_payload_example_decodes() {
        let at_rest = |id| ArenaEntity {
            id: EntityId(id),
            kind: KIND_NPC,
            pos: IVec2::new(100, 200),
            vel: IVec2::ZERO,
            angle: 0,
            hp: START_HP,
            last_input_seq: 0,
        };
        let base = Snapshot::new(Tick(1), vec![at_rest(1), at_rest(2)]);
        let current = Snapshot::new(Tick(2), vec![at_rest(1)]);
        assert_eq!(encode_delta(Some(&base), &current), vec![0xb0]);
        assert_eq!(
            decode_delta(Some(&base), Tick(2), &[0xb0]).unwrap(),
            current
        );
    }

    fn entity_strategy() -> impl Strategy<Value = ArenaEntity> {
        (
            0u32..200,
            prop_oneof![Just(KIND_PLAYER), Just(KIND_NPC)],
            prop_oneof![
                (0..=WORLD_QUANTA, 0..=WORLD_QUANTA).prop_map(|(x, y)| IVec2::new(x, y)),
                any::<(i32, i32)>().prop_map(|(x, y)| IVec2::new(x, y))
            ],
            prop_oneof![
                (-500i32..500, -500i32..500).prop_map(|(x, y)| IVec2::new(x, y)),
                any::<(i32, i32)>().prop_map(|(x, y)| IVec2::new(x, y))
            ],
            any::<u16>(),
            any::<u16>(),
            prop_oneof![0u32..1000, any::<u32>()],
        )
            .prop_map(
                |(id, kind, pos, vel, angle, hp, last_input_seq)| ArenaEntity {
                    id: EntityId(id),
                    kind,
                    pos,
                    vel,
                    angle,
                    hp,
                    last_input_seq,
                },
            )
    }

    fn snapshot_strategy(tick: u32) -> impl Strategy<Value = Snapshot<ArenaEntity>> {
        proptest::collection::vec(entity_strategy(), 0..90)
            .prop_map(move |e| Snapshot::new(Tick(tick), e))
    }

    /// A current snapshot derived from a baseline: most entities predicted,
    /// some changed, some removed, some added — the realistic mix.
    fn evolved(
        base: &Snapshot<ArenaEntity>,
        ticks: u32,
        changes: &[(u8, ArenaEntity)],
    ) -> Snapshot<ArenaEntity> {
        let mut out: Vec<ArenaEntity> = base.entities.iter().map(|e| e.predict(ticks)).collect();
        for (op, e) in changes {
            match op % 3 {
                0 if !out.is_empty() => {
                    let i = e.id.0 as usize % out.len();
                    out.remove(i);
                }
                1 if !out.is_empty() => {
                    let i = e.id.0 as usize % out.len();
                    out[i] = ArenaEntity {
                        id: out[i].id,
                        ..*e
                    };
                }
                _ => out.push(*e),
            }
        }
        Snapshot::new(Tick(base.tick.0 + ticks), out)
    }

    proptest! {
        #[test]
        fn delta_round_trips_against_any_baseline(base in snapshot_strategy(10), current in snapshot_strategy(13)) {
            let payload = encode_delta(Some(&base), &current);
            prop_assert_eq!(decode_delta(Some(&base), current.tick, &payload).unwrap(), current);
        }

        #[test]
        fn full_snapshots_round_trip(current in snapshot_strategy(1)) {
            let payload = encode_delta(None, &current);
            prop_assert_eq!(decode_delta(None, current.tick, &payload).unwrap(), current);
        }

        #[test]
        fn evolved_states_round_trip(base in snapshot_strategy(100), ticks in 1u32..40, changes in proptest::collection::vec((any::<u8>(), entity_strategy()), 0..20)) {
            let current = evolved(&base, ticks, &changes);
            let payload = encode_delta(Some(&base), &current);
            prop_assert_eq!(decode_delta(Some(&base), current.tick, &payload).unwrap(), current);
        }

        #[test]
        fn decoding_garbage_is_an_error_not_a_panic(base in snapshot_strategy(5), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_delta(Some(&base), Tick(6), &bytes);
            let _ = decode_delta::<ArenaEntity>(None, Tick(6), &bytes);
        }
    }
}
