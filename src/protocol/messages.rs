//! The messages of the protocol. Field order is wire order: do not reorder.

use super::{EntityId, MatchId, PlayerId, SessionToken, Tick};
use crate::replicate::{MessageSet, NoMessages, Replicated};
use crate::snapshot::{BitReader, BitWriter};
use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};

/// A message from a client. `I` is the game's input type (`Game::Input`),
/// `M` its message set (`Game::Message`). Encoded as bincode would derive
/// it, except that an input or a game message travels as a byte string
/// holding its bit-packed fields, so a client in any language encodes it
/// from the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsg<I, M = NoMessages> {
    /// First message on a connection: the protocol version, the session
    /// token of a player to resume after a disconnect, and the newest event
    /// `seq` the client received in that session (0: none), so the server
    /// sends the events it missed.
    Join {
        version: u16,
        resume: Option<SessionToken>,
        last_event: u32,
    },
    /// One input. `seq` must increase from one input to the next; `ack` optionally
    /// acknowledges a snapshot in the same frame, to save a frame per tick.
    /// With `tick`, a timed input (docs/PROTOCOL.md, "Input timing"), sent as
    /// its own message type: the low 16 bits of the server tick it is meant
    /// for, which the server restores whole (it knows its tick to far
    /// better than 2^15). One that comes early waits for its tick; one that
    /// comes late is applied at the next tick and counted. The server
    /// reports how early they come in `InputTiming`.
    ///
    /// `view` (timed inputs only) is how far behind `tick` the world was that
    /// the player saw when the input was sampled (its interpolation tick),
    /// in sixteenths of a tick; 0 states nothing. The game may judge the
    /// input against that world (lag compensation, `Game::apply_input_seen`).
    Input {
        seq: u32,
        ack: Option<Tick>,
        tick: Option<u16>,
        view: u16,
        input: I,
    },
    /// The newest snapshot tick the client has decoded; the next delta is against it.
    Ack { tick: Tick },
    /// Round-trip probe; answered by `Pong` with the same time.
    Ping { client_time_us: u64 },
    /// A game message (chat, "ready"), handled in order with the sender's
    /// inputs if the sender's role may send its type.
    Message(M),
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
    /// The connection's role (`Role::to_wire`): 0 player, 1 spectator, 2
    /// admin. Only a player has an entity (`entity_id` is 0 otherwise).
    pub role: u8,
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
    /// A game event, bit-packed by the schema's `events`. `seq` counts this
    /// session's events from 1, without gaps: across a resume too.
    Event {
        seq: u32,
        body: Vec<u8>,
    },
    /// Events `first..=last` of this session are lost: more piled up while
    /// the client was away than the server keeps. The state is whole again
    /// with the full snapshot that follows a resume.
    EventsMissed {
        first: u32,
        last: u32,
    },
    /// The match is over: its result, an event like any other (`seq` is the
    /// next one), and the last message before the close.
    Ended {
        seq: u32,
        result: Vec<u8>,
    },
    /// How early this client's `TimedInput`s reached the server, over the
    /// last half second or so: the least and the most time between an
    /// input's arrival and the start of the tick it was applied at, in
    /// tenths of a millisecond (negative: it came after its tick had run),
    /// and how many were late.
    InputTiming {
        lead_min: i16,
        lead_max: i16,
        late: u16,
    },
    /// A notice from the operators (`POST /v1/admin/broadcast`: "server
    /// restarts in 5 minutes"), for every player on every node; plain text,
    /// at most 1 KiB. Not a game event: it is not numbered, not replayed
    /// after a resume, and the game never sees it.
    Notice {
        text: String,
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
    /// A game message was refused: its type is not allowed for the sender's
    /// role, the game refused it, or it came over the message rate. The
    /// message names the type and the reason; the connection stays open
    /// (until the denial limit).
    Denied,
}

impl<I: Replicated, M: MessageSet> Encode for ClientMsg<I, M> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        match self {
            ClientMsg::Join {
                version,
                resume,
                last_event,
            } => {
                0u32.encode(e)?;
                version.encode(e)?;
                resume.encode(e)?;
                last_event.encode(e)
            }
            ClientMsg::Input {
                seq,
                ack,
                tick,
                view,
                input,
            } => {
                match tick {
                    None => 1u32.encode(e)?,
                    Some(_) => 5u32.encode(e)?,
                }
                seq.encode(e)?;
                ack.encode(e)?;
                if let Some(tick) = tick {
                    // Two plain bytes: as a varint, most values would take three.
                    tick.to_le_bytes().encode(e)?;
                    view.encode(e)?;
                }
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
            ClientMsg::Message(message) => {
                4u32.encode(e)?;
                let mut w = BitWriter::new();
                message.write(&mut w);
                w.finish().encode(e)
            }
        }
    }
}

impl<I: Replicated, M: MessageSet, C> Decode<C> for ClientMsg<I, M> {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(match u32::decode(d)? {
            0 => ClientMsg::Join {
                version: Decode::decode(d)?,
                resume: Decode::decode(d)?,
                last_event: Decode::decode(d)?,
            },
            1 => {
                let seq = Decode::decode(d)?;
                let ack = Decode::decode(d)?;
                let input = decode_input(d)?;
                ClientMsg::Input {
                    seq,
                    ack,
                    tick: None,
                    view: 0,
                    input,
                }
            }
            5 => {
                let seq = Decode::decode(d)?;
                let ack = Decode::decode(d)?;
                let tick = u16::from_le_bytes(Decode::decode(d)?);
                let view = Decode::decode(d)?;
                let input = decode_input(d)?;
                ClientMsg::Input {
                    seq,
                    ack,
                    tick: Some(tick),
                    view,
                    input,
                }
            }
            2 => ClientMsg::Ack {
                tick: Decode::decode(d)?,
            },
            3 => ClientMsg::Ping {
                client_time_us: Decode::decode(d)?,
            },
            4 => {
                let bytes: Vec<u8> = Decode::decode(d)?;
                let mut r = BitReader::new(&bytes);
                let mut message = M::read(&mut r)
                    .and_then(|m| r.expect_end().map(|()| m))
                    .map_err(|err| DecodeError::OtherString(format!("message: {err}")))?;
                message.snap();
                ClientMsg::Message(message)
            }
            found => {
                return Err(DecodeError::UnexpectedVariant {
                    type_name: "ClientMsg",
                    allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 5 },
                    found,
                })
            }
        })
    }
}

/// An input's byte string, read by the input's schema.
fn decode_input<I: Replicated, D: Decoder>(d: &mut D) -> Result<I, DecodeError> {
    let bytes: Vec<u8> = Decode::decode(d)?;
    let mut r = BitReader::new(&bytes);
    let mut input = I::read_full(&mut r)
        .and_then(|i| r.expect_end().map(|()| i))
        .map_err(|err| DecodeError::OtherString(format!("input: {err}")))?;
    // The schema's ranges are the promise: values arrive on the grid.
    input.snap();
    Ok(input)
}
