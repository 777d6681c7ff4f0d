//! Match and connection lifecycle: heartbeats, ack timeouts, empty matches ending.

mod common;

use common::*;
use futures_util::SinkExt;
use std::time::{Duration, Instant};
use tickwire::client::{AckMode, ClientOptions};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_closed_after_the_heartbeat_timeout() {
    let config = tickwire::Config {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(400),
        // A lost peer is kept for its reconnect grace; keep that short here.
        reconnect_grace: Duration::from_millis(200),
        ..test_config()
    };
    let server = start(config).await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let handle = server.lobby().get(id).unwrap();
    // Join, then never read or write again: no pongs, no frames.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}?match={}", server.ws_url(), id.0))
            .await
            .unwrap();
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    wait_until("the player is in the match", 5, || {
        handle
            .stats
            .players
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
    let started = Instant::now();
    wait_until("the silent player is gone", 5, || handle.seated() == 0).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed too early: {:?}",
        started.elapsed()
    );
    drop(ws);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_acks_is_closed_after_the_ack_timeout() {
    let config = tickwire::Config {
        ack_timeout: Duration::from_millis(500),
        ..test_config()
    };
    let server = start(config).await;
    let options = ClientOptions {
        ack: AckMode::Manual,
        ..ClientOptions::default()
    };
    let mut client = connect(&server, None, options).await;
    let started = Instant::now();
    let err = loop {
        match within("ack timeout close", 5, client.recv()).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match err {
        tickwire::client::ClientError::Closed { code, reason } => {
            assert_eq!(code, 1008);
            assert!(reason.contains("ack"), "{reason}");
        }
        other => panic!("expected a close, got {other}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(400));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_match_ends_after_its_grace_period() {
    let config = tickwire::Config {
        empty_match_grace: Duration::from_millis(300),
        ..test_config()
    };
    let server = start(config).await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let client = connect(&server, Some(id), ClientOptions::default()).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        server.lobby().get(id).is_some(),
        "a match with a player must not end"
    );
    client.close().await.unwrap();
    let lobby = server.lobby().clone();
    wait_until("the empty match ends", 5, || lobby.get(id).is_none()).await;
    // Its id is gone for good: joining it is refused.
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let refused =
        tickwire::client::Client::<tickwire::Arena>::connect(&url, ClientOptions::default()).await;
    assert!(matches!(
        refused,
        Err(tickwire::client::ClientError::Refused { status: 404, .. })
    ));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_sends_no_join_is_told_so_and_closed_after_the_handshake_timeout() {
    use futures_util::StreamExt;
    let server = start(tickwire::Config {
        handshake_timeout: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let mut error = None;
    let close = loop {
        match within("closed after the handshake timeout", 5, ws.next()).await {
            Some(Ok(Message::Binary(bytes))) => {
                error = Some(tickwire::protocol::decode_server(&bytes, 4096).unwrap())
            }
            Some(Ok(Message::Close(Some(frame)))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1008);
    assert!(
        close.reason.contains("handshake timeout"),
        "{}",
        close.reason
    );
    assert!(
        matches!(
            error,
            Some(tickwire::protocol::ServerMsg::Error {
                code: tickwire::protocol::ErrorCode::ExpectedJoin,
                ..
            })
        ),
        "{error:?}"
    );
    server.shutdown().await;
}
