//! tickwire: an authoritative game-state sync server.
//!
//! Clients connect to a match over WebSocket and send inputs; a fixed-tick
//! simulation ([`game::Game`]) applies them on a tick thread ([`tick`]) and every
//! player receives, every tick, a snapshot delta-compressed against the last one
//! it acknowledged ([`snapshot`]). Start with docs/ARCHITECTURE.md.
//!
//! The default feature `server` is everything; a game client depends on
//! tickwire with `default-features = false` and gets the protocol, the
//! snapshot codec, the games and [`client`], without the server's HTTP,
//! auth and metrics stack.

// The derive's generated code names `::tickwire`, in this crate too.
extern crate self as tickwire;

pub mod client;
pub mod game;
/// The vector math of the built-in games and `game::grid`, re-exported so a
/// game uses the same version.
pub use glam;
pub mod protocol;
pub mod replicate;
pub mod snapshot;

#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod cluster;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod lobby;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod net;
#[cfg(feature = "server")]
pub mod tick;

#[cfg(feature = "server")]
pub use config::Config;
pub use game::arena::Arena;
pub use game::Game;
pub use replicate::{MessageSet, NetEntity, NoMessages, Replicate, Replicated, Role};
