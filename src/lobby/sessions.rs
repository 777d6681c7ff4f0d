//! Sessions: which connection holds each seat, seats parked while their
//! player is away, and handing a seat from one connection to the next
//! (resume, takeover) so that it is never free, and never held twice, in
//! between.
//!
//! Every seat has exactly one entry here, under its current session token:
//! `Live` while a connection holds it, `Parked` while it waits out the
//! reconnect grace. Authenticated players also have an entry by identity, so
//! a second connection of the same player finds the first one's seat.

use super::{LobbyError, Seat};
use crate::game::Game;
use crate::protocol::{PlayerId, SessionToken};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// Asks the connection holding a seat to end and hand the seat over.
pub type Evict = Arc<dyn Fn() + Send + Sync>;

enum Holder<G: Game> {
    /// A connection holds the seat. `handover` is set while another
    /// connection waits for it (tagged, so a taker only withdraws its own).
    Live {
        player: PlayerId,
        evict: Option<Evict>,
        handover: Option<(u64, oneshot::Sender<Seat<G>>)>,
        /// The game removed this player: when its connection ends, the
        /// seat is dropped, never parked nor handed over.
        kicked: bool,
    },
    /// Nobody holds it; it ends with the reconnect grace. `generation` tells
    /// this park's expiry apart from a later park under a reissued token.
    Parked { seat: Seat<G>, generation: u64 },
}

impl<G: Game> Holder<G> {
    fn player(&self) -> PlayerId {
        match self {
            Holder::Live { player, .. } => *player,
            Holder::Parked { seat, .. } => seat.player,
        }
    }
}

struct Book<G: Game> {
    by_token: HashMap<SessionToken, Holder<G>>,
    /// The session of each authenticated player: one seat per identity.
    by_identity: HashMap<PlayerId, SessionToken>,
}

/// The session book of one lobby.
pub(crate) struct Sessions<G: Game> {
    book: Mutex<Book<G>>,
    /// How long a disconnected player's seat is kept.
    grace: Duration,
    /// How long a new connection waits for the old one to hand its seat over.
    handover_wait: Duration,
    next_generation: AtomicU64,
}

/// A taker's wait for a seat. However the wait ends (the seat arrived, a
/// timeout, or the waiting request was dropped mid-way), the request is
/// withdrawn, and a seat that arrived unclaimed is released rather than lost.
struct Waiting<G: Game> {
    sessions: Arc<Sessions<G>>,
    token: SessionToken,
    id: u64,
    rx: oneshot::Receiver<Seat<G>>,
}

impl<G: Game> Drop for Waiting<G> {
    fn drop(&mut self) {
        if let Some(Holder::Live { handover, .. }) =
            self.sessions.book().by_token.get_mut(&self.token)
        {
            if handover.as_ref().is_some_and(|(id, _)| *id == self.id) {
                *handover = None;
            }
        }
        self.rx.close();
        if let Ok(seat) = self.rx.try_recv() {
            // It came as nobody was left to take it: the player may come back.
            if tokio::runtime::Handle::try_current().is_ok() {
                self.sessions.release(seat, true);
            }
        }
    }
}

