//! One match's loop: drain inputs, step the game, freeze, publish. Its
//! input-timing windows are in `timing.rs`, the rewind of lag compensation
//! in `rewind.rs`.

mod rewind;
mod timing;

use rewind::rewind;
use timing::TimingWindow;

use super::{
    Exported, Inbound, InputTime, Joined, MatchCommand, MovedPlayer, Notice, OutboundSlot,
    PlayerInput, Published, SlotClosed, TickTask, Views,
};
use crate::game::{Audience, Game, MatchSettings, Outbox, Sender, View};
use crate::protocol::{EntityId, MatchId, PlayerId, Tick};
use crate::replicate::{MessageSet, Role};
use crate::snapshot::{BitWriter, Snapshot};
use bytes::Bytes;
use crossbeam::queue::{ArrayQueue, SegQueue};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters a match publishes for the lobby, the match API and metrics.
#[derive(Debug, Default)]
pub struct MatchStats {
    /// The newest tick stepped.
    pub tick: AtomicU32,
    /// Players with an entity in the game.
    pub players: AtomicU32,
    /// Spectators and admins watching.
    pub watchers: AtomicU32,
    /// Events queued for connections (one per recipient).
    pub events_sent: AtomicU64,
    /// Messages the game refused.
    pub messages_denied: AtomicU64,
    /// The match's result (its event's bits), once the game ended it.
    pub result: std::sync::OnceLock<Bytes>,
    /// Deadlines missed because a tick (or the thread) ran late; each is skipped.
    pub overruns: AtomicU64,
    /// Inputs dropped because their seq did not increase or the sender had left.
    pub inputs_rejected: AtomicU64,
    /// Timed inputs that arrived after their tick had run (applied at the next).
    pub inputs_late: AtomicU64,
    /// Timed inputs that arrived before their tick and waited for it.
    pub inputs_held: AtomicU64,
    /// How long the newest tick took, in nanoseconds.
    pub last_tick_nanos: AtomicU64,
    /// With interest management: the size of a full frame of the whole
    /// world, sampled once a second (0: never sampled).
    pub full_world_bytes: AtomicU64,
}

/// What a tick reports to its observer.
#[derive(Debug, Clone, Copy)]
pub struct TickReport {
    /// Time spent applying inputs, stepping, freezing and publishing.
    pub duration: Duration,
    /// Deadlines skipped just before this tick because the loop ran late.
    pub overruns: u32,
}

/// Called after every tick, on the tick thread (histograms, metrics): keep it cheap.
pub type TickObserver = Arc<dyn Fn(TickReport) + Send + Sync>;

/// Told of each player the game kicked, so its session cannot be resumed.
pub type KickReport = Box<dyn Fn(PlayerId) + Send>;

/// Asked by an empty match whether it may end (`false`: someone is joining),
/// and told (with `true`) when the match failed and is ending regardless.
pub type EndRequest = Box<dyn FnMut(bool) -> bool + Send>;

struct PlayerEntry<E> {
    player: PlayerId,
    role: Role,
    /// Always in the player's view (interest management).
    entity: EntityId,
    slot: Arc<OutboundSlot<E>>,
    last_seq: u32,
    /// The tick this player's newest held input or message waits for: what
    /// comes after it waits at least as long, so the game sees a player's
    /// inputs and messages in the order they were sent.
    last_target: Tick,
    /// Inputs and messages of this player waiting in the match for their tick.
    held: usize,
    timing: TimingWindow,
    /// The session's newest events, oldest first, kept so that a resuming
    /// connection gets the ones it missed; at most `event_log` of them.
    log: VecDeque<(u32, Notice)>,
    /// The `seq` of the session's next event (the first is 1).
    next_event: u32,
}

/// An input or message waiting in the match for the tick it is meant for.
struct Held<I, M> {
    target: Tick,
    player: PlayerId,
    what: Inbound<I, M>,
}

impl<E> PlayerEntry<E> {
    /// Numbers an event for this session, logs it and queues it.
    fn push_event(&mut self, bound: usize, make: impl FnOnce(u32) -> Notice) {
        let seq = self.next_event;
        self.next_event = seq.wrapping_add(1);
        let notice = make(seq);
        self.log.push_back((seq, notice.clone()));
        while self.log.len() > bound {
            self.log.pop_front();
        }
        self.slot.notify(notice);
    }

