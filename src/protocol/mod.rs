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

/// A snapshot's baseline is never more than this many ticks older than the
/// snapshot, so a client only needs to keep the snapshots of the last
/// `MAX_BASELINE_AGE` ticks.
pub const MAX_BASELINE_AGE: u32 = 16;

/// A simulation tick number. Ticks of one match start at 1 and increase by one per step.
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tick(pub u32);

impl Tick {
    /// How many ticks `self` is after `earlier` (0 if it is not after it).
    pub fn since(self, earlier: Tick) -> u32 {
        self.0.saturating_sub(earlier.0)
    }

    /// The low 16 bits, as a `TimedInput` carries its tick.
    pub fn low_bits(self) -> u16 {
        self.0 as u16
    }

    /// The tick nearest to `self` whose low 16 bits are `low` (never below 0):
    /// a tick within 2^15 of `self` comes back whole.
    pub fn nearest_with_low_bits(self, low: u16) -> Tick {
        let diff = low.wrapping_sub(self.0 as u16) as i16;
        if diff >= 0 {
            Tick(self.0.saturating_add(diff as u32))
        } else {
            Tick(self.0.saturating_sub(u32::from(diff.unsigned_abs())))
        }
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

    /// The token as it travels in a URL (`/ws?resume=...`): 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parses [`to_hex`](Self::to_hex)'s form (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        // from_str_radix alone would take a sign ("+f").
        if bytes.len() != 32 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let digits = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(digits, 16).ok()?;
        }
        Some(SessionToken(out))
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself into logs.
        f.write_str("SessionToken(..)")
    }
}

#[cfg(test)]
mod tests {
    //! The byte-level test vectors of docs/PROTOCOL.md.
    use super::*;
    use crate::game::arena::{ArenaInput, ArenaMessage};
    use crate::replicate::NoMessages;
    use proptest::prelude::*;

