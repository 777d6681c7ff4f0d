//! Every player's view of one tick, resolved against the tick's snapshot:
//! built once per match per tick on the tick thread (the game's
//! [`Game::interest`](crate::game::Game::interest)), read by each player's
//! writer, which sends that player only its view (see `viewer`).

use crate::game::View;
use crate::protocol::{EntityId, PlayerId};
use crate::snapshot::{NetEntity, Snapshot};

/// One visible entity: its place in the snapshot's (id-sorted) entities,
/// and its weight for that viewer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub index: u32,
    pub weight: f32,
}

/// The views of one tick: per player, its visible entities in id order.
/// Players the game gave no view see everything, and are not listed.
#[derive(Debug, Default)]
pub struct Views {
    /// Sorted by player; each names its range of `seen`.
    players: Vec<(PlayerId, u32, u32)>,
    seen: Vec<Seen>,
}

impl Views {
    /// The view of `player`, or `None` when it sees everything.
    pub fn of(&self, player: PlayerId) -> Option<&[Seen]> {
        let i = self.players.binary_search_by_key(&player, |p| p.0).ok()?;
        let (_, from, to) = self.players[i];
        Some(&self.seen[from as usize..to as usize])
    }

    /// Whether `player` sees the entity `id` (a player without a view sees
    /// everything).
    pub fn sees<E: NetEntity>(
        &self,
        snapshot: &Snapshot<E>,
        player: PlayerId,
        id: EntityId,
    ) -> bool {
        match self.of(player) {
            None => true,
            Some(seen) => seen
                .binary_search_by_key(&id, |s| snapshot.entities[s.index as usize].id())
                .is_ok(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// Adds `player`'s view: sorts it by id, keeps each id once (with its
    /// largest weight), drops ids the snapshot does not hold. `finish`
    /// once every player is in.
    pub(crate) fn push<E: NetEntity>(
        &mut self,
        snapshot: &Snapshot<E>,
        player: PlayerId,
        view: &mut View,
    ) {
        let entries = &mut view.entries;
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        entries.dedup_by_key(|e| e.0);
        let from = self.seen.len() as u32;
        let entities = &snapshot.entities;
        // Both lists ascend: each search starts where the last one ended.
        let mut lo = 0usize;
        for &(id, weight) in entries.iter() {
            match entities[lo..].binary_search_by_key(&id, |e| e.id()) {
                Ok(at) => {
                    lo += at;
                    self.seen.push(Seen {
                        index: lo as u32,
                        weight,
                    });
                    lo += 1;
                }
                Err(at) => lo += at,
            }
            if lo >= entities.len() {
                break;
            }
        }
        self.players.push((player, from, self.seen.len() as u32));
    }

    /// Orders the players for lookup.
    pub(crate) fn finish(&mut self) {
        self.players.sort_unstable_by_key(|p| p.0);
    }

    /// Entries over all players (what building the views cost).
    pub fn total_seen(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::arena::{ArenaEntity, KIND_NPC};
    use crate::protocol::Tick;
    use glam::IVec2;

    fn entity(id: u32) -> ArenaEntity {
        ArenaEntity {
            id: EntityId(id),
            kind: KIND_NPC,
            pos: IVec2::new(id as i32, 0),
            vel: IVec2::ZERO,
            angle: 0,
            hp: 100,
            last_input_seq: 0,
        }
    }

    #[test]
    fn a_view_is_resolved_to_snapshot_indices_in_id_order_once_each() {
        let snapshot = Snapshot::new(Tick(3), [2, 4, 6, 8, 10].map(entity).to_vec());
        let mut views = Views::default();
        let mut view = View::new();
        view.see(EntityId(8), 1.0);
        view.see(EntityId(2), 0.5);
        view.see(EntityId(8), 3.0);
        view.see(EntityId(7), 9.0); // not in the world
        view.see(EntityId(10), f32::NAN);
        views.push(&snapshot, PlayerId(1), &mut view);
        view.clear();
        views.push(&snapshot, PlayerId(4), &mut view);
        views.finish();
        let seen = views.of(PlayerId(1)).unwrap();
        let indices: Vec<u32> = seen.iter().map(|s| s.index).collect();
        assert_eq!(indices, vec![0, 3, 4]);
        assert_eq!(seen[1].weight, 3.0, "a repeated id keeps its larger weight");
        assert!(
            seen[2].weight > 0.0,
            "a NaN weight becomes the least weight"
        );
        assert_eq!(views.of(PlayerId(4)), Some(&[][..]));
        assert_eq!(views.of(PlayerId(2)), None, "no view: sees everything");
        assert!(views.sees(&snapshot, PlayerId(1), EntityId(8)));
        assert!(!views.sees(&snapshot, PlayerId(1), EntityId(4)));
        assert!(views.sees(&snapshot, PlayerId(2), EntityId(4)));
    }
}
