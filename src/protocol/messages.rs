//! The messages of the protocol. Field order is wire order: do not reorder.

use super::{EntityId, MatchId, PlayerId, SessionToken, Tick};
use crate::replicate::Replicated;
use crate::snapshot::{BitReader, BitWriter};
use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};

/// A message from a client. `I` is the game's input type (`Game::Input`).
/// Encoded as bincode would derive it, except that the input travels as a
/// byte string holding its bit-packed fields (`Replicated::write_full`), so
/// a client in any language encodes it from the schema.
#[derive(Debug, Clone, PartialEq)]
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
    /// FNV-1a 64 of the game's schema text (docs/PROTOCOL.md, "Schema").
    pub schema_hash: u64,
    /// The schema's JSON text, unless the client stated this hash in its
    /// URL (`/ws?schema=HASH`) and so already has it.
    pub schema: Option<String>,
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

impl<I: Replicated> Encode for ClientMsg<I> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        match self {
            ClientMsg::Join { version, resume } => {
                0u32.encode(e)?;
                version.encode(e)?;
                resume.encode(e)
            }
            ClientMsg::Input { seq, ack, input } => {
                1u32.encode(e)?;
                seq.encode(e)?;
                ack.encode(e)?;
                let mut w = BitWriter::new();
                input.write_full(&mut w);
                w.finish().encode(e)
            }
            ClientMsg::Ack { tick } => {
                2u32.encode(e)?;
                tick.encode(e)
            }
            ClientMsg::Ping { client_time_us } => {
                3u32.encode(e)?;
                client_time_us.encode(e)
            }
        }
    }
}

impl<I: Replicated, C> Decode<C> for ClientMsg<I> {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(match u32::decode(d)? {
            0 => ClientMsg::Join {
                version: Decode::decode(d)?,
                resume: Decode::decode(d)?,
            },
            1 => {
                let seq = Decode::decode(d)?;
                let ack = Decode::decode(d)?;
                let bytes: Vec<u8> = Decode::decode(d)?;
                let mut r = BitReader::new(&bytes);
                let mut input = I::read_full(&mut r)
                    .and_then(|i| r.expect_end().map(|()| i))
                    .map_err(|err| DecodeError::OtherString(format!("input: {err}")))?;
                // The schema's ranges are the promise: values arrive on the grid.
                input.snap();
                ClientMsg::Input { seq, ack, input }
            }
            2 => ClientMsg::Ack {
                tick: Decode::decode(d)?,
            },
            3 => ClientMsg::Ping {
                client_time_us: Decode::decode(d)?,
            },
            found => {
                return Err(DecodeError::UnexpectedVariant {
                    type_name: "ClientMsg",
                    allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 3 },
                    found,
                })
            }
        })
    }
}
