//! arena's state as bytes (`Game::save`/`restore`), to move a live match
//! to another node: every field of the simulation, the random generators'
//! states included, so the restored match steps on exactly as it would have.

use super::{Arena, ArenaEntity, Npc, Player, Walker, KIND_NPC, KIND_PLAYER};
use crate::game::saved::{SaveReader, SaveWriter};
use crate::game::MatchSettings;
use crate::protocol::{EntityId, PlayerId};

/// The format's tag: arena, version 1.
const TAG: [u8; 4] = *b"AR01";

/// More entities than a restore accepts: far beyond any real match.
const MAX_ENTITIES: usize = 1 << 16;

fn write_entity(w: &mut SaveWriter, e: &ArenaEntity) {
    w.u32(e.id.0);
    w.bool(e.kind == KIND_NPC);
    w.ivec2(e.pos);
    w.ivec2(e.vel);
    w.u32(u32::from(e.angle));
    w.u32(u32::from(e.hp));
    w.u32(e.last_input_seq);
}

fn read_entity(r: &mut SaveReader<'_>) -> Option<ArenaEntity> {
    Some(ArenaEntity {
        id: EntityId(r.u32()?),
        kind: if r.bool()? { KIND_NPC } else { KIND_PLAYER },
        pos: r.ivec2()?,
        vel: r.ivec2()?,
        angle: u16::try_from(r.u32()?).ok()?,
        hp: u16::try_from(r.u32()?).ok()?,
        last_input_seq: r.u32()?,
    })
}

/// An NPC's walk (shared with arena-v2): its generator's state included.
pub(super) fn write_walker(w: &mut SaveWriter, walker: &Walker) {
    w.bool(walker.walks);
    w.u64(walker.rng.get_seed());
    w.u32(walker.turn_phase);
}

pub(super) fn read_walker(r: &mut SaveReader<'_>) -> Option<Walker> {
    Some(Walker {
        walks: r.bool()?,
        rng: fastrand::Rng::with_seed(r.u64()?),
        turn_phase: r.u32()?,
    })
}

pub(super) fn save(a: &Arena) -> Vec<u8> {
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
        w.bool(p.ready);
        w.bool(p.firing);
    }
    w.finish()
}

pub(super) fn restore(settings: &MatchSettings, bytes: &[u8]) -> Option<Arena> {
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
    let count = r.len(MAX_ENTITIES)?;
    let mut players = Vec::with_capacity(count.max(usize::from(settings.capacity)));
    for _ in 0..count {
        players.push(Player {
            id: PlayerId(r.u64()?),
            entity: read_entity(&mut r)?,
            wish: r.ivec2()?,
            ready: r.bool()?,
            firing: r.bool()?,
        });
    }
    r.end()?;
    Some(Arena {
        npcs,
        players,
        spawn_rng,
        next_entity,
        npc_step,
        player_step,
        turn_period,
    })
}

#[cfg(test)]
mod tests {
    use crate::game::arena::{Arena, ArenaInput};
    use crate::game::{Game, MatchSettings};
    use crate::protocol::{PlayerId, Tick};

    #[test]
    fn a_restored_arena_steps_on_exactly_as_the_saved_one() {
        let settings = MatchSettings {
            seed: 42,
            tick_rate: 30,
            capacity: 16,
        };
        let mut a = Arena::new(&settings);
        let p = PlayerId(7);
        a.join(p);
        for t in 1..=40 {
            let input = ArenaInput {
                move_x: 90,
                move_y: -40,
                aim: 1.0,
                buttons: 0,
            };
            a.apply_input(p, t, &input);
            a.step(Tick(t));
        }
        let mut b = Arena::restore(&settings, &a.save().unwrap()).expect("restores");
        for t in 41..=120 {
            a.step(Tick(t));
            b.step(Tick(t));
            let (mut x, mut y) = (Vec::new(), Vec::new());
            a.freeze(&mut x);
            b.freeze(&mut y);
            assert_eq!(x, y, "tick {t}");
        }
        assert!(Arena::restore(&settings, b"AR01").is_none(), "truncated");
        assert!(
            Arena::restore(&settings, b"XXXX1234").is_none(),
            "another format"
        );
    }
}
