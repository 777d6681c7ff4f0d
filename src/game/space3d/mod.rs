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

use super::{Game, MatchSettings, Outbox};
use crate::protocol::{EntityId, PlayerId, Tick};
use crate::replicate::Replicated;
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

mod events;
mod saved;
mod wire;

pub use events::{Hit, Kill, SpaceEvent};
pub use wire::{Phase, Pilot, Scoreboard, Ship, Shot, SpaceEntity, SpaceInput};

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
    /// This tick's hits and kills, for `Game::events`.
    news: Vec<SpaceEvent>,
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
        let news = &mut self.news;
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
                    let ship = target.ship.id.0;
                    news.push(SpaceEvent::Hit(Hit {
                        ship,
                        shooter: shot.owner,
                        hp: target.ship.hp,
                    }));
                    if !target.ship.alive() {
                        news.push(SpaceEvent::Kill(Kill {
                            ship,
                            killer: shot.owner,
                        }));
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
    type Event = SpaceEvent;

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
            news: Vec::new(),
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

    fn events(&mut self, _tick: Tick, out: &mut Outbox<SpaceEvent>) {
        for news in self.news.drain(..) {
            match news {
                SpaceEvent::Hit(hit) => out.to_seeing(EntityId(hit.ship), SpaceEvent::Hit(hit)),
                kill @ SpaceEvent::Kill(_) => out.to_all(kill),
            }
        }
    }

    fn freeze(&self, out: &mut Vec<SpaceEntity>) {
        out.push(SpaceEntity::Score(self.scoreboard));
        out.extend(self.ships.iter().map(|s| SpaceEntity::Ship(s.ship)));
        out.extend(self.shots.iter().map(|s| SpaceEntity::Shot(s.shot)));
    }

    fn save(&self) -> Option<Vec<u8>> {
        Some(saved::save(self))
    }

    fn restore(settings: &MatchSettings, bytes: &[u8]) -> Option<Self> {
        saved::restore(settings, bytes)
    }
}

#[cfg(test)]
mod tests;
