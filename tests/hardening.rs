//! Hostile and broken clients, over real sockets on 127.0.0.1: every rule of
//! docs/RELIABILITY.md has a test here.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tickwire::client::{AckMode, Client, ClientError, ClientEvent, ClientOptions, ReconnectPolicy};
use tickwire::game::arena::{Arena, ArenaEntity, ArenaInput};
use tickwire::game::{Game, MatchSettings};
use tickwire::protocol::{encode_client, ClientMsg, EntityId, PlayerId, Tick};
use tickwire::Config;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn join_frame() -> Message {
    Message::Binary(join_bytes(1).into())
}

/// A bare WebSocket that joins and returns its `Welcome`: a client whose
/// connection the test can drop without a close frame.
async fn raw_join(
    url: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tickwire::protocol::Welcome,
) {
    let (mut raw, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    raw.send(join_frame()).await.unwrap();
    let Some(Ok(Message::Binary(bytes))) = within("welcome", 5, raw.next()).await else {
        panic!("no welcome")
    };
    match tickwire::protocol::decode_server(&bytes, 4096).unwrap() {
        tickwire::protocol::ServerMsg::Welcome(w) => (raw, w),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

fn input_frame(seq: u32) -> Message {
    let mut out = Vec::new();
    encode_client::<ArenaInput, tickwire::game::arena::ArenaMessage>(
        &ClientMsg::Input {
            seq,
            ack: None,
            tick: None,
            view: 0,
            input: ArenaInput::default(),
        },
        &mut out,
    );
    Message::Binary(out.into())
}

/// Reads snapshots until the client has seen the match's current tick, so
/// that what it shows is now, not what was queued while it was not reading.
async fn catch_up(client: &mut Client<Arena>, server: &tickwire::net::ServerHandle<Arena>) {
    let id = client.welcome().match_id;
    let now = server
        .lobby()
        .get(id)
        .expect("match")
        .stats
        .tick
        .load(std::sync::atomic::Ordering::Relaxed);
    // One past: a join replied to during tick `now` shows from the tick after.
    while next_snapshot(client).await.0 <= now {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_caps_refuse_with_503_and_429_before_the_upgrade() {
    let server = start(Config {
        max_connections: 3,
        max_connections_per_ip: 2,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = http_json("GET", format!("http://{addr}/healthz"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_connections"))
    );
    drop(_b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = http_json("GET", format!("http://{addr}/healthz"), None).await;
    assert_eq!(status, 200, "a closed connection frees its place");
    server.shutdown().await;

    let server = start(Config {
        max_connections: 2,
        max_connections_per_ip: 100,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = http_json("GET", format!("http://{addr}/healthz"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("server_full"))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_closed_after_the_handshake_timeout_and_do_not_block_players() {
    let config = Config {
        handshake_timeout: Duration::from_millis(500),
        max_connections_per_ip: 1000,
        ..test_config()
    };
    let server = start(config).await;
    let addr = server.local_addr();
    let mut silent = Vec::new();
    for _ in 0..500 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // A real player joins and plays while 500 sockets say nothing.
    let mut player = connect(&server, None, ClientOptions::default()).await;
    for _ in 0..5 {
        next_snapshot(&mut player).await;
    }
    // Each silent socket is closed by the server (EOF) after the timeout.
    let started = Instant::now();
    for s in silent.iter_mut().take(20) {
        let mut buf = [0u8; 256];
        let n = within("silent socket closed", 5, s.read(&mut buf))
            .await
            .unwrap_or(0);
        assert_eq!(
            n, 0,
            "the server sent data to a socket that never sent a request"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_outside_the_allow_list_is_refused_with_403() {
    let config = Config {
        allowed_origins: vec!["https://game.example".into()],
        ..test_config()
    };
    let server = start(config).await;
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("origin_not_allowed"), "{body}");
        }
        other => panic!("expected a 403, got {:?}", other.map(|_| ())),
    }
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://game.example".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("an allowed origin connects");
    ws.send(join_frame()).await.unwrap();
    assert!(matches!(
        within("welcome", 5, ws.next()).await,
        Some(Ok(Message::Binary(_)))
    ));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_flood_is_dropped_then_closed_with_1008_and_spares_other_players() {
    let config = Config {
        max_inputs_per_second: 30,
        heartbeat_interval: Duration::from_millis(200),
        ..test_config()
    };
    let server = start(config).await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let mut honest = connect(&server, Some(id), ClientOptions::default()).await;
    let (mut flood, _) =
        tokio_tungstenite::connect_async(format!("{}?match={}", server.ws_url(), id.0))
            .await
            .unwrap();
    flood.send(join_frame()).await.unwrap();
    let started = Instant::now();
    let mut seq = 0;
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the flood was never closed"
        );
        for _ in 0..20 {
            seq += 1;
            if flood.send(input_frame(seq)).await.is_err() {
                break;
            }
        }
        match tokio::time::timeout(Duration::from_millis(10), flood.next()).await {
            Ok(Some(Ok(Message::Close(Some(f))))) => break f,
            Ok(None) | Ok(Some(Err(_))) => panic!("closed without a close frame"),
            _ => continue,
        }
    };
    assert_eq!(u16::from(closed.code), 1008);
    assert!(closed.reason.contains("flood"), "{}", closed.reason);
    // The honest player kept its snapshots flowing throughout.
    let mut count = 0;
    let window = Instant::now();
    while window.elapsed() < Duration::from_millis(500) {
        next_snapshot(&mut honest).await;
        count += 1;
    }
    assert!(
        count >= 5,
        "the honest player got {count} snapshots in 500 ms"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_others_keep_their_pace() {
    let config = Config {
        ack_timeout: Duration::from_secs(1),
        reconnect_grace: Duration::ZERO,
        ..test_config()
    };
    let server = start(config).await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let handle = server.lobby().get(id).unwrap();
    let mut normal = connect(&server, Some(id), ClientOptions::default()).await;
    // Joins, then never reads again: its snapshots pile up, it never acks.
    let (mut stalled, _) =
        tokio_tungstenite::connect_async(format!("{}?match={}", server.ws_url(), id.0))
            .await
            .unwrap();
    stalled.send(join_frame()).await.unwrap();
    wait_until("both players are in", 5, || handle.seated() == 2).await;
    let window = Instant::now();
    let mut count = 0;
    while window.elapsed() < Duration::from_millis(1500) {
        next_snapshot(&mut normal).await;
        count += 1;
    }
    // 45 snapshots are due in 1.5 s at 30 Hz; a wide margin for a shared machine.
    assert!(
        count >= 25,
        "the normal player got only {count} snapshots while another stalled"
    );
    wait_until("the stalled player is closed and removed", 5, || {
        handle.seated() == 1
    })
    .await;
    drop(stalled);
    server.shutdown().await;
}

/// A server with this reconnect grace, a watching player, and a second player
/// who joined (the watcher saw it) and then vanished without a close frame.
async fn player_drops(
    grace: Duration,
) -> (
    tickwire::net::ServerHandle<Arena>,
    String,
    Client<Arena>,
    tickwire::protocol::Welcome,
) {
    let server = start(Config {
        reconnect_grace: grace,
        ..test_config()
    })
    .await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let mut watcher = connect(&server, Some(id), ClientOptions::default()).await;
    let (raw, welcome) = raw_join(&url).await;
    catch_up(&mut watcher, &server).await;
    assert!(
        watcher.world().unwrap().get(welcome.entity_id).is_some(),
        "the player joined"
    );
    drop(raw);
    (server, url, watcher, welcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_player_resumes_its_entity_with_its_token_within_the_grace() {
    let (server, url, mut watcher, welcome) = player_drops(Duration::from_millis(1500)).await;
    // Its entity stays in the others' view during the grace.
    tokio::time::sleep(Duration::from_millis(400)).await;
    catch_up(&mut watcher, &server).await;
    assert!(
        watcher.world().unwrap().get(welcome.entity_id).is_some(),
        "the entity left during the grace"
    );

    let mut back = Client::<Arena>::resume(&url, welcome.session_token, ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(back.welcome().entity_id, welcome.entity_id);
    assert_eq!(back.welcome().player_id, welcome.player_id);
    match within("first snapshot", 5, back.recv()).await.unwrap() {
        ClientEvent::Snapshot { baseline, .. } => assert_eq!(
            baseline, None,
            "a resumed player starts from a full snapshot"
        ),
        other => panic!("expected a snapshot, got {other:?}"),
    }
    back.close().await.unwrap();

    // An unknown token is refused clearly, before the upgrade.
    let bogus = tickwire::protocol::SessionToken([7; 16]);
    match Client::<Arena>::resume(&url, bogus, ClientOptions::default()).await {
        Err(e) => assert!(e.is_session_gone(), "expected invalid_session, got {e}"),
        Ok(_) => panic!("a bogus token resumed"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_the_entity_is_removed_and_the_token_expires() {
    let (server, url, mut watcher, welcome) = player_drops(Duration::from_millis(300)).await;
    let mut removed = false;
    for _ in 0..90 {
        next_snapshot(&mut watcher).await;
        if watcher.world().unwrap().get(welcome.entity_id).is_none() {
            removed = true;
            break;
        }
    }
    assert!(removed, "the entity outlived its reconnect grace");
    match Client::<Arena>::resume(&url, welcome.session_token, ClientOptions::default()).await {
        Err(e) => assert!(e.is_session_gone(), "expected an expired session, got {e}"),
        Ok(_) => panic!("an expired token resumed"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_by_itself_and_resumes_its_entity() {
    // The server closes a client that never acks; the client comes back by itself.
    let config = Config {
        ack_timeout: Duration::from_millis(400),
        ..test_config()
    };
    let server = start(config).await;
    let options = ClientOptions {
        ack: AckMode::Manual,
        reconnect: Some(ReconnectPolicy::default()),
        ..ClientOptions::default()
    };
    let mut client = connect(&server, None, options).await;
    let entity: EntityId = client.welcome().entity_id;
    let mut resumed = None;
    for _ in 0..200 {
        if let ClientEvent::Resumed { attempts } = within("recv", 5, client.recv()).await.unwrap() {
            resumed = Some(attempts);
            break;
        }
    }
    assert!(resumed.is_some_and(|a| a >= 1), "the client never resumed");
    assert_eq!(
        client.welcome().entity_id,
        entity,
        "resumed into another entity"
    );
    let tick = next_snapshot(&mut client).await;
    assert!(client.world().unwrap().get(entity).is_some());
    assert!(tick > Tick(0));
    server.shutdown().await;
}

/// Arena, except that an input with all buttons pressed panics the game.
struct FragileArena(Arena);

impl Game for FragileArena {
    type Entity = ArenaEntity;
    type Input = ArenaInput;
    type Message = tickwire::replicate::NoMessages;
    type Event = tickwire::replicate::NoMessages;
    fn new(settings: &MatchSettings) -> Self {
        FragileArena(Arena::new(settings))
    }
    fn join(&mut self, player: PlayerId) -> EntityId {
        self.0.join(player)
    }
    fn leave(&mut self, player: PlayerId) {
        self.0.leave(player)
    }
    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &ArenaInput) {
        assert!(input.buttons != 0xFF, "game bug triggered on purpose");
        self.0.apply_input(player, seq, input)
    }
    fn step(&mut self, tick: Tick) {
        self.0.step(tick)
    }
    fn freeze(&self, out: &mut Vec<ArenaEntity>) {
        self.0.freeze(out)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_game_code_ends_only_that_match() {
    let server = tickwire::net::start::<FragileArena>(test_config())
        .await
        .unwrap();
    let doomed = server.lobby().create_match(None, None).unwrap().id;
    let healthy = server.lobby().create_match(None, None).unwrap().id;
    let url = |id: tickwire::protocol::MatchId| format!("{}?match={}", server.ws_url(), id.0);
    let mut victim = Client::<FragileArena>::connect(&url(doomed), ClientOptions::default())
        .await
        .unwrap();
    let mut bystander = Client::<FragileArena>::connect(&url(healthy), ClientOptions::default())
        .await
        .unwrap();
    victim
        .send_input(ArenaInput {
            buttons: 0xFF,
            ..ArenaInput::default()
        })
        .await
        .unwrap();
    let err = loop {
        match within("victim closed", 5, victim.recv()).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, ClientError::Closed { code: 1011, .. }),
        "got {err}"
    );
    let lobby = server.lobby().clone();
    wait_until("the failed match is gone", 5, || {
        lobby.get(doomed).is_none()
    })
    .await;
    for _ in 0..10 {
        let event = within("bystander", 5, bystander.recv())
            .await
            .expect("the other match plays on");
        assert!(matches!(event, ClientEvent::Snapshot { .. }));
    }
    server.shutdown().await;
}

async fn refused_status(url: &str) -> (u16, String) {
    match Client::<Arena>::connect(url, ClientOptions::default()).await {
        Err(ClientError::Refused { status, body }) => (status, body),
        other => panic!(
            "expected a refusal, got {:?}",
            other.map(|c| c.welcome().clone())
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_auth_secret_only_valid_tokens_join_as_their_player() {
    let server = start(Config {
        auth_secret: Some(SECRET.into()),
        ..test_config()
    })
    .await;
    let ws = server.ws_url();

    let (status, body) = refused_status(&ws).await;
    assert_eq!(status, 401);
    assert!(body.contains("unauthorized"), "{body}");

    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({ "sub": "5", "exp": 4_000_000_000u64 }),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-entirely"),
    )
    .unwrap();
    assert_eq!(refused_status(&format!("{ws}?token={forged}")).await.0, 401);
    assert_eq!(
        refused_status(&format!("{ws}?token={}", jwt("5", None, -3600)))
            .await
            .0,
        401,
        "expired"
    );

    // From the query (browsers) ...
    let mut a = Client::<Arena>::connect(
        &format!("{ws}?token={}", jwt("42", None, 3600)),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let player_42 = a.welcome().player_id;
    next_snapshot(&mut a).await;
    // ... or the Authorization header.
    let mut request = ws.clone().into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", jwt("43", None, 3600)).parse().unwrap(),
    );
    let (mut raw, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("a header token joins");
    raw.send(join_frame()).await.unwrap();
    let Some(Ok(Message::Binary(w))) = within("welcome", 5, raw.next()).await else {
        panic!("no welcome")
    };
    let tickwire::protocol::ServerMsg::Welcome(w) =
        tickwire::protocol::decode_server(&w, 4096).unwrap()
    else {
        panic!()
    };
    assert_ne!(w.player_id, player_42, "another subject, another player");

    // One seat per player at a time: connecting again takes the seat over.
    let mut again = Client::<Arena>::connect(
        &format!("{ws}?token={}", jwt("42", None, 3600)),
        ClientOptions::default(),
    )
    .await
    .expect("the same player takes its seat over");
    assert_eq!(again.welcome().player_id, a.welcome().player_id);
    assert_eq!(again.welcome().entity_id, a.welcome().entity_id);
    next_snapshot(&mut again).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_claim_pins_the_match() {
    let server = start(Config {
        auth_secret: Some(SECRET.into()),
        ..test_config()
    })
    .await;
    let pinned = server.lobby().create_match(None, None).unwrap().id;
    let other = server.lobby().create_match(None, None).unwrap().id;
    let ws = server.ws_url();
    let token = jwt("7", Some(pinned.0), 3600);
    let (status, body) = refused_status(&format!("{ws}?match={}&token={token}", other.0)).await;
    assert_eq!(status, 403);
    assert!(body.contains("match_not_allowed"), "{body}");
    // Quick-join with a pinned token lands in the pinned match.
    let c = Client::<Arena>::connect(&format!("{ws}?token={token}"), ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(c.welcome().match_id, pinned);
    server.shutdown().await;
}
