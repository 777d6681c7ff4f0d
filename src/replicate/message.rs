//! One-off messages: what clients send besides inputs (chat, "ready", "buy")
//! and the events the server sends besides snapshots ("round started", "you
//! were hit", the match's result).
//!
//! A game declares each direction as one enum, a [`MessageSet`]: one variant
//! per message type, each a unit variant or a newtype around a struct deriving
//! `Replicate`. `#[derive(Replicate)]` with `#[replicate(messages)]` on the enum
//! implements it. A message travels whole (no baseline, no prediction): the
//! type's index, then its fields in full, as the schema describes them.

use super::schema::MessageType;
use crate::snapshot::{BitReader, BitWriter, CodecError};
use serde::{Deserialize, Serialize};

/// What a connection may do, from its token's `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Steers an entity; the default.
    #[default]
    Player,
    /// Watches: snapshots and events, no entity, no inputs.
    Spectator,
    /// Watches, and may send the message types a game allows admins.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Player, Role::Spectator, Role::Admin];

    /// The name used in tokens, schemas, the match API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Player => "player",
            Role::Spectator => "spectator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the connection has an entity in the game.
    pub fn plays(self) -> bool {
        self == Role::Player
    }

    /// Its wire number (`Welcome.role`).
    pub fn to_wire(self) -> u8 {
        self as u8
    }

    pub fn from_wire(n: u8) -> Option<Role> {
        Role::ALL.get(usize::from(n)).copied()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every message type of one direction of a game. Implemented by
/// `#[derive(Replicate)]` on an enum marked `#[replicate(messages)]`.
///
/// On the wire a message is its type's index in `bits_for(types - 1)` bits
/// (none when there is one type), then the type's fields in full.
pub trait MessageSet: Sized + Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The message types in wire order.
    fn types() -> Vec<MessageType>;
    /// This message's type name, as in the schema.
    fn name(&self) -> &'static str;
    /// Whether a connection of `role` may send this message: the roles of the
    /// variant's `#[replicate(allow(...))]`, `player` alone by default. The
    /// server checks it before the game sees the message.
    fn allows(&self, role: Role) -> bool;
    /// Moves every field onto its wire grid.
    fn snap(&mut self);
    fn write(&self, w: &mut BitWriter);
    fn read(r: &mut BitReader) -> Result<Self, CodecError>;
}

/// The message set of a game that has none (`type Message = NoMessages;`):
/// no value exists, and no bytes decode into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMessages {}

impl MessageSet for NoMessages {
    fn types() -> Vec<MessageType> {
        Vec::new()
    }
    fn name(&self) -> &'static str {
        match *self {}
    }
    fn allows(&self, _: Role) -> bool {
        match *self {}
    }
    fn snap(&mut self) {
        match *self {}
    }
    fn write(&self, _: &mut BitWriter) {
        match *self {}
    }
    fn read(_: &mut BitReader) -> Result<Self, CodecError> {
        Err(CodecError::Invalid("this game has no message types"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names_and_wire_numbers() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(Role::from_wire(role.to_wire()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None, "names are lowercase");
        assert_eq!(Role::from_wire(3), None);
        assert_eq!(Role::default(), Role::Player);
    }

    #[test]
    fn no_bytes_decode_into_no_messages() {
        let mut r = BitReader::new(&[0u8; 4]);
        assert!(NoMessages::read(&mut r).is_err());
        assert!(NoMessages::types().is_empty());
    }
}
