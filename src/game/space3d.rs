//! `space3d`: the second built-in game, a dogfight in a cube, written on
//! `#[derive(Replicate)]` to show that nothing in the core assumes 2D.
//!
//! A world of ±500 units on every axis, 64 NPC ships (48 drift in straight
//! lines, 16 fly in circles) and players who thrust along their nose, rotate
//! (yaw, pitch, roll) and fire. Shots fly straight for a second and a half;
//! four hits kill, a kill scores for the shooter, and a replicated scoreboard
//! (a singleton) carries the round, its phase and the three leaders.
//!
//! Space has no drag, so a ship that does not thrust coasts. The simulation
//! keeps every position and velocity on the wire grid (1/64 unit, a power of
//! two: f32 sums of grid values are exact) and moves a body by the velocity
//! it had at the start of the tick, which is exactly what a client's linear
//! prediction does: a coasting ship or a flying shot costs nothing in a delta
//! between its spawn and its next change.

use super::{Game, MatchSettings};
use crate::protocol::{EntityId, PlayerId, Tick};
use crate::replicate::{Replicate, Replicated};
use glam::{EulerRot, Quat, Vec3};
use std::f32::consts::{PI, TAU};

/// Half the world's side: every position is within ±this on each axis.
pub const WORLD_HALF: f32 = 500.0;
/// The position and velocity grid, in world units.
pub const POS_QUANTUM: f32 = 1.0 / 64.0;
/// The largest velocity component in units per tick (the declared range of
/// `vel`); speeds are capped below it at any tick rate.
pub const VELOCITY_LIMIT: f32 = 64.0;

// The replicate attributes below take literals; these tie them to the names.
const _: () = assert!(WORLD_HALF == 500.0 && POS_QUANTUM == 1.0 / 64.0 && VELOCITY_LIMIT == 64.0);

/// NPCs that drift in straight lines, bouncing off the walls.
pub const DRIFTER_COUNT: u32 = 48;
/// NPCs that fly in circles: they change velocity and orientation every tick.
pub const TURNER_COUNT: u32 = 16;
pub const NPC_COUNT: u32 = DRIFTER_COUNT + TURNER_COUNT;
pub const DRIFTER_SPEED: f32 = 30.0;
pub const TURNER_SPEED: f32 = 40.0;
/// How fast a turner turns, radians per second.
pub const TURNER_TURN_RATE: f32 = 0.5;
/// A player's top speed, units per second.
pub const MAX_SPEED: f32 = 120.0;
/// A player's acceleration at full thrust, units per second squared.
pub const THRUST_ACCEL: f32 = 80.0;
/// Full thrust: `SpaceInput::thrust` is clamped to ±this.
pub const THRUST_MAX: i8 = 127;
/// Full rotation: yaw, pitch and roll are clamped to ±this.
pub const ROTATE_MAX: i8 = 16;
/// Turn rate at full rotation, radians per second, on each axis.
pub const TURN_RATE: f32 = PI;
/// A shot's speed relative to the ship that fired it, units per second.
pub const SHOT_SPEED: f32 = 400.0;
pub const SHOT_SECONDS: f32 = 1.5;
pub const FIRE_COOLDOWN_SECONDS: f32 = 0.25;
/// Most shots in flight in one match; a ship cannot fire beyond it.
pub const MAX_SHOTS: usize = 256;
/// A shot passing within this distance of a ship's centre hits it.
pub const SHIP_RADIUS: f32 = 8.0;
pub const START_HP: u8 = 100;
pub const SHOT_DAMAGE: u8 = 25;
pub const RESPAWN_SECONDS: f32 = 3.0;
pub const ROUND_SECONDS: u32 = 180;
/// Between rounds nobody can fire or be hit; then kills reset.
pub const INTERMISSION_SECONDS: u32 = 10;
/// A ship's nose in its own frame (y is up).
pub const FORWARD: Vec3 = Vec3::NEG_Z;

/// Who flies a ship; fixed for the ship's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub enum Pilot {
    Player,
    Drifter,
    Turner,
}

/// One ship. Positions and velocities are in world units on the 1/64 grid.
#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Ship {
    #[replicate(id)]
    pub id: EntityId,
    pub pilot: Pilot,
    #[replicate(
        fixed(quantum = 1.0 / 64.0, min = -500.0, max = 500.0),
        predict = linear(vel)
    )]
    pub pos: Vec3,
    /// Displacement per tick.
    #[replicate(fixed(quantum = 1.0 / 64.0, min = -64.0, max = 64.0))]
    pub vel: Vec3,
    #[replicate(quat(bits = 12))]
    pub orientation: Quat,
    /// 0: destroyed, waiting to respawn.
    #[replicate(range = 0..=100)]
    pub hp: u8,
    /// Kills this round.
    #[replicate(varint)]
    pub kills: u32,
    /// Players only: the newest input sequence number applied; a player
    /// sending one input per tick advances it by one per tick.
    #[replicate(varint, predict = counter)]
    pub last_input_seq: u32,
}

impl Ship {
    /// Where the nose points, a unit vector.
    pub fn forward(&self) -> Vec3 {
        self.orientation * FORWARD
    }

    pub fn alive(&self) -> bool {
        self.hp > 0
    }
}

/// One shot: it flies straight at its velocity until it hits, leaves the
/// world or its time runs out.
#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Shot {
    #[replicate(id)]
    pub id: EntityId,
    #[replicate(
        fixed(quantum = 1.0 / 64.0, min = -500.0, max = 500.0),
        predict = linear(vel)
    )]
    pub pos: Vec3,
    #[replicate(fixed(quantum = 1.0 / 64.0, min = -64.0, max = 64.0))]
    pub vel: Vec3,
    /// The entity id of the ship that fired it.
    #[replicate(varint)]
    pub owner: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub enum Phase {
    Playing,
    Intermission,
}

