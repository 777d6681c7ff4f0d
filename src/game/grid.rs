//! A uniform grid over a 2D world, for games that want "every entity within
//! radius R of this point" (a player's view) without scanning every entity
//! for every viewer: a query costs the cells its circle overlaps, not the
//! world.
//!
//! Built once per tick from the entities' positions (two linear passes into
//! one flat array: no allocation per cell, none at all once the buffers have
//! grown to the world's size), then queried by every viewer. Positions
//! outside the bounds are kept in the edge cells, so a query is exact for
//! every point: the grid only decides which candidates to test.

use crate::protocol::EntityId;
use glam::Vec2;

/// Entities bucketed by cell; see the module doc.
#[derive(Debug, Clone)]
pub struct SpatialGrid {
    min: Vec2,
    cell: f32,
    cols: usize,
    rows: usize,
    /// `starts[c]..starts[c + 1]` indexes cell `c`'s entries in `entries`.
    starts: Vec<u32>,
    entries: Vec<(EntityId, Vec2)>,
    /// Each entity's cell, kept between the two passes of `rebuild`.
    cells_of: Vec<u32>,
    /// Each cell's write position during `rebuild`.
    cursors: Vec<u32>,
}

impl SpatialGrid {
    /// A grid over `min..max` in cells of `cell_size` (at least the typical
    /// query radius / 2 is a good size: a query then touches a few cells).
    pub fn new(min: Vec2, max: Vec2, cell_size: f32) -> Self {
        let cell = if cell_size.is_finite() && cell_size > 0.0 {
            cell_size
        } else {
            1.0
        };
        let span = (max - min).max(Vec2::splat(cell));
        let cols = ((span.x / cell).ceil() as usize).clamp(1, 1 << 16);
        let rows = ((span.y / cell).ceil() as usize).clamp(1, 1 << 16);
        SpatialGrid {
            min,
            cell,
            cols,
            rows,
            starts: vec![0; cols * rows + 1],
            entries: Vec::new(),
            cells_of: Vec::new(),
            cursors: Vec::new(),
        }
    }

    fn cell_coords(&self, pos: Vec2) -> (usize, usize) {
        let rel = (pos - self.min) / self.cell;
        // NaN and out-of-bounds positions land in the edge cells.
        let clamp = |v: f32, n: usize| {
            if v.is_nan() || v < 0.0 {
                0
            } else {
                (v as usize).min(n - 1)
            }
        };
        (clamp(rel.x, self.cols), clamp(rel.y, self.rows))
    }

    /// Replaces the grid's contents with `entities` (a counting sort by cell).
    pub fn rebuild(&mut self, entities: impl IntoIterator<Item = (EntityId, Vec2)> + Clone) {
        self.starts.iter_mut().for_each(|s| *s = 0);
        self.cells_of.clear();
        for (_, pos) in entities.clone() {
            let (x, y) = self.cell_coords(pos);
            let cell = y * self.cols + x;
            self.cells_of.push(cell as u32);
            self.starts[cell + 1] += 1;
        }
        for c in 1..self.starts.len() {
            self.starts[c] += self.starts[c - 1];
        }
        self.entries.clear();
        self.entries
            .resize(self.cells_of.len(), (EntityId(0), Vec2::ZERO));
        self.cursors.clear();
        self.cursors
            .extend_from_slice(&self.starts[..self.starts.len() - 1]);
        for ((id, pos), &cell) in entities.into_iter().zip(self.cells_of.iter()) {
            let at = &mut self.cursors[cell as usize];
            self.entries[*at as usize] = (id, pos);
            *at += 1;
        }
    }

    /// Appends to `out` every entity within `radius` of `center` (distance
    /// ≤ radius), in no particular order.
    pub fn query_radius(&self, center: Vec2, radius: f32, out: &mut Vec<EntityId>) {
        self.for_each_within(center, radius, |id, _| out.push(id));
    }

