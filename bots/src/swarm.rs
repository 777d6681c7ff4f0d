//! The bots themselves: one tokio task per bot, each a real `tickwire` client
//! of the game the behavior names (arena, or space3d).

use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickwire::client::{AckMode, Client, ClientError, ClientEvent, ClientOptions};
use tickwire::game::arena::v2::{self, ArenaV2, ArenaV2Entity};
use tickwire::game::arena::{
    ArenaEntity, ArenaEvent, ArenaInput, ArenaMessage, ChatLine, KIND_PLAYER,
};
use tickwire::game::space3d::{
    Pilot, Space3d, SpaceEntity, SpaceEvent, SpaceInput, ROTATE_MAX, THRUST_MAX,
};
use tickwire::game::ClientGame;
use tickwire::protocol::{encode_server, ServerMsg};
use tickwire::snapshot::DeltaEncoder;
use tickwire::snapshot::Snapshot;
use tickwire::Arena;
use tokio_util::sync::CancellationToken;

/// What each bot does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Behavior {
    /// arena-v1: one input per tick, a new direction and aim every second.
    Arena,
    /// space3d: one input per tick, new thrust, rotation and trigger every
    /// second (the server must run `--game space3d`).
    Space3d,
    /// Connect, join, only acknowledge: memory per connection.
    Idle,
    /// Play for 1-3 s, leave, rejoin: join/leave cost and leaks.
    Churn,
    /// arena-v1 play, plus one chat message per bot per second while
    /// measuring; every chat event each player of the match should get is
    /// counted and timed.
    Chat,
    /// arena-v2: arena-v1's inputs in the large world, except from second
    /// 10 to second 20 of the measured window (the crowd phase), when every
    /// bot steers to the map's centre (the server must run `--game arena-v2`).
    #[value(name = "arena-v2")]
    #[serde(rename = "arena-v2")]
    ArenaV2,
}

/// The crowd phase of arena-v2: from this far into the measured window...
pub const CROWD_FROM: Duration = Duration::from_secs(10);
/// ...to this far.
pub const CROWD_TO: Duration = Duration::from_secs(20);

/// Counters shared by every bot; read by the reporter.
#[derive(Default)]
pub struct Counters {
    pub connected: AtomicU64,
    pub joins: AtomicU64,
    pub connect_failures: AtomicU64,
    pub disconnects: AtomicU64,
    pub decode_errors: AtomicU64,
    pub snapshots: AtomicU64,
    pub down_bytes: AtomicU64,
    pub inputs: AtomicU64,
    /// Sampled sizes of full snapshots of the states bots decoded.
    pub full_sample_bytes: AtomicU64,
    pub full_samples: AtomicU64,
    /// Sizes of the deltas received for the same sampled states.
    pub delta_sample_bytes: AtomicU64,
    /// Chat messages sent (`--behavior chat`).
    pub messages_sent: AtomicU64,
    /// Chat events received, and how many the matches' players should have
    /// received (each chat goes to every player of its match).
    pub events_received: AtomicU64,
    pub events_expected: AtomicU64,
    /// Timed inputs sent, and those the server's reports counted late.
    pub timed_inputs: AtomicU64,
    pub late_inputs: AtomicU64,
    /// Bytes of the server's input-timing reports.
    pub timing_bytes: AtomicU64,
    /// The most bytes (snapshots and reports) any bot received in one
    /// whole second of the measured window.
    pub worst_window_bytes: AtomicU64,
    /// Cluster redirects followed while connecting, and matches followed
    /// to another node (drains).
    pub redirects: AtomicU64,
    pub migrations: AtomicU64,
}

impl Counters {
    pub fn errors(&self) -> u64 {
        self.connect_failures.load(Ordering::Relaxed)
            + self.disconnects.load(Ordering::Relaxed)
            + self.decode_errors.load(Ordering::Relaxed)
    }
}

