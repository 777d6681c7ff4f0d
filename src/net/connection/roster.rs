//! Every live connection of this node, by player and match: what an
//! operator's broadcast, a kick, or a match moving to another node reaches.
//! A connection is on the roster from its `Welcome` to its end; the roster
//! holds only weak references, so it never keeps a connection alive.

use super::{Control, Shared};
use crate::protocol::{MatchId, PlayerId};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

struct Member {
    player: PlayerId,
    match_id: MatchId,
    shared: Weak<Shared>,
}

/// The live connections of one node.
#[derive(Default)]
pub(crate) struct Roster {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Member>>,
}

/// A connection's place on the roster; dropping it takes the connection off.
pub(crate) struct OnRoster {
    roster: Arc<Roster>,
    id: u64,
}

impl Drop for OnRoster {
    fn drop(&mut self) {
        self.roster.members().remove(&self.id);
    }
}

impl Roster {
    fn members(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Member>> {
        // Each change is one insert or remove: a poisoned map is whole.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn enter(
        self: &Arc<Self>,
        player: PlayerId,
        match_id: MatchId,
        shared: &Arc<Shared>,
    ) -> OnRoster {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.members().insert(
            id,
            Member {
                player,
                match_id,
                shared: Arc::downgrade(shared),
            },
        );
        OnRoster {
            roster: self.clone(),
            id,
        }
    }

    /// The connections that match `which`, still alive.
    fn select(&self, which: impl Fn(&Member) -> bool) -> Vec<Arc<Shared>> {
        self.members()
            .values()
            .filter(|m| which(m))
            .filter_map(|m| m.shared.upgrade())
            .collect()
    }

    /// Queues an encoded frame (a notice) for every connection; returns how many.
    pub(crate) fn send_all(&self, frame: Bytes) -> usize {
        let all = self.select(|_| true);
        for shared in &all {
            shared.send_control(Control::Frame(frame.clone()));
        }
        all.len()
    }

    /// Closes every connection of `player` with `code` and `reason`; returns how many.
    pub(crate) fn close_player(&self, player: PlayerId, code: u16, reason: &str) -> usize {
        let of = self.select(|m| m.player == player);
        for shared in &of {
            shared.send_control(Control::Close(CloseCode::from(code), reason.to_string()));
        }
        of.len()
    }

    /// Closes every connection in match `match_id`; returns how many.
    pub(crate) fn close_match(&self, match_id: MatchId, code: u16, reason: &str) -> usize {
        let of = self.select(|m| m.match_id == match_id);
        for shared in &of {
            shared.send_control(Control::Close(CloseCode::from(code), reason.to_string()));
        }
        of.len()
    }
}
