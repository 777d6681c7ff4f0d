//! space3d's state as bytes (`Game::save`/`restore`), to move a live match
//! to another node: ships, shots, the scoreboard and the random generator,
//! floats as their bits, so the restored match steps on exactly as it would
//! have. The rates follow from the tick rate and are computed again.

use super::{Pilot, Rates, Role, Ship, ShipState, Shot, ShotState, Space3d};
use crate::game::saved::{SaveReader, SaveWriter};
use crate::game::MatchSettings;
use crate::protocol::PlayerId;

/// The format's tag: space3d, version 1.
const TAG: [u8; 4] = *b"S3D1";

/// More ships or shots than a restore accepts: far beyond any real match.
const MAX_ITEMS: usize = 1 << 16;

fn write_ship(w: &mut SaveWriter, s: &Ship) {
    w.id(s.id);
    w.u32(match s.pilot {
        Pilot::Player => 0,
        Pilot::Drifter => 1,
        Pilot::Turner => 2,
    });
    w.vec3(s.pos);
    w.vec3(s.vel);
    w.quat(s.orientation);
    w.u32(u32::from(s.hp));
    w.u32(s.kills);
    w.u32(s.last_input_seq);
}

fn read_ship(r: &mut SaveReader<'_>) -> Option<Ship> {
    Some(Ship {
        id: r.id()?,
        pilot: match r.u32()? {
            0 => Pilot::Player,
            1 => Pilot::Drifter,
            2 => Pilot::Turner,
            _ => return None,
        },
        pos: r.vec3()?,
        vel: r.vec3()?,
        orientation: r.quat()?,
        hp: u8::try_from(r.u32()?).ok()?,
        kills: r.u32()?,
        last_input_seq: r.u32()?,
    })
}

pub(super) fn save(g: &Space3d) -> Vec<u8> {
    let mut w = SaveWriter::new(TAG);
    w.u64(g.rng.get_seed());
    w.u32(g.next_entity);
    w.bool(g.ids_wrapped);
    w.wire(&g.scoreboard);
    w.len(g.ships.len());
    for s in &g.ships {
        write_ship(&mut w, &s.ship);
        match s.role {
            Role::Drifter => w.u32(0),
            Role::Turner { spin } => {
                w.u32(1);
                w.quat(spin);
            }
            Role::Player { id, input } => {
                w.u32(2);
                w.u64(id.0);
                w.wire(&input);
            }
        }
        w.vec3(s.velocity);
        w.quat(s.attitude);
        w.u32(s.respawn_in);
        w.u32(s.cooldown);
    }
    w.len(g.shots.len());
    for s in &g.shots {
        w.id(s.shot.id);
        w.vec3(s.shot.pos);
        w.vec3(s.shot.vel);
        w.u32(s.shot.owner);
        w.u32(s.ticks_left);
    }
    w.finish()
}

pub(super) fn restore(settings: &MatchSettings, bytes: &[u8]) -> Option<Space3d> {
    let mut r = SaveReader::new(bytes, TAG)?;
    let rng = fastrand::Rng::with_seed(r.u64()?);
    let next_entity = r.u32()?;
    let ids_wrapped = r.bool()?;
    let scoreboard = r.wire()?;
    let ships = (0..r.len(MAX_ITEMS)?)
        .map(|_| {
            let ship = read_ship(&mut r)?;
            let role = match r.u32()? {
                0 => Role::Drifter,
                1 => Role::Turner { spin: r.quat()? },
                2 => Role::Player {
                    id: PlayerId(r.u64()?),
                    input: r.wire()?,
                },
                _ => return None,
            };
            Some(ShipState {
                ship,
                role,
                velocity: r.vec3()?,
                attitude: r.quat()?,
                respawn_in: r.u32()?,
                cooldown: r.u32()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let shots = (0..r.len(MAX_ITEMS)?)
        .map(|_| {
            Some(ShotState {
                shot: Shot {
                    id: r.id()?,
                    pos: r.vec3()?,
                    vel: r.vec3()?,
                    owner: r.u32()?,
                },
                ticks_left: r.u32()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    r.end()?;
    Some(Space3d {
        ships,
        shots,
        scoreboard,
        rng,
        next_entity,
        ids_wrapped,
        rates: Rates::new(settings.tick_rate),
        kill_credits: Vec::new(),
        news: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::game::space3d::{Space3d, SpaceInput};
    use crate::game::{Game, MatchSettings};
    use crate::protocol::{PlayerId, Tick};

    #[test]
    fn a_restored_space3d_steps_on_exactly_as_the_saved_one() {
        let settings = MatchSettings {
            seed: 9,
            tick_rate: 30,
            capacity: 8,
        };
        let mut a = Space3d::new(&settings);
        let p = PlayerId(3);
        a.join(p);
        for t in 1..=60 {
            let input = SpaceInput {
                thrust: 100,
                yaw: 3,
                pitch: -2,
                roll: 1,
                fire: t % 7 == 0,
            };
            a.apply_input(p, t, &input);
            a.step(Tick(t));
        }
        let mut b = Space3d::restore(&settings, &a.save().unwrap()).expect("restores");
        for t in 61..=150 {
            a.step(Tick(t));
            b.step(Tick(t));
            let (mut x, mut y) = (Vec::new(), Vec::new());
            a.freeze(&mut x);
            b.freeze(&mut y);
            assert_eq!(x, y, "tick {t}");
        }
        assert!(Space3d::restore(&settings, b"S3D1").is_none());
    }
}