/// Everything a bot shares with the swarm.
pub struct Shared {
    pub url: String,
    pub behavior: Behavior,
    pub counters: Counters,
    /// Input-to-snapshot latency in microseconds, recorded while `measuring`.
    pub latency: Mutex<Histogram<u64>>,
    /// Chat-to-event latency in microseconds, for every chat event received.
    pub event_latency: Mutex<Histogram<u64>>,
    /// Chat texts carry their send time, in microseconds since this instant.
    pub epoch: Instant,
    pub measuring: AtomicBool,
    /// When the measured window began, in µs since `epoch` (0: not yet).
    pub measure_started_us: AtomicU64,
    pub stop: CancellationToken,
    /// Whom the bots trust over wss (`--ca-cert`).
    pub tls: Option<tickwire::client::TlsConfig>,
    /// Send inputs timed to arrive just before their tick (the default), or
    /// once per tick period at a random phase (`--no-input-timing`).
    pub input_timing: bool,
    /// The first few errors, verbatim, for the report.
    pub error_samples: Mutex<Vec<String>>,
    /// `--matchmake`: each bot asks this node's `POST /v1/matchmake` where
    /// to play, instead of dialing `url`.
    pub matchmake: Option<String>,
    /// `--timing-log N`: every Nth bot prints its timing reports.
    pub timing_log: Option<u64>,
}

impl Shared {
    /// Keeps the first few errors verbatim for the report.
    pub fn sample_error(&self, error: String) {
        if let Ok(mut samples) = self.error_samples.lock() {
            if samples.len() < 5 {
                samples.push(error);
            }
        }
    }

    pub fn new(
        url: String,
        behavior: Behavior,
        tls: Option<tickwire::client::TlsConfig>,
        input_timing: bool,
    ) -> Self {
        Shared {
            url,
            behavior,
            counters: Counters::default(),
            latency: Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            ),
            event_latency: Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            ),
            epoch: Instant::now(),
            measuring: AtomicBool::new(false),
            measure_started_us: AtomicU64::new(0),
            stop: CancellationToken::new(),
            tls,
            input_timing,
            error_samples: Mutex::new(Vec::new()),
            matchmake: None,
            timing_log: None,
        }
    }
}

/// Sample one snapshot in this many for the full-snapshot comparison.
const FULL_SAMPLE_EVERY: u64 = 16;
const LATENCY_BATCH: usize = 64;
/// How long a sent input waits for the snapshot that shows it: a stall
/// longer than this is recorded as this long, never left out.
const PENDING_WINDOW: Duration = Duration::from_secs(10);

