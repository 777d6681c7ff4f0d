//! space3d on a real server over 127.0.0.1: a player flies and fires and
//! decodes exactly the server's ships, shots and scoreboard; a client that
//! knows no game decodes the same 3D state from the schema; and the
//! `tickwire` binary serves the game with `--game space3d`.

mod common;

use common::{http, test_config, within};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tickwire::client::generic::{GenericClient, GenericEvent};
use tickwire::client::{Client, ClientEvent, ClientOptions};
use tickwire::game::space3d::{
    Phase, Pilot, Space3d, SpaceEntity, SpaceInput, FORWARD, NPC_COUNT, START_HP,
};
use tickwire::net::ServerHandle;
use tickwire::protocol::{MatchId, Tick};
use tickwire::replicate::SINGLETON_ID;
use tickwire::snapshot::Snapshot;

/// Every snapshot a space3d match publishes, by tick: the server's own state.
struct ServerRecord {
    snapshots: Arc<Mutex<HashMap<Tick, Snapshot<SpaceEntity>>>>,
}

impl ServerRecord {
    fn start(server: &ServerHandle<Space3d>, id: MatchId) -> Self {
        let slot = server.lobby().get(id).expect("match exists").observe(1024);
        let snapshots = Arc::new(Mutex::new(HashMap::new()));
        let record = snapshots.clone();
        tokio::spawn(async move {
            loop {
                while let Some(p) = slot.pop() {
                    let snapshot = p.snapshot.clone();
                    record.lock().unwrap().insert(snapshot.tick, snapshot);
                }
                if slot.closed().is_some() {
                    break;
                }
                slot.wait().await;
            }
        });
        ServerRecord { snapshots }
    }

