//! The match registry: creating matches, placing players in them (by id, or
//! quick-join into the fullest open match), and ending empty matches.
//!
//! The lobby hands out a [`Seat`] before a WebSocket upgrade, so a full or
//! unknown match is refused with an HTTP error instead of an upgrade. A seat is
//! the player's claim on the match for the connection's lifetime: dropping it
//! (however the connection ends) removes the player. `sessions` hands seats
//! from one connection to the next (resume, takeover).

mod sessions;

use crate::game::{Game, MatchSettings};
use crate::protocol::{MatchId, PlayerId, SessionToken};
use crate::replicate::Role;
use crate::tick::{
    Exported, Inbound, Joined, MatchCommand, MatchLoop, MatchParts, MatchStats, MovedPlayer,
    OutboundSlot, PlayerInput, TickObserver, TickPool,
};
use crossbeam::queue::{ArrayQueue, SegQueue};
pub use sessions::Evict;
use sessions::Sessions;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Why a player could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LobbyError {
    #[error("match {0} does not exist")]
    NotFound(MatchId),
    #[error("match {0} is full")]
    Full(MatchId),
    #[error("match {0} has no room for another spectator")]
    NoSpectatorRoom(MatchId),
    #[error("there is no match to watch")]
    NothingToWatch,
    #[error("match {0} has ended")]
    Ended(MatchId),
    #[error("capacity {requested} is outside 1..={max}")]
    BadCapacity { requested: u16, max: u16 },
    #[error("unknown or expired session token")]
    InvalidSession,
    #[error("player {} is already connected and its connection did not hand the seat over", .0.0)]
    AlreadyConnected(PlayerId),
    #[error("this session belongs to another player")]
    NotYours,
    #[error("the server is at its limit of {0} matches")]
    TooManyMatches(usize),
    #[error("match {0} is already on this node")]
    AlreadyHere(MatchId),
}

/// A match moved here from another node, as `Lobby::adopt` takes it.
pub struct Adopted<G: Game> {
    pub id: MatchId,
    pub seed: u64,
    pub capacity: u16,
    /// Restored by `Game::restore`, at `tick`.
    pub game: G,
    pub tick: crate::protocol::Tick,
    /// Each player with its session token.
    pub players: Vec<(MovedPlayer, SessionToken)>,
    /// Player ids come from authentication tokens (one seat per identity).
    pub identified: bool,
}

/// What a connection asks the lobby for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Claim {
    /// A given match, or `None` for quick-join.
    pub match_id: Option<MatchId>,
    /// The player's id when it comes from outside (an authentication
    /// token): such a player holds one seat at a time, and connecting again
    /// takes that seat over.
    pub player: Option<PlayerId>,
    /// Resume the seat of this session (the match is the seat's own).
    pub resume: Option<SessionToken>,
    /// A player plays; a spectator or an admin watches (no entity), in a
    /// seat counted apart.
    pub role: Role,
}

/// How the lobby creates matches.
#[derive(Debug, Clone)]
pub struct LobbySettings {
    pub tick_rate: u16,
    pub players_per_match: u16,
    pub input_queue_per_player: usize,
    pub empty_match_grace: Duration,
    /// How long a disconnected player keeps its entity, waiting to resume.
    pub reconnect_grace: Duration,
    /// Live matches at most.
    pub max_matches: usize,
    /// How long a connection taking a seat over waits for the previous
    /// connection to let go of it.
    pub handover_wait: Duration,
    /// Spectators and admins per match, at most.
    pub spectators_per_match: u16,
    /// Events kept per session for a resuming client.
    pub event_log: usize,
    /// How long an ended match's result stays in the match API.
    pub ended_match_ttl: Duration,
    /// How far ahead of the match a timed input may be meant for.
    pub max_input_lead: Duration,
    /// How far back a match keeps snapshots for lag compensation.
    pub max_rewind: Duration,
    /// The id of this node's first match and first anonymous player (1 on
    /// a single node; in a cluster a per-node base, so that ids are unique
    /// across nodes and a kick or a moved match names one of each).
    pub first_id: u64,
}