impl<G: Game> Sessions<G> {
    pub fn new(grace: Duration, handover_wait: Duration) -> Self {
        Sessions {
            book: Mutex::new(Book {
                by_token: HashMap::new(),
                by_identity: HashMap::new(),
            }),
            grace,
            handover_wait,
            next_generation: AtomicU64::new(1),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book<G>> {
        // Every change is a few inserts and removes that cannot panic half-way.
        // Never drop a `Seat` while holding this lock: its drop takes it too.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new seat held by a connection; `Err` when an authenticated
    /// player already has one.
    pub fn open(
        &self,
        player: PlayerId,
        identified: bool,
        token: SessionToken,
    ) -> Result<(), LobbyError> {
        let mut book = self.book();
        if identified {
            if book.by_identity.contains_key(&player) {
                return Err(LobbyError::AlreadyConnected(player));
            }
            book.by_identity.insert(player, token);
        }
        book.by_token.insert(
            token,
            Holder::Live {
                player,
                evict: None,
                handover: None,
                kicked: false,
            },
        );
        Ok(())
    }

    /// Called as a seat drops: its session ends.
    pub fn close(&self, token: SessionToken, player: PlayerId) {
        let mut book = self.book();
        if matches!(book.by_token.get(&token), Some(Holder::Live { .. })) {
            book.by_token.remove(&token);
        }
        if book.by_identity.get(&player) == Some(&token) {
            book.by_identity.remove(&player);
        }
    }

    /// The session token of an authenticated player's current seat.
    pub fn of_identity(&self, player: PlayerId) -> Option<SessionToken> {
        self.book().by_identity.get(&player).copied()
    }

    /// Lets a new connection take the seat over: `evict` ends the
    /// connection, which then hands its seat to the waiting one.
    pub fn set_evict(&self, token: SessionToken, evict: Evict) {
        let pending = {
            let mut book = self.book();
            match book.by_token.get_mut(&token) {
                Some(Holder::Live {
                    evict: slot,
                    handover,
                    ..
                }) => {
                    *slot = Some(evict.clone());
                    handover.is_some()
                }
                _ => false,
            }
        };
        if pending {
            evict();
        }
    }

    /// Takes the seat of session `token`, parked or held by a live
    /// connection (which is evicted and hands it over). `owner`, when
    /// given, must be the seat's player. Cancel-safe: a dropped call
    /// withdraws its request, and a seat handed over meanwhile is released.
    pub async fn take(
        self: &Arc<Self>,
        token: SessionToken,
        owner: Option<PlayerId>,
    ) -> Result<Seat<G>, LobbyError> {
        let id = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (waiting, evict, player) = {
            let mut book = self.book();
            let holder = book
                .by_token
                .get_mut(&token)
                .ok_or(LobbyError::InvalidSession)?;
            let player = holder.player();
            if owner.is_some_and(|o| o != player) {
                return Err(LobbyError::NotYours);
            }
            match holder {
                Holder::Parked { .. } => {
                    let Some(Holder::Parked { seat, .. }) = book.by_token.remove(&token) else {
                        unreachable!("matched as parked under the same lock")
                    };
                    drop(book);
                    if seat.handle.has_ended() {
                        return Err(LobbyError::InvalidSession);
                    }
                    return Ok(self.reissue(seat));
                }
                Holder::Live { kicked: true, .. } => return Err(LobbyError::InvalidSession),
                Holder::Live {
                    evict, handover, ..
                } => {
                    if handover.is_some() {
                        // Someone else is already taking it over.
                        return Err(LobbyError::AlreadyConnected(player));
                    }
                    let (tx, rx) = oneshot::channel();
                    *handover = Some((id, tx));
                    let waiting = Waiting {
                        sessions: self.clone(),
                        token,
                        id,
                        rx,
                    };
                    (waiting, evict.clone(), player)
                }
            }
        };
        if let Some(evict) = evict {
            evict();
        }
        let mut waiting = waiting;
        match tokio::time::timeout(self.handover_wait, &mut waiting.rx).await {
            Ok(Ok(seat)) => Ok(self.reissue(seat)),
            // `waiting` withdraws the request as it drops.
            _ => Err(LobbyError::AlreadyConnected(player)),
        }
    }

    /// Gives a seat back the token it was resumed with: its connection
    /// failed before the client learned the new one (no `Welcome`), so the
    /// client will come back with the old.
    pub fn restore_token(&self, seat: &mut Seat<G>, token: SessionToken) {
        let mut book = self.book();
        if let Some(holder) = book.by_token.remove(&seat.token) {
            book.by_token.insert(token, holder);
        }
        if seat.identified {
            book.by_identity.insert(seat.player, token);
        }
        seat.token = token;
    }

    /// A seat changing hands gets a new token: the old one, which the
    /// previous connection (or whoever saw it) knew, stops working.
    fn reissue(&self, mut seat: Seat<G>) -> Seat<G> {
        let token = SessionToken::random();
        let mut book = self.book();
        book.by_token.remove(&seat.token);
        book.by_token.insert(
            token,
            Holder::Live {
                player: seat.player,
                evict: None,
                handover: None,
                kicked: false,
            },
        );
        if seat.identified {
            book.by_identity.insert(seat.player, token);
        }
        seat.token = token;
        seat
    }

    /// A connection ended: its seat goes to a connection waiting to take it
    /// over, else is parked for the grace (a lost connection), else dropped
    /// (the player left).
    pub fn release(self: &Arc<Self>, mut seat: Seat<G>, resumable: bool) {
        loop {
            let waiting = {
                let mut book = self.book();
                let kicked = matches!(
                    book.by_token.get(&seat.token),
                    Some(Holder::Live { kicked: true, .. })
                );
                match book.by_token.get_mut(&seat.token) {
                    _ if kicked => None,
                    Some(Holder::Live { handover, .. }) if handover.is_some() => {
                        handover.take().map(|(_, tx)| tx)
                    }
                    _ if resumable && seat.joined && !self.grace.is_zero() => {
                        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
                        let token = seat.token;
                        book.by_token
                            .insert(token, Holder::Parked { seat, generation });
                        drop(book);
                        self.expire_later(token, generation);
                        return;
                    }
                    _ => None,
                }
            };
            match waiting {
                Some(tx) => match tx.send(seat) {
                    Ok(()) => return,
                    // The taker gave up meanwhile: decide again.
                    Err(back) => seat = back,
                },
                None => return drop(seat),
            }
        }
    }

    fn expire_later(self: &Arc<Self>, token: SessionToken, generation: u64) {
        let weak = Arc::downgrade(self);
        let grace = self.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(sessions) = weak.upgrade() else {
                return;
            };
            let mut book = sessions.book();
            if matches!(book.by_token.get(&token), Some(Holder::Parked { generation: g, .. }) if *g == generation)
            {
                let expired = book.by_token.remove(&token);
                // Under the same lock: a claim by this player from now on
                // gets a fresh seat, not a session that is going away.
                if let Some(Holder::Parked { seat, .. }) = &expired {
                    if book.by_identity.get(&seat.player) == Some(&token) {
                        book.by_identity.remove(&seat.player);
                    }
                }
                drop(book);
                drop(expired); // the player leaves
            }
        });
    }

    /// The game removed `player`: a parked seat of its is dropped now, a
    /// live one when its connection ends; neither can be resumed or taken
    /// over. Runs on the tick thread; rare, so a scan is fine.
    pub fn kick(&self, player: PlayerId) {
        let dropped = {
            let mut book = self.book();
            let token = book
                .by_token
                .iter()
                .find(|(_, h)| h.player() == player)
                .map(|(t, _)| *t);
            let Some(token) = token else { return };
            match book.by_token.get_mut(&token) {
                Some(Holder::Live { kicked, .. }) => {
                    *kicked = true;
                    None
                }
                Some(Holder::Parked { .. }) => {
                    if book.by_identity.get(&player) == Some(&token) {
                        book.by_identity.remove(&player);
                    }
                    book.by_token.remove(&token)
                }
                None => None,
            }
        };
        // Outside the lock: a seat's drop takes it.
        drop(dropped);
    }

    /// The session token of `player`'s seat, live or parked.
    pub fn token_of(&self, player: PlayerId) -> Option<SessionToken> {
        self.book()
            .by_token
            .iter()
            .find(|(_, h)| h.player() == player)
            .map(|(t, _)| *t)
    }

    /// Players disconnected and within their reconnect grace.
    pub fn parked(&self) -> usize {
        self.book()
            .by_token
            .values()
            .filter(|h| matches!(h, Holder::Parked { .. }))
            .count()
    }
}
