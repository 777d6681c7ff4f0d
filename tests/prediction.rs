//! Client prediction with reconciliation, through a proxy on 127.0.0.1 that
//! delays every byte by 50 ms each way (100 ms round trip): straight motion
//! is predicted exactly, and a door the client could not know about yet is
//! corrected by the first snapshot that shows it.

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tickwire::client::{Client, ClientEvent, ClientOptions};
use tickwire::game::arena::ArenaInput;
use tickwire::game::{Game, MatchSettings, Predict, PredictWorld};
use tickwire::protocol::{EntityId, PlayerId, Tick};
use tickwire::{Arena, NoMessages, Replicate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ONE_WAY: Duration = Duration::from_millis(50);

/// A TCP proxy to `target` that holds every chunk `ONE_WAY` before passing it on.
async fn delaying_proxy(target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
            let (from_client, to_client) = inbound.into_split();
            let (from_server, to_server) = outbound.into_split();
            tokio::spawn(pipe(from_client, to_server));
            tokio::spawn(pipe(from_server, to_client));
        }
    });
    addr
}

async fn pipe(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((read_at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(read_at + ONE_WAY).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0
            || tx
                .send((tokio::time::Instant::now(), buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Sends an input for every tick the client's clock says is due, until
/// `until` returns true for a received snapshot; then returns.
async fn play<G>(
    client: &mut Client<G>,
    input: impl Fn(Tick) -> G::Input,
    secs: u64,
    mut on_snapshot: impl FnMut(&mut Client<G>) -> bool,
) where
    G: tickwire::game::ClientGame,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        assert!(Instant::now() < deadline, "not done within {secs} s");
        let due = client.input_due();
        let wait = async move {
            match due {
                Some(d) => tokio::time::sleep_until(d.at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait => {
                let due = due.expect("armed only when due");
                client.send_timed_input(due.tick, input(due.tick)).await.unwrap();
            }
            event = client.recv() => {
                if let ClientEvent::Snapshot { .. } = event.unwrap() {
                    if on_snapshot(client) {
                        return;
                    }
                }
            }
        }
    }
}

/// A client of `G` through the delaying proxy to `server`, after a second of
/// standing still: its clock has learnt the 100 ms round trip.
async fn settled_client<G>(server: SocketAddr) -> Client<G>
where
    G: tickwire::game::ClientGame,
    G::Input: Default,
{
    let proxy = delaying_proxy(server).await;
    let mut client = within(
        "connect",
        10,
        Client::<G>::connect(&format!("ws://{proxy}/ws"), ClientOptions::default()),
    )
    .await
    .unwrap();
    client.ping().await.unwrap();
    let started = Instant::now();
    play(
        &mut client,
        |_| G::Input::default(),
        10,
        |_| started.elapsed() > Duration::from_secs(1),
    )
    .await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn straight_motion_is_predicted_ahead_of_the_server_without_a_correction() {
    let server = start(test_config()).await;
    let mut client = settled_client::<Arena>(server.local_addr()).await;
    let me = client.welcome().entity_id;
    let x = client.world().unwrap().get(me).unwrap().pos.x;
    // Run away from the nearer wall, for a second (200 of 1000 units).
    let run = ArenaInput {
        move_x: if x < tickwire::game::arena::WORLD_QUANTA / 2 {
            127
        } else {
            -127
        },
        ..ArenaInput::default()
    };
    let corrections = client.corrections();
    let (mut ahead, mut snapshots) = (Vec::new(), 0);
    play(
        &mut client,
        |_| run,
        10,
        |client| {
            snapshots += 1;
            let server_x = client.world().unwrap().get(me).unwrap().pos.x;
            let predicted = client.predict().expect("own entity");
            ahead.push((predicted.pos.x - server_x).abs());
            snapshots >= 30
        },
    )
    .await;
    assert_eq!(
        client.corrections(),
        corrections,
        "straight motion needs no correction"
    );
    // 100 ms of round trip is three ticks at 30 Hz: the prediction runs at
    // least two ticks (2 x 427 quanta) ahead of the server's state.
    let settled = &ahead[15..];
    assert!(
        settled.iter().all(|&d| d >= 2 * 427),
        "predicted ahead of the snapshots: {ahead:?}"
    );
    server.shutdown().await;
}

// A corridor with a door the server closes when a runner is about to pass
// it: the client learns it only from the snapshot that shows it closed.

#[derive(Debug, Clone, PartialEq, Replicate)]
pub struct Thing {
    #[replicate(id)]
    pub id: EntityId,
    #[replicate(range = 0..=100000)]
    pub x: i32,
    /// The door: 1 when closed. Runners: 0.
    #[replicate(range = 0..=1)]
    pub closed: u8,
    #[replicate(varint)]
    pub last_input_seq: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Replicate)]
pub struct Run {
    #[replicate(range = -1..=1)]
    pub dir: i8,
}

const DOOR: EntityId = EntityId(1);
const DOOR_X: i32 = 50_000;
const SPEED: i32 = 1_000;

/// One tick of a runner, shared by the server and the prediction.
fn run_step(x: i32, dir: i8, door_closed: bool) -> i32 {
    let next = (x + i32::from(dir) * SPEED).clamp(0, 100_000);
    if door_closed && x <= DOOR_X && next > DOOR_X {
        DOOR_X
    } else {
        next
    }
}

struct Corridor {
    door: Thing,
    runners: Vec<(PlayerId, Thing, Run)>,
}

impl Game for Corridor {
    type Entity = Thing;
    type Input = Run;
    type Message = NoMessages;
    type Event = NoMessages;

    fn new(_: &MatchSettings) -> Self {
        Corridor {
            door: Thing {
                id: DOOR,
                x: DOOR_X,
                closed: 0,
                last_input_seq: 0,
            },
            runners: Vec::new(),
        }
    }
    fn join(&mut self, player: PlayerId) -> EntityId {
        let id = EntityId(2 + self.runners.len() as u32);
        let runner = Thing {
            id,
            x: 0,
            closed: 0,
            last_input_seq: 0,
        };
        self.runners.push((player, runner, Run::default()));
        id
    }
    fn leave(&mut self, player: PlayerId) {
        self.runners.retain(|(p, _, _)| *p != player);
    }
    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &Run) {
        if let Some((_, runner, in_force)) = self.runners.iter_mut().find(|(p, _, _)| *p == player)
        {
            runner.last_input_seq = seq;
            *in_force = *input;
        }
    }
    fn step(&mut self, _: Tick) {
        // The server's secret: the door shuts just before a runner reaches it.
        if self.runners.iter().any(|(_, r, run)| {
            r.x < DOOR_X && r.x + i32::from(run.dir) * SPEED > DOOR_X - SPEED / 2
        }) {
            self.door.closed = 1;
        }
        for (_, runner, run) in &mut self.runners {
            runner.x = run_step(runner.x, run.dir, self.door.closed == 1);
        }
    }
    fn freeze(&self, out: &mut Vec<Thing>) {
        out.push(self.door.clone());
        out.extend(self.runners.iter().map(|(_, r, _)| r.clone()));
    }
}

impl Predict for Corridor {
    fn applied_input(own: &Thing) -> u32 {
        own.last_input_seq
    }
    fn predict_input(own: &mut Thing, seq: u32, _: &Run, _: &PredictWorld<'_, Thing>) {
        own.last_input_seq = seq;
    }
    fn predict_step(own: &mut Thing, input: &Run, world: &PredictWorld<'_, Thing>) {
        let closed = world.snapshot.get(DOOR).is_some_and(|d| d.closed == 1);
        own.x = run_step(own.x, input.dir, closed);
    }
    fn agrees(a: &Thing, b: &Thing) -> bool {
        a.x == b.x
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_the_client_had_not_seen_is_corrected_by_the_snapshot_that_shows_it() {
    let server = tickwire::net::start::<Corridor>(test_config())
        .await
        .unwrap();
    let mut client = settled_client::<Corridor>(server.local_addr()).await;
    let before = client.corrections();
    let me = client.welcome().entity_id;
    // Runs for 50 ticks to the door; the snapshots that follow its closing
    // are watched for 15 more.
    let (mut door_seen, mut after, mut ahead_of_server) = (None::<Tick>, 0, false);
    play(
        &mut client,
        |_| Run { dir: 1 },
        15,
        |client| {
            let world = client.world().unwrap();
            let (tick, closed) = (world.tick, world.get(DOOR).unwrap().closed == 1);
            let server_x = world.get(me).unwrap().x;
            let predicted = client.predict().unwrap().x;
            if door_seen.is_none() {
                ahead_of_server |= predicted > server_x;
                if !closed {
                    assert_eq!(
                        client.corrections(),
                        before,
                        "nothing to correct before the door"
                    );
                    return false;
                }
                door_seen = Some(tick);
                assert_eq!(
                    client.corrections(),
                    before + 1,
                    "the snapshot that shows the door corrects the prediction"
                );
            }
            assert!(
                predicted <= DOOR_X,
                "never predicted beyond a door it has seen: {predicted}"
            );
            after += 1;
            if after > 1 {
                assert_eq!(
                    client.corrections(),
                    before + 1,
                    "one correction, then none"
                );
            }
            after >= 15
        },
    )
    .await;
    assert!(
        ahead_of_server,
        "the runner was predicted ahead of the server"
    );
    assert_eq!(client.predict().unwrap().x, DOOR_X);
    server.shutdown().await;
}
