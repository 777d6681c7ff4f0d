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
pub mod interest;
pub mod space3d;

mod outbox;
pub mod saved;

pub use interest::View;
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

/// A game whose clients predict the player's own entity: the part of the
/// simulation that moves it, written once and called by the server's
/// `apply_input` and `step` and by the client's prediction
/// ([`Client::predict`](crate::client::Client::predict)), so both compute
/// the same state from the same inputs. See `arena::Arena`.
pub trait Predict: ClientGame
where
    Self::Entity: PartialEq,
    Self::Input: Default,
{
    /// The newest input `seq` applied to the player's own entity (arena's
    /// `last_input_seq`): what the server's snapshot already includes.
    fn applied_input(own: &Self::Entity) -> u32;

    /// What applying input `seq` does to the player's own entity at once, as
    /// the server's `apply_input` does (arena: the aim and `last_input_seq`).
    fn predict_input(
        own: &mut Self::Entity,
        seq: u32,
        input: &Self::Input,
        world: &PredictWorld<'_, Self::Entity>,
    );

    /// One tick of the player's own entity with `input` in force (the newest
    /// applied), as the server's `step` does; `world` is the newest snapshot,
    /// the other entities as last seen (walls, doors).
    fn predict_step(
        own: &mut Self::Entity,
        input: &Self::Input,
        world: &PredictWorld<'_, Self::Entity>,
    );

    /// Whether two predictions of the same tick look the same to the
    /// player; when they do not, a correction is counted. Equality by
    /// default; a game leaves out bookkeeping such as `last_input_seq` (an
    /// input that came a tick late but changed nothing is no correction).
    fn agrees(a: &Self::Entity, b: &Self::Entity) -> bool {
        a == b
    }
}

/// The world as a player saw it: the two kept snapshots around its view
/// time, and how far between them it was. A view older than the match keeps
/// (`Config::max_rewind`) is clamped to the oldest kept snapshot, and one
/// newer than the newest to the newest.
#[derive(Debug)]
pub struct Rewind<'a, E> {
    pub before: &'a crate::snapshot::Snapshot<E>,
    pub after: &'a crate::snapshot::Snapshot<E>,
    /// 0 at `before`, 1 at `after`.
    pub alpha: f32,
    /// Whether the view asked for lay outside what was kept.
    pub clamped: bool,
}

impl<E: crate::replicate::NetEntity> Rewind<'_, E> {
    /// The view time, in ticks.
    pub fn tick(&self) -> f64 {
        let (a, b) = (f64::from(self.before.tick.0), f64::from(self.after.tick.0));
        a + (b - a) * f64::from(self.alpha)
    }

    /// Entity `id` in both snapshots around the view (the same one twice
    /// when it exists in one only), to interpolate with `alpha`.
    pub fn entity(&self, id: EntityId) -> Option<(&E, &E)> {
        match (self.before.get(id), self.after.get(id)) {
            (Some(a), Some(b)) => Some((a, b)),
            (Some(a), None) => Some((a, a)),
            (None, Some(b)) => Some((b, b)),
            (None, None) => None,
        }
    }
}

/// What a prediction step may look at besides the entity it moves.
#[derive(Debug)]
pub struct PredictWorld<'a, E> {
    pub tick_rate: u16,
    /// The newest snapshot the client decoded.
    pub snapshot: &'a crate::snapshot::Snapshot<E>,
    /// The predicted entity's id.
    pub own: EntityId,
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

    /// Applies one input whose player stated what it saw (a timed input
    /// with a view, docs/PROTOCOL.md "Input timing"): `seen` is the world at
    /// that moment, rebuilt from the snapshots the match kept (lag
    /// compensation: resolve a shot against where the targets were on the
    /// shooter's screen). By default it is [`apply_input`](Self::apply_input).
    fn apply_input_seen(
        &mut self,
        player: PlayerId,
        seq: u32,
        input: &Self::Input,
        seen: &Rewind<'_, Self::Entity>,
    ) {
        let _ = seen;
        self.apply_input(player, seq, input);
    }

    /// Advances the simulation by one tick, which becomes `tick`.
    fn step(&mut self, tick: Tick);

    /// Appends every replicated entity to `out` (any order; the caller sorts).
    fn freeze(&self, out: &mut Vec<Self::Entity>);

    /// Interest management (docs/ARCHITECTURE.md "Interest"): what `viewer`
    /// may see this tick, called for every player and spectator after
    /// `step` and `freeze`. Fill `view` and return `true`; the server adds
    /// the player's own entity. Return `false` (the default) and the viewer
    /// sees every entity, as a game without interest management does.
    fn interest(&self, viewer: PlayerId, view: &mut View) -> bool {
        let _ = (viewer, view);
        false
    }

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

    /// Opt-in to moving live matches between nodes (a cluster drain): the
    /// whole simulation state as bytes, between two ticks; `restore` must
    /// rebuild a game that steps on exactly as this one would. `None` (the
    /// default): this game's matches do not move, they finish where they are.
    fn save(&self) -> Option<Vec<u8>> {
        None
    }

    /// Rebuilds a game from `save`'s bytes on another node; `None` when the
    /// bytes are not this game's (another version's, say): the match then
    /// stays where it was.
    fn restore(settings: &MatchSettings, bytes: &[u8]) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = (settings, bytes);
        None
    }
}