    #[test]
    fn session_tokens_round_trip_through_their_url_form() {
        let token = SessionToken([0x0b, 0xff, 0, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(token.to_hex(), "0bff00100102030405060708090a0b0c");
        assert_eq!(SessionToken::from_hex(&token.to_hex()), Some(token));
        assert_eq!(
            SessionToken::from_hex(&token.to_hex().to_uppercase()),
            Some(token)
        );
        let signed = format!("+b{}", "0".repeat(30));
        for bad in ["", "0b", &"g".repeat(32), &"0".repeat(33), &signed] {
            assert_eq!(SessionToken::from_hex(bad), None, "{bad:?}");
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    fn client_vector(msg: ClientMsg<ArenaInput>, bytes: &str) {
        let mut out = Vec::new();
        encode_client(&msg, &mut out);
        assert_eq!(out, hex(bytes), "encoding of {msg:?}");
        assert_eq!(
            decode_client::<ArenaInput, NoMessages>(&out, 1024).unwrap(),
            msg
        );
    }

    fn server_vector(msg: ServerMsg, bytes: &str) {
        let mut out = Vec::new();
        encode_server(&msg, &mut out);
        assert_eq!(out, hex(bytes), "encoding of {msg:?}");
        assert_eq!(decode_server(&out, 1024).unwrap(), msg);
    }

    #[test]
    fn client_messages_match_the_documented_vectors() {
        client_vector(
            ClientMsg::Join {
                version: 1,
                resume: None,
                last_event: 0,
            },
            "00 01 00 00",
        );
        client_vector(
            ClientMsg::Join {
                version: 1,
                resume: Some(SessionToken([0xAB; 16])),
                last_event: 300,
            },
            "00 01 01 ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab fb 2c 01",
        );
        client_vector(
            ClientMsg::Input {
                seq: 300,
                ack: Some(Tick(1000)),
                tick: None,
                view: 0,
                input: ArenaInput {
                    move_x: 127,
                    move_y: -127,
                    aim: std::f32::consts::FRAC_PI_2,
                    buttons: 1,
                },
            },
            "01 fb 2c 01 01 fb e8 03 05 fe 00 40 00 01",
        );
        client_vector(
            ClientMsg::Input {
                seq: 5,
                ack: None,
                tick: None,
                view: 0,
                input: ArenaInput::default(),
            },
            "01 05 00 05 7f 7f 00 00 00",
        );
        client_vector(ClientMsg::Ack { tick: Tick(70000) }, "02 fc 70 11 01 00");
        client_vector(
            ClientMsg::Ping {
                client_time_us: 123456,
            },
            "03 fc 40 e2 01 00",
        );
        client_vector(
            ClientMsg::Input {
                seq: 5,
                ack: Some(Tick(70000)),
                tick: Some(4465),
                view: 40,
                input: ArenaInput::default(),
            },
            "05 05 01 fc 70 11 01 00 71 11 28 05 7f 7f 00 00 00",
        );
        let mut out = Vec::new();
        let ready = ClientMsg::<ArenaInput, ArenaMessage>::Message(ArenaMessage::Ready);
        encode_client(&ready, &mut out);
        assert_eq!(out, hex("04 01 40"));
        assert_eq!(decode_client(&out, 1024), Ok(ready));
    }

    #[test]
    fn server_messages_match_the_documented_vectors() {
        server_vector(
            ServerMsg::Welcome(Welcome {
                version: 1,
                match_id: MatchId(3),
                player_id: PlayerId(42),
                entity_id: EntityId(65),
                tick_rate: 30,
                tick: Tick(250),
                session_token: SessionToken([0x11; 16]),
                schema_hash: 0x1122_3344_5566_7788,
                schema: Some("{}".into()),
                role: 0,
            }),
            "00 01 03 2a 41 1e fa 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 \
             fd 88 77 66 55 44 33 22 11 01 02 7b 7d 00",
        );
        server_vector(
            ServerMsg::Snapshot {
                tick: Tick(251),
                baseline: Some(Tick(250)),
                payload: vec![0x40, 0x80],
            },
            "01 fb fb 00 01 fa 02 40 80",
        );
        server_vector(
            ServerMsg::Snapshot {
                tick: Tick(5),
                baseline: None,
                payload: vec![1, 2, 3],
            },
            "01 05 00 03 01 02 03",
        );
        server_vector(
            ServerMsg::Pong {
                client_time_us: 123456,
                server_tick: Tick(252),
            },
            "02 fc 40 e2 01 00 fb fc 00",
        );
        server_vector(
            ServerMsg::Error {
                code: ErrorCode::MatchUnavailable,
                message: "full".into(),
            },
            "03 02 04 66 75 6c 6c",
        );
        server_vector(
            ServerMsg::Error {
                code: ErrorCode::Denied,
                message: "no".into(),
            },
            "03 06 02 6e 6f",
        );
        server_vector(
            ServerMsg::Event {
                seq: 7,
                body: vec![0x80, 0x01],
            },
            "04 07 02 80 01",
        );
        server_vector(
            ServerMsg::EventsMissed {
                first: 3,
                last: 260,
            },
            "05 03 fb 04 01",
        );
        server_vector(
            ServerMsg::Ended {
                seq: 9,
                result: vec![0xff],
            },
            "06 09 01 ff",
        );
        server_vector(
            ServerMsg::InputTiming {
                lead_min: -3,
                lead_max: 80,
                late: 1,
            },
            "07 05 a0 01",
        );
        server_vector(ServerMsg::Notice { text: "hi".into() }, "08 02 68 69");
    }

    #[test]
    fn a_tick_comes_back_whole_from_its_low_bits_near_the_current_one() {
        for now in [0u32, 5, 65_535, 65_536, 100_000, 1 << 31, u32::MAX - 3] {
            for offset in [-32_768i64, -1000, -1, 0, 1, 7, 32_767] {
                let tick = i64::from(now) + offset;
                if tick < 0 || tick > i64::from(u32::MAX) {
                    continue;
                }
                let tick = Tick(tick as u32);
                assert_eq!(
                    Tick(now).nearest_with_low_bits(tick.low_bits()),
                    tick,
                    "tick {tick:?} near {now}"
                );
            }
        }
        // Below zero there is nothing: the nearest valid tick is taken.
        assert_eq!(Tick(3).nearest_with_low_bits(65_535), Tick(0));
    }

    #[test]
    fn another_protocol_version_is_refused() {
        let mut out = Vec::new();
        encode_client::<ArenaInput, NoMessages>(
            &ClientMsg::Join {
                version: 9,
                resume: None,
                last_event: 0,
            },
            &mut out,
        );
        assert_eq!(
            decode_client::<ArenaInput, NoMessages>(&out, 1024),
            Err(ProtocolError::UnsupportedVersion {
                got: 9,
                supported: PROTOCOL_VERSION
            })
        );
    }

    #[test]
    fn oversized_truncated_and_trailing_frames_are_errors() {
        let big = vec![0u8; 2000];
        assert_eq!(
            decode_client::<ArenaInput, NoMessages>(&big, 1024),
            Err(ProtocolError::TooLarge {
                len: 2000,
                max: 1024
            })
        );
        assert!(matches!(
            decode_client::<ArenaInput, NoMessages>(&hex("01 fb 2c"), 1024),
            Err(ProtocolError::Malformed(_))
        ));
        assert_eq!(
            decode_client::<ArenaInput, NoMessages>(&hex("02 05 00"), 1024),
            Err(ProtocolError::TrailingBytes(1))
        );
        assert!(matches!(
            decode_client::<ArenaInput, NoMessages>(&hex("09"), 1024),
            Err(ProtocolError::Malformed(_))
        ));
        // A length prefix claiming 4 GiB must not allocate it.
        assert!(decode_server(&hex("03 00 fc ff ff ff ff"), 1024).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_client::<ArenaInput, NoMessages>(&bytes, 1024);
            let _ = decode_server(&bytes, 1024);
        }

        #[test]
        fn inputs_round_trip(seq in any::<u32>(), ack in proptest::option::of(any::<u32>()), tick in proptest::option::of(any::<u16>()), view in any::<u16>(), mx in any::<i8>(), my in any::<i8>(), aim in -10.0f32..10.0, buttons in any::<u8>()) {
            let input = ArenaInput { move_x: mx, move_y: my, aim, buttons };
            let mut out = Vec::new();
            encode_client::<ArenaInput, NoMessages>(&ClientMsg::Input { seq, ack: ack.map(Tick), tick, view: if tick.is_some() { view } else { 0 }, input }, &mut out);
            // The input arrives on its grid: moves clamped to -127..=127, aim in 16 bits of a turn.
            let mut snapped = input;
            crate::replicate::Replicated::snap(&mut snapped);
            prop_assert_eq!(decode_client::<ArenaInput, NoMessages>(&out, 1024).unwrap(), ClientMsg::Input { seq, ack: ack.map(Tick), tick, view: if tick.is_some() { view } else { 0 }, input: snapped });
            prop_assert_eq!(snapped.move_x, mx.max(-127));
            let turn = std::f32::consts::TAU;
            prop_assert!((snapped.aim - aim.rem_euclid(turn)).abs() < 1e-3 || (snapped.aim - aim.rem_euclid(turn)).abs() > turn - 1e-3);
        }
    }
}