/// A live match as the network side sees it: queues in, counters out.
pub struct MatchHandle<G: Game> {
    pub id: MatchId,
    pub capacity: u16,
    pub seed: u64,
    pub created: Instant,
    pub stats: Arc<MatchStats>,
    inputs: Arc<ArrayQueue<PlayerInput<G::Input, G::Message>>>,
    commands: Arc<SegQueue<MatchCommand<G>>>,
    /// Seats handed out and not yet dropped; changed up only under the registry lock.
    seated: AtomicU32,
    /// Watching seats (spectators, admins), counted apart from `seated`.
    watching: AtomicU32,
    ended: AtomicBool,
}

impl<G: Game> MatchHandle<G> {
    pub fn seated(&self) -> u32 {
        self.seated.load(Ordering::Relaxed)
    }

    /// Spectator and admin seats handed out and not yet dropped.
    pub fn watching(&self) -> u32 {
        self.watching.load(Ordering::Relaxed)
    }

    pub fn has_ended(&self) -> bool {
        // SeqCst pairs with the match's store before it drains its commands.
        self.ended.load(Ordering::SeqCst)
    }

    fn seats(&self, role: Role) -> &AtomicU32 {
        if role.plays() {
            &self.seated
        } else {
            &self.watching
        }
    }

    /// Stops the match between two ticks and hands its state over (to move
    /// it to another node); `None` when its game does not opt in
    /// (`Game::save`), or the match did not answer within `within`.
    pub async fn export(&self, within: Duration) -> Option<Exported> {
        let (reply, exported) = tokio::sync::oneshot::channel();
        self.commands.push(MatchCommand::Export { reply });
        tokio::time::timeout(within, exported).await.ok()?.ok()?
    }

    /// After a failed move: the match steps on here.
    pub fn thaw(&self) {
        self.commands.push(MatchCommand::Thaw);
    }

    /// Receives every snapshot of this match from now on, without playing.
    pub fn observe(&self, queue: usize) -> Arc<OutboundSlot<G::Entity>> {
        let slot = Arc::new(OutboundSlot::new(queue, 1));
        self.commands
            .push(MatchCommand::Observe { slot: slot.clone() });
        slot
    }
}

/// A match the game ended, kept for the match API for a while.
#[derive(Debug, Clone)]
pub struct EndedMatch {
    pub id: MatchId,
    pub ended: Instant,
    pub ticks: u32,
    /// The result event's bits.
    pub result: bytes::Bytes,
}

struct Inner<G: Game> {
    matches: Mutex<BTreeMap<MatchId, Arc<MatchHandle<G>>>>,
    /// Matches the game ended, newest last, each for `ended_match_ttl`.
    ended: Mutex<std::collections::VecDeque<EndedMatch>>,
    pool: TickPool,
    settings: LobbySettings,
    next_match: AtomicU64,
    next_player: AtomicU64,
    on_tick: Option<TickObserver>,
    sessions: Arc<Sessions<G>>,
}

/// The match registry of one node. Cheap to clone.
pub struct Lobby<G: Game> {
    inner: Arc<Inner<G>>,
}

impl<G: Game> Clone for Lobby<G> {
    fn clone(&self) -> Self {
        Lobby {
            inner: self.inner.clone(),
        }
    }
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("operating system random source is unavailable");
    u64::from_le_bytes(bytes)
}

