//! The match registry: creating matches, placing players in them (by id, or
//! quick-join into the fullest open match), and ending empty matches.
//!
//! The lobby hands out a [`Seat`] before a WebSocket upgrade, so a full or
//! unknown match is refused with an HTTP error instead of an upgrade. A seat is
//! the player's claim on the match for the connection's lifetime: dropping it
//! (however the connection ends) removes the player.

use crate::game::{Game, MatchSettings};
use crate::protocol::{MatchId, PlayerId, SessionToken};
use crate::tick::{
    Joined, MatchCommand, MatchLoop, MatchParts, MatchStats, OutboundSlot, PlayerInput,
    TickObserver, TickPool,
};
use crossbeam::queue::{ArrayQueue, SegQueue};
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
    #[error("match {0} has ended")]
    Ended(MatchId),
    #[error("capacity {requested} is outside 1..={max}")]
    BadCapacity { requested: u16, max: u16 },
    #[error("unknown or expired session token")]
    InvalidSession,
    #[error("player {} is already connected", .0.0)]
    AlreadyConnected(PlayerId),
}

/// Players whose id came from outside (an authentication token) and who hold
/// a seat: one seat per such player at a time.
type Identities = Arc<Mutex<std::collections::HashSet<PlayerId>>>;

/// A disconnected player's seat, kept for the reconnect grace.
struct Parked<G: Game> {
    seat: Seat<G>,
    /// Tells an expiry apart from a later park of the same session.
    generation: u64,
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
}

/// A live match as the network side sees it: queues in, counters out.
pub struct MatchHandle<G: Game> {
    pub id: MatchId,
    pub capacity: u16,
    pub seed: u64,
    pub created: Instant,
    pub stats: Arc<MatchStats>,
    inputs: Arc<ArrayQueue<PlayerInput<G::Input>>>,
    commands: Arc<SegQueue<MatchCommand<G>>>,
    /// Seats handed out and not yet dropped; changed up only under the registry lock.
    seated: AtomicU32,
    ended: AtomicBool,
}

impl<G: Game> MatchHandle<G> {
    pub fn seated(&self) -> u32 {
        self.seated.load(Ordering::Relaxed)
    }

    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    /// Receives every snapshot of this match from now on, without playing.
    pub fn observe(&self, queue: usize) -> Arc<OutboundSlot<G::Entity>> {
        let slot = Arc::new(OutboundSlot::new(queue));
        self.commands
            .push(MatchCommand::Observe { slot: slot.clone() });
        slot
    }
}

