//! A client that knows no game: it decodes snapshots from the schema the
//! server sends in `Welcome` and encodes inputs from JSON. For tools, tests
//! and inspecting any server; a game client uses the typed [`super::Client`].

use super::cluster::open_following;
use super::{next_server_msg, Baselines, ClientError, ClientOptions, Ws};
use crate::protocol::{ServerMsg, Tick, Welcome};
use crate::replicate::generic::{GenericCodec, GenericSnapshot};
use crate::replicate::schema::{fnv1a, SchemaError};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

/// What one `recv` brought.
#[derive(Debug, Clone, PartialEq)]
pub enum GenericEvent {
    /// A decoded snapshot, now [`GenericClient::world`].
    Snapshot {
        tick: Tick,
        baseline: Option<Tick>,
    },
    Pong {
        server_tick: Tick,
    },
    /// A game event, as JSON: `{"type": ..., "fields": {...}}`.
    Event {
        seq: u32,
        event: serde_json::Value,
    },
    /// How early this client's timed inputs arrived (milliseconds; the
    /// server sends it only to clients that send timed inputs).
    InputTiming {
        lead_min_ms: f64,
        lead_max_ms: f64,
        late: u16,
    },
    /// Events `first..=last` were lost while the client was away.
    EventsMissed {
        first: u32,
        last: u32,
    },
    /// The match is over; its result as JSON.
    Ended {
        seq: u32,
        result: serde_json::Value,
    },
    /// The server refused one of this client's messages.
    Denied {
        message: String,
    },
    /// A notice from the server's operators (a cluster-wide broadcast).
    Notice {
        text: String,
    },
}

/// A connected player of whatever game the server runs.
pub struct GenericClient {
    ws: Ws,
    welcome: Welcome,
    codec: GenericCodec,
    history: Baselines<GenericSnapshot>,
    next_seq: u32,
}

impl GenericClient {
    /// Connects to `url` and joins, taking the game's schema from `Welcome`.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let opened = open_following(url, &options, None).await?;
        let (ws, welcome) = (opened.ws, opened.welcome);
        let text = welcome
            .schema
            .as_deref()
            .ok_or(ClientError::Unexpected("Welcome without a schema"))?;
        if fnv1a(text.as_bytes()) != welcome.schema_hash {
            return Err(SchemaError("the schema text does not match its hash".into()).into());
        }
        let codec = GenericCodec::from_json(text)?;
        Ok(GenericClient {
            ws,
            welcome,
            codec,
            history: Baselines::new(),
            next_seq: 1,
        })
    }

    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    pub fn codec(&self) -> &GenericCodec {
        &self.codec
    }

    /// The newest decoded snapshot.
    pub fn world(&self) -> Option<&GenericSnapshot> {
        self.history.newest()
    }

    /// The newest decoded snapshot as JSON (`{"tick", "entities": [...]}`).
    pub fn world_json(&self) -> Option<serde_json::Value> {
        self.world().map(|w| self.codec.to_json(w))
    }

    /// Sends an input given as JSON field values; returns its sequence number.
    pub async fn send_input(&mut self, input: &serde_json::Value) -> Result<u32, ClientError> {
        let bytes = self.codec.encode_input(input)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        // `ClientMsg::Input` with the input's bytes, as bincode lays it out.
        let frame = bincode::encode_to_vec(
            (1u32, seq, Option::<Tick>::None, bytes.as_slice()),
            bincode::config::standard(),
        )
        .map_err(|_| ClientError::Unexpected("input does not encode"))?;
        self.ws.send(Message::Binary(frame.into())).await?;
        Ok(seq)
    }

    /// Sends a game message given as JSON (`{"type": "Chat", "fields":
    /// {"text": "hi"}}`), encoded by the schema's `messages`.
    pub async fn send_message(&mut self, message: &serde_json::Value) -> Result<(), ClientError> {
        let bytes = self.codec.encode_message(message)?;
        // `ClientMsg::Message` with the message's bytes, as bincode lays it out.
        let frame = bincode::encode_to_vec((4u32, bytes.as_slice()), bincode::config::standard())
            .map_err(|_| ClientError::Unexpected("message does not encode"))?;
        self.ws.send(Message::Binary(frame.into())).await?;
        Ok(())
    }

    /// Reads the next message; snapshots are decoded and acknowledged at once.
    pub async fn recv(&mut self) -> Result<GenericEvent, ClientError> {
        let (msg, _) = next_server_msg(&mut self.ws).await?;
        match msg {
            ServerMsg::Snapshot {
                tick,
                baseline,
                payload,
            } => {
                let base = self.history.find(tick, baseline)?;
                let snapshot = self.codec.decode(base, tick, &payload)?;
                self.history.keep(baseline, snapshot);
                let ack = bincode::encode_to_vec((2u32, tick), bincode::config::standard())
                    .map_err(|_| ClientError::Unexpected("ack does not encode"))?;
                self.ws.send(Message::Binary(ack.into())).await?;
                Ok(GenericEvent::Snapshot { tick, baseline })
            }
            ServerMsg::Pong { server_tick, .. } => Ok(GenericEvent::Pong { server_tick }),
            ServerMsg::Event { seq, body } => Ok(GenericEvent::Event {
                seq,
                event: self.codec.decode_event(&body).map_err(ClientError::Event)?,
            }),
            ServerMsg::EventsMissed { first, last } => {
                Ok(GenericEvent::EventsMissed { first, last })
            }
            ServerMsg::InputTiming {
                lead_min,
                lead_max,
                late,
            } => Ok(GenericEvent::InputTiming {
                lead_min_ms: f64::from(lead_min) / 10.0,
                lead_max_ms: f64::from(lead_max) / 10.0,
                late,
            }),
            ServerMsg::Ended { seq, result } => Ok(GenericEvent::Ended {
                seq,
                result: self
                    .codec
                    .decode_event(&result)
                    .map_err(ClientError::Event)?,
            }),
            ServerMsg::Error {
                code: crate::protocol::ErrorCode::Denied,
                message,
            } => Ok(GenericEvent::Denied { message }),
            ServerMsg::Notice { text } => Ok(GenericEvent::Notice { text }),
            ServerMsg::Welcome(_) => Err(ClientError::Unexpected("second Welcome")),
            ServerMsg::Error { code, message } => Err(ClientError::Server { code, message }),
        }
    }
}
