//! The HTTP and WebSocket edges, probed over raw sockets on 127.0.0.1 as an
//! attacker or a strict client would: admin routes, caps and rates, slow
//! requests, Origin, HTTP conformance, close handshakes, protocol errors.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tickwire::client::{Client, ClientError, ClientOptions};
use tickwire::game::arena::{Arena, ArenaInput};
use tickwire::protocol::{encode_client, ClientMsg};
use tickwire::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Sends raw bytes and reads the answer until the server closes or 3 s pass.
async fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JSON body: {answer:?}"))
}

const UPGRADE: &str = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_that_change_state_need_the_admin_token() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    for route in ["/v1/matches", "/v1/stats/window"] {
        let (status, headers, body) = request("POST", format!("{base}{route}"), None, &[]).await;
        assert_eq!(status, 401, "{route} without a token: {body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
        assert!(headers
            .iter()
            .any(|(k, v)| k == "www-authenticate" && v == "Bearer"));
        let (status, _, _) = request(
            "POST",
            format!("{base}{route}"),
            None,
            &[("authorization", "Bearer not-the-admin-token-at-all")],
        )
        .await;
        assert_eq!(status, 401, "{route} with a wrong token");
    }
    let admin = format!("bearer {ADMIN_TOKEN}");
    let (status, _, body) = request(
        "POST",
        format!("{base}/v1/matches"),
        Some("{}".into()),
        &[("authorization", admin.as_str())],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = request(
        "POST",
        format!("{base}/v1/stats/window"),
        None,
        &[("authorization", admin.as_str())],
    )
    .await;
    assert_eq!(status, 200);
    // Read-only routes stay open.
    assert_eq!(http("GET", format!("{base}/v1/matches"), None).await.0, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_state_changing_routes_are_off() {
    let server = start(Config {
        admin_token: None,
        ..test_config()
    })
    .await;
    let base = format!("http://{}", server.local_addr());
    let (status, _, body) = request(
        "POST",
        format!("{base}/v1/matches"),
        None,
        &[("authorization", "Bearer anything-at-all-here")],
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body.contains("admin_routes_off") && body.contains("--admin-token"),
        "{body}"
    );
    assert_eq!(server.lobby().matches().len(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_match_cap_refuses_new_matches_but_not_players_in_open_ones() {
    let server = start(Config {
        max_matches: 2,
        players_per_match: 2,
        ..test_config()
    })
    .await;
    let base = format!("http://{}", server.local_addr());
    assert_eq!(
        http("POST", format!("{base}/v1/matches"), None).await.0,
        201
    );
    assert_eq!(
        http("POST", format!("{base}/v1/matches"), None).await.0,
        201
    );
    let (status, body) = http_json("POST", format!("{base}/v1/matches"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("too_many_matches"))
    );
    // Quick-join still fills the open matches, then needs a new one: 503.
    let mut players = Vec::new();
    for _ in 0..4 {
        players.push(connect(&server, None, ClientOptions::default()).await);
    }
    match Client::<Arena>::connect(&server.ws_url(), ClientOptions::default()).await {
        Err(ClientError::Refused { status: 503, body }) => {
            assert!(body.contains("too_many_matches"), "{body}")
        }
        other => panic!("expected 503, got {:?}", other.err()),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requests_over_the_rate_get_429_with_retry_after() {
    let server = start(Config {
        api_requests_per_second: 5,
        ..test_config()
    })
    .await;
    let base = format!("http://{}", server.local_addr());
    let mut limited = None;
    for _ in 0..30 {
        let (status, headers, _) = request("GET", format!("{base}/v1/matches"), None, &[]).await;
        if status == 429 {
            limited = Some(headers);
            break;
        }
        assert_eq!(status, 200);
    }
    let headers = limited.expect("30 quick requests at 5 per second are limited");
    let retry: u64 = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .and_then(|(_, v)| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!(retry >= 1);
    // Health is not rate-limited: probes poll it.
    assert_eq!(http("GET", format!("{base}/healthz"), None).await.0, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_at_the_request_timeout() {
    let server = start(Config {
        request_timeout: Duration::from_millis(800),
        ..test_config()
    })
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = format!(
        "POST /v1/matches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One byte a second, far slower than the deadline allows.
    let trickle = async {
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "request_timeout");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_goes_unanswered_then_closes_with_1008() {
    // A short housekeeping period (half the heartbeat interval) makes the
    // three flood windows short; this client never acks, so the ack timeout
    // stays long and cannot close it first.
    let server = start(Config {
        heartbeat_interval: Duration::from_millis(400),
        ack_timeout: Duration::from_secs(30),
        ..test_config()
    })
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    let mut ping = Vec::new();
    encode_client::<ArenaInput, tickwire::game::arena::ArenaMessage>(
        &ClientMsg::Ping { client_time_us: 1 },
        &mut ping,
    );
    let (mut sink, mut stream) = ws.split();
    let flood = tokio::spawn(async move {
        for _ in 0..2000 {
            if sink
                .send(Message::Binary(ping.clone().into()))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let (mut pongs, mut snapshots) = (0, 0);
    let close = loop {
        match within("the flood is closed", 10, stream.next()).await {
            Some(Ok(Message::Binary(bytes))) => {
                match tickwire::protocol::decode_server(&bytes, 1 << 20).unwrap() {
                    tickwire::protocol::ServerMsg::Pong { .. } => pongs += 1,
                    _ => snapshots += 1,
                }
            }
            Some(Ok(Message::Close(Some(frame)))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    flood.abort();
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("ping flood"), "{}", close.reason);
    assert!(pongs < 40, "{pongs} pongs answered to a flood");
    assert!(snapshots > 0, "snapshots kept flowing");
    let (_, text) = http(
        "GET",
        format!("http://{}/metrics", server.local_addr()),
        None,
    )
    .await;
    assert!(metric(&text, "tickwire_pings_dropped_total") > 0.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_bind_moves_metrics_and_the_read_only_api_inside() {
    let server = start(Config {
        metrics_bind: Some("127.0.0.1:0".parse().unwrap()),
        ..test_config()
    })
    .await;
    let public = format!("http://{}", server.local_addr());
    let internal = format!(
        "http://{}",
        server.internal_addr().expect("an internal address")
    );
    assert_eq!(http("GET", format!("{public}/metrics"), None).await.0, 404);
    assert_eq!(http("GET", format!("{public}/v1/stats"), None).await.0, 404);
    assert_eq!(http("GET", format!("{public}/healthz"), None).await.0, 200);
    assert_eq!(
        http("POST", format!("{public}/v1/matches"), None).await.0,
        201
    );
    let (status, text) = http("GET", format!("{internal}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(text.contains("tickwire_players"));
    assert_eq!(
        http("GET", format!("{internal}/v1/matches"), None).await.0,
        200
    );
    assert_eq!(
        http("POST", format!("{internal}/v1/matches"), None).await.0,
        405
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_routes_refuse_other_content_types_with_415() {
    let server = start(test_config()).await;
    let url = format!("http://{}/v1/matches", server.local_addr());
    let admin = format!("Bearer {ADMIN_TOKEN}");
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, _, body) = request(
            "POST",
            url.clone(),
            Some("{}".into()),
            &[
                ("authorization", admin.as_str()),
                ("content-type", content_type),
            ],
        )
        .await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert!(body.contains("unsupported_media_type"));
    }
    assert_eq!(server.lobby().matches().len(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_repeated_origin_is_refused_even_with_an_allow_list() {
    let server = start(Config {
        allowed_origins: vec!["https://game.example".into()],
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let ask = |origins: &[u8]| {
        let mut request = format!("GET /ws HTTP/1.1\r\nHost: x\r\n{UPGRADE}{KEY}").into_bytes();
        request.extend_from_slice(origins);
        request.extend_from_slice(b"\r\n");
        async move { raw_http(addr, &request).await }
    };
    let answer = ask(b"Origin: https://evil.com\xff\r\n").await;
    assert_eq!(status_of(&answer), 403, "{answer}");
    let answer = ask(b"Origin: https://game.example\r\nOrigin: https://evil.com\r\n").await;
    assert_eq!(status_of(&answer), 403, "{answer}");
    let answer = ask(b"Origin: https://game.example\r\n").await;
    assert_eq!(status_of(&answer), 101, "{answer}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_answers_are_conformant_and_json() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let ws = |extra: &str| format!("GET /ws HTTP/1.1\r\nHost: x\r\n{UPGRADE}{extra}\r\n");

    let answer = raw_http(
        addr,
        format!("GET /ws HTTP/1.0\r\nHost: x\r\n{UPGRADE}{KEY}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&answer), 400, "HTTP/1.0 upgrade: {answer}");
    for bad_key in ["Sec-WebSocket-Key: x\r\n", "Sec-WebSocket-Key: \r\n"] {
        let answer = raw_http(addr, ws(bad_key).as_bytes()).await;
        assert_eq!(status_of(&answer), 400, "{bad_key}: {answer}");
        assert_eq!(json_body(&answer)["error"]["code"], "bad_websocket_key");
    }
    let answer = raw_http(addr, b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_of(&answer), 426);
    assert!(
        answer.to_ascii_lowercase().contains("upgrade: websocket"),
        "{answer}"
    );

    let answer = raw_http(addr, b"DELETE /v1/matches HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_of(&answer), 405);
    assert_eq!(json_body(&answer)["error"]["code"], "method_not_allowed");

    let long = format!(
        "GET /v1/matches?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(9000)
    );
    let answer = raw_http(addr, long.as_bytes()).await;
    assert_eq!(status_of(&answer), 414, "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "uri_too_long");

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(10_000)
    );
    let answer = raw_http(addr, big.as_bytes()).await;
    assert_eq!(status_of(&answer), 431, "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "headers_too_large");

    for hosts in ["", "Host: a\r\nHost: b\r\n"] {
        let answer = raw_http(
            addr,
            format!("GET /healthz HTTP/1.1\r\n{hosts}\r\n").as_bytes(),
        )
        .await;
        assert_eq!(status_of(&answer), 400, "hosts {hosts:?}: {answer}");
        assert_eq!(json_body(&answer)["error"]["code"], "bad_host");
    }

    // Too large, announced with Expect: 100-continue: 413 at once, no 100.
    let expect = format!(
        "POST /v1/matches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n"
    );
    let answer = raw_http(addr, expect.as_bytes()).await;
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "body_too_large");

    // A body that cannot be read (a broken chunk): 400 in JSON.
    let broken = format!(
        "POST /v1/matches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    let answer = raw_http(addr, broken.as_bytes()).await;
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "bad_body");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_close_is_answered_and_the_connection_ends_cleanly() {
    let server = start(test_config()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let echoed = loop {
        match within("the echo", 5, ws.next()).await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("the close was not answered: {other:?}"),
        }
    };
    assert_eq!(echoed.map(|f| u16::from(f.code)), Some(1000));
    // Then the server closes the TCP connection.
    assert!(within("the end", 5, ws.next()).await.is_none());
    server.shutdown().await;
}

/// A masked client frame (RFC 6455 5.2), payload under 126 bytes.
fn client_frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut frame = vec![
        0x80 | opcode,
        payload.len() as u8 | if masked { 0x80 } else { 0 },
    ];
    if masked {
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        frame.extend_from_slice(payload);
    }
    frame
}

/// Opens a WebSocket by hand (so frames can be written raw); `join` sends Join.
async fn raw_ws(addr: SocketAddr, join: bool) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /ws HTTP/1.1\r\nHost: x\r\n{UPGRADE}{KEY}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        within("upgrade", 5, stream.read_exact(&mut byte))
            .await
            .unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    if join {
        stream
            .write_all(&client_frame(0x2, &join_bytes(1), true))
            .await
            .unwrap();
    }
    stream
}

/// Reads server frames until a close frame; returns its code.
async fn close_code_of(stream: &mut TcpStream) -> u16 {
    loop {
        let mut head = [0u8; 2];
        within("a frame", 5, stream.read_exact(&mut head))
            .await
            .unwrap();
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).await.unwrap();
            len = u64::from(u16::from_be_bytes(ext));
        } else if len == 127 {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).await.unwrap();
            len = u64::from_be_bytes(ext);
        }
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload).await.unwrap();
        if head[0] & 0x0f == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_close_codes_get_1002_and_invalid_utf8_gets_1007() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    for code in [999u16, 1004, 1005, 1006, 1015, 5000] {
        let mut stream = raw_ws(addr, true).await;
        stream
            .write_all(&client_frame(0x8, &code.to_be_bytes(), true))
            .await
            .unwrap();
        assert_eq!(close_code_of(&mut stream).await, 1002, "close code {code}");
    }
    let mut stream = raw_ws(addr, true).await;
    stream
        .write_all(&client_frame(0x1, b"\xff\xfe", true))
        .await
        .unwrap();
    assert_eq!(
        close_code_of(&mut stream).await,
        1007,
        "a text frame of bad UTF-8"
    );
    let mut stream = raw_ws(addr, true).await;
    let mut reason = 1000u16.to_be_bytes().to_vec();
    reason.extend_from_slice(b"\xc3\x28");
    stream
        .write_all(&client_frame(0x8, &reason, true))
        .await
        .unwrap();
    assert_eq!(
        close_code_of(&mut stream).await,
        1007,
        "a close reason of bad UTF-8"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_get_1002_and_a_metric_before_and_after_join() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let metrics_url = format!("http://{addr}/metrics");
    let series = "tickwire_connection_closes_total{reason=\"protocol_error\"}";
    let before = metric(&http("GET", metrics_url.clone(), None).await.1, series);
    for join in [false, true] {
        let mut stream = raw_ws(addr, join).await;
        // Unmasked: a client must mask every frame.
        stream
            .write_all(&client_frame(0x2, &join_bytes(1), false))
            .await
            .unwrap();
        assert_eq!(
            close_code_of(&mut stream).await,
            1002,
            "join sent first: {join}"
        );
    }
    let mut stream = raw_ws(addr, false).await;
    stream.write_all(&[0x83, 0x80, 1, 2, 3, 4]).await.unwrap(); // opcode 3 is reserved
    assert_eq!(close_code_of(&mut stream).await, 1002, "a reserved opcode");
    let after = metric(&http("GET", metrics_url, None).await.1, series);
    assert!(after - before >= 3.0, "counted {before} -> {after}");
    server.shutdown().await;
}

/// A WebSocket join through a "proxy" on 127.0.0.1 that says the client is `forwarded_for`.
async fn join_forwarded(
    server: &tickwire::net::ServerHandle<Arena>,
    forwarded_for: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, _)) => {
            ws.send(Message::Binary(join_bytes(1).into()))
                .await
                .unwrap();
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_per_address_cap_counts_forwarded_clients() {
    let server = start(Config {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        max_connections_per_ip: 2,
        ..test_config()
    })
    .await;
    let a1 = join_forwarded(&server, "203.0.113.5").await.expect("first");
    let a2 = join_forwarded(&server, "198.51.100.1, 203.0.113.5")
        .await
        .expect("second");
    assert_eq!(
        join_forwarded(&server, "203.0.113.5").await.err(),
        Some(429)
    );
    // Another client through the same proxy is its own address.
    let b = join_forwarded(&server, "203.0.113.6")
        .await
        .expect("another client");
    drop((a1, a2, b));
    server.shutdown().await;

    // Trusting nobody (the default), the header is ignored: every join is
    // 127.0.0.1's, whatever it claims.
    let server = start(Config {
        max_connections_per_ip: 2,
        ..test_config()
    })
    .await;
    let c1 = join_forwarded(&server, "203.0.113.7").await.expect("first");
    // The cap counts TCP connections at accept: a third one from 127.0.0.1
    // is refused, whatever it claims.
    let c2 = join_forwarded(&server, "203.0.113.8")
        .await
        .expect("second");
    assert!(join_forwarded(&server, "203.0.113.9").await.is_err());
    drop((c1, c2));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_resume_tokens_and_handshake_headers_are_400() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let cases = [
        ("/ws?resume=zz", format!("{UPGRADE}{KEY}"), "bad_query"),
        ("/ws", UPGRADE.to_string(), "missing_websocket_key"),
        (
            "/ws",
            format!(
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n{KEY}"
            ),
            "bad_websocket_version",
        ),
    ];
    for (path, headers, code) in cases {
        let answer = raw_http(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes(),
        )
        .await;
        assert_eq!(status_of(&answer), 400, "{code}: {answer}");
        assert_eq!(json_body(&answer)["error"]["code"], code);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_naming_a_session_the_connection_was_not_opened_with_is_closed_1008() {
    let server = start(test_config()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let mut join = Vec::new();
    encode_client::<ArenaInput, tickwire::game::arena::ArenaMessage>(
        &ClientMsg::Join {
            version: 1,
            resume: Some(tickwire::protocol::SessionToken([9; 16])),
            last_event: 0,
        },
        &mut join,
    );
    ws.send(Message::Binary(join.into())).await.unwrap();
    let close = loop {
        match within("close", 5, ws.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("?resume="), "{}", close.reason);
    server.shutdown().await;
}