    /// Queues, on a new connection of this session, what came after the
    /// client's `last_event`: a gap notice for what the log no longer holds,
    /// then the logged events.
    fn replay(&self, last_event: u32) {
        let first_wanted = last_event.saturating_add(1);
        if first_wanted >= self.next_event {
            return;
        }
        let oldest = self.log.front().map_or(self.next_event, |(seq, _)| *seq);
        if first_wanted < oldest {
            self.slot.notify(Notice::Missed {
                first: first_wanted,
                last: oldest - 1,
            });
        }
        for (seq, notice) in &self.log {
            if *seq >= first_wanted {
                self.slot.notify(notice.clone());
            }
        }
    }
}

/// The tick-thread side of a match: owns the world; nothing else touches it.
pub struct MatchLoop<G: Game> {
    id: MatchId,
    game: G,
    tick: Tick,
    start: Instant,
    dt: Duration,
    /// Index of the next deadline: the next tick runs at `start + next_slot * dt`.
    /// u64: at 240 Hz a u32 would wrap after 207 days of uptime.
    next_slot: u64,
    inputs: Arc<ArrayQueue<PlayerInput<G::Input, G::Message>>>,
    commands: Arc<SegQueue<MatchCommand<G>>>,
    players: Vec<PlayerEntry<G::Entity>>,
    /// What the game hands back on each call; emptied after each tick.
    outbox: Outbox<G::Event>,
    /// Events kept per session for resumes.
    event_log: usize,
    /// The game ended the match: it closes after this tick.
    ending: bool,
    observers: Vec<Arc<OutboundSlot<G::Entity>>>,
    stats: Arc<MatchStats>,
    empty_since: Option<Instant>,
    empty_grace: Duration,
    request_end: EndRequest,
    on_kick: Option<KickReport>,
    on_tick: Option<TickObserver>,
    /// Entities in the previous snapshot: each tick's vector is allocated once, at that size.
    last_len: usize,
    /// Early timed inputs (and what their senders sent after them), in
    /// arrival order; `held_spare` is the buffer the next tick sorts into.
    held: VecDeque<Held<G::Input, G::Message>>,
    held_spare: VecDeque<Held<G::Input, G::Message>>,
    /// How many ticks ahead of the next one a timed input may be meant for.
    max_lead_ticks: u32,
    /// Inputs and messages that may wait per player.
    held_per_player: usize,
    /// Ticks between input-timing reports (about half a second).
    report_every: u32,
    /// The tick whose snapshot carries the next input-timing reports.
    next_report: u32,
    /// The newest snapshots, oldest first, for lag compensation: at most
    /// `rewind_ticks + 1`, shared with the connections (no copy).
    history: VecDeque<Arc<Published<G::Entity>>>,
    rewind_ticks: usize,
    /// The game's interest for one viewer, refilled per player per tick.
    view: View,
    /// The previous tick's snapshot: whom an event about an entity reaches
    /// (`Audience::Seeing`) is decided on what its players were sent.
    last_published: Option<Arc<Published<G::Entity>>>,
    /// Exported to another node (a cluster move): no more steps, unless thawed.
    frozen: bool,
    /// Players of a match restored here from another node, until they
    /// join again: their input seq and event numbering go on.
    arriving: Vec<MovedPlayer>,
}

/// How many evenly spaced phases one tick slot is divided into.
pub const TICK_PHASES: u32 = 4;

/// The instant every match's tick grid starts from.
fn tick_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `start + slot * dt` without narrowing `slot` (`Duration * u32` would).
fn deadline_of(start: Instant, dt: Duration, slot: u64) -> Instant {
    let nanos = u128::from(slot) * dt.as_nanos();
    let offset = Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    );
    start + offset
}

/// Everything a match loop is built from.
pub struct MatchParts<G: Game> {
    pub id: MatchId,
    pub settings: MatchSettings,
    pub inputs: Arc<ArrayQueue<PlayerInput<G::Input, G::Message>>>,
    pub commands: Arc<SegQueue<MatchCommand<G>>>,
    pub stats: Arc<MatchStats>,
    /// Events kept per session, for resumes.
    pub event_log: usize,
    /// How far ahead a timed input may be meant for (`Config::max_input_lead`).
    pub max_input_lead: Duration,
    /// How far back snapshots are kept for lag compensation (`Config::max_rewind`).
    pub max_rewind: Duration,
    /// Inputs and messages that may wait for their tick, per player.
    pub held_per_player: usize,
    pub empty_grace: Duration,
    pub request_end: EndRequest,
    /// Told of every kicked player (the lobby forgets its session).
    pub on_kick: Option<KickReport>,
    pub on_tick: Option<TickObserver>,
}

