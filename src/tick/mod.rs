//! Tick threads: the fixed-tick scheduler, the per-match loop, and the
//! lock-free queues between them and the network tasks.
//!
//! This is the only module that knows about tick threads. A match's world is
//! owned by exactly one tick thread and touched by nothing else: inputs and
//! join/leave commands reach it through crossbeam queues, and what leaves it is
//! an immutable `Arc<Published>` per tick, handed to every player's
//! [`OutboundSlot`]. The tick thread never encodes per client and never blocks
//! on a socket.

mod match_loop;
mod pool;
mod published;
mod queues;
mod viewer;
mod views;

pub use match_loop::{
    EndRequest, KickReport, MatchLoop, MatchParts, MatchStats, TickObserver, TickReport,
};
pub use pool::{TickPool, TickTask};
pub use published::{Published, FRAME_CACHE};
pub use queues::{
    Exported, Inbound, InputTime, Joined, MatchCommand, MovedPlayer, Notice, OutboundSlot,
    PlayerInput, SlotClosed, TimingReport,
};
pub use viewer::{Budget, ClientView, FrameOut, Viewer, ViewerCounts, NEAR};
pub use views::{Seen, Views};