    /// Calls `f` with every entity within `radius` of `center` (distance
    /// ≤ radius) and its position, in no particular order: a game weighs
    /// what it sees by distance without a second lookup.
    pub fn for_each_within(&self, center: Vec2, radius: f32, mut f: impl FnMut(EntityId, Vec2)) {
        // A negative or NaN radius sees nothing.
        if radius.is_nan() || radius < 0.0 || !center.is_finite() {
            return;
        }
        let (x0, y0) = self.cell_coords(center - Vec2::splat(radius));
        let (x1, y1) = self.cell_coords(center + Vec2::splat(radius));
        let r2 = radius * radius;
        for y in y0..=y1 {
            let row = y * self.cols;
            let (from, to) = (
                self.starts[row + x0] as usize,
                self.starts[row + x1 + 1] as usize,
            );
            // Cells x0..=x1 of one row are contiguous in `entries`.
            for &(id, pos) in &self.entries[from..to] {
                if pos.distance_squared(center) <= r2 {
                    f(id, pos);
                }
            }
        }
    }

    /// Entities in the grid.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_force(entities: &[(EntityId, Vec2)], center: Vec2, radius: f32) -> Vec<EntityId> {
        let mut ids: Vec<EntityId> = entities
            .iter()
            .filter(|(_, p)| p.distance_squared(center) <= radius * radius)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    proptest! {
        #[test]
        fn a_query_finds_exactly_what_a_scan_of_every_entity_finds(
            points in proptest::collection::vec((-100.0f32..1100.0, -100.0f32..1100.0), 0..300),
            queries in proptest::collection::vec((-50.0f32..1050.0, -50.0f32..1050.0, 0.0f32..400.0), 1..20),
            cell in 10.0f32..300.0,
        ) {
            // Some points lie outside the grid's bounds on purpose.
            let entities: Vec<(EntityId, Vec2)> = points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| (EntityId(i as u32 + 1), Vec2::new(x, y)))
                .collect();
            let mut grid = SpatialGrid::new(Vec2::ZERO, Vec2::splat(1000.0), cell);
            grid.rebuild(entities.iter().copied());
            prop_assert_eq!(grid.len(), entities.len());
            let mut found = Vec::new();
            for (x, y, r) in queries {
                found.clear();
                let center = Vec2::new(x, y);
                grid.query_radius(center, r, &mut found);
                found.sort_unstable();
                prop_assert_eq!(&found, &brute_force(&entities, center, r));
            }
        }
    }

    #[test]
    fn a_rebuild_replaces_the_previous_contents_and_odd_inputs_are_harmless() {
        let mut grid = SpatialGrid::new(Vec2::ZERO, Vec2::splat(100.0), 10.0);
        grid.rebuild([(EntityId(1), Vec2::new(5.0, 5.0))]);
        grid.rebuild([
            (EntityId(2), Vec2::new(50.0, 50.0)),
            (EntityId(3), Vec2::NAN),
        ]);
        let mut out = Vec::new();
        grid.query_radius(Vec2::new(5.0, 5.0), 1.0, &mut out);
        assert!(out.is_empty(), "entity 1 is gone");
        grid.query_radius(Vec2::new(50.0, 50.0), 0.0, &mut out);
        assert_eq!(out, vec![EntityId(2)]);
        out.clear();
        grid.query_radius(Vec2::new(50.0, 50.0), -1.0, &mut out);
        grid.query_radius(Vec2::NAN, 10.0, &mut out);
        assert!(out.is_empty());
        // A degenerate grid still answers.
        let mut tiny = SpatialGrid::new(Vec2::ZERO, Vec2::ZERO, 0.0);
        tiny.rebuild([(EntityId(9), Vec2::new(3.0, 4.0))]);
        tiny.query_radius(Vec2::ZERO, 5.0, &mut out);
        assert_eq!(out, vec![EntityId(9)]);
    }
}
