//! The [`Game`] trait a user implements to run their own game on tickwire, and
//! the built-in games: [`arena`] (scenario arena-v1) and [`space3d`] (3D
//! ships, shots and a scoreboard on `#[derive(Replicate)]`).
//!
//! A game is a plain single-threaded state machine: the tick thread that owns
//! it calls it, and nothing else does, so a game needs no locks. It never sees
//! sockets, clocks or bytes: inputs arrive already decoded and validated (the
//! sequence number increased), and it freezes its state into entities that the
//! snapshot codec replicates.

pub mod arena;
pub mod grid;
pub mod space3d;

mod outbox;

pub use outbox::{Audience, Denied, Outbox, Sender};

use crate::protocol::{EntityId, PlayerId, Tick};
use crate::replicate::{MessageSet, NetEntity, Replicated};

/// What a match is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchSettings {
    /// Seeds every random choice of the simulation: same seed, same match.
    pub seed: u64,
    /// Ticks per second; the game steps `1 / tick_rate` seconds per tick.
    pub tick_rate: u16,
    /// Most players at once.
    pub capacity: u16,
}

/// What a client of a game needs to know of it: the replicated entity and
/// the input, without the simulation. Every [`Game`] is one; a client that
/// does not link the game's simulation implements it on a marker type.
pub trait ClientGame: 'static {
    type Entity: NetEntity;
    type Input: Replicated;
    type Message: MessageSet;
    type Event: MessageSet;

    /// The hash of this game's schema (what `/ws?schema=` states).
    fn schema_hash() -> u64 {
        crate::replicate::schema::GameSchema::of::<Self>().hash
    }
}

impl<G: Game> ClientGame for G {
    type Entity = G::Entity;
    type Input = G::Input;
    type Message = G::Message;
    type Event = G::Event;
}

/// A game simulated by tickwire. See `arena::Arena` for a complete example.
pub trait Game: Send + 'static {
    /// The replicated entity: a struct or an enum of kinds deriving `Replicate`.
    type Entity: NetEntity;
    /// One input from a player, a struct deriving `Replicate`: it travels
    /// bit-packed by its schema, and arrives here snapped to its grid.
    type Input: Replicated;
    /// The messages clients send besides inputs (chat, "ready"): an enum
    /// deriving `Replicate` with `#[replicate(messages)]`, or
    /// [`NoMessages`](crate::replicate::NoMessages).
    type Message: MessageSet;
    /// The events the game sends to clients ("round started", "you were
    /// hit", the match's result), declared the same way.
    type Event: MessageSet;

    /// A new match.
    fn new(settings: &MatchSettings) -> Self;

    /// Adds a player and returns the entity it steers. A player already in the
    /// game (resuming after a disconnect) keeps, and gets back, its entity.
    fn join(&mut self, player: PlayerId) -> EntityId;

    /// Removes a player and its entity.
    fn leave(&mut self, player: PlayerId);

    /// Applies one input of `player`; `seq` is greater than any seq applied
    /// before for this player. Out-of-range values must be clamped here: this is
    /// the only place that knows what "in range" means.
    fn apply_input(&mut self, player: PlayerId, seq: u32, input: &Self::Input);

    /// Advances the simulation by one tick, which becomes `tick`.
    fn step(&mut self, tick: Tick);

    /// Appends every replicated entity to `out` (any order; the caller sorts).
    fn freeze(&self, out: &mut Vec<Self::Entity>);

    /// Handles one message, in order with the sender's inputs, after the
    /// server checked that the sender's role may send its type. `Err`
    /// answers the sender with an error naming the type and the reason, and
    /// counts against its denial limit.
    fn on_message(
        &mut self,
        from: Sender,
        message: Self::Message,
        out: &mut Outbox<Self::Event>,
    ) -> Result<(), Denied> {
        let _ = (from, out);
        Err(Denied::new(format!("{} is not handled", message.name())))
    }

    /// Called after each `step`: the events of this tick, and the match's
    /// end if it is over.
    fn events(&mut self, tick: Tick, out: &mut Outbox<Self::Event>) {
        let _ = (tick, out);
    }
}
