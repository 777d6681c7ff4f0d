//! The wire protocol, sans-IO: message types, the bincode 2 codec and its limits.
//!
//! One message travels in one binary WebSocket frame. Everything here is a pure
//! function of bytes: no sockets, no tokio, no clocks. `net` and `client` are the
//! only callers that touch a network; tests and fuzzers call this module directly.
//! docs/PROTOCOL.md describes every byte, with test vectors checked in `tests` below.

mod codec;
mod messages;

pub use codec::{decode_client, decode_server, encode_client, encode_server, ProtocolError};
pub use messages::{ClientMsg, ErrorCode, ServerMsg, Welcome};

use bincode::{Decode, Encode};

/// The protocol version a client announces in its `Join`; any other is refused.
pub const PROTOCOL_VERSION: u16 = 1;

/// A simulation tick number. Ticks of one match start at 1 and increase by one per step.
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tick(pub u32);

impl Tick {
    /// How many ticks `self` is after `earlier` (0 if it is not after it).
    pub fn since(self, earlier: Tick) -> u32 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A player, unique within one server process for its lifetime.
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlayerId(pub u64);

/// A replicated entity, unique within one match.
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityId(pub u32);

/// A match, unique within one server (or one cluster's directory).
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatchId(pub u64);

impl std::fmt::Display for MatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The secret a client presents to resume its player after a disconnect.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionToken(pub [u8; 16]);

impl SessionToken {
    /// A fresh token from the operating system's random source.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        // The OS random source failing is not recoverable for a network server.
        getrandom::fill(&mut bytes).expect("operating system random source is unavailable");
        SessionToken(bytes)
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself into logs.
        f.write_str("SessionToken(..)")
    }
}
