//! tickwire: an authoritative game-state sync server.
//!
//! Clients connect to a match over WebSocket and send inputs; a fixed-tick
//! simulation ([`game::Game`]) applies them on a tick thread ([`tick`]) and every
//! player receives, every tick, a snapshot delta-compressed against the last one
//! it acknowledged ([`snapshot`]). Start with docs/ARCHITECTURE.md.

pub mod cli;
pub mod client;
pub mod config;
pub mod game;
pub mod lobby;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod snapshot;
pub mod tick;

pub use config::Config;
pub use game::arena::Arena;
pub use game::Game;
