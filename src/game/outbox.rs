//! What a game hands back to the server besides its state: events for
//! clients, the match's end, and players to remove.

use crate::protocol::{EntityId, PlayerId};
use crate::replicate::Role;

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// One player (or spectator).
    Player(PlayerId),
    /// Every player and spectator of the match.
    All,
    /// Everyone who can see the entity. Until a game limits what each client
    /// sees (interest management), that is everyone.
    Seeing(EntityId),
}

/// The sender of a message, as the server authenticated it: a client cannot
/// claim to be anyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    pub player: PlayerId,
    pub role: Role,
}

/// A game's refusal of a message; the reason is shown to the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl Denied {
    pub fn new(reason: impl Into<String>) -> Self {
        Denied(reason.into())
    }
}

/// Events, the match's end and kicks, filled by the game on its tick thread
/// and taken by the match loop after each call.
#[derive(Debug)]
pub struct Outbox<E> {
    pub(crate) events: Vec<(Audience, E)>,
    pub(crate) result: Option<E>,
    pub(crate) kicks: Vec<(PlayerId, String)>,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Outbox {
            events: Vec::new(),
            result: None,
            kicks: Vec::new(),
        }
    }
}

impl<E> Outbox<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An event for one player (or spectator).
    pub fn to(&mut self, player: PlayerId, event: E) {
        self.events.push((Audience::Player(player), event));
    }

    /// An event for everyone in the match.
    pub fn to_all(&mut self, event: E) {
        self.events.push((Audience::All, event));
    }

    /// An event for everyone who can see `entity`.
    pub fn to_seeing(&mut self, entity: EntityId, event: E) {
        self.events.push((Audience::Seeing(entity), event));
    }

    /// Ends the match with `result`: every player and spectator gets it as
    /// the last event before the close, and the match API shows it for a
    /// while. Events queued before it are delivered first.
    pub fn end_match(&mut self, result: E) {
        self.result = Some(result);
    }

    /// Removes a player from the match: its connection closes with the
    /// reason, and it cannot resume.
    pub fn kick(&mut self, player: PlayerId, reason: impl Into<String>) {
        self.kicks.push((player, reason.into()));
    }

    /// Whether nothing was queued.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.result.is_none() && self.kicks.is_empty()
    }
}