/// The per-match state. Its size does not grow with the players: each ship
/// carries its own kills, and this holds the top three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub struct Scoreboard {
    pub phase: Phase,
    #[replicate(varint)]
    pub round: u32,
    /// The tick at which the phase ends (a constant, so it costs nothing
    /// while it holds; a client counts down against its snapshot's tick).
    #[replicate(varint)]
    pub phase_ends: u32,
    /// Kills scored this round, by everybody.
    #[replicate(varint)]
    pub kills: u32,
    /// The leaders' entity ids (0: nobody) and kills, most kills first, ties
    /// to the lower id.
    #[replicate(varint)]
    pub first: u32,
    #[replicate(varint)]
    pub first_kills: u32,
    #[replicate(varint)]
    pub second: u32,
    #[replicate(varint)]
    pub second_kills: u32,
    #[replicate(varint)]
    pub third: u32,
    #[replicate(varint)]
    pub third_kills: u32,
}

impl Scoreboard {
    /// The leaders who have scored, most kills first.
    pub fn leaders(&self) -> impl Iterator<Item = (EntityId, u32)> {
        [
            (self.first, self.first_kills),
            (self.second, self.second_kills),
            (self.third, self.third_kills),
        ]
        .into_iter()
        .filter(|(id, kills)| *id != 0 && *kills > 0)
        .map(|(id, kills)| (EntityId(id), kills))
    }
}

/// A space3d entity: two kinds and the scoreboard (entity id 0).
#[derive(Debug, Clone, PartialEq, Replicate)]
pub enum SpaceEntity {
    Ship(Ship),
    Shot(Shot),
    #[replicate(singleton)]
    Score(Scoreboard),
}

