//! The join handshake on an upgraded socket: the first message must be a
//! valid `Join` within the handshake timeout; the player then gets its
//! entity (its old one, when resuming) and a `Welcome`.

use super::{count_close, encode, ws_error_end};
use crate::game::Game;
use crate::lobby::Seat;
use crate::net::App;
use crate::protocol::{
    decode_client, ClientMsg, EntityId, ErrorCode, ProtocolError, ServerMsg, SessionToken, Welcome,
    PROTOCOL_VERSION,
};
use crate::snapshot::NetEntity;
use crate::tick::OutboundSlot;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Why the handshake did not complete.
pub(super) enum Refused {
    /// The peer went away, went quiet or broke a rule (it was told why).
    Other,
    /// A newer connection of the same player takes the seat.
    TakenOver,
}

const BROKE_A_RULE: Refused = Refused::Other;
const WENT_AWAY: Refused = Refused::Other;

/// Sends an error message and a close frame, within the send timeout,
/// ignoring a peer that is already gone. Logged and counted like every close.
async fn refuse<S>(
    ws: &mut WebSocketStream<S>,
    limit: std::time::Duration,
    code: CloseCode,
    error: ErrorCode,
    reason: &str,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    count_close(super::close_label(code));
    tracing::info!(
        code = u16::from(code),
        reason = ?reason,
        "connection refused after the upgrade"
    );
    let msg = encode(&ServerMsg::Error {
        code: error,
        message: reason.to_string(),
    });
    let _ = tokio::time::timeout(limit, async {
        ws.send(Message::Binary(msg)).await?;
        ws.send(super::close_message(code, reason)).await
    })
    .await;
}

/// How waiting for `Join` failed: a close to send first, or a peer gone.
enum Failure {
    Refuse(CloseCode, ErrorCode, String, Refused),
    Gone,
}

fn refusal(code: CloseCode, error: ErrorCode, reason: impl Into<String>) -> Failure {
    Failure::Refuse(code, error, reason.into(), BROKE_A_RULE)
}

/// The first message, which must be a valid `Join` within the handshake
/// timeout; resuming is decided at the upgrade (`/ws?resume=`), so a Join
/// may only repeat that token.
async fn expect_join<G, S>(
    ws: &mut WebSocketStream<S>,
    config: &crate::config::Config,
    resumed: Option<SessionToken>,
) -> Result<u32, Failure>
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let bytes = match tokio::time::timeout(config.handshake_timeout, ws.next()).await {
        Ok(Some(Ok(Message::Binary(bytes)))) => bytes,
        Ok(Some(Ok(Message::Text(_)))) => {
            return Err(refusal(
                CloseCode::Unsupported,
                ErrorCode::ExpectedJoin,
                "text frames are not accepted; send binary frames",
            ))
        }
        Ok(Some(Ok(Message::Close(_)))) | Ok(None) => {
            count_close("client_closed");
            let _ = tokio::time::timeout(config.send_timeout, ws.close(None)).await;
            return Err(Failure::Gone);
        }
        Ok(Some(Ok(_))) => {
            return Err(refusal(
                CloseCode::Policy,
                ErrorCode::ExpectedJoin,
                "the first message must be Join",
            ))
        }
        Ok(Some(Err(e))) => {
            return Err(match ws_error_end(&e) {
                Ok((code, reason)) => refusal(code, ErrorCode::ExpectedJoin, reason),
                Err(_) => Failure::Gone,
            })
        }
        Err(_) => {
            return Err(Failure::Refuse(
                CloseCode::Policy,
                ErrorCode::ExpectedJoin,
                "no Join within the handshake timeout".into(),
                WENT_AWAY,
            ))
        }
    };
    match decode_client::<G::Input, G::Message>(&bytes, config.max_message_bytes) {
        // A new session has had no events: its `last_event` means nothing.
        Ok(ClientMsg::Join {
            resume, last_event, ..
        }) if resume.is_none() || resume == resumed => {
            Ok(if resumed.is_some() { last_event } else { 0 })
        }
        Ok(ClientMsg::Join { .. }) => Err(refusal(
            CloseCode::Policy,
            ErrorCode::InvalidSession,
            "resume with /ws?resume=TOKEN",
        )),
        Ok(_) => Err(refusal(
            CloseCode::Policy,
            ErrorCode::ExpectedJoin,
            "the first message must be Join",
        )),
        Err(ProtocolError::UnsupportedVersion { got, supported }) => Err(refusal(
            CloseCode::Protocol,
            ErrorCode::UnsupportedVersion,
            format!("protocol version {got} is not supported (this server speaks {supported})"),
        )),
        Err(e) => Err(refusal(
            CloseCode::Invalid,
            ErrorCode::ExpectedJoin,
            e.to_string(),
        )),
    }
}

/// Waits for `Join`, takes the seat's entity and sends `Welcome`; returns
/// the entity a player steers (none for a spectator).
pub(super) async fn handshake<G, S>(
    ws: &mut WebSocketStream<S>,
    seat: &mut Seat<G>,
    slot: &Arc<OutboundSlot<G::Entity>>,
    app: &App<G>,
    resumed: Option<SessionToken>,
    peer: Option<std::net::IpAddr>,
    send_schema: bool,
) -> Result<Option<EntityId>, Refused>
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
    G::Entity: NetEntity,
{
    let config = &app.config;
    let limit = config.send_timeout;
    let last_event = match expect_join::<G, S>(ws, config, resumed).await {
        Ok(last_event) => last_event,
        Err(Failure::Refuse(code, error, reason, why)) => {
            refuse(ws, limit, code, error, &reason).await;
            return Err(why);
        }
        Err(Failure::Gone) => return Err(WENT_AWAY),
    };

    // Take an entity in the match (its old one, when resuming).
    let joined = seat
        .join(slot.clone(), config.handshake_timeout, last_event)
        .await;
    let Some(joined) = joined else {
        let reason = "the match ended";
        refuse(
            ws,
            limit,
            CloseCode::Again,
            ErrorCode::MatchUnavailable,
            reason,
        )
        .await;
        return Err(BROKE_A_RULE);
    };
    let welcome = ServerMsg::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        match_id: seat.match_handle().id,
        player_id: seat.player(),
        entity_id: joined.entity_id,
        tick_rate: config.tick_rate,
        tick: joined.tick,
        session_token: seat.token(),
        schema_hash: app.schema.hash,
        schema: send_schema.then(|| app.schema.json.clone()),
        role: seat.role().to_wire(),
    });
    match tokio::time::timeout(limit, ws.send(Message::Binary(encode(&welcome)))).await {
        Ok(Ok(())) => {}
        _ => return Err(WENT_AWAY),
    }
    tracing::info!(
        player = seat.player().0,
        match_id = %seat.match_handle().id,
        entity = joined.entity_id.0,
        resumed = resumed.is_some(),
        role = %seat.role(),
        peer = ?peer,
        "player joined"
    );
    Ok(seat.role().plays().then_some(joined.entity_id))
}