impl<G: Game> MatchLoop<G> {
    pub fn new(parts: MatchParts<G>) -> Self {
        let rate = parts.settings.tick_rate.max(1);
        let dt = Duration::from_secs(1) / u32::from(rate);
        // Matches tick on a process-wide grid of TICK_PHASES phases per tick: a
        // tick thread wakes a few times per tick instead of once per match (each
        // wake-up costs context switches on every core), while the work of one
        // tick is still spread over the slot, which keeps latency tails short.
        let phase = (parts.id.0 % u64::from(TICK_PHASES)) as u32;
        let epoch = tick_epoch() + dt * phase / TICK_PHASES;
        let slots_since_epoch =
            (Instant::now().saturating_duration_since(epoch).as_nanos() / dt.as_nanos()) as u64;
        MatchLoop {
            id: parts.id,
            game: G::new(&parts.settings),
            tick: Tick(0),
            start: epoch,
            dt,
            next_slot: slots_since_epoch + 1,
            inputs: parts.inputs,
            commands: parts.commands,
            players: Vec::with_capacity(usize::from(parts.settings.capacity)),
            outbox: Outbox::new(),
            event_log: parts.event_log.max(1),
            ending: false,
            observers: Vec::new(),
            stats: parts.stats,
            empty_since: None,
            empty_grace: parts.empty_grace,
            request_end: parts.request_end,
            on_kick: parts.on_kick,
            on_tick: parts.on_tick,
            last_len: 0,
            held: VecDeque::new(),
            held_spare: VecDeque::new(),
            max_lead_ticks: (parts.max_input_lead.as_nanos() / dt.as_nanos()).max(1) as u32,
            held_per_player: parts.held_per_player.max(1),
            report_every: u32::from(rate / 2).max(1),
            next_report: u32::from(rate / 2).max(1),
            history: VecDeque::new(),
            view: View::new(),
            last_published: None,
            rewind_ticks: (parts.max_rewind.as_nanos() / dt.as_nanos()) as usize,
            frozen: false,
            arriving: Vec::new(),
        }
    }

    /// This loop continues a match moved from another node: `game` is its
    /// restored state at `tick`, `players` its players' bookkeeping.
    pub fn restored(mut self, game: G, tick: Tick, players: Vec<MovedPlayer>) -> Self {
        self.game = game;
        self.tick = tick;
        self.stats.tick.store(tick.0, Ordering::Release);
        self.arriving = players;
        self
    }

    /// The match's state for another node (`None`: the game does not move).
    fn export(&mut self) -> Option<Exported> {
        let game = self.game.save()?;
        let mut players: Vec<MovedPlayer> = self
            .players
            .iter()
            .map(|p| MovedPlayer {
                player: p.player,
                role: p.role,
                entity: p.entity,
                last_seq: p.last_seq,
                next_event: p.next_event,
            })
            .collect();
        // Players that had not come back yet from an earlier move go on too.
        players.extend(
            self.arriving
                .iter()
                .filter(|a| !self.players.iter().any(|p| p.player == a.player)),
        );
        Some(Exported {
            tick: self.tick,
            game,
            players,
        })
    }

    fn apply_commands(&mut self) {
        while let Some(command) = self.commands.pop() {
            match command {
                MatchCommand::Join {
                    player,
                    role,
                    last_event,
                    slot,
                    reply,
                } => {
                    // Spectators and admins watch: no entity in the game.
                    let entity = if role.plays() {
                        self.game.join(player)
                    } else {
                        EntityId(0)
                    };
                    // A resuming player keeps its entity, its input sequence
                    // (so old inputs cannot be replayed) and its events; only
                    // its slot is new.
                    // A player of a match moved here keeps its input seq
                    // and event numbering.
                    let moved = self
                        .arriving
                        .iter()
                        .position(|a| a.player == player)
                        .map(|i| self.arriving.swap_remove(i));
                    match self.players.iter_mut().find(|p| p.player == player) {
                        Some(existing) => {
                            existing.slot = slot;
                            existing.replay(last_event);
                        }
                        None => self.players.push(PlayerEntry {
                            player,
                            role,
                            entity,
                            slot,
                            last_seq: moved.map_or(0, |m| m.last_seq),
                            last_target: Tick(0),
                            held: 0,
                            timing: TimingWindow::default(),
                            log: VecDeque::new(),
                            next_event: moved.map_or(1, |m| m.next_event),
                        }),
                    }
                    // The joiner may have gone away meanwhile; its Leave follows.
                    let _ = reply.send(Joined {
                        entity_id: entity,
                        tick: self.tick,
                    });
                }
                MatchCommand::Leave { player } => {
                    if let Some(i) = self.players.iter().position(|p| p.player == player) {
                        if self.players.swap_remove(i).role.plays() {
                            self.game.leave(player);
                        }
                    }
                }
                MatchCommand::Observe { slot } => self.observers.push(slot),
                MatchCommand::Export { reply } => {
                    let exported = self.export();
                    self.frozen = exported.is_some();
                    let _ = reply.send(exported);
                }
                MatchCommand::Thaw => self.frozen = false,
            }
        }
        let playing = self.players.iter().filter(|p| p.role.plays()).count();
        self.stats.players.store(playing as u32, Ordering::Relaxed);
        self.stats
            .watchers
            .store((self.players.len() - playing) as u32, Ordering::Relaxed);
    }

