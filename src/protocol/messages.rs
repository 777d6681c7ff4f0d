//! The messages of the protocol. Field order is wire order: do not reorder.

use super::{EntityId, MatchId, PlayerId, SessionToken, Tick};
use bincode::{Decode, Encode};

/// A message from a client. `I` is the game's input type (`Game::Input`).
#[derive(Encode, Decode, Debug, Clone, PartialEq)]
pub enum ClientMsg<I> {
    /// First message on a connection: the protocol version, and the session token
    /// of a player to resume after a disconnect.
    Join {
        version: u16,
        resume: Option<SessionToken>,
    },
    /// One input. `seq` must increase from one input to the next; `ack` optionally
    /// acknowledges a snapshot in the same frame, to save a frame per tick.
    Input {
        seq: u32,
        ack: Option<Tick>,
        input: I,
    },
    /// The newest snapshot tick the client has decoded; the next delta is against it.
    Ack { tick: Tick },
    /// Round-trip probe; answered by `Pong` with the same time.
    Ping { client_time_us: u64 },
}

/// What a joining player is told once it has an entity in the match.
#[derive(Encode, Decode, Debug, Clone, PartialEq)]
pub struct Welcome {
    pub version: u16,
    pub match_id: MatchId,
    pub player_id: PlayerId,
    pub entity_id: EntityId,
    pub tick_rate: u16,
    pub tick: Tick,
    pub session_token: SessionToken,
}

/// A message from the server.
#[derive(Encode, Decode, Debug, Clone, PartialEq)]
pub enum ServerMsg {
    Welcome(Welcome),
    /// The match state at `tick`, delta-encoded against the client's acknowledged
    /// snapshot `baseline`, or complete when `baseline` is `None`.
    Snapshot {
        tick: Tick,
        baseline: Option<Tick>,
        payload: Vec<u8>,
    },
    Pong {
        client_time_us: u64,
        server_tick: Tick,
    },
    /// A refusal; the server closes the connection after it when it is fatal.
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Machine-readable reasons carried by `ServerMsg::Error`.
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The client spoke another protocol version.
    UnsupportedVersion,
    /// The first message was not `Join`, or `Join` came twice.
    ExpectedJoin,
    /// The match is full or has ended.
    MatchUnavailable,
    /// The resume token is unknown or its grace period is over.
    InvalidSession,
    /// The server is shutting down.
    ShuttingDown,
    /// Anything else; the message says what.
    Internal,
}
