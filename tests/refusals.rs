//! Bad requests and bad frames get clear errors, over real sockets on 127.0.0.1.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tickwire::client::{Client, ClientError, ClientOptions};
use tickwire::protocol::{decode_server, ErrorCode, ServerMsg};
use tickwire::Arena;
use tokio_tungstenite::tungstenite::Message;

async fn raw_ws(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    within("connect", 5, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
        .0
}

/// Reads until a close frame; returns its code and reason.
async fn close_of<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match within("close frame", 5, ws.next()).await {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_the_upgrade_are_http_errors_with_json_bodies() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let (status, body) = http_json("GET", format!("http://{addr}/ws"), None).await;
    assert_eq!(status, 426);
    assert_eq!(body["error"]["code"], "websocket_required");
    let (status, body) = http_json("GET", format!("http://{addr}/ws?match=abc"), None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_query");
    let (status, body) = http_json("GET", format!("http://{addr}/nope"), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    let url = format!("{}?match=999", server.ws_url());
    match Client::<Arena>::connect(&url, ClientOptions::default()).await {
        Err(ClientError::Refused { status, body }) => {
            assert_eq!(status, 404);
            assert!(body.contains("match_not_found"), "{body}");
        }
        other => panic!("expected a 404 refusal, got {:?}", other.err()),
    }
    server.shutdown().await;
}

/// Browsers cannot read a refused upgrade's status: with `refusal=close`
/// the refusal arrives as a close frame with code 4000 + status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_refusal_close_a_refusal_is_a_close_frame_that_names_it() {
    let server = start(tickwire::Config {
        players_per_match: 1,
        ..test_config()
    })
    .await;
    let mut ws = raw_ws(&format!("{}?match=999&refusal=close", server.ws_url())).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 4404);
    assert!(reason.starts_with("match_not_found: "), "{reason}");

    let id = server.lobby().create_match(None, None).unwrap().id;
    let _first = connect(&server, Some(id), ClientOptions::default()).await;
    let mut ws = raw_ws(&format!(
        "{}?refusal=close&match={}&schema=0000000000000000",
        server.ws_url(),
        id.0
    ))
    .await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 4409, "{reason}");
    assert!(reason.starts_with("schema_mismatch: "), "{reason}");
    assert!(reason.len() <= 123, "a close reason fits a control frame");
    let mut ws = raw_ws(&format!("{}?refusal=close&match={}", server.ws_url(), id.0)).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 4409);
    assert!(reason.starts_with("match_full: "), "{reason}");

    // Not a WebSocket handshake: nothing to close, so still an HTTP error.
    let addr = server.local_addr();
    let (status, body) = http_json("GET", format!("http://{addr}/ws?refusal=close"), None).await;
    assert_eq!(status, 426);
    assert_eq!(body["error"]["code"], "websocket_required");
    // Still counted as refusals of their kind.
    let (_, metrics) = http("GET", format!("http://{addr}/metrics"), None).await;
    let count = |reason: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("tickwire_handshake_refusals_total")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(count("match_not_found") >= 1.0 && count("match_full") >= 1.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_match_is_refused_with_409() {
    let server = start(tickwire::Config {
        players_per_match: 1,
        ..test_config()
    })
    .await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let _first = connect(&server, Some(id), ClientOptions::default()).await;
    let url = format!("{}?match={}", server.ws_url(), id.0);
    match Client::<Arena>::connect(&url, ClientOptions::default()).await {
        Err(ClientError::Refused { status, body }) => {
            assert_eq!(status, 409);
            assert!(body.contains("match_full"), "{body}");
        }
        other => panic!("expected a 409 refusal, got {:?}", other.err()),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_closed_with_the_right_code() {
    let server = start(test_config()).await;
    let url = server.ws_url();

    // A text frame: 1003.
    let mut ws = raw_ws(&url).await;
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1003);

    // Another protocol version: an Error message, then 1002.
    let mut ws = raw_ws(&url).await;
    ws.send(Message::Binary(join_bytes(99).into()))
        .await
        .unwrap();
    let Some(Ok(Message::Binary(b))) = within("error", 5, ws.next()).await else {
        panic!("no error message")
    };
    assert!(matches!(
        decode_server(&b, 4096).unwrap(),
        ServerMsg::Error {
            code: ErrorCode::UnsupportedVersion,
            ..
        }
    ));
    assert_eq!(close_of(&mut ws).await.0, 1002);

    // Undecodable after joining: 1007.
    let mut ws = raw_ws(&url).await;
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    ws.send(Message::Binary(vec![0xff, 0xff, 0xff].into()))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1007, "{reason}");

    // Over the size limit: 1009, without the server buffering it.
    let mut ws = raw_ws(&url).await;
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    let _ = ws.send(Message::Binary(vec![0u8; 64 * 1024].into())).await;
    assert_eq!(close_of(&mut ws).await.0, 1009);

    // Join twice: 1008.
    let mut ws = raw_ws(&url).await;
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1008);

    // Other players were never disturbed: a new client still plays.
    let mut ok = connect(&server, None, ClientOptions::default()).await;
    next_snapshot(&mut ok).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_client_with_1001() {
    let server = start(test_config()).await;
    let mut a = connect(&server, None, ClientOptions::default()).await;
    next_snapshot(&mut a).await;
    let stop = tokio::spawn(server.shutdown());
    let err = loop {
        match within("close on shutdown", 5, a.recv()).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match err {
        ClientError::Closed { code, reason } => {
            assert_eq!(code, 1001);
            assert!(reason.contains("shutting down"), "{reason}");
        }
        other => panic!("expected a close, got {other}"),
    }
    within("shutdown", 6, stop).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_pong_and_rtt() {
    let server = start(test_config()).await;
    let mut a = connect(&server, None, ClientOptions::default()).await;
    let seen = next_snapshot(&mut a).await;
    a.ping().await.unwrap();
    let mut got = None;
    for _ in 0..20 {
        if let tickwire::client::ClientEvent::Pong { rtt, server_tick } =
            within("pong", 5, a.recv()).await.unwrap()
        {
            got = Some((rtt, server_tick));
            break;
        }
    }
    let (rtt, tick) = got.expect("a pong arrives");
    assert!(rtt < std::time::Duration::from_secs(2));
    assert!(
        tick >= seen,
        "the pong's server tick {tick:?} is before {seen:?}"
    );
    assert_eq!(a.rtt(), Some(rtt));
    server.shutdown().await;
}
