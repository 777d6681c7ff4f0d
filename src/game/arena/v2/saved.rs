//! arena-v2's state as bytes (`Game::save`/`restore`), to move a live match
//! to another node: arena-v1's layout over the larger world; the spatial
//! grid is derived state, rebuilt on restore.

use super::{ArenaV2, ArenaV2Entity, Npc, Player, GRID_CELL, WORLD_SIZE};
use crate::game::arena::saved::{read_walker, write_walker};
use crate::game::arena::{KIND_NPC, KIND_PLAYER};
use crate::game::grid::SpatialGrid;
use crate::game::saved::{SaveReader, SaveWriter};
use crate::protocol::PlayerId;
use glam::Vec2;

/// The format's tag: arena-v2, version 1.
const TAG: [u8; 4] = *b"AV21";

/// More entities than a restore accepts: far beyond any real match.
const MAX_ENTITIES: usize = 1 << 20;

fn write_entity(w: &mut SaveWriter, e: &ArenaV2Entity) {
    w.id(e.id);
    w.bool(e.kind == KIND_NPC);
    w.ivec2(e.pos);
    w.ivec2(e.vel);
    w.u32(u32::from(e.angle));
    w.u32(u32::from(e.hp));
    w.u32(e.last_input_seq);
}

fn read_entity(r: &mut SaveReader<'_>) -> Option<ArenaV2Entity> {
    Some(ArenaV2Entity {
        id: r.id()?,
        kind: if r.bool()? { KIND_NPC } else { KIND_PLAYER },
        pos: r.ivec2()?,
        vel: r.ivec2()?,
        angle: u16::try_from(r.u32()?).ok()?,
        hp: u16::try_from(r.u32()?).ok()?,
        last_input_seq: r.u32()?,
    })
}

pub(super) fn save(a: &ArenaV2) -> Vec<u8> {
    let mut w = SaveWriter::new(TAG);
    w.u64(a.spawn_rng.get_seed());
    w.u32(a.next_entity);
    w.i32(a.npc_step);
    w.f32(a.player_step);
    w.u32(a.turn_period);
    w.len(a.npcs.len());
    for n in &a.npcs {
        write_entity(&mut w, &n.entity);
        write_walker(&mut w, &n.walker);
    }
    w.len(a.players.len());
    for p in &a.players {
        w.u64(p.id.0);
        write_entity(&mut w, &p.entity);
        w.ivec2(p.wish);
    }
    w.finish()
}

pub(super) fn restore(bytes: &[u8]) -> Option<ArenaV2> {
    let mut r = SaveReader::new(bytes, TAG)?;
    let spawn_rng = fastrand::Rng::with_seed(r.u64()?);
    let next_entity = r.u32()?;
    let npc_step = r.i32()?;
    let player_step = r.f32()?;
    let turn_period = r.u32()?;
    let npcs = (0..r.len(MAX_ENTITIES)?)
        .map(|_| {
            Some(Npc {
                entity: read_entity(&mut r)?,
                walker: read_walker(&mut r)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let players = (0..r.len(MAX_ENTITIES)?)
        .map(|_| {
            Some(Player {
                id: PlayerId(r.u64()?),
                entity: read_entity(&mut r)?,
                wish: r.ivec2()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    r.end()?;
    let mut game = ArenaV2 {
        npcs,
        players,
        spawn_rng,
        next_entity,
        npc_step,
        player_step,
        turn_period,
        grid: SpatialGrid::new(Vec2::ZERO, Vec2::splat(WORLD_SIZE), GRID_CELL),
    };
    game.rebuild_grid();
    Some(game)
}

#[cfg(test)]
mod tests {
    use crate::game::arena::v2::ArenaV2;
    use crate::game::arena::ArenaInput;
    use crate::game::{Game, MatchSettings, View};
    use crate::protocol::{PlayerId, Tick};

    #[test]
    fn a_restored_arena_v2_steps_on_exactly_as_the_saved_one() {
        let settings = MatchSettings {
            seed: 5,
            tick_rate: 30,
            capacity: 64,
        };
        let mut a = ArenaV2::new(&settings);
        let p = PlayerId(11);
        a.join(p);
        for t in 1..=30 {
            let input = ArenaInput {
                move_x: -70,
                move_y: 100,
                aim: 0.5,
                buttons: 0,
            };
            a.apply_input(p, t, &input);
            a.step(Tick(t));
        }
        let mut b = ArenaV2::restore(&settings, &a.save().unwrap()).expect("restores");
        for t in 31..=60 {
            a.step(Tick(t));
            b.step(Tick(t));
            let (mut x, mut y) = (Vec::new(), Vec::new());
            a.freeze(&mut x);
            b.freeze(&mut y);
            assert_eq!(x, y, "tick {t}");
        }
        // The interest (from the rebuilt grid) is the same too.
        let (mut va, mut vb) = (View::default(), View::default());
        assert_eq!(a.interest(p, &mut va), b.interest(p, &mut vb));
        assert!(!va.is_empty());
        assert_eq!(va.entries, vb.entries);
        assert!(ArenaV2::restore(&settings, b"AV21").is_none());
    }
}
