//! Seats and connections over real sockets on 127.0.0.1: a seat is held by
//! exactly one connection, handed over on resume and takeover, and freed
//! however a connection ends, even one that stops reading.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tickwire::client::{AckMode, Client, ClientError, ClientEvent, ClientOptions, ReconnectPolicy};
use tickwire::game::arena::{Arena, ArenaInput};
use tickwire::game::{Game, MatchSettings};
use tickwire::protocol::{encode_client, ClientMsg, EntityId, PlayerId, Tick};
use tickwire::snapshot::Snapshot;
use tickwire::Config;
use tokio_tungstenite::tungstenite::Message;

/// A bare WebSocket that joins; returns it with its `Welcome`.
async fn raw_join(
    url: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tickwire::protocol::Welcome,
) {
    let (mut raw, _) = within("connect", 5, tokio_tungstenite::connect_async(url))
        .await
        .unwrap();
    raw.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    loop {
        let Some(Ok(Message::Binary(bytes))) = within("welcome", 5, raw.next()).await else {
            panic!("no welcome")
        };
        if let tickwire::protocol::ServerMsg::Welcome(w) =
            tickwire::protocol::decode_server(&bytes, 1 << 20).unwrap()
        {
            return (raw, w);
        }
    }
}

/// The close frame a raw socket ends with (skipping other frames).
async fn close_code<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match within("close frame", 10, ws.next()).await {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// A client's error from `recv` once the server closes it.
async fn closed_with(client: &mut Client<Arena>) -> ClientError {
    loop {
        match within("closed", 10, client.recv()).await {
            Ok(_) => continue,
            Err(e) => return e,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_player_holds_exactly_its_parked_seat() {
    let server = start(Config {
        reconnect_grace: Duration::from_secs(5),
        players_per_match: 1,
        ..test_config()
    })
    .await;
    // Quick-join with one seat per match: a resume that took a fresh seat
    // would open a second match.
    let (raw, welcome) = raw_join(&server.ws_url()).await;
    let handle = server.lobby().get(welcome.match_id).unwrap();
    drop(raw);
    wait_until("the seat is parked", 5, || {
        server.lobby().parked_players() == 1
    })
    .await;
    let mut back = Client::<Arena>::resume(
        &server.ws_url(),
        welcome.session_token,
        ClientOptions::default(),
    )
    .await
    .expect("resumes");
    assert_eq!(back.welcome().entity_id, welcome.entity_id);
    assert_ne!(
        back.welcome().session_token,
        welcome.session_token,
        "a resume gets a new session token"
    );
    next_snapshot(&mut back).await;
    assert_eq!(handle.seated(), 1, "one player, one seat");
    assert_eq!(server.lobby().matches().len(), 1, "no extra match");
    assert_eq!(server.lobby().parked_players(), 0);

    // The old token stopped working.
    let reused = Client::<Arena>::resume(
        &server.ws_url(),
        welcome.session_token,
        ClientOptions::default(),
    )
    .await;
    assert!(reused.is_err_and(|e| e.is_session_gone()));
    server.shutdown().await;
}

/// Browsers close with 1001 when a page reloads or a tab closes: the seat
/// waits for the page to come back. A close with 1000 leaves at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_going_away_parks_the_seat_and_a_normal_close_frees_it() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let server = start(Config {
        reconnect_grace: Duration::from_secs(5),
        ..test_config()
    })
    .await;
    let close_with = |code: CloseCode| {
        Some(CloseFrame {
            code,
            reason: "".into(),
        })
    };
    let (mut raw, away) = raw_join(&server.ws_url()).await;
    raw.close(close_with(CloseCode::Away)).await.unwrap();
    wait_until("the seat is parked", 5, || {
        server.lobby().parked_players() == 1
    })
    .await;
    let back = Client::<Arena>::resume(
        &server.ws_url(),
        away.session_token,
        ClientOptions::default(),
    )
    .await
    .expect("a page that went away resumes");
    assert_eq!(back.welcome().entity_id, away.entity_id);

    let (mut raw, left) = raw_join(&server.ws_url()).await;
    raw.close(close_with(CloseCode::Normal)).await.unwrap();
    let handle = server.lobby().get(left.match_id).unwrap();
    wait_until("the player left", 5, || handle.seated() == 1).await;
    assert_eq!(server.lobby().parked_players(), 0, "nothing parked");
    let gone = Client::<Arena>::resume(
        &server.ws_url(),
        left.session_token,
        ClientOptions::default(),
    )
    .await;
    assert!(gone.is_err_and(|e| e.is_session_gone()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_into_a_full_match_succeeds_and_leaves_room_for_no_one_else() {
    let server = start(Config {
        reconnect_grace: Duration::from_secs(5),
        ..test_config()
    })
    .await;
    let id = server.lobby().create_match(None, Some(2)).unwrap().id;
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let handle = server.lobby().get(id).unwrap();
    let mut stays = connect(&server, Some(id), ClientOptions::default()).await;
    let (raw, welcome) = raw_join(&url).await;
    drop(raw);
    wait_until("parked", 5, || server.lobby().parked_players() == 1).await;
    // The match is full (one playing, one parked); the parked seat is the
    // resuming player's own, even through the match's URL.
    let mut back = Client::<Arena>::resume(&url, welcome.session_token, ClientOptions::default())
        .await
        .expect("the parked seat is its own");
    assert_eq!(back.welcome().entity_id, welcome.entity_id);
    next_snapshot(&mut back).await;
    next_snapshot(&mut stays).await;
    assert_eq!(handle.seated(), 2);
    match Client::<Arena>::connect(&url, ClientOptions::default()).await {
        Err(ClientError::Refused { status: 409, body }) => assert!(body.contains("match_full")),
        other => panic!("expected 409 match_full, got {:?}", other.err()),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_a_dropped_player_resumes_or_simply_joins_again() {
    let server = start(Config {
        auth_secret: Some(SECRET.into()),
        reconnect_grace: Duration::from_secs(5),
        ..test_config()
    })
    .await;
    let url = format!(
        "{}?token={}",
        server.ws_url(),
        jwt("alice@example.com", None, 3600)
    );
    let (raw, first) = raw_join(&url).await;
    drop(raw);
    wait_until("parked", 5, || server.lobby().parked_players() == 1).await;
    let back = Client::<Arena>::resume(&url, first.session_token, ClientOptions::default())
        .await
        .expect("resume with auth on");
    assert_eq!(back.welcome().entity_id, first.entity_id);
    drop(back);
    wait_until("parked again", 5, || server.lobby().parked_players() == 1).await;
    // A fresh join (no token) of the same player finds its parked seat.
    let mut again = Client::<Arena>::connect(&url, ClientOptions::default())
        .await
        .expect("a fresh join of a parked player");
    assert_eq!(again.welcome().entity_id, first.entity_id);
    assert_eq!(again.welcome().player_id, first.player_id);
    next_snapshot(&mut again).await;
    // Someone else's token cannot resume this session.
    let bob = format!(
        "{}?token={}",
        server.ws_url(),
        jwt("bob|5f7c1e", None, 3600)
    );
    match Client::<Arena>::resume(
        &bob,
        again.welcome().session_token,
        ClientOptions::default(),
    )
    .await
    {
        Err(ClientError::Refused { status: 403, body }) => {
            assert!(body.contains("session_not_yours"), "{body}")
        }
        other => panic!("expected 403, got {:?}", other.err()),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_player_connecting_again_takes_its_seat_over() {
    let server = start(Config {
        auth_secret: Some(SECRET.into()),
        ..test_config()
    })
    .await;
    let first_match = server.lobby().create_match(None, None).unwrap().id;
    let second_match = server.lobby().create_match(None, None).unwrap().id;
    let url = |id: tickwire::protocol::MatchId| {
        format!(
            "{}?match={}&token={}",
            server.ws_url(),
            id.0,
            jwt("carol-0b6e4c1a", None, 3600)
        )
    };
    let mut old = Client::<Arena>::connect(&url(first_match), ClientOptions::default())
        .await
        .unwrap();
    next_snapshot(&mut old).await;
    // A new tab: same player, same match.
    let mut new = Client::<Arena>::connect(&url(first_match), ClientOptions::default())
        .await
        .expect("takes the seat over");
    assert_eq!(new.welcome().entity_id, old.welcome().entity_id);
    match closed_with(&mut old).await {
        ClientError::Closed { code: 4001, reason } => assert!(reason.contains("taken over")),
        e => panic!("expected 4001, got {e}"),
    }
    next_snapshot(&mut new).await;
    let handle = server.lobby().get(first_match).unwrap();
    assert_eq!(handle.seated(), 1);

    // Asking for another match gives the old seat up.
    let mut moved = Client::<Arena>::connect(&url(second_match), ClientOptions::default())
        .await
        .expect("joins the other match");
    assert_eq!(moved.welcome().match_id, second_match);
    assert!(matches!(
        closed_with(&mut new).await,
        ClientError::Closed { code: 4001, .. }
    ));
    next_snapshot(&mut moved).await;
    wait_until("the first match lost its player", 5, || {
        handle.seated() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_socket_does_not_drain_is_closed_after_the_send_timeout() {
    // Nothing but the send deadline can end this connection: the heartbeat
    // and ack timeouts are a minute away.
    let server = start(Config {
        tick_rate: 240,
        send_timeout: Duration::from_millis(300),
        heartbeat_timeout: Duration::from_secs(60),
        heartbeat_interval: Duration::from_secs(30),
        ack_timeout: Duration::from_secs(60),
        reconnect_grace: Duration::ZERO,
        ..test_config()
    })
    .await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let handle = server.lobby().get(id).unwrap();
    // A small receive buffer, and then no reads at all.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(server.local_addr()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://{}/ws?match={}", server.local_addr(), id.0),
        stream,
    )
    .await
    .unwrap();
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    wait_until("joined", 5, || {
        handle.stats.players.load(Ordering::Relaxed) == 1
    })
    .await;
    wait_until("the stuck player is closed and removed", 30, || {
        handle.seated() == 0
    })
    .await;
    let (_, metrics) = http(
        "GET",
        format!("http://{}/metrics", server.local_addr()),
        None,
    )
    .await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("tickwire_connection_closes_total{reason=\"send_timeout\"}"))
        .expect("the send_timeout series");
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    drop(ws);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_for_a_tick_not_yet_sent_closes_with_1008() {
    let server = start(test_config()).await;
    let (mut raw, welcome) = raw_join(&server.ws_url()).await;
    let mut ack = Vec::new();
    encode_client::<ArenaInput, tickwire::game::arena::ArenaMessage>(
        &ClientMsg::Ack {
            tick: Tick(welcome.tick.0 + 1_000_000),
        },
        &mut ack,
    );
    raw.send(Message::Binary(ack.into())).await.unwrap();
    let (code, reason) = close_code(&mut raw).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("not yet sent"), "{reason}");
    server.shutdown().await;
}

/// Arena, except that a `buttons` value of 0xFF panics the game and 0xFE
/// makes one tick hang for 1.2 s.
struct TroubledArena(Arena);

impl Game for TroubledArena {
    type Entity = <Arena as Game>::Entity;
    type Input = ArenaInput;
    type Message = tickwire::replicate::NoMessages;
    type Event = tickwire::replicate::NoMessages;
    fn new(settings: &MatchSettings) -> Self {
        TroubledArena(Arena::new(settings))
    }
    fn join(&mut self, player: PlayerId) -> EntityId {
        self.0.join(player)
    }
    fn leave(&mut self, player: PlayerId) {
        self.0.leave(player)
    }
    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &ArenaInput) {
        match input.buttons {
            0xFF => panic!("a bug in game code"),
            0xFE => std::thread::sleep(Duration::from_millis(1200)),
            _ => self.0.apply_input(player, seq, input),
        }
    }
    fn step(&mut self, tick: Tick) {
        self.0.step(tick)
    }
    fn freeze(&self, out: &mut Vec<Self::Entity>) {
        self.0.freeze(out)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_into_a_match_whose_game_panicked_is_answered_at_once() {
    let server = tickwire::net::start::<TroubledArena>(test_config())
        .await
        .unwrap();
    let id = server.lobby().create_match(None, None).unwrap().id;
    // A seat reserved before the panic; its Join arrives after.
    let mut seat = server.lobby().reserve(Some(id)).unwrap();
    let mut victim = Client::<TroubledArena>::connect(
        &format!("{}?match={}", server.ws_url(), id.0),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    victim
        .send_input(ArenaInput {
            buttons: 0xFF,
            ..ArenaInput::default()
        })
        .await
        .unwrap();
    let handle = server.lobby().get(id).unwrap();
    wait_until("the match failed", 5, || handle.has_ended()).await;
    let slot = std::sync::Arc::new(tickwire::tick::OutboundSlot::new(4, 4));
    // The deadline is far; only the dead match's answer ends this wait in time.
    let joined = within(
        "the join is answered",
        3,
        seat.join(slot, Duration::from_secs(60), 0),
    )
    .await;
    assert!(joined.is_none());
    drop(seat);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_running_past_the_watchdog_bound_is_reported() {
    let server = tickwire::net::start::<TroubledArena>(Config {
        tick_watchdog: Duration::from_millis(200),
        ..test_config()
    })
    .await
    .unwrap();
    let stalls = || async {
        let (_, text) = http(
            "GET",
            format!("http://{}/metrics", server.local_addr()),
            None,
        )
        .await;
        text.lines()
            .find(|l| l.starts_with("tickwire_tick_stalls_total"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .expect("the stalls series exists from the start")
    };
    assert_eq!(stalls().await, 0.0);
    let mut player = Client::<TroubledArena>::connect(&server.ws_url(), ClientOptions::default())
        .await
        .unwrap();
    player
        .send_input(ArenaInput {
            buttons: 0xFE,
            ..ArenaInput::default()
        })
        .await
        .unwrap();
    let mut seen = 0.0;
    for _ in 0..100 {
        seen = stalls().await;
        if seen >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen >= 1.0, "no stall reported");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sockets_are_answered_and_closed_at_once() {
    // A long handshake timeout: a refused socket kept open would show.
    let server = start(Config {
        max_connections_per_ip: 2,
        handshake_timeout: Duration::from_secs(30),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let _held = [
        tokio::net::TcpStream::connect(addr).await.unwrap(),
        tokio::net::TcpStream::connect(addr).await.unwrap(),
    ];
    for _ in 0..50 {
        let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut answer = Vec::new();
        // No request sent: the server answers 429 and closes without waiting.
        let read = within(
            "the refused socket closes",
            3,
            tokio::io::AsyncReadExt::read_to_end(&mut extra, &mut answer),
        )
        .await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            read.is_err() || answer.starts_with("HTTP/1.1 429"),
            "{answer}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_session_is_gone_can_join_again_as_a_new_player() {
    let server = start(Config {
        ack_timeout: Duration::from_millis(400),
        reconnect_grace: Duration::ZERO,
        ..test_config()
    })
    .await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let _keeps_the_match = connect(&server, Some(id), ClientOptions::default()).await;
    // Never acks, so the server closes it; the session ends with it.
    let options = ClientOptions {
        ack: AckMode::Manual,
        reconnect: Some(ReconnectPolicy {
            rejoin: true,
            ..ReconnectPolicy::default()
        }),
        ..ClientOptions::default()
    };
    let mut client = connect(&server, Some(id), options).await;
    let before = client.welcome().clone();
    let event = loop {
        match within("rejoined", 10, client.recv()).await.unwrap() {
            ClientEvent::Snapshot { .. } | ClientEvent::Pong { .. } => continue,
            other => break other,
        }
    };
    assert!(
        matches!(
            event,
            ClientEvent::Rejoined {
                same_match: true,
                ..
            }
        ),
        "{event:?}"
    );
    assert_eq!(client.welcome().match_id, id);
    assert_ne!(client.welcome().player_id, before.player_id, "a new player");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_joins_racing_for_three_seats_seat_exactly_three() {
    let server = start(Config {
        max_connections_per_ip: 200,
        ..test_config()
    })
    .await;
    let id = server.lobby().create_match(None, Some(3)).unwrap().id;
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let attempts = (0..50).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { Client::<Arena>::connect(&url, ClientOptions::default()).await })
    });
    let results = within(
        "every join answered",
        20,
        futures_util::future::join_all(attempts),
    )
    .await;
    let mut seated = Vec::new();
    let mut full = 0;
    for result in results {
        match result.unwrap() {
            Ok(client) => seated.push(client),
            Err(ClientError::Refused { status: 409, body }) if body.contains("match_full") => {
                full += 1
            }
            Err(e) => panic!("unexpected answer: {e}"),
        }
    }
    assert_eq!(seated.len(), 3);
    assert_eq!(full, 47);
    let handle = server.lobby().get(id).unwrap();
    assert_eq!(handle.seated(), 3);
    let players = |w: &Snapshot<tickwire::game::arena::ArenaEntity>| {
        w.entities
            .iter()
            .filter(|e| e.kind == tickwire::game::arena::KIND_PLAYER)
            .count()
    };
    for _ in 0..30 {
        next_snapshot(&mut seated[0]).await;
        if players(seated[0].world().unwrap()) == 3 {
            break;
        }
    }
    assert_eq!(
        players(seated[0].world().unwrap()),
        3,
        "three players in the world"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_that_fails_before_its_welcome_leaves_the_seat_to_the_old_token() {
    let server = start(Config {
        reconnect_grace: Duration::from_secs(5),
        ..test_config()
    })
    .await;
    let (raw, welcome) = raw_join(&server.ws_url()).await;
    drop(raw);
    wait_until("parked", 5, || server.lobby().parked_players() == 1).await;
    // Resumes at the upgrade, then vanishes before sending Join: the client
    // never saw a new token.
    let url = format!(
        "{}?resume={}",
        server.ws_url(),
        welcome.session_token.to_hex()
    );
    let (vanishing, _) = within("upgrade", 5, tokio_tungstenite::connect_async(&url))
        .await
        .unwrap();
    drop(vanishing);
    wait_until("parked again", 5, || server.lobby().parked_players() == 1).await;
    let back = Client::<Arena>::resume(
        &server.ws_url(),
        welcome.session_token,
        ClientOptions::default(),
    )
    .await
    .expect("the old token still resumes");
    assert_eq!(back.welcome().entity_id, welcome.entity_id);
    server.shutdown().await;
}
