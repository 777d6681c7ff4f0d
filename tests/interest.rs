//! Interest management and the bandwidth budget, end to end: a real server
//! on 127.0.0.1 running arena-v2 (or arena under a budget), real WebSocket
//! clients, and the server's own snapshots (a match observer) to check what
//! each client holds against.

mod common;

use common::{http_json, test_config, within, ServerRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tickwire::client::{Client, ClientEvent, ClientOptions};
use tickwire::game::arena::v2::{ArenaV2, ArenaV2Entity, VIEW_RADIUS, WORLD_SIZE};
use tickwire::game::arena::ArenaInput;
use tickwire::net::ServerHandle;
use tickwire::protocol::{EntityId, Tick};
use tickwire::snapshot::Snapshot;
use tickwire::{Arena, Config};

async fn start_v2(config: Config) -> ServerHandle<ArenaV2> {
    tickwire::net::start::<ArenaV2>(config)
        .await
        .expect("server starts")
}

/// A player in a new arena-v2 match, its entity, and the match's record.
async fn join_v2(
    server: &ServerHandle<ArenaV2>,
) -> (Client<ArenaV2>, EntityId, ServerRecord<ArenaV2Entity>) {
    let url = server.ws_url();
    let connect = Client::<ArenaV2>::connect(&url, ClientOptions::default());
    let client = within("connect", 10, connect).await.expect("connects");
    let record = ServerRecord::start(server, client.welcome().match_id);
    let me = client.welcome().entity_id;
    (client, me, record)
}

const EAST: ArenaInput = ArenaInput {
    move_x: 127,
    move_y: 0,
    aim: 0.0,
    buttons: 0,
};
const WEST: ArenaInput = ArenaInput {
    move_x: -127,
    ..EAST
};

/// The ids within the view radius of `own` in the server's world.
fn in_view(world: &Snapshot<ArenaV2Entity>, own: EntityId) -> BTreeSet<EntityId> {
    let center = world.get(own).expect("own entity in the world").position();
    world
        .entities
        .iter()
        .filter(|e| e.position().distance(center) <= VIEW_RADIUS)
        .map(|e| e.id)
        .collect()
}

/// Plays `frames` snapshots, sending one input per snapshot; returns what
/// the client held after each, and each frame's size.
async fn play<G: tickwire::game::ClientGame<Input = ArenaInput>>(
    client: &mut Client<G>,
    frames: usize,
    input: ArenaInput,
) -> (BTreeMap<Tick, Snapshot<G::Entity>>, Vec<usize>) {
    let mut held = BTreeMap::new();
    let mut sizes = Vec::new();
    while held.len() < frames {
        match within("a snapshot", 5, client.recv()).await.expect("recv") {
            ClientEvent::Snapshot { tick, bytes, .. } => {
                held.insert(tick, client.world().expect("a world").clone());
                sizes.push(bytes);
                client.send_input(input).await.expect("input sent");
            }
            ClientEvent::InputTiming { bytes, .. } => sizes.push(bytes),
            _ => {}
        }
    }
    (held, sizes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_holds_exactly_what_is_within_its_view_as_it_moves() {
    let server = start_v2(test_config()).await;
    let (mut client, me, record) = join_v2(&server).await;
    // Three seconds towards the map's middle (never into a wall) at 200
    // units/s: 600 units, so the view's edge sweeps past many entities.
    let x = loop {
        within("a snapshot", 5, client.recv()).await.expect("recv");
        if let Some(own) = client.world().and_then(|w| w.get(me)) {
            break own.position().x;
        }
    };
    let input = if x < WORLD_SIZE / 2.0 { EAST } else { WEST };
    let (held, _) = play(&mut client, 90, input).await;
    let (mut entered, mut left) = (0, 0);
    let mut previous: Option<BTreeSet<EntityId>> = None;
    // The record starts after the first snapshot or two.
    for (tick, mine) in held.iter().skip(3) {
        let world = record.at(*tick).await;
        let ids: BTreeSet<EntityId> = mine.entities.iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            in_view(&world, me),
            "tick {tick:?}: the client holds its view"
        );
        for e in &mine.entities {
            assert_eq!(
                Some(e),
                world.get(e.id),
                "tick {tick:?}: and every entity of it up to date"
            );
        }
        if let Some(before) = &previous {
            entered += ids.difference(before).count();
            left += before.difference(&ids).count();
        }
        previous = Some(ids);
    }
    assert!(
        entered > 0 && left > 0,
        "entities entered ({entered}) and left ({left}) the view"
    );
    let whole = record.at(*held.keys().last().unwrap()).await.entities.len();
    let mine = held.values().last().unwrap().entities.len();
    assert!(
        mine * 5 < whole,
        "a view ({mine}) is a small part of the world ({whole})"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_budget_every_second_fits_and_the_own_entity_is_always_current() {
    let budget = 600;
    let server = start_v2(Config {
        bandwidth_budget: budget,
        ..test_config()
    })
    .await;
    let (mut client, me, record) = join_v2(&server).await;
    let (held, sizes) = play(&mut client, 120, EAST).await;
    // No second above the budget and the two ticks' worth the bucket lends.
    let worst = sizes
        .windows(30)
        .map(|w| w.iter().sum::<usize>())
        .max()
        .unwrap();
    assert!(
        worst <= budget as usize + 2 * budget as usize / 30,
        "worst second {worst} B"
    );
    let mut held_back = 0;
    for (tick, mine) in held.iter().skip(3) {
        let world = record.at(*tick).await;
        assert_eq!(
            mine.get(me),
            world.get(me),
            "tick {tick:?}: the own entity is current"
        );
        let view = in_view(&world, me);
        for e in &mine.entities {
            assert!(
                view.contains(&e.id),
                "tick {tick:?}: {:?} is out of view",
                e.id
            );
        }
        // Not yet entered, or stale.
        held_back += view.len()
            - mine
                .entities
                .iter()
                .filter(|e| world.get(e.id) == Some(*e))
                .count();
    }
    // A whole view in full is far over 20 bytes a tick: the budget held
    // entities back (entering ones wait, changed ones go stale), and the
    // server counted it.
    assert!(held_back > 0);
    let stats = within("stats", 5, async {
        loop {
            let (_, stats) =
                http_json("GET", format!("{}/v1/stats", server.http_url()), None).await;
            if stats["interest"]["deferred"].as_u64().unwrap_or(0) > 0 {
                break stats;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    let coverage = stats["interest"]["near16_coverage"]
        .as_f64()
        .expect("reported");
    assert!((0.0..=1.0).contains(&coverage), "{stats}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_with_the_same_view_share_one_encoding_and_a_budget_keeps_arena_exact() {
    // arena has no interest management: under a budget every player's view
    // is the whole world, so two players that acknowledge alike share frames.
    let server = common::start(Config {
        bandwidth_budget: 100_000,
        ..test_config()
    })
    .await;
    let url = server.ws_url();
    let mut a = within(
        "connect",
        10,
        Client::<Arena>::connect(&url, ClientOptions::default()),
    )
    .await
    .expect("connects");
    let match_url = format!("{url}?match={}", a.welcome().match_id.0);
    let mut b = within(
        "connect",
        10,
        Client::<Arena>::connect(&match_url, ClientOptions::default()),
    )
    .await
    .expect("connects");
    let record = ServerRecord::start(&server, a.welcome().match_id);
    let (me_a, me_b) = (a.welcome().entity_id, b.welcome().entity_id);
    let (held_a, held_b) = tokio::join!(play(&mut a, 60, EAST), play(&mut b, 60, EAST));
    for (held, me) in [(held_a.0, me_a), (held_b.0, me_b)] {
        for (tick, mine) in held.iter().skip(3) {
            let world = record.at(*tick).await;
            assert!(mine.get(me).is_some());
            assert_eq!(
                mine, &world,
                "tick {tick:?}: a budget with room changes nothing"
            );
        }
    }
    let stats = within("stats", 5, async {
        loop {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let (_, stats) =
                http_json("GET", format!("{}/v1/stats", server.http_url()), None).await;
            if stats["interest"]["shared_frames"].as_u64().unwrap_or(0) > 0 {
                break stats;
            }
        }
    })
    .await;
    assert!(stats["interest"]["shared_frames"].as_u64().unwrap() > 0);
    server.shutdown().await;
}
