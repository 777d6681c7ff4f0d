//! Every player's view of one tick, resolved against the tick's snapshot:
//! built once per match per tick on the tick thread (the game's
//! [`Game::interest`](crate::game::Game::interest)), read by each player's
//! writer, which sends that player only its view (see `viewer`).

use crate::game::interest::ALWAYS;
use crate::game::{Game, View};
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
    /// Scratch for one view: a bit per snapshot entity, and its weight.
    marks: Vec<u64>,
    weights: Vec<f32>,
}

impl Views {
    /// Asks `game` for the view of each viewer (a player with its entity,
    /// always in its own view, or a spectator without one); `None` when the
    /// game gives nobody a view. `scratch` is reused between viewers.
    pub fn build<G: Game>(
        game: &G,
        snapshot: &Snapshot<G::Entity>,
        viewers: impl IntoIterator<Item = (PlayerId, Option<EntityId>)>,
        scratch: &mut View,
    ) -> Option<Views> {
        let mut views = Views::default();
        let mut index = IndexOf::default();
        for (player, own) in viewers {
            scratch.clear();
            if game.interest(player, scratch) {
                if let Some(own) = own {
                    scratch.see(own, ALWAYS);
                }
                if views.players.is_empty() {
                    index = IndexOf::new(snapshot);
                }
                views.push_indexed(snapshot, &index, player, scratch);
            }
        }
        views.finish();
        (!views.players.is_empty()).then_some(views)
    }

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

    /// How many players have a view.
    pub fn len(&self) -> usize {
        self.players.len()
    }

    /// Adds `player`'s view: sorts it by id, keeps each id once (with its
    /// largest weight), drops ids the snapshot does not hold. `finish`
    /// once every player is in.
    #[cfg(test)]
    pub(crate) fn push<E: NetEntity>(
        &mut self,
        snapshot: &Snapshot<E>,
        player: PlayerId,
        view: &mut View,
    ) {
        self.push_indexed(snapshot, &IndexOf::new(snapshot), player, view);
    }

    fn push_indexed<E: NetEntity>(
        &mut self,
        snapshot: &Snapshot<E>,
        index: &IndexOf,
        player: PlayerId,
        view: &mut View,
    ) {
        let from = self.seen.len();
        // A bit per snapshot entity, and the largest weight of each marked
        // one: reading the marked bits in order gives the view sorted by
        // index (so by id), each entity once, with no sort (sorting each
        // view was most of building them). Only the words touched are read
        // and cleared again.
        let words = snapshot.entities.len().div_ceil(64);
        let marks = &mut self.marks;
        if marks.len() < words {
            marks.resize(words, 0);
            self.weights.resize(words * 64, 0.0);
        }
        let weights = &mut self.weights;
        let (mut lo, mut hi) = (usize::MAX, 0);
        for &(id, weight) in &view.entries {
            let Some(i) = index.get(snapshot, id) else {
                continue;
            };
            let (word, bit) = (i as usize / 64, 1u64 << (i % 64));
            if marks[word] & bit == 0 {
                marks[word] |= bit;
                weights[i as usize] = weight;
                lo = lo.min(word);
                hi = hi.max(word);
            } else if weight > weights[i as usize] {
                weights[i as usize] = weight;
            }
        }
        if lo <= hi {
            for (w, word) in marks[lo..=hi].iter_mut().enumerate() {
                let mut bits = std::mem::take(word);
                while bits != 0 {
                    let i = ((lo + w) * 64) as u32 + bits.trailing_zeros();
                    bits &= bits - 1;
                    self.seen.push(Seen {
                        index: i,
                        weight: weights[i as usize],
                    });
                }
            }
        }
        let kept = self.seen.len();
        self.players.push((player, from as u32, kept as u32));
    }

    /// Orders the players for lookup.
    pub(crate) fn finish(&mut self) {
        self.marks = Vec::new();
        self.weights = Vec::new();
        self.players.sort_unstable_by_key(|p| p.0);
    }

    /// Entries over all players (what building the views cost).
    pub fn total_seen(&self) -> usize {
        self.seen.len()
    }
}

/// Where each entity id sits in a snapshot: a table by id when ids are
/// dense (the usual case: a game numbers its entities), else a binary
/// search. Built once per tick, for every viewer.
#[derive(Debug, Default)]
struct IndexOf {
    table: Vec<u32>,
}

/// Ids beyond this many per entity (and a constant) are too sparse for a table.
const DENSE: usize = 4;

impl IndexOf {
    fn new<E: NetEntity>(snapshot: &Snapshot<E>) -> Self {
        let n = snapshot.entities.len();
        let max = snapshot.entities.last().map_or(0, |e| e.id().0 as usize);
        if max >= DENSE * n + 1024 {
            return IndexOf::default();
        }
        let mut table = vec![u32::MAX; max + 1];
        for (i, e) in snapshot.entities.iter().enumerate() {
            table[e.id().0 as usize] = i as u32;
        }
        IndexOf { table }
    }

    fn get<E: NetEntity>(&self, snapshot: &Snapshot<E>, id: EntityId) -> Option<u32> {
        if self.table.is_empty() {
            return snapshot
                .entities
                .binary_search_by_key(&id, |e| e.id())
                .ok()
                .map(|i| i as u32);
        }
        self.table
            .get(id.0 as usize)
            .copied()
            .filter(|&i| i != u32::MAX)
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

        // Sparse ids take the binary search rather than a table.
        let sparse = Snapshot::new(Tick(3), [5, 70_000, 3_000_000].map(entity).to_vec());
        let mut views = Views::default();
        let mut view = View::new();
        view.see_all([EntityId(3_000_000), EntityId(6), EntityId(5)], 1.0);
        views.push(&sparse, PlayerId(1), &mut view);
        views.finish();
        let indices: Vec<u32> = views
            .of(PlayerId(1))
            .unwrap()
            .iter()
            .map(|s| s.index)
            .collect();
        assert_eq!(indices, vec![0, 2]);
    }
}