fn classify(shared: &Shared, e: &ClientError) {
    let c = &shared.counters;
    shared.sample_error(e.to_string());
    match e {
        ClientError::Protocol(_)
        | ClientError::Snapshot(_)
        | ClientError::MissingBaseline { .. } => {
            c.decode_errors.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            c.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a bot needs of a game beyond its wire types: what to press, and
/// which input of its own the server has applied.
pub trait BotGame: ClientGame {
    fn random_input(rng: &mut fastrand::Rng) -> Self::Input;
    /// The `last_input_seq` of the bot's own entity.
    fn applied_seq(own: &Self::Entity) -> u32;
    /// A chat message with this text, if the game has chat.
    fn chat(text: String) -> Option<Self::Message>;
    /// The text of a chat event.
    fn chat_text(event: &Self::Event) -> Option<&str>;
    /// Players in the match, as the world shows them.
    fn players(world: &Snapshot<Self::Entity>) -> u64;
    /// The input that steers the own entity to the map's centre (arena-v2's
    /// crowd phase), for games that have one.
    fn toward_centre(own: &Self::Entity) -> Option<Self::Input> {
        let _ = own;
        None
    }
}

impl BotGame for Arena {
    fn random_input(rng: &mut fastrand::Rng) -> ArenaInput {
        ArenaInput {
            move_x: rng.i8(-127..=127),
            move_y: rng.i8(-127..=127),
            aim: rng.f32() * std::f32::consts::TAU,
            buttons: 0,
        }
    }

    fn applied_seq(own: &ArenaEntity) -> u32 {
        own.last_input_seq
    }

    fn chat(text: String) -> Option<ArenaMessage> {
        Some(ArenaMessage::Chat(ChatLine { text }))
    }

    fn chat_text(event: &ArenaEvent) -> Option<&str> {
        match event {
            ArenaEvent::Chat(said) => Some(&said.text),
            _ => None,
        }
    }

    fn players(world: &Snapshot<ArenaEntity>) -> u64 {
        world
            .entities
            .iter()
            .filter(|e| e.kind == KIND_PLAYER)
            .count() as u64
    }
}

impl BotGame for Space3d {
    fn random_input(rng: &mut fastrand::Rng) -> SpaceInput {
        let rotate = |rng: &mut fastrand::Rng| rng.i8(-ROTATE_MAX..=ROTATE_MAX);
        SpaceInput {
            thrust: rng.i8(-THRUST_MAX..=THRUST_MAX),
            yaw: rotate(rng),
            pitch: rotate(rng),
            roll: rotate(rng),
            fire: rng.bool(),
        }
    }

    fn applied_seq(own: &SpaceEntity) -> u32 {
        own.as_ship().map_or(0, |s| s.last_input_seq)
    }

    fn chat(_: String) -> Option<tickwire::NoMessages> {
        None
    }

    fn chat_text(_: &SpaceEvent) -> Option<&str> {
        None
    }

    fn players(world: &Snapshot<SpaceEntity>) -> u64 {
        let player = |e: &SpaceEntity| e.as_ship().is_some_and(|s| s.pilot == Pilot::Player);
        world.entities.iter().filter(|e| player(e)).count() as u64
    }
}

impl BotGame for ArenaV2 {
    fn random_input(rng: &mut fastrand::Rng) -> ArenaInput {
        Arena::random_input(rng)
    }

    fn applied_seq(own: &ArenaV2Entity) -> u32 {
        own.last_input_seq
    }

    fn chat(_: String) -> Option<tickwire::NoMessages> {
        None
    }

    fn chat_text(_: &tickwire::NoMessages) -> Option<&str> {
        None
    }

    fn players(world: &Snapshot<ArenaV2Entity>) -> u64 {
        world
            .entities
            .iter()
            .filter(|e| e.kind == KIND_PLAYER)
            .count() as u64
    }

    fn toward_centre(own: &ArenaV2Entity) -> Option<ArenaInput> {
        let to = tickwire::glam::Vec2::splat(v2::WORLD_SIZE / 2.0) - own.position();
        // Close enough: stand in the crowd rather than circle the point.
        let dir = if to.length() < 32.0 {
            tickwire::glam::Vec2::ZERO
        } else {
            to.normalize()
        };
        Some(ArenaInput {
            move_x: (dir.x * 127.0).round() as i8,
            move_y: (dir.y * 127.0).round() as i8,
            aim: dir.to_angle(),
            buttons: 0,
        })
    }
}

/// Whether the crowd phase runs now: between `CROWD_FROM` and `CROWD_TO`
/// into the measured window.
fn crowding(shared: &Shared) -> bool {
    let started = shared.measure_started_us.load(Ordering::Relaxed);
    if started == 0 || !shared.measuring.load(Ordering::Relaxed) {
        return false;
    }
    let into =
        Duration::from_micros((shared.epoch.elapsed().as_micros() as u64).saturating_sub(started));
    (CROWD_FROM..CROWD_TO).contains(&into)
}

/// One bot's bytes in whole seconds of the measured window; keeps the
/// swarm's worst second.
#[derive(Default)]
struct Window {
    started: Option<Instant>,
    bytes: u64,
}

impl Window {
    fn add(&mut self, shared: &Shared, bytes: usize) {
        if !shared.measuring.load(Ordering::Relaxed) {
            // A window that began before (or runs past) the measurement is not counted.
            self.started = None;
            return;
        }
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        if now.duration_since(started) >= Duration::from_secs(1) {
            shared
                .counters
                .worst_window_bytes
                .fetch_max(self.bytes, Ordering::Relaxed);
            self.started = Some(now);
            self.bytes = 0;
        }
        self.bytes += bytes as u64;
    }
}

/// Runs one bot until the swarm stops.
pub async fn run_bot(shared: Arc<Shared>, index: u64) {
    match shared.behavior {
        Behavior::Space3d => run_bot_of::<Space3d>(shared, index).await,
        Behavior::ArenaV2 => run_bot_of::<ArenaV2>(shared, index).await,
        Behavior::Arena | Behavior::Idle | Behavior::Churn | Behavior::Chat => {
            run_bot_of::<Arena>(shared, index).await
        }
    }
}

async fn run_bot_of<G: BotGame>(shared: Arc<Shared>, index: u64) {
    let mut rng = fastrand::Rng::with_seed(index);
    loop {
        let ack = match shared.behavior {
            Behavior::Idle => AckMode::Immediate,
            _ => AckMode::WithInputs,
        };
        let options = ClientOptions {
            ack,
            tls: shared.tls.clone(),
            ..ClientOptions::default()
        };
        let url = match &shared.matchmake {
            None => shared.url.clone(),
            Some(base) => {
                let asked = tokio::select! {
                    _ = shared.stop.cancelled() => return,
                    u = matchmade(base) => u,
                };
                match asked {
                    Ok(url) => url,
                    Err(e) => {
                        let c = &shared.counters;
                        c.connect_failures.fetch_add(1, Ordering::Relaxed);
                        shared.sample_error(format!("matchmake: {e}"));
                        return;
                    }
                }
            }
        };
        let connect = tokio::select! {
            _ = shared.stop.cancelled() => return,
            c = Client::<G>::connect(&url, options) => c,
        };
        if let Ok(client) = &connect {
            let redirects = u64::from(client.redirects());
            shared
                .counters
                .redirects
                .fetch_add(redirects, Ordering::Relaxed);
        }
        let client = match connect {
            Ok(c) => c,
            Err(e) => {
                shared
                    .counters
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                shared.sample_error(format!("connect: {e}"));
                return;
            }
        };
        shared.counters.joins.fetch_add(1, Ordering::Relaxed);
        shared.counters.connected.fetch_add(1, Ordering::Relaxed);
        let play_for = match shared.behavior {
            Behavior::Churn => Some(Duration::from_millis(rng.u64(1000..3000))),
            _ => None,
        };
        let outcome = match shared.behavior {
            Behavior::Idle => idle(&shared, client).await,
            _ => play(&shared, client, &mut rng, play_for, index).await,
        };
        shared.counters.connected.fetch_sub(1, Ordering::Relaxed);
        if let Err(e) = outcome {
            if !shared.stop.is_cancelled() {
                classify(&shared, &e);
            }
            return;
        }
        if shared.stop.is_cancelled() || shared.behavior != Behavior::Churn {
            return;
        }
    }
}

/// Where `POST {base}/v1/matchmake` says to play: the node's URL with its
/// ticket. A cluster that is busy (503) is asked again, a few times.
async fn matchmade(base: &str) -> anyhow::Result<String> {
    let ask = format!("{}/v1/matchmake", base.trim_end_matches('/'));
    let mut last = None;
    for _ in 0..10 {
        match crate::http_json("POST", &ask, None).await {
            Ok(offer) => {
                let (Some(url), Some(ticket)) = (offer["url"].as_str(), offer["ticket"].as_str())
                else {
                    anyhow::bail!("matchmaking answered without a url and ticket: {offer}");
                };
                return Ok(format!("{url}?ticket={ticket}"));
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("matchmaking did not answer")))
}

/// Records a received snapshot, and samples its full-snapshot size.
fn count_snapshot<G: ClientGame>(
    shared: &Shared,
    client: &Client<G>,
    bytes: usize,
    encoder: &mut DeltaEncoder,
    buf: &mut Vec<u8>,
) {
    let c = &shared.counters;
    let n = c.snapshots.fetch_add(1, Ordering::Relaxed);
    c.down_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    if n % FULL_SAMPLE_EVERY == 0 {
        if let Some(world) = client.world() {
            // The same codec with no baseline: what a full snapshot of this state costs.
            let payload = encoder.encode(None, world).to_vec();
            buf.clear();
            encode_server(
                &ServerMsg::Snapshot {
                    tick: world.tick,
                    baseline: None,
                    payload,
                },
                buf,
            );
            c.full_sample_bytes
                .fetch_add(buf.len() as u64, Ordering::Relaxed);
            c.delta_sample_bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
            c.full_samples.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn idle<G: ClientGame>(shared: &Shared, mut client: Client<G>) -> Result<(), ClientError> {
    let mut encoder = DeltaEncoder::new();
    let mut buf = Vec::new();
    loop {
        let event = tokio::select! {
            _ = shared.stop.cancelled() => return client.close().await,
            e = client.recv() => e?,
        };
        match event {
            ClientEvent::Snapshot { bytes, .. } => {
                count_snapshot(shared, &client, bytes, &mut encoder, &mut buf)
            }
            ClientEvent::Moved { .. } => {
                shared.counters.migrations.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Counts an input sent, and remembers its seq and send time until a
/// snapshot shows it applied (inputs never applied within the window count
/// as the window's length).
fn sent_input(
    shared: &Shared,
    pending: &mut VecDeque<(u32, Instant)>,
    pending_cap: usize,
    batch: &mut Vec<u64>,
    seq: u32,
) {
    shared.counters.inputs.fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    while pending
        .front()
        .is_some_and(|(_, sent)| now.duration_since(*sent) >= PENDING_WINDOW)
        || pending.len() >= pending_cap
    {
        pending.pop_front();
        if shared.measuring.load(Ordering::Relaxed) {
            batch.push(PENDING_WINDOW.as_micros() as u64);
        }
    }
    pending.push_back((seq, now));
}

fn flush_latency(shared: &Shared, batch: &mut Vec<u64>) {
    if batch.is_empty() {
        return;
    }
    let mut h = shared.latency.lock().unwrap_or_else(|e| e.into_inner());
    for &v in batch.iter() {
        let _ = h.record(v.clamp(1, 60_000_000));
    }
    batch.clear();
}

/// A chat text that carries its sender, its number and its send time (µs
/// since the swarm's epoch), so that every receiver can time it.
fn chat_text(shared: &Shared, bot: u64, n: u64) -> String {
    let sent = shared.epoch.elapsed().as_micros();
    format!("bot {bot} #{n} at {sent}")
}

/// The send time of a chat text written by [`chat_text`].
fn chat_sent_us(text: &str) -> Option<u64> {
    text.rsplit_once(" at ").and_then(|(_, t)| t.parse().ok())
}

/// Counts and times one received chat event.
fn chat_received(shared: &Shared, text: &str, batch: &mut Vec<u64>) {
    let Some(sent) = chat_sent_us(text) else {
        return;
    };
    shared
        .counters
        .events_received
        .fetch_add(1, Ordering::Relaxed);
    let now = shared.epoch.elapsed().as_micros() as u64;
    batch.push(now.saturating_sub(sent));
    if batch.len() >= LATENCY_BATCH {
        flush_event_latency(shared, batch);
    }
}

fn flush_event_latency(shared: &Shared, batch: &mut Vec<u64>) {
    if batch.is_empty() {
        return;
    }
    let mut h = shared
        .event_latency
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for &v in batch.iter() {
        let _ = h.record(v.clamp(1, 60_000_000));
    }
    batch.clear();
}

/// The crowd phase's input, while it runs and the bot sees its entity.
fn crowd_input<G: BotGame>(
    shared: &Shared,
    client: &Client<G>,
    me: tickwire::protocol::EntityId,
) -> Option<G::Input> {
    if shared.behavior != Behavior::ArenaV2 || !crowding(shared) {
        return None;
    }
    client.world()?.get(me).and_then(G::toward_centre)
}

async fn play<G: BotGame>(
    shared: &Shared,
    mut client: Client<G>,
    rng: &mut fastrand::Rng,
    play_for: Option<Duration>,
    bot: u64,
) -> Result<(), ClientError> {
    let me = client.welcome().entity_id;
    let tick_rate = u32::from(client.welcome().tick_rate.max(1));
    let period = Duration::from_secs(1) / tick_rate;
    // Start at a random phase so bots do not all send in the same instant.
    let first = tokio::time::Instant::now() + period.mul_f64(rng.f64());
    let mut ticker = tokio::time::interval_at(first, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let leave_at = play_for.map(|d| Instant::now() + d);
    let mut input = G::random_input(rng);
    let mut inputs_sent: u32 = 0;
    // Bounded by time, and so by count at any tick rate.
    let pending_cap = PENDING_WINDOW.as_secs() as usize * tick_rate as usize;
    let mut pending: VecDeque<(u32, Instant)> = VecDeque::with_capacity(64);
    let mut batch: Vec<u64> = Vec::with_capacity(LATENCY_BATCH);
    let mut encoder = DeltaEncoder::new();
    let mut buf = Vec::new();
    // One chat a second at a random phase, while measuring (`--behavior chat`).
    let chats = shared.behavior == Behavior::Chat;
    let chat_first = tokio::time::Instant::now() + Duration::from_secs(1).mul_f64(rng.f64());
    let mut chat_ticker = tokio::time::interval_at(chat_first, Duration::from_secs(1));
    chat_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut chats_sent = 0u64;
    let mut event_batch: Vec<u64> = Vec::with_capacity(LATENCY_BATCH);
    let mut window = Window::default();
    let result = loop {
        // Timed: the library says when to sample and which tick the input is
        // for; until the first snapshot (and with --no-input-timing) the
        // ticker paces untimed inputs.
        let due = if shared.input_timing {
            client.input_due()
        } else {
            None
        };
        // Built lazily: a disabled select branch is still constructed, and a
        // `Sleep` per received snapshot would cost the untimed swarm CPU.
        let timed_wait = async move {
            match due {
                Some(d) => tokio::time::sleep_until(d.at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shared.stop.cancelled() => break Ok(()),
            _ = chat_ticker.tick(), if chats => {
                if !shared.measuring.load(Ordering::Relaxed) {
                    continue;
                }
                let Some(message) = G::chat(chat_text(shared, bot, chats_sent)) else {
                    continue;
                };
                // Every player now in the match should hear it, this bot too.
                let players = client.world().map_or(0, G::players);
                if let Err(e) = client.send_message(message).await {
                    break Err(e);
                }
                chats_sent += 1;
                let c = &shared.counters;
                c.messages_sent.fetch_add(1, Ordering::Relaxed);
                c.events_expected.fetch_add(players, Ordering::Relaxed);
            }
            _ = ticker.tick(), if due.is_none() => {
                if leave_at.is_some_and(|t| Instant::now() >= t) {
                    break Ok(());
                }
                if let Some(steer) = crowd_input::<G>(shared, &client, me) {
                    input = steer;
                } else if inputs_sent % tick_rate == 0 {
                    input = G::random_input(rng);
                }
                inputs_sent += 1;
                let seq = match client.send_input(input.clone()).await {
                    Ok(s) => s,
                    // The socket closing (a match moving, say): the next
                    // recv reads why, and follows a move.
                    Err(ClientError::WebSocket(_)) => continue,
                    Err(e) => break Err(e),
                };
                sent_input(shared, &mut pending, pending_cap, &mut batch, seq);
            }
            _ = timed_wait, if due.is_some() => {
                let Some(due) = due else { continue };
                if leave_at.is_some_and(|t| Instant::now() >= t) {
                    break Ok(());
                }
                if let Some(steer) = crowd_input::<G>(shared, &client, me) {
                    input = steer;
                } else if inputs_sent % tick_rate == 0 {
                    input = G::random_input(rng);
                }
                inputs_sent += 1;
                let seq = match client.send_timed_input(due.tick, input.clone()).await {
                    Ok(s) => s,
                    Err(ClientError::WebSocket(_)) => continue,
                    Err(e) => break Err(e),
                };
                shared.counters.timed_inputs.fetch_add(1, Ordering::Relaxed);
                sent_input(shared, &mut pending, pending_cap, &mut batch, seq);
            }
            event = client.recv() => {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => break Err(e),
                };
                let bytes = match event {
                    ClientEvent::Snapshot { bytes, .. } => bytes,
                    ClientEvent::Event { event, .. } => {
                        if let Some(text) = G::chat_text(&event) {
                            chat_received(shared, text, &mut event_batch);
                        }
                        continue;
                    }
                    ClientEvent::Denied { message } => {
                        shared.sample_error(format!("message refused: {message}"));
                        continue;
                    }
                    ClientEvent::InputTiming { late, bytes, lead_min, lead_max } => {
                        if shared.timing_log.is_some_and(|n| bot % n == 0) {
                            let clock = client.input_clock();
                            eprintln!(
                                "timing bot={bot} lead_min_ms={:.2} lead_max_ms={:.2} late={late} send_ahead_ms={:.2} margin_ms={:.2}",
                                lead_min * 1e3,
                                lead_max * 1e3,
                                clock.send_ahead() * 1e3,
                                clock.margin().as_secs_f64() * 1e3,
                            );
                        }
                        window.add(shared, bytes);
                        let c = &shared.counters;
                        c.late_inputs.fetch_add(u64::from(late), Ordering::Relaxed);
                        c.timing_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                        continue;
                    }
                    ClientEvent::Moved { .. } => {
                        shared.counters.migrations.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    _ => continue,
                };
                count_snapshot(shared, &client, bytes, &mut encoder, &mut buf);
                window.add(shared, bytes);
                let applied = client.world().and_then(|w| w.get(me)).map(G::applied_seq).unwrap_or(0);
                let now = Instant::now();
                let measuring = shared.measuring.load(Ordering::Relaxed);
                while pending.front().is_some_and(|(seq, _)| *seq <= applied) {
                    let (_, sent) = pending.pop_front().expect("front exists");
                    if measuring {
                        batch.push(now.duration_since(sent).as_micros() as u64);
                        if batch.len() >= LATENCY_BATCH {
                            flush_latency(shared, &mut batch);
                        }
                    }
                }
            }
        }
    };
    flush_latency(shared, &mut batch);
    flush_event_latency(shared, &mut event_batch);
    match result {
        Ok(()) => client.close().await,
        Err(e) => Err(e),
    }
}
