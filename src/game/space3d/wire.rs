//! space3d's replicated types: what every client decodes.

use super::*;
use crate::replicate::Replicate;

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