impl SpaceEntity {
    pub fn as_ship(&self) -> Option<&Ship> {
        match self {
            SpaceEntity::Ship(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_shot(&self) -> Option<&Shot> {
        match self {
            SpaceEntity::Shot(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_scoreboard(&self) -> Option<&Scoreboard> {
        match self {
            SpaceEntity::Score(s) => Some(s),
            _ => None,
        }
    }
}

/// One space3d input; it holds until the next. `thrust` accelerates along
/// the nose (negative: backwards), `yaw`/`pitch`/`roll` turn at
/// `value / ROTATE_MAX * TURN_RATE`, `fire` fires whenever the gun is ready.
/// 27 bits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Replicate)]
pub struct SpaceInput {
    #[replicate(range = -127..=127)]
    pub thrust: i8,
    #[replicate(range = -16..=16)]
    pub yaw: i8,
    #[replicate(range = -16..=16)]
    pub pitch: i8,
    #[replicate(range = -16..=16)]
    pub roll: i8,
    pub fire: bool,
}

impl SpaceInput {
    /// Every value in its range; the wire already snaps, but `apply_input`
    /// is the game's own guard (a caller in-process skips the wire).
    pub fn clamped(&self) -> SpaceInput {
        let rotate = |v: i8| v.clamp(-ROTATE_MAX, ROTATE_MAX);
        SpaceInput {
            thrust: self.thrust.clamp(-THRUST_MAX, THRUST_MAX),
            yaw: rotate(self.yaw),
            pitch: rotate(self.pitch),
            roll: rotate(self.roll),
            fire: self.fire,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Drifter,
    /// Turns by `spin` (in its own frame) every tick.
    Turner {
        spin: Quat,
    },
    Player {
        id: PlayerId,
        input: SpaceInput,
    },
}

/// A ship and what the simulation keeps of it beyond the wire: its exact
/// velocity and attitude. The replicated `vel` and `orientation` are these
/// snapped to the grid every tick, so that small pushes and turns (a light
/// touch on the stick, a high tick rate) add up instead of rounding away,
/// while the position still moves by the replicated `vel`, exactly as a
/// client predicts it.
#[derive(Debug)]
struct ShipState {
    ship: Ship,
    role: Role,
    velocity: Vec3,
    attitude: Quat,
    /// Ticks until a destroyed ship respawns.
    respawn_in: u32,
    /// Ticks until the gun is ready.
    cooldown: u32,
}

impl ShipState {
    /// Takes `ship`'s velocity and orientation as the exact ones.
    fn new(ship: Ship, role: Role) -> Self {
        let mut s = ShipState {
            velocity: ship.vel,
            attitude: ship.orientation,
            ship,
            role,
            respawn_in: 0,
            cooldown: 0,
        };
        s.sync();
        s
    }

    /// Puts the exact velocity and attitude, snapped, on the wire.
    fn sync(&mut self) {
        self.ship.vel = self.velocity;
        self.ship.orientation = self.attitude;
        Replicated::snap(&mut self.ship);
    }

    fn forward(&self) -> Vec3 {
        self.attitude * FORWARD
    }

    fn is_npc(&self) -> bool {
        !matches!(self.role, Role::Player { .. })
    }
}

#[derive(Debug)]
struct ShotState {
    shot: Shot,
    ticks_left: u32,
}

/// Per-tick rates, from the per-second constants and the match's tick rate.
#[derive(Debug, Clone, Copy)]
struct Rates {
    drifter_speed: f32,
    turner_speed: f32,
    turner_turn: f32,
    max_speed: f32,
    accel: f32,
    turn: f32,
    shot_speed: f32,
    shot_ticks: u32,
    cooldown_ticks: u32,
    respawn_ticks: u32,
    round_ticks: u32,
    intermission_ticks: u32,
}

impl Rates {
    fn new(tick_rate: u16) -> Self {
        let rate = f32::from(tick_rate.max(1));
        let speed = |units_per_s: f32| (units_per_s / rate).min(VELOCITY_LIMIT);
        let ticks = |seconds: f32| ((seconds * rate).round() as u32).max(1);
        Rates {
            drifter_speed: speed(DRIFTER_SPEED),
            turner_speed: speed(TURNER_SPEED),
            turner_turn: TURNER_TURN_RATE / rate,
            max_speed: speed(MAX_SPEED),
            accel: THRUST_ACCEL / (rate * rate),
            turn: TURN_RATE / rate,
            shot_speed: SHOT_SPEED / rate,
            shot_ticks: ticks(SHOT_SECONDS),
            cooldown_ticks: ticks(FIRE_COOLDOWN_SECONDS),
            respawn_ticks: ticks(RESPAWN_SECONDS),
            round_ticks: ticks(ROUND_SECONDS as f32),
            intermission_ticks: ticks(INTERMISSION_SECONDS as f32),
        }
    }
}

/// The space3d game.
#[derive(Debug)]
pub struct Space3d {
    /// NPCs first (always `NPC_COUNT` of them), then players in join order.
    ships: Vec<ShipState>,
    shots: Vec<ShotState>,
    scoreboard: Scoreboard,
    rng: fastrand::Rng,
    next_entity: u32,
    /// Set once `next_entity` has wrapped: from then on ids are checked.
    ids_wrapped: bool,
    rates: Rates,
    /// The shooters of this tick's kills; kept to reuse its buffer.
    kill_credits: Vec<u32>,
}

/// The first id of a player ship or a shot.
const FIRST_DYNAMIC_ID: u32 = NPC_COUNT + 1;

fn random_position(rng: &mut fastrand::Rng) -> Vec3 {
    let mut c = || (rng.f32() * 2.0 - 1.0) * WORLD_HALF;
    Vec3::new(c(), c(), c())
}

/// A uniformly random unit vector.
fn random_direction(rng: &mut fastrand::Rng) -> Vec3 {
    let z = rng.f32() * 2.0 - 1.0;
    let phi = rng.f32() * TAU;
    let r = (1.0 - z * z).max(0.0).sqrt();
    Vec3::new(r * phi.cos(), r * phi.sin(), z)
}

/// The orientation whose nose points along `dir` (identity for zero).
fn facing(dir: Vec3) -> Quat {
    match dir.try_normalize() {
        Some(d) => Quat::from_rotation_arc(FORWARD, d),
        None => Quat::IDENTITY,
    }
}

/// Moves `pos` by `vel` on one axis, reflecting off the walls; returns the
/// new position and whether it bounced. Exact on the grid: the walls are on it.
fn bounce(pos: f32, vel: f32) -> (f32, bool) {
    let next = pos + vel;
    if next > WORLD_HALF {
        (2.0 * WORLD_HALF - next, true)
    } else if next < -WORLD_HALF {
        (-2.0 * WORLD_HALF - next, true)
    } else {
        (next, false)
    }
}

fn inside_world(p: Vec3) -> bool {
    p.abs().max_element() <= WORLD_HALF
}

/// Where along the segment `from..from + step` (0..=1) it passes within
/// `radius` of `centre`, if it does.
fn segment_hit(from: Vec3, step: Vec3, centre: Vec3, radius: f32) -> Option<f32> {
    let len2 = step.length_squared();
    let t = if len2 > 0.0 {
        ((centre - from).dot(step) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let closest = from + step * t;
    (closest.distance_squared(centre) <= radius * radius).then_some(t)
}

impl Space3d {
    /// The ship a player flies, if it is in the match.
    pub fn player_ship(&self, player: PlayerId) -> Option<&Ship> {
        self.player_index(player).map(|i| &self.ships[i].ship)
    }

    /// The ship with this entity id.
    pub fn ship(&self, id: EntityId) -> Option<&Ship> {
        self.ships.iter().map(|s| &s.ship).find(|s| s.id == id)
    }

    pub fn shots(&self) -> impl Iterator<Item = &Shot> {
        self.shots.iter().map(|s| &s.shot)
    }

    pub fn scoreboard(&self) -> &Scoreboard {
        &self.scoreboard
    }

    fn player_index(&self, player: PlayerId) -> Option<usize> {
        self.ships
            .iter()
            .position(|s| matches!(s.role, Role::Player { id, .. } if id == player))
    }

    fn id_in_use(&self, id: u32) -> bool {
        self.ships.iter().any(|s| s.ship.id.0 == id) || self.shots.iter().any(|s| s.shot.id.0 == id)
    }

    /// A fresh entity id for a player ship or a shot. Ids only grow, so a
    /// client never mistakes a new shot for an old one; after 2^32 of them
    /// they wrap and skip the ids still in use (entity counts are bounded, so
    /// a free one is near).
    fn allocate_id(&mut self) -> EntityId {
        loop {
            let id = self.next_entity;
            self.next_entity = match id.checked_add(1) {
                Some(next) => next,
                None => {
                    self.ids_wrapped = true;
                    FIRST_DYNAMIC_ID
                }
            };
            if !self.ids_wrapped || !self.id_in_use(id) {
                return EntityId(id);
            }
        }
    }

    fn spawn_npc(rng: &mut fastrand::Rng, rates: &Rates, id: EntityId, turner: bool) -> ShipState {
        let dir = random_direction(rng);
        let (pilot, role, speed, orientation) = if turner {
            // Mostly yaw, some pitch: circles tilted out of every plane.
            let sign = if rng.bool() { 1.0 } else { -1.0 };
            let yaw = sign * rates.turner_turn * (0.5 + rng.f32() * 0.5);
            let pitch = yaw * (rng.f32() - 0.5) * 0.6;
            let roll = rng.f32() * TAU;
            let spin = Quat::from_euler(EulerRot::YXZ, yaw, pitch, 0.0);
            let orientation = facing(dir) * Quat::from_rotation_z(roll);
            (
                Pilot::Turner,
                Role::Turner { spin },
                rates.turner_speed,
                orientation,
            )
        } else {
            (
                Pilot::Drifter,
                Role::Drifter,
                rates.drifter_speed,
                facing(dir),
            )
        };
        let ship = Ship {
            id,
            pilot,
            pos: random_position(rng),
            vel: orientation * FORWARD * speed,
            orientation,
            hp: START_HP,
            kills: 0,
            last_input_seq: 0,
        };
        ShipState::new(ship, role)
    }

    fn update_phase(&mut self, tick: Tick) {
        let board = &mut self.scoreboard;
        if tick.0 < board.phase_ends {
            return;
        }
        match board.phase {
            Phase::Playing => {
                board.phase = Phase::Intermission;
                board.phase_ends = tick.0.saturating_add(self.rates.intermission_ticks);
            }
            Phase::Intermission => {
                board.phase = Phase::Playing;
                board.round = board.round.saturating_add(1);
                board.phase_ends = tick.0.saturating_add(self.rates.round_ticks);
                board.kills = 0;
                for s in &mut self.ships {
                    s.ship.kills = 0;
                }
            }
        }
    }

    /// Moves every live ship by the velocity it had, off the walls; counts
    /// down the respawn of destroyed ones.
    fn move_ships(&mut self) {
        for s in &mut self.ships {
            if !s.ship.alive() {
                s.respawn_in = s.respawn_in.saturating_sub(1);
                if s.respawn_in == 0 {
                    respawn(s, &mut self.rng, &self.rates);
                }
                continue;
            }
            let e = &mut s.ship;
            let mut flip = Vec3::ONE;
            for axis in 0..3 {
                let (pos, bounced) = bounce(e.pos[axis], e.vel[axis]);
                e.pos[axis] = pos;
                if bounced {
                    flip[axis] = -1.0;
                }
            }
            if flip != Vec3::ONE {
                // Rounding is symmetric, so the flipped exact velocity snaps
                // to the flipped replicated one.
                let before = s.velocity;
                s.velocity *= flip;
                e.vel *= flip;
                if s.is_npc() {
                    // An NPC turns to fly where it bounced; a player keeps its nose.
                    let turn = Quat::from_rotation_arc(
                        before.normalize_or(FORWARD),
                        s.velocity.normalize_or(FORWARD),
                    );
                    s.attitude = (turn * s.attitude).normalize();
                }
            }
        }
    }

    /// Moves every shot, hitting the first live ship (not its own) on its
    /// way; drops those that hit, left the world or ran out of time.
    fn move_shots(&mut self) {
        let playing = self.scoreboard.phase == Phase::Playing;
        let damage = SHOT_DAMAGE;
        let respawn_ticks = self.rates.respawn_ticks;
        let ships = &mut self.ships;
        let credits = &mut self.kill_credits;
        self.shots.retain_mut(|s| {
            let shot = &mut s.shot;
            if playing {
                let hit = ships
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.ship.alive() && t.ship.id.0 != shot.owner)
                    .filter_map(|(i, t)| {
                        segment_hit(shot.pos, shot.vel, t.ship.pos, SHIP_RADIUS).map(|at| (at, i))
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                if let Some((_, i)) = hit {
                    let target = &mut ships[i];
                    target.ship.hp = target.ship.hp.saturating_sub(damage);
                    if !target.ship.alive() {
                        target.ship.vel = Vec3::ZERO;
                        target.velocity = Vec3::ZERO;
                        target.respawn_in = respawn_ticks;
                        credits.push(shot.owner);
                    }
                    return false;
                }
            }
            shot.pos += shot.vel;
            s.ticks_left = s.ticks_left.saturating_sub(1);
            s.ticks_left > 0 && inside_world(shot.pos)
        });
    }

    /// Credits this tick's kills to their shooters, if still in the match.
    fn score_kills(&mut self) {
        for owner in self.kill_credits.drain(..) {
            if let Some(s) = self.ships.iter_mut().find(|s| s.ship.id.0 == owner) {
                s.ship.kills = s.ship.kills.saturating_add(1);
                self.scoreboard.kills = self.scoreboard.kills.saturating_add(1);
            }
        }
    }

    /// Turns and accelerates every live ship, puts it back on the grid, and
    /// fires the guns of players who hold the trigger.
    fn steer_ships(&mut self) {
        let rates = self.rates;
        let can_fire = self.scoreboard.phase == Phase::Playing;
        for i in 0..self.ships.len() {
            let s = &mut self.ships[i];
            s.cooldown = s.cooldown.saturating_sub(1);
            if !s.ship.alive() {
                continue;
            }
            let mut trigger = false;
            match s.role {
                Role::Drifter => {}
                Role::Turner { spin } => {
                    s.attitude = (s.attitude * spin).normalize();
                    s.velocity = s.forward() * rates.turner_speed;
                }
                Role::Player { input, .. } => {
                    // Untouched controls leave the state untouched: a coasting
                    // ship must stay exactly where prediction puts it.
                    if (input.yaw, input.pitch, input.roll) != (0, 0, 0) {
                        let axis = |v: i8| f32::from(v) / f32::from(ROTATE_MAX) * rates.turn;
                        let turn = Quat::from_euler(
                            EulerRot::YXZ,
                            axis(input.yaw),
                            axis(input.pitch),
                            axis(input.roll),
                        );
                        s.attitude = (s.attitude * turn).normalize();
                    }
                    if input.thrust != 0 {
                        let push = f32::from(input.thrust) / f32::from(THRUST_MAX) * rates.accel;
                        s.velocity =
                            (s.velocity + s.forward() * push).clamp_length_max(rates.max_speed);
                    }
                    trigger = input.fire;
                }
            }
            // On the grid before it moves next tick or fires from here.
            s.sync();
            if trigger && can_fire && s.cooldown == 0 && self.shots.len() < MAX_SHOTS {
                s.cooldown = rates.cooldown_ticks;
                let ship = s.ship;
                self.fire(&ship);
            }
        }
    }

    fn fire(&mut self, ship: &Ship) {
        let nose = ship.forward();
        let mut shot = Shot {
            id: self.allocate_id(),
            pos: ship.pos + nose * (SHIP_RADIUS + 1.0),
            vel: (ship.vel + nose * self.rates.shot_speed).clamp_length_max(VELOCITY_LIMIT),
            owner: ship.id.0,
        };
        // Clamps into the world and onto the grid, where it then flies exactly.
        shot.snap();
        self.shots.push(ShotState {
            shot,
            ticks_left: self.rates.shot_ticks,
        });
    }

    /// The three ships with most kills, ties to the lower id.
    fn update_leaders(&mut self) {
        let mut top = [(0u32, 0u32); 3];
        for s in &self.ships {
            let entry = (s.ship.id.0, s.ship.kills);
            if entry.1 == 0 {
                continue;
            }
            let better =
                |a: (u32, u32), b: (u32, u32)| b.0 == 0 || a.1 > b.1 || (a.1 == b.1 && a.0 < b.0);
            if let Some(k) = (0..3).find(|&k| better(entry, top[k])) {
                top.copy_within(k..2, k + 1);
                top[k] = entry;
            }
        }
        let b = &mut self.scoreboard;
        (b.first, b.first_kills) = top[0];
        (b.second, b.second_kills) = top[1];
        (b.third, b.third_kills) = top[2];
    }
}

/// Brings a destroyed ship back: somewhere random, whole, at rest (an NPC
/// back on its way).
fn respawn(s: &mut ShipState, rng: &mut fastrand::Rng, rates: &Rates) {
    s.ship.hp = START_HP;
    s.ship.pos = random_position(rng);
    let speed = match s.role {
        Role::Player { .. } => 0.0,
        Role::Drifter => rates.drifter_speed,
        Role::Turner { .. } => rates.turner_speed,
    };
    if s.is_npc() {
        s.attitude = facing(random_direction(rng));
    }
    s.velocity = s.forward() * speed;
    s.sync();
}

impl Game for Space3d {
    type Entity = SpaceEntity;
    type Input = SpaceInput;
    type Message = crate::replicate::NoMessages;
    type Event = crate::replicate::NoMessages;

    fn new(settings: &MatchSettings) -> Self {
        let rates = Rates::new(settings.tick_rate);
        let mut rng = fastrand::Rng::with_seed(settings.seed);
        let mut ships = Vec::with_capacity(NPC_COUNT as usize + usize::from(settings.capacity));
        for index in 0..NPC_COUNT {
            ships.push(Self::spawn_npc(
                &mut rng,
                &rates,
                EntityId(index + 1),
                index >= DRIFTER_COUNT,
            ));
        }
        Space3d {
            ships,
            shots: Vec::with_capacity(MAX_SHOTS),
            scoreboard: Scoreboard {
                phase: Phase::Playing,
                round: 1,
                phase_ends: rates.round_ticks,
                kills: 0,
                first: 0,
                first_kills: 0,
                second: 0,
                second_kills: 0,
                third: 0,
                third_kills: 0,
            },
            rng,
            next_entity: FIRST_DYNAMIC_ID,
            ids_wrapped: false,
            rates,
            kill_credits: Vec::new(),
        }
    }

    fn join(&mut self, player: PlayerId) -> EntityId {
        if let Some(i) = self.player_index(player) {
            return self.ships[i].ship.id;
        }
        let id = self.allocate_id();
        let ship = Ship {
            id,
            pilot: Pilot::Player,
            pos: random_position(&mut self.rng),
            vel: Vec3::ZERO,
            orientation: Quat::IDENTITY,
            hp: START_HP,
            kills: 0,
            last_input_seq: 0,
        };
        self.ships.push(ShipState::new(
            ship,
            Role::Player {
                id: player,
                input: SpaceInput::default(),
            },
        ));
        id
    }

    fn leave(&mut self, player: PlayerId) {
        if let Some(i) = self.player_index(player) {
            self.ships.remove(i);
        }
    }

    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &SpaceInput) {
        let Some(i) = self.player_index(player) else {
            return;
        };
        let s = &mut self.ships[i];
        if let Role::Player { input: held, .. } = &mut s.role {
            *held = input.clamped();
        }
        s.ship.last_input_seq = seq;
    }

    fn step(&mut self, tick: Tick) {
        self.update_phase(tick);
        self.move_ships();
        self.move_shots();
        self.score_kills();
        self.steer_ships();
        self.update_leaders();
    }

    fn freeze(&self, out: &mut Vec<SpaceEntity>) {
        out.push(SpaceEntity::Score(self.scoreboard));
        out.extend(self.ships.iter().map(|s| SpaceEntity::Ship(s.ship)));
        out.extend(self.shots.iter().map(|s| SpaceEntity::Shot(s.shot)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::{NetEntity, SINGLETON_ID};
    use crate::snapshot::{decode_delta, encode_delta, Snapshot};
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn settings(seed: u64, capacity: u16) -> MatchSettings {
        MatchSettings {
            seed,
            tick_rate: 30,
            capacity,
        }
    }

    fn frozen(game: &Space3d, tick: u32) -> Snapshot<SpaceEntity> {
        let mut out = Vec::new();
        game.freeze(&mut out);
        Snapshot::new(Tick(tick), out)
    }

    /// Random controls, beyond their ranges too; the trigger held with
    /// odds `fire_odds` in 256.
    fn random_input(rng: &mut fastrand::Rng, fire_odds: u8) -> SpaceInput {
        SpaceInput {
            thrust: rng.i8(..),
            yaw: rng.i8(..),
            pitch: rng.i8(-20..=20),
            roll: rng.i8(-20..=20),
            fire: rng.u8(..) < fire_odds,
        }
    }

    /// Plays `ticks` ticks with `players` players changing their input now
    /// and then (see `random_input`); returns every snapshot.
    fn play(seed: u64, players: u64, ticks: u32, fire_odds: u8) -> Vec<Snapshot<SpaceEntity>> {
        let mut game = Space3d::new(&settings(seed, 64));
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xF1);
        for p in 0..players {
            game.join(PlayerId(p));
        }
        let mut out = Vec::new();
        for t in 1..=ticks {
            for p in 0..players {
                if rng.u8(..) < 40 {
                    game.apply_input(PlayerId(p), t, &random_input(&mut rng, fire_odds));
                }
            }
            game.step(Tick(t));
            out.push(frozen(&game, t));
        }
        out
    }

    fn ship(snap: &Snapshot<SpaceEntity>, id: EntityId) -> Ship {
        *snap.get(id).and_then(SpaceEntity::as_ship).expect("a ship")
    }

    /// Puts a ship somewhere, at rest, facing `FORWARD`.
    fn place(game: &mut Space3d, id: EntityId, pos: Vec3) {
        let s = game
            .ships
            .iter_mut()
            .find(|s| s.ship.id == id)
            .expect("ship exists");
        s.ship.pos = pos;
        s.velocity = Vec3::ZERO;
        s.attitude = Quat::IDENTITY;
        s.sync();
    }

    #[test]
    fn the_same_seed_plays_the_same_match() {
        let a = play(9, 6, 400, 128);
        let b = play(9, 6, 400, 128);
        let c = play(10, 6, 400, 128);
        assert_eq!(a, b);
        assert_ne!(a.last(), c.last());
        // Shots were fired and ships were hit: the match is not trivially equal.
        assert!(a
            .iter()
            .any(|s| s.entities.iter().any(|e| e.as_shot().is_some())));
    }

    #[test]
    fn a_match_without_players_moves_in_three_dimensions() {
        let mut game = Space3d::new(&settings(5, 16));
        let before = frozen(&game, 0);
        game.step(Tick(1));
        let after = frozen(&game, 1);
        let ships: Vec<(Ship, Ship)> = before
            .entities
            .iter()
            .zip(&after.entities)
            .filter_map(|(b, a)| Some((*b.as_ship()?, *a.as_ship()?)))
            .collect();
        assert_eq!(ships.len(), NPC_COUNT as usize);
        for (b, a) in &ships {
            assert_ne!(a.pos, b.pos, "NPC {:?} did not move", a.id);
            let expected = match a.pilot {
                Pilot::Drifter => DRIFTER_SPEED,
                _ => TURNER_SPEED,
            };
            let speed = a.vel.length() * 30.0;
            assert!(
                (speed - expected).abs() < 0.5,
                "{:?} flies at {speed}",
                a.id
            );
            // The nose points where it flies (to the quaternion grid's precision).
            assert!(a.forward().dot(a.vel.normalize()) > 0.999, "{a:?}");
        }
        // Every axis sees motion: nothing is confined to a plane.
        for axis in 0..3 {
            assert!(ships.iter().any(|(_, a)| a.vel[axis].abs() > 0.3));
        }
        for (b, a) in &ships {
            match a.pilot {
                Pilot::Turner => assert_ne!(a.orientation, b.orientation, "a turner turns"),
                // A drifter turns only when it bounces off a wall.
                _ if a.vel == b.vel => assert_eq!(a.orientation, b.orientation),
                _ => {}
            }
        }
        let turners = ships.iter().filter(|(_, a)| a.pilot == Pilot::Turner);
        assert_eq!(turners.count(), TURNER_COUNT as usize);
    }

    #[test]
    fn every_entity_stays_in_the_world_and_shots_stay_bounded() {
        // 120 players firing at will would keep hundreds of shots in flight
        // (six each, fewer as they leave the world): the cap holds them.
        let players = 120;
        let snaps = play(4, players, 600, 255);
        let mut most_shots = 0;
        for snap in &snaps {
            let shots = snap
                .entities
                .iter()
                .filter(|e| e.as_shot().is_some())
                .count();
            most_shots = most_shots.max(shots);
            assert!(snap.entities.len() <= 1 + NPC_COUNT as usize + players as usize + MAX_SHOTS);
            for e in &snap.entities {
                let (pos, vel) = match e {
                    SpaceEntity::Ship(s) => (s.pos, s.vel),
                    SpaceEntity::Shot(s) => (s.pos, s.vel),
                    SpaceEntity::Score(_) => continue,
                };
                assert!(pos.abs().max_element() <= WORLD_HALF, "{e:?}");
                assert!(vel.is_finite(), "{e:?}");
            }
            for s in snap.entities.iter().filter_map(SpaceEntity::as_ship) {
                if s.pilot == Pilot::Player {
                    // Rounding onto the grid may add a little.
                    assert!(s.vel.length() <= MAX_SPEED / 30.0 + POS_QUANTUM, "{s:?}");
                }
            }
        }
        assert_eq!(most_shots, MAX_SHOTS, "the cap was never reached");
    }

    #[test]
    fn inputs_out_of_range_are_clamped() {
        let wild = SpaceInput {
            thrust: i8::MIN,
            yaw: i8::MAX,
            pitch: i8::MIN,
            roll: 17,
            fire: true,
        };
        let limits = SpaceInput {
            thrust: -THRUST_MAX,
            yaw: ROTATE_MAX,
            pitch: -ROTATE_MAX,
            roll: ROTATE_MAX,
            fire: true,
        };
        assert_eq!(wild.clamped(), limits);
        let mut w = crate::snapshot::BitWriter::new();
        limits.write_full(&mut w);
        assert_eq!(w.finish().len(), 4, "27 bits, in 4 bytes");
        // Starting at rest at the centre, facing FORWARD: no wall interferes.
        let run = |input: SpaceInput| {
            let mut game = Space3d::new(&settings(2, 4));
            let id = game.join(PlayerId(1));
            place(&mut game, id, Vec3::ZERO);
            game.apply_input(PlayerId(1), 1, &input);
            for t in 1..=10 {
                game.step(Tick(t));
            }
            (frozen(&game, 10), id)
        };
        let ((clamped, id), (at_limits, _)) = (run(wild), run(limits));
        assert_eq!(clamped, at_limits);
        let turned = ship(&clamped, id);
        assert_eq!(turned.last_input_seq, 1);
        // Full rotation on every axis for 10 ticks turned the nose away.
        assert!(turned.forward().dot(FORWARD) < 0.9, "{turned:?}");
        // Thrust alone: -128 is full reverse, 10 ticks of acceleration backwards.
        let (reverse, id) = run(SpaceInput {
            thrust: i8::MIN,
            ..SpaceInput::default()
        });
        let backwards = ship(&reverse, id);
        let speed = backwards.vel.length() * 30.0;
        let expected = THRUST_ACCEL * 10.0 / 30.0;
        assert!(
            (speed - expected).abs() < 0.5,
            "speed {speed}, expected {expected}"
        );
        assert!(backwards.vel.normalize().dot(-FORWARD) > 0.999);
        // An input from a player who is not in the match changes nothing.
        let mut game = Space3d::new(&settings(2, 4));
        game.join(PlayerId(1));
        let before = frozen(&game, 0);
        game.apply_input(PlayerId(2), 1, &wild);
        game.step(Tick(1));
        let mut alone = Space3d::new(&settings(2, 4));
        alone.join(PlayerId(1));
        alone.step(Tick(1));
        assert_ne!(frozen(&game, 1), before);
        assert_eq!(frozen(&game, 1), frozen(&alone, 1));
    }

    #[test]
    fn a_shot_hits_a_ship_and_the_kill_is_counted_on_the_scoreboard() {
        let mut game = Space3d::new(&settings(3, 4));
        let me = game.join(PlayerId(1));
        let target = EntityId(1);
        place(&mut game, me, Vec3::new(0.0, 0.0, 100.0));
        // 60 units ahead of the nose.
        place(&mut game, target, Vec3::new(0.0, 0.0, 40.0));
        let fire = SpaceInput {
            fire: true,
            ..SpaceInput::default()
        };
        let mut seq = 0;
        let mut tick = 0;
        let mut hp_seen = vec![START_HP];
        while game.ship(target).unwrap().alive() {
            assert!(tick < 200, "the target never died");
            seq += 1;
            tick += 1;
            game.apply_input(PlayerId(1), seq, &fire);
            game.step(Tick(tick));
            let hp = game.ship(target).unwrap().hp;
            if hp != *hp_seen.last().unwrap() {
                hp_seen.push(hp);
            }
        }
        assert_eq!(hp_seen, vec![100, 75, 50, 25, 0], "one shot, 25 hp");
        let snap = frozen(&game, tick);
        let board = *snap
            .get(SINGLETON_ID)
            .and_then(SpaceEntity::as_scoreboard)
            .unwrap();
        assert_eq!(board.kills, 1);
        assert_eq!(board.leaders().collect::<Vec<_>>(), vec![(me, 1)]);
        assert_eq!(ship(&snap, me).kills, 1);
        let wreck = ship(&snap, target);
        assert_eq!((wreck.hp, wreck.vel), (0, Vec3::ZERO));
        // The shooter's own shots never hit it, and the wreck respawns whole.
        assert_eq!(ship(&snap, me).hp, START_HP);
        let respawn = (RESPAWN_SECONDS * 30.0) as u32;
        for t in tick + 1..=tick + respawn {
            game.step(Tick(t));
        }
        let back = *game.ship(target).unwrap();
        assert_eq!(back.hp, START_HP);
        assert!(back.vel.length() > 0.0, "the NPC flies again");
    }

    #[test]
    fn rounds_end_in_an_intermission_and_the_next_round_resets_kills() {
        let mut game = Space3d::new(&settings(3, 4));
        let me = game.join(PlayerId(1));
        game.ships
            .iter_mut()
            .find(|s| s.ship.id == me)
            .unwrap()
            .ship
            .kills = 3;
        let round = ROUND_SECONDS * 30;
        for t in 1..round {
            game.step(Tick(t));
        }
        let board = *game.scoreboard();
        assert_eq!(
            (board.phase, board.round, board.phase_ends),
            (Phase::Playing, 1, round)
        );
        assert_eq!(board.leaders().collect::<Vec<_>>(), vec![(me, 3)]);
        game.step(Tick(round));
        assert_eq!(game.scoreboard().phase, Phase::Intermission);
        // No firing between rounds.
        let fire = SpaceInput {
            fire: true,
            ..SpaceInput::default()
        };
        game.apply_input(PlayerId(1), 1, &fire);
        let ends = game.scoreboard().phase_ends;
        assert_eq!(ends, round + INTERMISSION_SECONDS * 30);
        for t in round + 1..ends {
            game.step(Tick(t));
            assert_eq!(game.shots().count(), 0);
        }
        game.step(Tick(ends));
        let board = *game.scoreboard();
        assert_eq!(
            (board.phase, board.round, board.kills),
            (Phase::Playing, 2, 0)
        );
        assert_eq!(board.leaders().count(), 0);
        assert_eq!(game.player_ship(PlayerId(1)).unwrap().kills, 0);
        assert_eq!(game.shots().count(), 1, "firing again");
    }

    #[test]
    fn a_rejoining_player_keeps_its_ship_and_a_leaving_one_loses_it() {
        let mut game = Space3d::new(&settings(2, 4));
        let a = game.join(PlayerId(1));
        let b = game.join(PlayerId(2));
        assert_ne!(a, b);
        assert!(a.0 > NPC_COUNT && b.0 > NPC_COUNT);
        assert_eq!(game.join(PlayerId(1)), a);
        game.leave(PlayerId(1));
        let snap = frozen(&game, 1);
        assert!(snap.get(a).is_none());
        assert_eq!(ship(&snap, b).pilot, Pilot::Player);
        assert!(game.player_ship(PlayerId(1)).is_none());
    }

    #[test]
    fn coasting_ships_and_flying_shots_cost_nothing_in_a_delta() {
        let mut game = Space3d::new(&settings(3, 4));
        let me = game.join(PlayerId(1));
        place(&mut game, me, Vec3::ZERO);
        // Thrust for 20 ticks firing once, then coast; one input per tick, as
        // a client sends them, so the input counter is predicted too.
        let mut tick = 0;
        let mut send = |game: &mut Space3d, input: SpaceInput| {
            tick += 1;
            game.apply_input(PlayerId(1), tick, &input);
            game.step(Tick(tick));
            tick
        };
        for t in 1..=20 {
            send(
                &mut game,
                SpaceInput {
                    thrust: 127,
                    yaw: 3,
                    fire: t == 20,
                    ..SpaceInput::default()
                },
            );
        }
        let t = send(&mut game, SpaceInput::default());
        let base = frozen(&game, t);
        let t = send(&mut game, SpaceInput::default());
        let next = frozen(&game, t);
        assert!(ship(&next, me).vel.length() > 1.0, "the player coasts");

        // Which entities changed, beyond their prediction: turners (they turn
        // every tick) and ships that bounced off a wall. Nothing else.
        let mut coasting = HashSet::new();
        for (b, n) in base.entities.iter().zip(&next.entities) {
            assert_eq!(b.id(), n.id());
            let steady = match (b, n) {
                (SpaceEntity::Ship(b), SpaceEntity::Ship(n)) => {
                    b.pilot != Pilot::Turner && b.vel == n.vel
                }
                _ => true,
            };
            assert_eq!(n.same_on_wire(&b.predict(1)), steady, "{b:?} -> {n:?}");
            if steady {
                coasting.insert(n.id());
            }
        }
        let count = |f: fn(&SpaceEntity) -> bool| {
            next.entities
                .iter()
                .filter(|e| coasting.contains(&e.id()) && f(e))
                .count()
        };
        assert!(count(|e| e.as_ship().is_some_and(|s| s.pilot == Pilot::Drifter)) >= 40);
        assert_eq!(count(|e| e.as_shot().is_some()), 1);
        assert_eq!(count(|e| e.as_scoreboard().is_some()), 1);
        assert!(coasting.contains(&me));

        // The coasting part of the world: a delta of it is one byte, two
        // empty lists.
        let only = |s: &Snapshot<SpaceEntity>| {
            let kept = s.entities.iter().filter(|e| coasting.contains(&e.id()));
            Snapshot::new(s.tick, kept.cloned().collect())
        };
        assert_eq!(encode_delta(Some(&only(&base)), &only(&next)), vec![0x00]);
        // The whole world: far smaller than in full, and exact.
        let delta = encode_delta(Some(&base), &next);
        let full = encode_delta(None, &next);
        assert!(
            full.len() > 5 * delta.len(),
            "{} vs {}",
            delta.len(),
            full.len()
        );
        assert_eq!(decode_delta(Some(&base), next.tick, &delta).unwrap(), next);
    }

    fn vec3(bound: f32) -> impl Strategy<Value = Vec3> {
        prop_oneof![
            8 => (-bound..bound, -bound..bound, -bound..bound).prop_map(|(x, y, z)| Vec3::new(x, y, z)),
            1 => any::<[f32; 3]>().prop_map(Vec3::from_array),
        ]
    }

    fn quat() -> impl Strategy<Value = Quat> {
        prop_oneof![
            8 => (-PI..PI, -PI..PI, -PI..PI).prop_map(|(a, b, c)| Quat::from_euler(EulerRot::YXZ, a, b, c)),
            1 => any::<[f32; 4]>().prop_map(Quat::from_array),
        ]
    }

    fn ship_strategy() -> impl Strategy<Value = Ship> {
        (
            1u32..120,
            prop_oneof![
                Just(Pilot::Player),
                Just(Pilot::Drifter),
                Just(Pilot::Turner)
            ],
            vec3(520.0),
            vec3(70.0),
            quat(),
            (
                any::<u8>(),
                any::<u32>(),
                prop_oneof![0u32..1000, any::<u32>()],
            ),
        )
            .prop_map(
                |(id, pilot, pos, vel, orientation, (hp, kills, last_input_seq))| Ship {
                    id: EntityId(id),
                    pilot,
                    pos,
                    vel,
                    orientation,
                    hp,
                    kills,
                    last_input_seq,
                },
            )
    }

    fn shot_strategy() -> impl Strategy<Value = Shot> {
        (1u32..120, vec3(520.0), vec3(70.0), any::<u32>()).prop_map(|(id, pos, vel, owner)| Shot {
            id: EntityId(id),
            pos,
            vel,
            owner,
        })
    }

    fn scoreboard_strategy() -> impl Strategy<Value = Scoreboard> {
        (
            prop_oneof![Just(Phase::Playing), Just(Phase::Intermission)],
            any::<(u32, u32, u32)>(),
            any::<[(u32, u32); 3]>(),
        )
            .prop_map(|(phase, (round, phase_ends, kills), top)| Scoreboard {
                phase,
                round,
                phase_ends,
                kills,
                first: top[0].0,
                first_kills: top[0].1,
                second: top[1].0,
                second_kills: top[1].1,
                third: top[2].0,
                third_kills: top[2].1,
            })
    }

    fn entity_strategy() -> impl Strategy<Value = SpaceEntity> {
        prop_oneof![
            ship_strategy().prop_map(SpaceEntity::Ship),
            shot_strategy().prop_map(SpaceEntity::Shot),
        ]
    }

    fn snapshot_strategy(tick: u32) -> impl Strategy<Value = Snapshot<SpaceEntity>> {
        (
            proptest::option::of(scoreboard_strategy()),
            proptest::collection::vec(entity_strategy(), 0..60),
        )
            .prop_map(move |(board, mut entities)| {
                entities.extend(board.map(SpaceEntity::Score));
                Snapshot::new(Tick(tick), entities)
            })
    }

    /// A current snapshot derived from a baseline: most entities predicted,
    /// some changed (some into another kind), some removed, some added.
    fn evolved(
        base: &Snapshot<SpaceEntity>,
        ticks: u32,
        changes: &[(u8, SpaceEntity)],
    ) -> Snapshot<SpaceEntity> {
        let mut out: Vec<SpaceEntity> = base.entities.iter().map(|e| e.predict(ticks)).collect();
        for (op, e) in changes {
            let at = e.id().0 as usize % out.len().max(1);
            match op % 3 {
                0 if !out.is_empty() => {
                    out.remove(at);
                }
                1 if !out.is_empty() && out[at].id() != SINGLETON_ID => {
                    let mut changed = e.clone();
                    match &mut changed {
                        SpaceEntity::Ship(s) => s.id = out[at].id(),
                        SpaceEntity::Shot(s) => s.id = out[at].id(),
                        SpaceEntity::Score(_) => {}
                    }
                    out[at] = changed;
                }
                _ => out.push(e.clone()),
            }
        }
        Snapshot::new(Tick(base.tick.0 + ticks), out)
    }

    proptest! {
        #[test]
        fn full_snapshots_round_trip(current in snapshot_strategy(1)) {
            let payload = encode_delta(None, &current);
            prop_assert_eq!(decode_delta(None, current.tick, &payload).unwrap(), current);
        }

        #[test]
        fn deltas_round_trip_against_any_baseline(base in snapshot_strategy(10), current in snapshot_strategy(13)) {
            let payload = encode_delta(Some(&base), &current);
            prop_assert_eq!(decode_delta(Some(&base), current.tick, &payload).unwrap(), current);
        }

        #[test]
        fn evolved_states_round_trip(
            base in snapshot_strategy(100),
            ticks in 1u32..40,
            changes in proptest::collection::vec((any::<u8>(), entity_strategy()), 0..20),
        ) {
            let current = evolved(&base, ticks, &changes);
            let payload = encode_delta(Some(&base), &current);
            prop_assert_eq!(decode_delta(Some(&base), current.tick, &payload).unwrap(), current);
        }

        #[test]
        fn decoding_garbage_is_an_error_not_a_panic(base in snapshot_strategy(5), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_delta(Some(&base), Tick(6), &bytes);
            let _ = decode_delta::<SpaceEntity>(None, Tick(6), &bytes);
        }
    }
}