    /// The server's snapshot at `tick`, waiting briefly for the observer.
    async fn at(&self, tick: Tick) -> Snapshot<SpaceEntity> {
        for _ in 0..200 {
            if let Some(s) = self.snapshots.lock().unwrap().get(&tick) {
                return s.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("server never recorded tick {tick:?}");
    }
}

async fn next_snapshot(client: &mut Client<Space3d>) -> Tick {
    loop {
        if let ClientEvent::Snapshot { tick, .. } = within("next snapshot", 5, client.recv())
            .await
            .expect("recv")
        {
            return tick;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_flies_and_fires_and_decodes_exactly_the_servers_ships_shots_and_scoreboard() {
    let server = tickwire::net::start::<Space3d>(test_config())
        .await
        .expect("server starts");
    let id = server.lobby().create_match(Some(21), None).unwrap().id;
    let record = ServerRecord::start(&server, id);
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let mut client = within(
        "connect",
        10,
        Client::<Space3d>::connect(&url, ClientOptions::default()),
    )
    .await
    .expect("a space3d client connects");
    let me = client.welcome().entity_id;

    let mut start = None;
    for _ in 0..60 {
        next_snapshot(&mut client).await;
        if let Some(ship) = client
            .world()
            .unwrap()
            .get(me)
            .and_then(SpaceEntity::as_ship)
        {
            start = Some(*ship);
            break;
        }
    }
    let start = start.expect("the player's ship appears");
    assert_eq!(start.pilot, Pilot::Player);
    assert_eq!(start.hp, START_HP);

    // Full thrust and the trigger held for a second and a half.
    let input = SpaceInput {
        thrust: 127,
        fire: true,
        ..SpaceInput::default()
    };
    let (mut last_seq, mut my_shots, mut compared) = (0, 0, 0);
    for _ in 0..45 {
        last_seq = client.send_input(input).await.unwrap();
        let tick = next_snapshot(&mut client).await;
        let world = client.world().unwrap();
        my_shots += world
            .entities
            .iter()
            .filter_map(SpaceEntity::as_shot)
            .filter(|s| s.owner == me.0)
            .count();
        assert_eq!(
            world,
            &record.at(tick).await,
            "the client's state differs from the server's at {tick:?}"
        );
        compared += 1;
    }
    assert_eq!(compared, 45);
    assert!(my_shots > 0, "the player's shots never showed");

    let mut applied = false;
    for _ in 0..30 {
        next_snapshot(&mut client).await;
        let ship = client
            .world()
            .unwrap()
            .get(me)
            .and_then(SpaceEntity::as_ship);
        if ship.is_some_and(|s| s.last_input_seq == last_seq) {
            applied = true;
            break;
        }
    }
    assert!(
        applied,
        "last_input_seq {last_seq} never reached the client"
    );
    let world = client.world().unwrap();
    let ship = *world.get(me).and_then(SpaceEntity::as_ship).unwrap();
    // A second and a half of thrust at 80 units/s² is some 90 units, less
    // if it met a wall on the way; along the nose, which it never turned.
    let moved = ship.pos - start.pos;
    assert!(moved.length() > 20.0, "the ship moved only {moved}");
    assert_eq!(ship.orientation, start.orientation);
    assert!(
        ship.vel.length() * 30.0 > 60.0,
        "speed {}",
        ship.vel.length() * 30.0
    );
    assert!(ship.vel.normalize().dot(start.orientation * FORWARD).abs() > 0.99);

    // Both kinds and the singleton, as the server froze them.
    let ships = world
        .entities
        .iter()
        .filter_map(SpaceEntity::as_ship)
        .count();
    assert_eq!(ships, NPC_COUNT as usize + 1);
    let board = world
        .get(SINGLETON_ID)
        .and_then(SpaceEntity::as_scoreboard)
        .expect("the scoreboard, at entity id 0");
    assert_eq!((board.phase, board.round), (Phase::Playing, 1));
    assert!(board.phase_ends > world.tick.0);
    client.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_knows_no_game_decodes_the_same_3d_state_from_the_schema() {
    let server = tickwire::net::start::<Space3d>(test_config())
        .await
        .expect("server starts");
    let id = server.lobby().create_match(Some(5), None).unwrap().id;
    let record = ServerRecord::start(&server, id);
    let url = format!("{}?match={}", server.ws_url(), id.0);
    let mut client = within(
        "connect",
        10,
        GenericClient::connect(&url, ClientOptions::default()),
    )
    .await
    .expect("a generic client connects");
    let me = client.welcome().entity_id;
    let input = json!({ "thrust": 90, "yaw": 4, "pitch": -3, "roll": 2, "fire": true });
    let mut checked = 0;
    for _ in 0..60 {
        client.send_input(&input).await.unwrap();
        let event = within("generic snapshot", 5, client.recv()).await.unwrap();
        let GenericEvent::Snapshot { tick, .. } = event else {
            continue;
        };
        let decoded = client.world_json().unwrap();
        let server_state = record.at(tick).await;
        let entities = decoded["entities"].as_array().unwrap();
        assert_eq!(entities.len(), server_state.entities.len());
        for (g, s) in entities.iter().zip(&server_state.entities) {
            let floats = |xs: &[f32]| json!(xs.iter().map(|x| f64::from(*x)).collect::<Vec<_>>());
            match s {
                SpaceEntity::Ship(ship) => {
                    assert_eq!(g["kind"], "Ship");
                    assert_eq!(g["id"], ship.id.0);
                    assert_eq!(g["fields"]["pos"], floats(&ship.pos.to_array()));
                    assert_eq!(g["fields"]["vel"], floats(&ship.vel.to_array()));
                    assert_eq!(
                        g["fields"]["orientation"],
                        floats(&ship.orientation.to_array())
                    );
                    assert_eq!(g["fields"]["last_input_seq"], ship.last_input_seq);
                }
                SpaceEntity::Shot(shot) => {
                    assert_eq!(g["kind"], "Shot");
                    assert_eq!(g["fields"]["pos"], floats(&shot.pos.to_array()));
                    assert_eq!(g["fields"]["owner"], shot.owner);
                }
                SpaceEntity::Score(board) => {
                    assert_eq!(g["kind"], "Score");
                    assert_eq!(g["id"], SINGLETON_ID.0);
                    assert_eq!(g["fields"]["round"], board.round);
                    assert_eq!(g["fields"]["phase_ends"], board.phase_ends);
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} snapshots compared");
    // Its inputs went through the schema's encoder: its ship turned.
    let world = record.at(client.world().unwrap().tick).await;
    let ship = world.get(me).and_then(SpaceEntity::as_ship).unwrap();
    assert_ne!(ship.orientation, tickwire::glam::Quat::IDENTITY);
    assert!(ship.last_input_seq >= 50);
    server.shutdown().await;
}

/// A `tickwire` child process, killed when dropped (also when a test fails).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickwire_serve_game_space3d_serves_space3d() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tickwire"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TICKWIRE_") || k == "RUST_LOG" {
            command.env_remove(k);
        }
    }
    let _child = Child(
        command
            .args(["serve", "--game", "space3d", "--bind", &bind])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{bind}");
    common::wait_until("the server listens", 10, || {
        std::net::TcpStream::connect(&bind).is_ok()
    })
    .await;
    assert_eq!(http("GET", format!("{base}/healthz"), None).await.0, 200);
    let (status, body) = http("GET", format!("{base}/v1/schema"), None).await;
    assert_eq!(status, 200);
    let schema: serde_json::Value = serde_json::from_str(&body).unwrap();
    let kinds: Vec<&str> = schema["schema"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Ship", "Shot", "Score"]);
    // A typed client states its schema's hash: the server takes it only if
    // it runs this very game.
    let mut client = within(
        "connect",
        10,
        Client::<Space3d>::connect(&format!("ws://{bind}/ws"), ClientOptions::default()),
    )
    .await
    .expect("a space3d client connects to `tickwire serve --game space3d`");
    let me = client.welcome().entity_id;
    for _ in 0..30 {
        next_snapshot(&mut client).await;
        if client.world().unwrap().get(me).is_some() {
            break;
        }
    }
    let world = client.world().unwrap();
    let ship = world.get(me).and_then(SpaceEntity::as_ship);
    assert_eq!(ship.map(|s| s.pilot), Some(Pilot::Player));
    assert!(world
        .get(SINGLETON_ID)
        .and_then(SpaceEntity::as_scoreboard)
        .is_some());
    // The scoreboard, the NPCs and this player; nobody has fired.
    assert_eq!(world.entities.len(), 1 + NPC_COUNT as usize + 1);
}
