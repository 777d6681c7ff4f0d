//! Interest management, the game's side: what one viewer may see this tick,
//! and how much each entity matters to it.
//!
//! A game that implements [`Game::interest`](super::Game::interest) fills a
//! [`View`] per player after each tick; the server then sends each player
//! only its view's entities (one entering the view arrives in full, one
//! leaving it is removed on that client), and under a bandwidth budget
//! (`--bandwidth-budget`) the weights decide what is sent first. The
//! player's own entity is always in its view: the server adds it.
//! [`SpatialGrid`](super::grid::SpatialGrid) answers "everything within
//! radius R" without scanning the world for every viewer.

use crate::protocol::EntityId;

/// The weight the server gives a player's own entity: sent every tick,
/// whatever the budget.
pub const ALWAYS: f32 = f32::INFINITY;

/// The entities one viewer may see this tick, each with a weight: how much
/// it matters to this viewer (e.g. nearness). Under a bandwidth budget, an
/// entity not sent gains its weight in priority every tick until it is sent,
/// so a heavier entity is sent more often and a light one is late, never
/// starved.
#[derive(Debug, Default, Clone)]
pub struct View {
    pub(crate) entries: Vec<(EntityId, f32)>,
}

/// The smallest weight an entity can have: a zero, negative or NaN weight
/// would never be sent under a budget.
pub const MIN_WEIGHT: f32 = 1e-3;

impl View {
    pub fn new() -> Self {
        Self::default()
    }

    /// `id` is visible with `weight` (clamped to at least [`MIN_WEIGHT`];
    /// [`ALWAYS`] sends it every tick). An id seen twice keeps its larger
    /// weight; an id that is not in the world is ignored.
    pub fn see(&mut self, id: EntityId, weight: f32) {
        let weight = if weight.is_nan() {
            MIN_WEIGHT
        } else {
            weight.max(MIN_WEIGHT)
        };
        self.entries.push((id, weight));
    }

    /// Every entity of `ids`, with one weight.
    pub fn see_all(&mut self, ids: impl IntoIterator<Item = EntityId>, weight: f32) {
        for id in ids {
            self.see(id, weight);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
