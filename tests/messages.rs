//! Game messages and events over real WebSockets on 127.0.0.1: the role
//! check, the game's own check, denial limits, spectators, events across a
//! resume (and the gap notice when the log ran out), kicks and the match's
//! result.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tickwire::client::{AckMode, Client, ClientError, ClientEvent, ClientOptions, ReconnectPolicy};
use tickwire::game::arena::{
    ArenaEvent, ArenaInput, ArenaMessage, ChatLine, KickOrder, Said, SaidRole, Who,
};
use tickwire::protocol::{ClientMsg, MatchId};
use tickwire::replicate::Role;
use tickwire::Arena;
use tokio_tungstenite::tungstenite::Message;

fn chat(text: &str) -> ArenaMessage {
    ArenaMessage::Chat(ChatLine { text: text.into() })
}

/// Receives until an event, a gap notice, the result or a refusal arrives.
async fn next_news(client: &mut Client<Arena>) -> ClientEvent<ArenaEvent> {
    loop {
        match within("an event", 5, client.recv()).await.expect("recv") {
            ClientEvent::Snapshot { .. } | ClientEvent::Pong { .. } => continue,
            other => return other,
        }
    }
}

async fn spectator(server: &tickwire::net::ServerHandle<Arena>, id: MatchId) -> Client<Arena> {
    let url = format!("{}?match={}&spectate=1", server.ws_url(), id.0);
    within(
        "spectator connects",
        10,
        Client::<Arena>::connect(&url, ClientOptions::default()),
    )
    .await
    .expect("spectator connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_every_player_and_spectator_in_order() {
    let server = start(test_config()).await;
    let mut a = connect(&server, None, ClientOptions::default()).await;
    let id = a.welcome().match_id;
    let mut b = connect(&server, Some(id), ClientOptions::default()).await;
    let mut watcher = spectator(&server, id).await;
    assert_eq!(watcher.role(), Role::Spectator);
    assert_eq!(
        watcher.welcome().entity_id.0,
        0,
        "a spectator has no entity"
    );

    a.send_message(chat("hello")).await.unwrap();
    a.send_message(chat("  second line  ")).await.unwrap();
    // Two connections' messages have no order between them: the spectator
    // speaks once the match has handled a's two lines (and a has seen them).
    let mut lines_of_a = Vec::new();
    while lines_of_a.len() < 2 {
        match next_news(&mut a).await {
            ClientEvent::Event { seq, event } => lines_of_a.push((seq, event)),
            other => panic!("expected chat events, got {other:?}"),
        }
    }
    watcher.send_message(chat("watching")).await.unwrap();
    let me = a.welcome().entity_id.0;
    for (i, client) in [&mut a, &mut b, &mut watcher].into_iter().enumerate() {
        let mut lines = if i == 0 {
            std::mem::take(&mut lines_of_a)
        } else {
            Vec::new()
        };
        while lines.len() < 3 {
            match next_news(client).await {
                ClientEvent::Event { seq, event } => lines.push((seq, event)),
                other => panic!("expected chat events, got {other:?}"),
            }
        }
        let said = |entity, role, text: &str| {
            ArenaEvent::Chat(Said {
                entity,
                role,
                text: text.into(),
            })
        };
        // Each connection numbers its own events from 1; the trimmed text
        // arrives; the spectator speaks as entity 0.
        let seqs: Vec<u32> = lines.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(lines[0].1, said(me, SaidRole::Player, "hello"));
        assert_eq!(lines[1].1, said(me, SaidRole::Player, "second line"));
        assert_eq!(lines[2].1, said(0, SaidRole::Spectator, "watching"));
        assert_eq!(client.last_event(), 3);
    }

    // The match API lists the spectator apart from the players.
    let (status, body) = http_json(
        "GET",
        format!("http://{}/v1/matches/{}", server.local_addr(), id.0),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["players"], 2, "{body}");
    assert_eq!(body["spectators"], 1, "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_name_their_type_and_too_many_close_1008() {
    let mut config = test_config();
    config.max_message_denials = 3;
    let server = start(config).await;
    let mut player = connect(&server, None, ClientOptions::default()).await;
    let id = player.welcome().match_id;
    let mut watcher = spectator(&server, id).await;

    // The role table: a spectator may chat but not be ready or kick.
    watcher.send_message(ArenaMessage::Ready).await.unwrap();
    match next_news(&mut watcher).await {
        ClientEvent::Denied { message } => {
            assert!(
                message.starts_with("Ready: a spectator may not"),
                "{message}"
            )
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    // The game's own check: an empty line.
    player.send_message(chat("   ")).await.unwrap();
    match next_news(&mut player).await {
        ClientEvent::Denied { message } => assert_eq!(message, "Chat: an empty line"),
        other => panic!("expected a denial, got {other:?}"),
    }
    // A spectator's input is refused too: it steers nothing.
    watcher.send_input(ArenaInput::default()).await.unwrap();
    match next_news(&mut watcher).await {
        ClientEvent::Denied { message } => assert!(message.starts_with("Input:"), "{message}"),
        other => panic!("expected a denial, got {other:?}"),
    }
    // Two more refusals pass the limit of 3: 1008.
    let kick = ArenaMessage::Kick(KickOrder { entity: 1 });
    watcher.send_message(kick.clone()).await.unwrap();
    watcher.send_message(kick).await.unwrap();
    let end = loop {
        match within("close", 5, watcher.recv()).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match end {
        ClientError::Closed { code, reason } => {
            assert_eq!(code, 1008);
            assert_eq!(reason, "too many refused messages");
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
    // The player was not harmed: it still gets snapshots.
    next_snapshot(&mut player).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_player_gets_the_events_it_missed_exactly_once() {
    let server = start(test_config()).await;
    let options = ClientOptions {
        reconnect: Some(ReconnectPolicy::default()),
        ..ClientOptions::default()
    };
    let mut a = connect(&server, None, options.clone()).await;
    let id = a.welcome().match_id;
    let mut b = connect(&server, Some(id), ClientOptions::default()).await;
    b.send_message(chat("before")).await.unwrap();
    assert!(matches!(
        next_news(&mut a).await,
        ClientEvent::Event { seq: 1, .. }
    ));

    // A drops off (no close frame) and comes back with its token while B talks.
    let token = a.welcome().session_token;
    let last = a.last_event();
    drop(a);
    for text in ["one", "two", "three"] {
        b.send_message(chat(text)).await.unwrap();
    }
    for _ in 0..4 {
        next_news(&mut b).await;
    }
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let mut again = resume_after(&url, token, last).await;
    let mut texts = Vec::new();
    while texts.len() < 3 {
        match next_news(&mut again).await {
            ClientEvent::Event {
                seq,
                event: ArenaEvent::Chat(said),
            } => texts.push((seq, said.text)),
            other => panic!("expected the missed chat, got {other:?}"),
        }
    }
    assert_eq!(
        texts,
        [(2, "one".into()), (3, "two".into()), (4, "three".into())]
    );
    // Nothing is delivered twice: the next event is the next number.
    b.send_message(chat("after")).await.unwrap();
    match next_news(&mut again).await {
        ClientEvent::Event { seq, .. } => assert_eq!(seq, 5),
        other => panic!("expected event 5, got {other:?}"),
    }
    server.shutdown().await;
}

/// Resumes session `token` as a client that received events up to `last_event`.
async fn resume_after(
    url: &str,
    token: tickwire::protocol::SessionToken,
    last_event: u32,
) -> Client<Arena> {
    let resume = Client::<Arena>::resume_from(url, token, last_event, ClientOptions::default());
    within("resume", 10, resume).await.expect("resume")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_away_too_long_is_told_which_events_it_missed() {
    let mut config = test_config();
    config.event_log = 2;
    let server = start(config).await;
    let a = connect(&server, None, ClientOptions::default()).await;
    let id = a.welcome().match_id;
    let token = a.welcome().session_token;
    let mut b = connect(&server, Some(id), ClientOptions::default()).await;
    drop(a);
    for i in 1..=5 {
        b.send_message(chat(&format!("line {i}"))).await.unwrap();
    }
    for _ in 0..5 {
        next_news(&mut b).await;
    }
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let mut again = resume_after(&url, token, 0).await;
    assert_eq!(
        next_news(&mut again).await,
        ClientEvent::EventsMissed { first: 1, last: 3 }
    );
    for (seq, text) in [(4, "line 4"), (5, "line 5")] {
        match next_news(&mut again).await {
            ClientEvent::Event {
                seq: got,
                event: ArenaEvent::Chat(said),
            } => assert_eq!((got, said.text.as_str()), (seq, text)),
            other => panic!("expected event {seq}, got {other:?}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_announced_and_all_ready_follows_the_last_player() {
    let server = start(test_config()).await;
    let mut a = connect(&server, None, ClientOptions::default()).await;
    let id = a.welcome().match_id;
    let mut b = connect(&server, Some(id), ClientOptions::default()).await;
    a.send_message(ArenaMessage::Ready).await.unwrap();
    let ready_a = ArenaEvent::Ready(Who {
        entity: a.welcome().entity_id.0,
    });
    assert!(
        matches!(next_news(&mut b).await, ClientEvent::Event { event, .. } if event == ready_a)
    );
    a.send_message(ArenaMessage::Ready).await.unwrap();
    // Ready twice is refused (the first Ready event comes before it).
    assert!(matches!(next_news(&mut a).await, ClientEvent::Event { .. }));
    match next_news(&mut a).await {
        ClientEvent::Denied { message } => assert_eq!(message, "Ready: already ready"),
        other => panic!("expected a denial, got {other:?}"),
    }
    b.send_message(ArenaMessage::Ready).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        if let ClientEvent::Event { event, .. } = next_news(&mut b).await {
            seen.push(event);
        }
    }
    assert!(matches!(seen[0], ArenaEvent::Ready(_)));
    assert_eq!(seen[1], ArenaEvent::AllReady);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_kicks_a_player_and_ends_the_match_with_a_result() {
    let mut config = test_config();
    config.auth_secret = Some(SECRET.into());
    let server = start(config).await;
    let url = |sub: &str, role: Option<&str>, id: Option<MatchId>| {
        let token = jwt_with(sub, None, 600, role);
        match id {
            Some(id) => format!("{}?match={}&token={token}", server.ws_url(), id.0),
            None => format!("{}?token={token}", server.ws_url()),
        }
    };
    let connect_as = |u: String| async move {
        within(
            "connect",
            10,
            Client::<Arena>::connect(&u, ClientOptions::default()),
        )
        .await
        .expect("connects")
    };
    let mut alice = connect_as(url("alice", None, None)).await;
    let id = alice.welcome().match_id;
    let mut bob = connect_as(url("bob", None, Some(id))).await;
    let mut admin = connect_as(url("root", Some("admin"), Some(id))).await;
    assert_eq!(admin.role(), Role::Admin);

    // A player may not end the match.
    alice.send_message(ArenaMessage::EndMatch).await.unwrap();
    assert!(matches!(
        next_news(&mut alice).await,
        ClientEvent::Denied { .. }
    ));

    admin
        .send_message(ArenaMessage::Kick(KickOrder {
            entity: bob.welcome().entity_id.0,
        }))
        .await
        .unwrap();
    let end = loop {
        match within("kick", 5, bob.recv()).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match end {
        ClientError::Closed { code, reason } => {
            assert_eq!(code, 1008);
            assert_eq!(reason, "kicked: removed by an admin");
        }
        other => panic!("expected the kick's close, got {other:?}"),
    }

    admin.send_message(ArenaMessage::EndMatch).await.unwrap();
    let alice_entity = alice.welcome().entity_id.0;
    for client in [&mut alice, &mut admin] {
        match next_news(client).await {
            ClientEvent::Ended {
                result: ArenaEvent::MatchOver(standings),
                ..
            } => {
                let entities: Vec<u32> = standings.players.iter().map(|s| s.entity).collect();
                assert_eq!(entities, [alice_entity]);
            }
            other => panic!("expected the result, got {other:?}"),
        }
    }
    // The API keeps the result for a while.
    let path = format!("http://{}/v1/matches/{}", server.local_addr(), id.0);
    let mut body = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, b) = http_json("GET", path.clone(), None).await;
        body = b;
        if status == 200 && body["state"] == "ended" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(body["state"], "ended", "{body}");
    assert_eq!(body["result"]["type"], "MatchOver", "{body}");
    assert_eq!(
        body["result"]["fields"]["players"][0]["entity"], alice_entity,
        "{body}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_game_message_closes_1009_and_a_flood_closes_1008() {
    let mut config = test_config();
    config.max_game_message_bytes = 64;
    config.max_messages_per_second = 5;
    let server = start(config).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    raw.send(Message::Binary(join_bytes(1).into()))
        .await
        .unwrap();
    let mut big = Vec::new();
    tickwire::protocol::encode_client::<ArenaInput, ArenaMessage>(
        &ClientMsg::Message(chat(&"x".repeat(100))),
        &mut big,
    );
    raw.send(Message::Binary(big.into())).await.unwrap();
    let close = loop {
        match within("close", 5, raw.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1009);
    assert!(
        close.reason.contains("limit of 64 bytes"),
        "{}",
        close.reason
    );

    // A flood of small messages: refused beyond the rate, closed when it lasts.
    // (Acks are manual: an automatic ack could meet the closed socket before
    // `recv` reads the close frame.)
    let options = ClientOptions {
        ack: AckMode::Manual,
        ..ClientOptions::default()
    };
    let mut client = connect(&server, None, options).await;
    for i in 0..400 {
        if client.send_message(chat(&format!("{i}"))).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut closed = None;
    for _ in 0..10_000 {
        match within("the flood's close", 5, client.recv()).await {
            Ok(_) => continue,
            Err(e) => {
                closed = Some(e);
                break;
            }
        }
    }
    match closed {
        Some(ClientError::Closed { code, reason }) => {
            assert_eq!(code, 1008);
            assert!(reason.contains("message flood"), "{reason}");
        }
        other => panic!("expected a 1008 flood close, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generic_client_chats_and_reads_events_from_the_schema_alone() {
    use tickwire::client::generic::{GenericClient, GenericEvent};
    let server = start(test_config()).await;
    let mut typed = connect(&server, None, ClientOptions::default()).await;
    let id = typed.welcome().match_id;
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let mut generic = within(
        "generic connects",
        10,
        GenericClient::connect(&url, ClientOptions::default()),
    )
    .await
    .expect("generic connects");
    let hello = serde_json::json!({"type": "Chat", "fields": {"text": "from json"}});
    generic.send_message(&hello).await.unwrap();
    // The typed client decodes what the generic one encoded from the schema...
    match next_news(&mut typed).await {
        ClientEvent::Event {
            event: ArenaEvent::Chat(said),
            ..
        } => assert_eq!(said.text, "from json"),
        other => panic!("expected the chat, got {other:?}"),
    }
    // ...and the generic one reads the event back as JSON.
    let event = loop {
        match within("generic event", 5, generic.recv()).await.unwrap() {
            GenericEvent::Event { seq, event } => break (seq, event),
            GenericEvent::Snapshot { .. } | GenericEvent::Pong { .. } => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    };
    assert_eq!(event.0, 1);
    assert_eq!(event.1["type"], "Chat");
    assert_eq!(event.1["fields"]["text"], "from json");
    assert_eq!(event.1["fields"]["role"], "Player");
    // A type the schema does not have is refused before anything is sent.
    let bogus = serde_json::json!({"type": "Teleport", "fields": {}});
    assert!(generic.send_message(&bogus).await.is_err());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_kicked_while_away_cannot_resume() {
    let mut config = test_config();
    config.auth_secret = Some(SECRET.into());
    let server = start(config).await;
    let connect_as = |sub: &str, role: Option<&str>, id: Option<MatchId>| {
        let token = jwt_with(sub, None, 600, role);
        let url = match id {
            Some(id) => format!("{}?match={}&token={token}", server.ws_url(), id.0),
            None => format!("{}?token={token}", server.ws_url()),
        };
        async move {
            within(
                "connect",
                10,
                Client::<Arena>::connect(&url, ClientOptions::default()),
            )
            .await
            .expect("connects")
        }
    };
    let bob = connect_as("bob", None, None).await;
    let id = bob.welcome().match_id;
    let (entity, session) = (bob.welcome().entity_id, bob.welcome().session_token);
    let mut admin = connect_as("root", Some("admin"), Some(id)).await;
    // Bob's connection drops without a close: his seat is parked for the grace.
    drop(bob);
    wait_until("bob is parked", 5, || server.lobby().parked_players() == 1).await;
    admin
        .send_message(ArenaMessage::Kick(KickOrder { entity: entity.0 }))
        .await
        .unwrap();
    wait_until("the parked seat is gone", 5, || {
        server.lobby().parked_players() == 0
    })
    .await;
    let url = format!(
        "{}?token={}",
        server.ws_url(),
        jwt_with("bob", None, 600, None)
    );
    let resumed = Client::<Arena>::resume(&url, session, ClientOptions::default()).await;
    match resumed {
        Err(ClientError::Refused { status, body }) => {
            assert_eq!(status, 401, "{body}");
            assert!(body.contains("invalid_session"), "{body}");
        }
        Err(other) => panic!("expected 401 invalid_session, got {other:?}"),
        Ok(_) => panic!("a kicked player resumed its session"),
    }
    // And his entity is gone from the match.
    loop {
        next_snapshot(&mut admin).await;
        if admin.world().is_some_and(|w| w.get(entity).is_none()) {
            break;
        }
    }
    server.shutdown().await;
}
