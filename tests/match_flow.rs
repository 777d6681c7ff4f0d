//! A real server on 127.0.0.1 and real WebSocket clients playing arena-v1.

mod common;

use common::*;
use std::collections::HashSet;
use tickwire::client::{AckMode, ClientEvent, ClientOptions};
use tickwire::game::arena::{ArenaInput, KIND_NPC, KIND_PLAYER, NPC_COUNT};
use tickwire::protocol::{EntityId, Tick};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_decodes_exactly_its_own_matchs_server_state() {
    let server = start(test_config()).await;
    let a = server.lobby().create_match(Some(1), None).unwrap().id;
    let b = server.lobby().create_match(Some(2), None).unwrap().id;
    let rec_a = ServerRecord::start(&server, a);
    let rec_b = ServerRecord::start(&server, b);
    let mut clients = [
        (
            connect(&server, Some(a), ClientOptions::default()).await,
            &rec_a,
        ),
        (
            connect(&server, Some(a), ClientOptions::default()).await,
            &rec_a,
        ),
        (
            connect(&server, Some(b), ClientOptions::default()).await,
            &rec_b,
        ),
        (
            connect(&server, Some(b), ClientOptions::default()).await,
            &rec_b,
        ),
    ];
    for (client, _) in &clients[..2] {
        assert_eq!(client.welcome().match_id, a);
    }
    for (client, _) in &clients[2..] {
        assert_eq!(client.welcome().match_id, b);
    }
    // Let both joins land in every client's view, then compare 30 ticks each.
    for _ in 0..10 {
        for (client, _) in clients.iter_mut() {
            next_snapshot(client).await;
        }
    }
    for _ in 0..30 {
        for (client, record) in clients.iter_mut() {
            let tick = next_snapshot(client).await;
            let server_state = record.at(tick).await;
            let decoded = client.world().unwrap();
            assert_eq!(
                decoded, &server_state,
                "client state differs from the server's at {tick:?}"
            );
            let players = decoded
                .entities
                .iter()
                .filter(|e| e.kind == KIND_PLAYER)
                .count();
            assert_eq!(players, 2, "each match has exactly its own two players");
            assert_eq!(decoded.entities.len(), NPC_COUNT as usize + 2);
        }
    }
    // Different seeds: the two matches' worlds are not the same world.
    let wa = clients[0].0.world().unwrap().entities.clone();
    let wb = clients[2].0.world().unwrap().entities.clone();
    let npcs_a: Vec<_> = wa
        .iter()
        .filter(|e| e.kind == KIND_NPC)
        .map(|e| e.pos)
        .collect();
    let npcs_b: Vec<_> = wb
        .iter()
        .filter(|e| e.kind == KIND_NPC)
        .map(|e| e.pos)
        .collect();
    assert_ne!(npcs_a, npcs_b);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_moves_only_the_senders_entity_and_its_seq_reaches_the_client() {
    let server = start(test_config()).await;
    let id = server.lobby().create_match(Some(7), None).unwrap().id;
    let mut mover = connect(&server, Some(id), ClientOptions::default()).await;
    let mut still = connect(&server, Some(id), ClientOptions::default()).await;
    let mover_entity = mover.welcome().entity_id;
    let still_entity = still.welcome().entity_id;
    assert_ne!(mover_entity, still_entity);

    // Wait until both players are in the mover's view.
    let mut start_world = None;
    for _ in 0..60 {
        next_snapshot(&mut mover).await;
        let world = mover.world().unwrap();
        if world.get(mover_entity).is_some() && world.get(still_entity).is_some() {
            start_world = Some(world.clone());
            break;
        }
    }
    let start_world = start_world.expect("both players appear");
    let before_mover = *start_world.get(mover_entity).unwrap();
    let before_still = *start_world.get(still_entity).unwrap();
    // Walk towards the middle of the world, so no wall stops the move.
    let dir: i8 = if before_mover.pos.x < tickwire::game::arena::WORLD_QUANTA / 2 {
        127
    } else {
        -127
    };
    let mut last_seq = 0;
    for _ in 0..10 {
        last_seq = mover
            .send_input(ArenaInput {
                move_x: dir,
                move_y: 0,
                aim: 1.0,
                buttons: 0,
            })
            .await
            .unwrap();
        next_snapshot(&mut mover).await;
    }
    let mut reached = false;
    for _ in 0..30 {
        next_snapshot(&mut mover).await;
        let e = *mover.world().unwrap().get(mover_entity).unwrap();
        if e.last_input_seq == last_seq {
            reached = true;
            break;
        }
    }
    assert!(
        reached,
        "last_input_seq {last_seq} never reached the client"
    );
    let world = mover.world().unwrap();
    let after_mover = *world.get(mover_entity).unwrap();
    let after_still = *world.get(still_entity).unwrap();
    let moved = after_mover.pos.x - before_mover.pos.x;
    assert!(
        moved.signum() == i32::from(dir).signum() && moved.abs() > 64 * 50,
        "mover moved {moved} quanta"
    );
    assert_eq!(after_mover.pos.y, before_mover.pos.y);
    assert_eq!(
        after_mover.angle,
        tickwire::game::arena::quantize_angle(1.0).unwrap()
    );
    assert_eq!(
        after_still.pos, before_still.pos,
        "the other player's entity moved"
    );
    assert_eq!(after_still.last_input_seq, 0);
    // The still player, who sent nothing, sees the same.
    next_snapshot(&mut still).await;
    assert_eq!(
        still.world().unwrap().get(still_entity).unwrap().pos,
        before_still.pos
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_acks_late_still_decodes_every_snapshot() {
    let server = start(test_config()).await;
    let id = server.lobby().create_match(Some(3), None).unwrap().id;
    let record = ServerRecord::start(&server, id);
    let options = ClientOptions {
        ack: AckMode::Manual,
        ..ClientOptions::default()
    };
    let mut client = connect(&server, Some(id), options).await;
    let mut old_baselines = 0;
    let mut previous = Tick(0);
    for i in 0..90u32 {
        let event = within("snapshot", 5, client.recv())
            .await
            .expect("every snapshot decodes");
        let ClientEvent::Snapshot { tick, baseline, .. } = event else {
            continue;
        };
        assert!(tick > previous);
        previous = tick;
        if baseline.is_some_and(|b| tick.since(b) >= 5) {
            old_baselines += 1;
        }
        assert_eq!(client.world().unwrap(), &record.at(tick).await);
        if i % 10 == 9 {
            client.ack(tick).await.unwrap();
        }
    }
    assert!(
        old_baselines >= 30,
        "only {old_baselines} deltas used an old baseline"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_removes_the_player_from_the_others_snapshots() {
    let server = start(test_config()).await;
    let id = server.lobby().create_match(None, None).unwrap().id;
    let mut stays = connect(&server, Some(id), ClientOptions::default()).await;
    let leaves = connect(&server, Some(id), ClientOptions::default()).await;
    let gone = leaves.welcome().entity_id;
    let mut seen = false;
    for _ in 0..60 {
        next_snapshot(&mut stays).await;
        if stays.world().unwrap().get(gone).is_some() {
            seen = true;
            break;
        }
    }
    assert!(seen, "the second player never appeared");
    leaves.close().await.unwrap();
    let mut removed = false;
    for _ in 0..60 {
        next_snapshot(&mut stays).await;
        if stays.world().unwrap().get(gone).is_none() {
            removed = true;
            break;
        }
    }
    assert!(removed, "the player who left is still in the snapshots");
    assert!(stays
        .world()
        .unwrap()
        .get(stays.welcome().entity_id)
        .is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_deltas_are_far_smaller_than_full_snapshots() {
    let server = start(test_config()).await;
    let id = server.lobby().create_match(Some(11), None).unwrap().id;
    let record = ServerRecord::start(&server, id);
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(
            connect(
                &server,
                Some(id),
                ClientOptions {
                    ack: AckMode::WithInputs,
                    ..ClientOptions::default()
                },
            )
            .await,
        );
    }
    let mut rng = fastrand::Rng::with_seed(5);
    let mut inputs: Vec<ArenaInput> = vec![ArenaInput::default(); clients.len()];
    let (mut delta_bytes, mut full_bytes, mut deltas) = (0usize, 0usize, 0usize);
    for step in 0..150u32 {
        for (i, client) in clients.iter_mut().enumerate() {
            if step % 30 == 0 {
                inputs[i] = ArenaInput {
                    move_x: rng.i8(-127..=127),
                    move_y: rng.i8(-127..=127),
                    aim: rng.f32() * std::f32::consts::TAU,
                    buttons: 0,
                };
            }
            client.send_input(inputs[i]).await.unwrap();
            let event = within("snapshot", 5, client.recv()).await.unwrap();
            let ClientEvent::Snapshot {
                tick,
                baseline,
                bytes,
            } = event
            else {
                continue;
            };
            if step >= 60 && i == 0 {
                assert!(baseline.is_some(), "steady state must be deltas");
                let full = record.published(tick).map(|p| p.frame(None).len());
                if let Some(full) = full {
                    delta_bytes += bytes;
                    full_bytes += full;
                    deltas += 1;
                }
            }
        }
    }
    assert!(deltas >= 60, "too few measured snapshots: {deltas}");
    let ratio = delta_bytes as f64 / full_bytes as f64;
    assert!(
        ratio < 0.25,
        "deltas are {:.1}% of full snapshots",
        ratio * 100.0
    );
    println!(
        "delta/full = {:.2}% ({delta_bytes} / {full_bytes} bytes over {deltas} snapshots)",
        ratio * 100.0
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_join_fills_the_fullest_open_match_before_opening_another() {
    let config = common::test_config();
    let server = start(tickwire::Config {
        players_per_match: 2,
        ..config
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(connect(&server, None, ClientOptions::default()).await);
    }
    let matches: Vec<_> = clients.iter().map(|c| c.welcome().match_id).collect();
    assert_eq!(matches[0], matches[1]);
    assert_eq!(matches[2], matches[3]);
    assert_ne!(matches[0], matches[2]);
    assert_ne!(matches[4], matches[2]);
    let distinct: HashSet<_> = matches.iter().collect();
    assert_eq!(distinct.len(), 3);
    let entities: HashSet<EntityId> = clients[..2].iter().map(|c| c.welcome().entity_id).collect();
    assert_eq!(entities.len(), 2);
    server.shutdown().await;
}

/// What a client outside the server knows of arena: its entity, input,
/// message and event types, not its simulation.
struct ArenaWire;

impl tickwire::game::ClientGame for ArenaWire {
    type Entity = tickwire::game::arena::ArenaEntity;
    type Input = tickwire::game::arena::ArenaInput;
    type Message = tickwire::game::arena::ArenaMessage;
    type Event = tickwire::game::arena::ArenaEvent;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_needs_only_the_entity_and_input_types_not_the_game() {
    let server = start(test_config()).await;
    let mut client = within(
        "connect",
        10,
        tickwire::client::Client::<ArenaWire>::connect(&server.ws_url(), ClientOptions::default()),
    )
    .await
    .expect("connects");
    let me = client.welcome().entity_id;
    client
        .send_input(tickwire::game::arena::ArenaInput::default())
        .await
        .unwrap();
    for _ in 0..30 {
        let event = within("snapshot", 5, client.recv()).await.unwrap();
        if matches!(event, tickwire::client::ClientEvent::Snapshot { .. })
            && client.world().is_some_and(|w| w.get(me).is_some())
        {
            break;
        }
    }
    assert!(
        client.world().unwrap().get(me).is_some(),
        "its own entity, decoded"
    );
    server.shutdown().await;
}