impl<G: Game> Lobby<G> {
    pub fn new(settings: LobbySettings, pool: TickPool, on_tick: Option<TickObserver>) -> Self {
        Lobby {
            inner: Arc::new(Inner {
                matches: Mutex::new(BTreeMap::new()),
                ended: Mutex::new(std::collections::VecDeque::new()),
                pool,
                next_match: AtomicU64::new(settings.first_id.max(1)),
                next_player: AtomicU64::new(settings.first_id.max(1)),
                on_tick,
                sessions: Arc::new(Sessions::new(
                    settings.reconnect_grace,
                    settings.handover_wait,
                )),
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &LobbySettings {
        &self.inner.settings
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, BTreeMap<MatchId, Arc<MatchHandle<G>>>> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every change is one insert or remove), so a poisoned lock is usable.
        self.inner.matches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a match and starts its tick loop. `capacity` defaults to the
    /// configured players per match and may not exceed it.
    pub fn create_match(
        &self,
        seed: Option<u64>,
        capacity: Option<u16>,
    ) -> Result<Arc<MatchHandle<G>>, LobbyError> {
        let mut registry = self.registry();
        self.create_locked(&mut registry, seed, capacity)
    }

    fn create_locked(
        &self,
        registry: &mut BTreeMap<MatchId, Arc<MatchHandle<G>>>,
        seed: Option<u64>,
        capacity: Option<u16>,
    ) -> Result<Arc<MatchHandle<G>>, LobbyError> {
        let s = &self.inner.settings;
        if registry.len() >= s.max_matches {
            return Err(LobbyError::TooManyMatches(s.max_matches));
        }
        let capacity = capacity.unwrap_or(s.players_per_match);
        if capacity == 0 || capacity > s.players_per_match {
            return Err(LobbyError::BadCapacity {
                requested: capacity,
                max: s.players_per_match,
            });
        }
        let id = MatchId(self.inner.next_match.fetch_add(1, Ordering::Relaxed));
        let seed = seed.unwrap_or_else(random_seed);
        Ok(self.spawn_locked(registry, id, seed, capacity, None))
    }

    /// Starts match `id`'s loop (a new match, or with `restored` one moved
    /// here from another node) and registers it.
    fn spawn_locked(
        &self,
        registry: &mut BTreeMap<MatchId, Arc<MatchHandle<G>>>,
        id: MatchId,
        seed: u64,
        capacity: u16,
        restored: Option<(G, crate::protocol::Tick, Vec<MovedPlayer>)>,
    ) -> Arc<MatchHandle<G>> {
        let s = &self.inner.settings;
        let settings = MatchSettings {
            seed,
            tick_rate: s.tick_rate,
            capacity,
        };
        let handle = Arc::new(MatchHandle {
            id,
            capacity,
            seed,
            created: Instant::now(),
            stats: Arc::new(MatchStats::default()),
            inputs: Arc::new(ArrayQueue::new(
                usize::from(capacity) * s.input_queue_per_player.max(1),
            )),
            commands: Arc::new(SegQueue::new()),
            seated: AtomicU32::new(0),
            watching: AtomicU32::new(0),
            ended: AtomicBool::new(false),
        });
        let weak: Weak<Inner<G>> = Arc::downgrade(&self.inner);
        let request_end = Box::new(move |force: bool| match weak.upgrade() {
            Some(inner) => Lobby { inner }.try_end(id, force),
            None => true,
        });
        let sessions = Arc::downgrade(&self.inner.sessions);
        let on_kick = Box::new(move |player| {
            if let Some(sessions) = sessions.upgrade() {
                sessions.kick(player);
            }
        });
        let task = MatchLoop::<G>::new(MatchParts {
            id,
            settings,
            inputs: handle.inputs.clone(),
            commands: handle.commands.clone(),
            stats: handle.stats.clone(),
            event_log: s.event_log,
            max_input_lead: s.max_input_lead,
            max_rewind: s.max_rewind,
            held_per_player: s.input_queue_per_player.max(1),
            empty_grace: s.empty_match_grace,
            request_end,
            on_kick: Some(on_kick),
            on_tick: self.inner.on_tick.clone(),
        });
        let task = match restored {
            Some((game, tick, players)) => task.restored(game, tick, players),
            None => task,
        };
        registry.insert(id, handle.clone());
        self.inner.pool.spawn(Box::new(task));
        tracing::info!(match_id = %id, seed, capacity, "match created");
        handle
    }

    /// Continues a match moved here from another node (a cluster drain):
    /// the same id, its game restored at `tick`, and each player's seat
    /// parked under its session token, so that the player resumes here
    /// with its entity within the reconnect grace.
    pub fn adopt(&self, moved: Adopted<G>) -> Result<Arc<MatchHandle<G>>, LobbyError> {
        let Adopted {
            id,
            seed,
            capacity,
            game,
            tick,
            players,
            identified,
        } = moved;
        let mut seats = Vec::with_capacity(players.len());
        let handle = {
            let mut registry = self.registry();
            if registry.contains_key(&id) {
                return Err(LobbyError::AlreadyHere(id));
            }
            if registry.len() >= self.inner.settings.max_matches {
                return Err(LobbyError::TooManyMatches(self.inner.settings.max_matches));
            }
            let bookkeeping = players.iter().map(|(p, _)| *p).collect();
            let handle = self.spawn_locked(
                &mut registry,
                id,
                seed,
                capacity.min(self.inner.settings.players_per_match),
                Some((game, tick, bookkeeping)),
            );
            for (moved, token) in players {
                if self
                    .inner
                    .sessions
                    .open(moved.player, identified, token)
                    .is_err()
                {
                    continue; // the same identity is seated here already
                }
                handle.seats(moved.role).fetch_add(1, Ordering::Relaxed);
                seats.push(Seat {
                    handle: handle.clone(),
                    player: moved.player,
                    role: moved.role,
                    token,
                    joined: true,
                    identified,
                    sessions: self.inner.sessions.clone(),
                });
            }
            handle
        };
        // Parked for the reconnect grace: a player that never comes leaves then.
        for seat in seats {
            self.inner.sessions.release(seat, true);
        }
        tracing::info!(match_id = %id, tick = tick.0, "match moved here from another node");
        Ok(handle)
    }

    /// The session token of `player`'s seat on this node.
    pub fn session_of(&self, player: PlayerId) -> Option<SessionToken> {
        self.inner.sessions.token_of(player)
    }

    /// Ends a match if nobody holds a seat in it (or regardless, when `force`).
    fn try_end(&self, id: MatchId, force: bool) -> bool {
        let mut registry = self.registry();
        let Some(handle) = registry.get(&id) else {
            return true;
        };
        if !force && handle.seated() > 0 {
            return false;
        }
        handle.ended.store(true, Ordering::SeqCst);
        if let Some(result) = handle.stats.result.get() {
            // Expired results go as new ones come, so the list stays bounded
            // even if nobody asks for them.
            let mut ended = self.ended_results();
            ended.push_back(EndedMatch {
                id,
                ended: Instant::now(),
                ticks: handle.stats.tick.load(Ordering::Relaxed),
                result: result.clone(),
            });
        }
        registry.remove(&id);
        true
    }

    /// A match the game ended within the last `ended_match_ttl`, with its result.
    pub fn ended_match(&self, id: MatchId) -> Option<EndedMatch> {
        self.ended_results().iter().find(|e| e.id == id).cloned()
    }

    /// The results of ended matches, those past `ended_match_ttl` dropped.
    fn ended_results(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<EndedMatch>> {
        let mut ended = self.inner.ended.lock().unwrap_or_else(|e| e.into_inner());
        let ttl = self.inner.settings.ended_match_ttl;
        while ended.front().is_some_and(|e| e.ended.elapsed() > ttl) {
            ended.pop_front();
        }
        ended
    }

    /// A seat in match `id`, or with `None` in the fullest open match with room
    /// (a new match when none has room).
    pub fn reserve(&self, id: Option<MatchId>) -> Result<Seat<G>, LobbyError> {
        self.reserve_as(id, None, Role::Player)
    }

    /// What a new connection gets: the seat of the session it resumes; for
    /// an authenticated player who holds a seat already, that seat, taken
    /// over from its previous connection (unless another match is asked
    /// for: then the old seat is given up); otherwise a new seat.
    pub async fn claim(&self, claim: Claim) -> Result<Seat<G>, LobbyError> {
        let sessions = &self.inner.sessions;
        if let Some(token) = claim.resume {
            return sessions.take(token, claim.player).await;
        }
        if let Some(player) = claim.player {
            if let Some(token) = sessions.of_identity(player) {
                match sessions.take(token, Some(player)).await {
                    Ok(seat) => {
                        let elsewhere = claim.match_id.is_some_and(|m| m != seat.match_handle().id);
                        if !elsewhere {
                            return Ok(seat);
                        }
                        drop(seat); // the player leaves its old match
                    }
                    // Gone meanwhile: a fresh seat below.
                    Err(LobbyError::InvalidSession) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.reserve_as(claim.match_id, claim.player, claim.role)
    }

    /// As [`reserve`](Self::reserve), for a player whose id is known (from an
    /// authentication token) rather than assigned; that player may hold only
    /// one seat at a time.
    pub fn reserve_as(
        &self,
        id: Option<MatchId>,
        known: Option<PlayerId>,
        role: Role,
    ) -> Result<Seat<G>, LobbyError> {
        let mut registry = self.registry();
        if let Some(player) = known {
            if self.inner.sessions.of_identity(player).is_some() {
                return Err(LobbyError::AlreadyConnected(player));
            }
        }
        let handle = match id {
            _ if !role.plays() => {
                // Watching: a given match, or the one with the most players.
                let handle = match id {
                    Some(id) => registry.get(&id).ok_or(LobbyError::NotFound(id))?.clone(),
                    None => registry
                        .values()
                        .filter(|h| !h.has_ended())
                        .max_by_key(|h| (h.seated(), std::cmp::Reverse(h.id)))
                        .cloned()
                        .ok_or(LobbyError::NothingToWatch)?,
                };
                if handle.has_ended() {
                    return Err(LobbyError::Ended(handle.id));
                }
                if handle.watching() >= u32::from(self.inner.settings.spectators_per_match) {
                    return Err(LobbyError::NoSpectatorRoom(handle.id));
                }
                handle
            }
            Some(id) => {
                let handle = registry.get(&id).ok_or(LobbyError::NotFound(id))?;
                if handle.has_ended() {
                    return Err(LobbyError::Ended(id));
                }
                if handle.seated() >= u32::from(handle.capacity) {
                    return Err(LobbyError::Full(id));
                }
                handle.clone()
            }
            None => {
                let open = registry
                    .values()
                    .filter(|h| !h.has_ended() && h.seated() < u32::from(h.capacity))
                    .max_by_key(|h| (h.seated(), std::cmp::Reverse(h.id)))
                    .cloned();
                match open {
                    Some(h) => h,
                    None => self.create_locked(&mut registry, None, None)?,
                }
            }
        };
        let player = known
            .unwrap_or_else(|| PlayerId(self.inner.next_player.fetch_add(1, Ordering::Relaxed)));
        let token = SessionToken::random();
        self.inner.sessions.open(player, known.is_some(), token)?;
        // Counted under the registry lock, so racing joins never overfill a match.
        handle.seats(role).fetch_add(1, Ordering::Relaxed);
        Ok(Seat {
            handle,
            player,
            role,
            token,
            joined: false,
            identified: known.is_some(),
            sessions: self.inner.sessions.clone(),
        })
    }

    /// Ends a connection's hold on its seat: handed to a connection taking it
    /// over, kept for the reconnect grace when the connection was lost
    /// (`resumable`) and the player had joined, else dropped (the player
    /// leaves). Must be called within a tokio runtime.
    pub fn release(&self, seat: Seat<G>, resumable: bool) {
        self.inner.sessions.release(seat, resumable);
    }

    /// Releases a seat whose connection failed before its `Welcome` went
    /// out: a seat that had an entity is parked again (under the token the
    /// client resumed with, `resumed`, since it never saw the new one).
    pub fn abandon(&self, mut seat: Seat<G>, resumed: Option<SessionToken>) {
        if let Some(token) = resumed {
            self.inner.sessions.restore_token(&mut seat, token);
        }
        let had_entity = seat.joined;
        self.inner.sessions.release(seat, had_entity);
    }

    /// Lets a later connection of the same player (or session) end this
    /// seat's connection through `evict`, to take the seat over.
    pub fn on_evict(&self, seat: &Seat<G>, evict: Evict) {
        self.inner.sessions.set_evict(seat.token, evict);
    }

    /// Whether a quick-join here would find a seat: an open match with
    /// room, or room for another match.
    pub fn has_room(&self) -> bool {
        let registry = self.registry();
        registry.len() < self.inner.settings.max_matches
            || registry
                .values()
                .any(|h| !h.has_ended() && h.seated() < u32::from(h.capacity))
    }

    /// Ends `player`'s session here for good (an operator's kick): a parked
    /// seat is dropped now, a live one is neither parked nor handed over
    /// when its connection closes.
    pub fn kick(&self, player: PlayerId) {
        self.inner.sessions.kick(player);
    }

    /// Players disconnected and within their reconnect grace.
    pub fn parked_players(&self) -> usize {
        self.inner.sessions.parked()
    }

    pub fn get(&self, id: MatchId) -> Option<Arc<MatchHandle<G>>> {
        self.registry().get(&id).cloned()
    }

    /// Every live match, by id.
    pub fn matches(&self) -> Vec<Arc<MatchHandle<G>>> {
        self.registry().values().cloned().collect()
    }

    pub fn tick_threads(&self) -> usize {
        self.inner.pool.threads()
    }
}

/// A player's place in a match, held for the connection's lifetime.
pub struct Seat<G: Game> {
    handle: Arc<MatchHandle<G>>,
    player: PlayerId,
    role: Role,
    /// The secret that lets this player resume after a disconnect.
    token: SessionToken,
    joined: bool,
    /// The player's id came from an authentication token.
    identified: bool,
    sessions: Arc<Sessions<G>>,
}

impl<G: Game> Seat<G> {
    pub fn player(&self) -> PlayerId {
        self.player
    }

    pub fn token(&self) -> SessionToken {
        self.token
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the player has (had) an entity through this seat: a resumed or
    /// taken-over seat has.
    pub fn has_joined(&self) -> bool {
        self.joined
    }

    pub fn match_handle(&self) -> &Arc<MatchHandle<G>> {
        &self.handle
    }

    /// Gives the player an entity (its old one, when resuming); snapshots
    /// start flowing into `slot`. `None` when the match ended (or failed)
    /// before the join was applied, or did not answer within `deadline`.
    /// `last_event` is the newest event the client received in this session
    /// (0: none), so a resume delivers the ones after it.
    pub async fn join(
        &mut self,
        slot: Arc<OutboundSlot<G::Entity>>,
        deadline: Duration,
        last_event: u32,
    ) -> Option<Joined> {
        let (reply, joined) = tokio::sync::oneshot::channel();
        self.handle.commands.push(MatchCommand::Join {
            player: self.player,
            role: self.role,
            last_event,
            slot,
            reply,
        });
        self.joined = true;
        // The match drains its commands after marking itself ended, so a
        // command pushed before this check is answered, and one pushed after
        // it is never waited for.
        if self.handle.has_ended() {
            return None;
        }
        tokio::time::timeout(deadline, joined).await.ok()?.ok()
    }

    /// What a connection's reader needs to feed this player's inputs to the match.
    pub fn input_sender(&self) -> InputSender<G> {
        InputSender {
            handle: self.handle.clone(),
            player: self.player,
            role: self.role,
        }
    }
}

/// Sends one player's inputs to its match; the player id is fixed, so a
/// client can never speak for another player.
pub struct InputSender<G: Game> {
    handle: Arc<MatchHandle<G>>,
    player: PlayerId,
    role: Role,
}

impl<G: Game> InputSender<G> {
    /// Queues an input for the next tick; `false` when the match's input queue
    /// is full and the input was dropped.
    pub fn send(&self, seq: u32, input: G::Input) -> bool {
        self.push(Inbound::Input {
            seq,
            input,
            timing: None,
        })
    }

    /// Queues an input meant for a given tick (`ClientMsg::TimedInput`).
    pub fn send_timed(&self, seq: u32, input: G::Input, timing: crate::tick::InputTime) -> bool {
        self.push(Inbound::Input {
            seq,
            input,
            timing: Some(timing),
        })
    }

    /// Queues a game message, in order with the inputs; `false` when the
    /// queue is full and the message was not taken.
    pub fn send_message(&self, message: G::Message) -> bool {
        self.push(Inbound::Message(Box::new(message)))
    }

    fn push(&self, what: Inbound<G::Input, G::Message>) -> bool {
        self.handle
            .inputs
            .push(PlayerInput {
                player: self.player,
                what,
            })
            .is_ok()
    }

    /// The sender's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The match's newest tick.
    pub fn tick(&self) -> crate::protocol::Tick {
        crate::protocol::Tick(self.handle.stats.tick.load(Ordering::Acquire))
    }
}

impl<G: Game> Drop for Seat<G> {
    fn drop(&mut self) {
        if self.joined {
            self.handle.commands.push(MatchCommand::Leave {
                player: self.player,
            });
        }
        self.handle.seats(self.role).fetch_sub(1, Ordering::Relaxed);
        self.sessions.close(self.token, self.player);
    }
}