    /// Applies what is due at the coming tick: first the held inputs meant
    /// for it (they arrived earlier), then the queue. A timed input meant
    /// for a later tick waits for it (and whatever its sender sends after
    /// it waits too, to keep the player's order); one whose tick has run is
    /// applied now and counted late.
    fn apply_inputs(&mut self) {
        let next = Tick(self.tick.0.wrapping_add(1));
        let now = Instant::now();
        let mut late = 0u64;
        if !self.held.is_empty() {
            std::mem::swap(&mut self.held, &mut self.held_spare);
            while let Some(waiting) = self.held_spare.pop_front() {
                if waiting.target.0 > next.0 {
                    self.held.push_back(waiting);
                    continue;
                }
                let Some(i) = self.players.iter().position(|p| p.player == waiting.player) else {
                    self.stats.inputs_rejected.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                self.players[i].held = self.players[i].held.saturating_sub(1);
                self.apply_one(i, waiting.what, now, next, &mut late);
            }
        }
        let mut held = 0u64;
        // Bounded by the queue's capacity, so producers cannot keep a tick busy.
        for _ in 0..self.inputs.capacity() {
            let Some(input) = self.inputs.pop() else {
                break;
            };
            let Some(i) = self.players.iter().position(|p| p.player == input.player) else {
                self.stats.inputs_rejected.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let entry = &mut self.players[i];
            let meant_for = match &input.what {
                Inbound::Input {
                    timing: Some(timing),
                    ..
                } if timing.tick.0 > next.0 => {
                    Some(Tick(timing.tick.0.min(next.0 + self.max_lead_ticks)))
                }
                _ => None,
            };
            // Nothing overtakes what this player has waiting.
            let wait_for = match meant_for {
                Some(tick) => Some(Tick(tick.0.max(entry.last_target.0))),
                None if entry.held > 0 => Some(entry.last_target),
                None => None,
            };
            match wait_for {
                Some(_) if entry.held >= self.held_per_player => {
                    self.stats.inputs_rejected.fetch_add(1, Ordering::Relaxed);
                }
                Some(target) => {
                    entry.held += 1;
                    entry.last_target = target;
                    held += u64::from(matches!(
                        input.what,
                        Inbound::Input {
                            timing: Some(_),
                            ..
                        }
                    ));
                    self.held.push_back(Held {
                        target,
                        player: input.player,
                        what: input.what,
                    });
                }
                None => self.apply_one(i, input.what, now, next, &mut late),
            }
        }
        if late > 0 {
            self.stats.inputs_late.fetch_add(late, Ordering::Relaxed);
            metrics::counter!("tickwire_inputs_late_total").increment(late);
        }
        if held > 0 {
            self.stats.inputs_held.fetch_add(held, Ordering::Relaxed);
            metrics::counter!("tickwire_inputs_held_total").increment(held);
        }
    }

    /// Hands one input or message of the player at `index` to the game, at
    /// tick `next` (whose processing began at `now`).
    fn apply_one(
        &mut self,
        index: usize,
        what: Inbound<G::Input, G::Message>,
        now: Instant,
        next: Tick,
        late: &mut u64,
    ) {
        let entry = &mut self.players[index];
        let player = entry.player;
        match what {
            Inbound::Input { seq, input, timing } => {
                // Only a player steers (the reader refuses a watcher's input).
                if seq <= entry.last_seq || !entry.role.plays() {
                    self.stats.inputs_rejected.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                entry.last_seq = seq;
                let Some(InputTime {
                    tick,
                    arrived,
                    view_back,
                }) = timing
                else {
                    self.game.apply_input(player, seq, &input);
                    return;
                };
                // Its tick began `behind` ticks before this one: the lead is
                // the time from arrival to that beginning.
                let behind = i64::from(next.0.saturating_sub(tick.0));
                let waited = now.saturating_duration_since(arrived).as_micros() as i64;
                let lead = waited - behind * self.dt.as_micros() as i64;
                entry.timing.record(lead);
                *late += u64::from(lead < 0);
                match rewind(&self.history, tick, view_back) {
                    Some(seen) => self.game.apply_input_seen(player, seq, &input, &seen),
                    None => self.game.apply_input(player, seq, &input),
                }
            }
            Inbound::Message(message) => {
                let name = message.name();
                let from = Sender {
                    player,
                    role: entry.role,
                };
                let slot = entry.slot.clone();
                if let Err(denied) = self.game.on_message(from, *message, &mut self.outbox) {
                    self.stats.messages_denied.fetch_add(1, Ordering::Relaxed);
                    slot.notify(Notice::Denied {
                        message: format!("{name}: {}", denied.0),
                    });
                }
            }
        }
    }

    /// Hands this tick's events to their recipients' connections, removes
    /// kicked players, and delivers the result of a match that ended.
    fn deliver_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let bound = self.event_log;
        let mut sent = 0u64;
        for (audience, event) in self.outbox.events.drain(..) {
            let body = encode_event(&event);
            let last = self.last_published.as_deref();
            let to = |p: &PlayerEntry<G::Entity>| match audience {
                Audience::Player(player) => p.player == player,
                Audience::All => true,
                Audience::Seeing(entity) => last.is_none_or(|l| {
                    l.views
                        .as_ref()
                        .is_none_or(|v| v.sees(&l.snapshot, p.player, entity))
                }),
            };
            for p in self.players.iter_mut().filter(|p| to(p)) {
                p.push_event(bound, |seq| Notice::Event {
                    seq,
                    body: body.clone(),
                });
                sent += 1;
            }
        }
        for (player, reason) in std::mem::take(&mut self.outbox.kicks) {
            if let Some(i) = self.players.iter().position(|p| p.player == player) {
                let entry = self.players.swap_remove(i);
                entry.slot.notify(Notice::Kicked { reason });
                if entry.role.plays() {
                    self.game.leave(player);
                }
                // A player away when kicked must not come back by resuming.
                if let Some(report) = &self.on_kick {
                    report(player);
                }
            }
        }
        if let Some(result) = self.outbox.result.take() {
            let body = encode_event(&result);
            let _ = self.stats.result.set(body.clone());
            for p in &mut self.players {
                p.push_event(bound, |seq| Notice::Ended {
                    seq,
                    result: body.clone(),
                });
                sent += 1;
            }
            self.ending = true;
        }
        self.stats.events_sent.fetch_add(sent, Ordering::Relaxed);
    }

    fn step_and_publish(&mut self) {
        self.apply_commands();
        if self.frozen {
            // Exported just now: the state handed over is this tick's, and
            // the match goes on from it elsewhere, not here.
            return;
        }
        self.apply_inputs();
        self.tick = Tick(self.tick.0 + 1);
        self.game.step(self.tick);
        self.game.events(self.tick, &mut self.outbox);
        self.deliver_outbox();
        // One allocation per match per tick: the snapshot is immutable and shared.
        let mut entities = Vec::with_capacity(self.last_len);
        self.game.freeze(&mut entities);
        self.last_len = entities.len();
        let snapshot = Snapshot::new(self.tick, entities);
        let views = self.build_views(&snapshot);
        let published = Arc::new(Published::with_views(snapshot, views));
        if published.views.is_some() && self.tick.0 % (2 * self.report_every) == 1 {
            // What a client would get without interest management (the
            // figure the bandwidth report compares against), once a second.
            let full = published.frame(None).len() as u64;
            self.stats.full_world_bytes.store(full, Ordering::Relaxed);
        }
        self.last_published = Some(published.clone());
        // Stored before any player can see this tick: an ack beyond it is a lie.
        self.stats.tick.store(self.tick.0, Ordering::Release);
        if self.rewind_ticks > 0 {
            if self.history.len() > self.rewind_ticks {
                self.history.pop_front();
            }
            self.history.push_back(published.clone());
        }
        let report = self.tick.0 >= self.next_report;
        if report {
            self.next_report = self.tick.0.saturating_add(self.report_every);
        }
        for p in &mut self.players {
            // Before the snapshot, whose push wakes the writer that sends it.
            if report {
                if let Some(timing) = p.timing.take() {
                    p.slot.set_timing(timing);
                }
            }
            p.slot.push(published.clone());
        }
        self.observers.retain(|o| Arc::strong_count(o) > 1);
        for o in &self.observers {
            o.push(published.clone());
        }
    }

    /// Every player's view of `snapshot`, if the game manages interest.
    fn build_views(&mut self, snapshot: &Snapshot<G::Entity>) -> Option<Views> {
        let viewers = self
            .players
            .iter()
            .map(|p| (p.player, p.role.plays().then_some(p.entity)));
        Views::build(&self.game, snapshot, viewers, &mut self.view)
    }

    /// Whether an empty match has been empty for its grace period and the lobby
    /// agreed to end it.
    fn should_end(&mut self, now: Instant) -> bool {
        if !self.players.is_empty() || !self.commands.is_empty() {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert(now);
        now.duration_since(since) >= self.empty_grace && (self.request_end)(false)
    }

    fn close_all(&mut self, why: SlotClosed) {
        for p in self.players.drain(..) {
            p.slot.close(why);
        }
        for o in self.observers.drain(..) {
            o.close(why);
        }
        // Commands that arrived too late get their answer now: a dropped join
        // reply tells the joiner the match is gone, instead of leaving it waiting.
        while let Some(command) = self.commands.pop() {
            match command {
                MatchCommand::Join { reply, .. } => drop(reply),
                MatchCommand::Observe { slot } => slot.close(why),
                MatchCommand::Export { reply } => drop(reply),
                MatchCommand::Leave { .. } | MatchCommand::Thaw => {}
            }
        }
    }
}

impl<G: Game> TickTask for MatchLoop<G> {
    fn deadline(&self) -> Instant {
        deadline_of(self.start, self.dt, self.next_slot)
    }

    fn id(&self) -> u64 {
        self.id.0
    }

    fn run(&mut self, now: Instant) -> bool {
        // Late by a whole slot or more: count the missed deadlines and skip them,
        // so a slow tick never snowballs into a burst of catch-up ticks.
        let due = self.deadline();
        let mut behind = 0u64;
        if now >= due + self.dt {
            behind = ((now - due).as_nanos() / self.dt.as_nanos()) as u64;
            self.stats.overruns.fetch_add(behind, Ordering::Relaxed);
            self.next_slot += behind;
            self.grid_moved();
        }
        self.next_slot += 1;
        if self.frozen {
            // Moved away: its players leave as they follow the move; the
            // match ends once empty. Inputs meanwhile are for the new node.
            self.apply_commands();
            while self.inputs.pop().is_some() {}
            if self.frozen && self.players.is_empty() && (self.request_end)(false) {
                self.close_all(SlotClosed::MatchEnded);
                return false;
            }
            return true;
        }

        let started = Instant::now();
        let stepped = std::panic::catch_unwind(AssertUnwindSafe(|| self.step_and_publish()));
        if stepped.is_err() {
            tracing::error!(match_id = %self.id, tick = self.tick.0, "game code panicked; ending the match");
            metrics::counter!("tickwire_panics_total", "where" => "match").increment(1);
            (self.request_end)(true);
            self.close_all(SlotClosed::MatchFailed);
            return false;
        }
        let took = started.elapsed();
        self.stats
            .last_tick_nanos
            .store(took.as_nanos() as u64, Ordering::Relaxed);
        if let Some(observe) = &self.on_tick {
            observe(TickReport {
                duration: took,
                overruns: u32::try_from(behind).unwrap_or(u32::MAX),
            });
        }
        if self.ending {
            tracing::info!(match_id = %self.id, ticks = self.tick.0, "the game ended the match");
            (self.request_end)(true);
            self.close_all(SlotClosed::MatchEnded);
            return false;
        }
        if self.should_end(now) {
            tracing::info!(match_id = %self.id, ticks = self.tick.0, "match ended");
            self.close_all(SlotClosed::MatchEnded);
            return false;
        }
        true
    }
}

/// An event's bits, encoded once for all its recipients.
fn encode_event<V: MessageSet>(event: &V) -> Bytes {
    let mut w = BitWriter::new();
    event.write(&mut w);
    Bytes::copy_from_slice(w.finish())
}

impl<G: Game> Drop for MatchLoop<G> {
    fn drop(&mut self) {
        // Server stopping: writers learn that no more snapshots will come.
        self.close_all(SlotClosed::MatchEnded);
    }
}

#[cfg(test)]
mod tests;
