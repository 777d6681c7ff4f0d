//! space3d's events: hits and kills, as they happen.

use crate::replicate::Replicate;

/// What space3d tells its clients besides snapshots.
#[derive(Debug, Clone, PartialEq, Replicate)]
#[replicate(messages)]
pub enum SpaceEvent {
    /// A shot hit a ship; to everyone who can see the ship.
    Hit(Hit),
    /// A ship was destroyed; to everyone.
    Kill(Kill),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub struct Hit {
    /// The ship hit, and who fired (entity ids).
    #[replicate(varint)]
    pub ship: u32,
    #[replicate(varint)]
    pub shooter: u32,
    /// The ship's hp after the hit.
    #[replicate(range = 0..=100)]
    pub hp: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub struct Kill {
    #[replicate(varint)]
    pub ship: u32,
    #[replicate(varint)]
    pub killer: u32,
}