struct Inner<G: Game> {
    matches: Mutex<BTreeMap<MatchId, Arc<MatchHandle<G>>>>,
    pool: TickPool,
    settings: LobbySettings,
    next_match: AtomicU64,
    next_player: AtomicU64,
    on_tick: Option<TickObserver>,
    parked: Mutex<std::collections::HashMap<SessionToken, Parked<G>>>,
    next_generation: AtomicU64,
    identities: Identities,
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
                pool,
                settings,
                next_match: AtomicU64::new(1),
                next_player: AtomicU64::new(1),
                on_tick,
                parked: Mutex::new(std::collections::HashMap::new()),
                next_generation: AtomicU64::new(1),
                identities: Arc::new(Mutex::new(std::collections::HashSet::new())),
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
        let capacity = capacity.unwrap_or(s.players_per_match);
        if capacity == 0 || capacity > s.players_per_match {
            return Err(LobbyError::BadCapacity {
                requested: capacity,
                max: s.players_per_match,
            });
        }
        let id = MatchId(self.inner.next_match.fetch_add(1, Ordering::Relaxed));
        let seed = seed.unwrap_or_else(random_seed);
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
            ended: AtomicBool::new(false),
        });
        let weak: Weak<Inner<G>> = Arc::downgrade(&self.inner);
        let request_end = Box::new(move |force: bool| match weak.upgrade() {
            Some(inner) => Lobby { inner }.try_end(id, force),
            None => true,
        });
        let task = MatchLoop::<G>::new(MatchParts {
            id,
            settings,
            inputs: handle.inputs.clone(),
            commands: handle.commands.clone(),
            stats: handle.stats.clone(),
            empty_grace: s.empty_match_grace,
            request_end,
            on_tick: self.inner.on_tick.clone(),
        });
        registry.insert(id, handle.clone());
        self.inner.pool.spawn(Box::new(task));
        tracing::info!(match_id = %id, seed, capacity, "match created");
        Ok(handle)
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
        handle.ended.store(true, Ordering::Relaxed);
        registry.remove(&id);
        true
    }

    /// A seat in match `id`, or with `None` in the fullest open match with room
    /// (a new match when none has room).
    pub fn reserve(&self, id: Option<MatchId>) -> Result<Seat<G>, LobbyError> {
        self.reserve_as(id, None)
    }

    /// As [`reserve`](Self::reserve), for a player whose id is known (from an
    /// authentication token) rather than assigned; that player may hold only
    /// one seat at a time.
    pub fn reserve_as(
        &self,
        id: Option<MatchId>,
        known: Option<PlayerId>,
    ) -> Result<Seat<G>, LobbyError> {
        let mut registry = self.registry();
        if let Some(player) = known {
            let identities = self
                .inner
                .identities
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if identities.contains(&player) {
                return Err(LobbyError::AlreadyConnected(player));
            }
        }
        let handle = match id {
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
        handle.seated.fetch_add(1, Ordering::Relaxed);
        let (player, identity) = match known {
            Some(player) => {
                let identities = self.inner.identities.clone();
                identities
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(player);
                (player, Some(identities))
            }
            None => (
                PlayerId(self.inner.next_player.fetch_add(1, Ordering::Relaxed)),
                None,
            ),
        };
        Ok(Seat {
            handle,
            player,
            token: SessionToken::random(),
            joined: false,
            identity,
        })
    }

    fn parked(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<SessionToken, Parked<G>>> {
        self.inner.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a disconnected player's seat (and so its entity) for the
    /// reconnect grace; after it, the seat is dropped and the player leaves.
    /// Must be called within a tokio runtime.
    pub fn park(&self, seat: Seat<G>) {
        let grace = self.inner.settings.reconnect_grace;
        if !seat.joined || grace.is_zero() {
            return; // dropped: the player leaves now
        }
        let token = seat.token;
        let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed);
        self.parked().insert(token, Parked { seat, generation });
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if let Some(inner) = weak.upgrade() {
                let lobby = Lobby { inner };
                let mut parked = lobby.parked();
                if parked
                    .get(&token)
                    .is_some_and(|p| p.generation == generation)
                {
                    // Dropping the seat outside the lock keeps Seat::drop simple.
                    let expired = parked.remove(&token);
                    drop(parked);
                    drop(expired);
                }
            }
        });
    }

    /// The parked seat of the session `token`, for a player coming back.
    pub fn resume(&self, token: SessionToken) -> Result<Seat<G>, LobbyError> {
        self.parked()
            .remove(&token)
            .map(|p| p.seat)
            .filter(|seat| !seat.handle.has_ended())
            .ok_or(LobbyError::InvalidSession)
    }

    /// Players disconnected and within their reconnect grace.
    pub fn parked_players(&self) -> usize {
        self.parked().len()
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
    /// The secret that lets this player resume after a disconnect.
    token: SessionToken,
    joined: bool,
    /// Where this player's externally given id is registered, if it has one.
    identity: Option<Identities>,
}

impl<G: Game> Seat<G> {
    pub fn player(&self) -> PlayerId {
        self.player
    }

    pub fn token(&self) -> SessionToken {
        self.token
    }

    pub fn match_handle(&self) -> &Arc<MatchHandle<G>> {
        &self.handle
    }

    /// Gives the player an entity (its old one, when resuming); snapshots
    /// start flowing into `slot`. `None` when the match ended before the join
    /// was applied.
    pub async fn join(&mut self, slot: Arc<OutboundSlot<G::Entity>>) -> Option<Joined> {
        let (reply, joined) = tokio::sync::oneshot::channel();
        self.handle.commands.push(MatchCommand::Join {
            player: self.player,
            slot,
            reply,
        });
        self.joined = true;
        joined.await.ok()
    }

    /// What a connection's reader needs to feed this player's inputs to the match.
    pub fn input_sender(&self) -> InputSender<G> {
        InputSender {
            handle: self.handle.clone(),
            player: self.player,
        }
    }
}

/// Sends one player's inputs to its match; the player id is fixed, so a
/// client can never speak for another player.
pub struct InputSender<G: Game> {
    handle: Arc<MatchHandle<G>>,
    player: PlayerId,
}

impl<G: Game> InputSender<G> {
    /// Queues an input for the next tick; `false` when the match's input queue
    /// is full and the input was dropped.
    pub fn send(&self, seq: u32, input: G::Input) -> bool {
        self.handle
            .inputs
            .push(PlayerInput {
                player: self.player,
                seq,
                input,
            })
            .is_ok()
    }

    /// The match's newest tick.
    pub fn tick(&self) -> crate::protocol::Tick {
        crate::protocol::Tick(self.handle.stats.tick.load(Ordering::Relaxed))
    }
}

impl<G: Game> Drop for Seat<G> {
    fn drop(&mut self) {
        if self.joined {
            self.handle.commands.push(MatchCommand::Leave {
                player: self.player,
            });
        }
        self.handle.seated.fetch_sub(1, Ordering::Relaxed);
        if let Some(identities) = &self.identity {
            identities
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.player);
        }
    }
}
