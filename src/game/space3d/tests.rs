//! space3d's tests: the simulation, its determinism and its wire.

use super::*;
use crate::replicate::{NetEntity, SINGLETON_ID};
use crate::snapshot::{decode_delta, encode_delta, Snapshot};
use proptest::prelude::*;
use std::collections::HashSet;

fn settings(seed: u64, capacity: u16) -> MatchSettings {
    MatchSettings {
        seed,
        tick_rate: 30,
        capacity,
    }
}

fn frozen(game: &Space3d, tick: u32) -> Snapshot<SpaceEntity> {
    let mut out = Vec::new();
    game.freeze(&mut out);
    Snapshot::new(Tick(tick), out)
}

/// Random controls, beyond their ranges too; the trigger held with
/// odds `fire_odds` in 256.
fn random_input(rng: &mut fastrand::Rng, fire_odds: u8) -> SpaceInput {
    SpaceInput {
        thrust: rng.i8(..),
        yaw: rng.i8(..),
        pitch: rng.i8(-20..=20),
        roll: rng.i8(-20..=20),
        fire: rng.u8(..) < fire_odds,
    }
}

/// Plays `ticks` ticks with `players` players changing their input now
/// and then (see `random_input`); returns every snapshot.
fn play(seed: u64, players: u64, ticks: u32, fire_odds: u8) -> Vec<Snapshot<SpaceEntity>> {
    let mut game = Space3d::new(&settings(seed, 64));
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xF1);
    for p in 0..players {
        game.join(PlayerId(p));
    }
    let mut out = Vec::new();
    for t in 1..=ticks {
        for p in 0..players {
            if rng.u8(..) < 40 {
                game.apply_input(PlayerId(p), t, &random_input(&mut rng, fire_odds));
            }
        }
        game.step(Tick(t));
        out.push(frozen(&game, t));
    }
    out
}

fn ship(snap: &Snapshot<SpaceEntity>, id: EntityId) -> Ship {
    *snap.get(id).and_then(SpaceEntity::as_ship).expect("a ship")
}

/// Puts a ship somewhere, at rest, facing `FORWARD`.
fn place(game: &mut Space3d, id: EntityId, pos: Vec3) {
    let s = game
        .ships
        .iter_mut()
        .find(|s| s.ship.id == id)
        .expect("ship exists");
    s.ship.pos = pos;
    s.velocity = Vec3::ZERO;
    s.attitude = Quat::IDENTITY;
    s.sync();
}

#[test]
fn the_same_seed_plays_the_same_match() {
    let a = play(9, 6, 400, 128);
    let b = play(9, 6, 400, 128);
    let c = play(10, 6, 400, 128);
    assert_eq!(a, b);
    assert_ne!(a.last(), c.last());
    // Shots were fired and ships were hit: the match is not trivially equal.
    assert!(a
        .iter()
        .any(|s| s.entities.iter().any(|e| e.as_shot().is_some())));
}

#[test]
fn a_match_without_players_moves_in_three_dimensions() {
    let mut game = Space3d::new(&settings(5, 16));
    let before = frozen(&game, 0);
    game.step(Tick(1));
    let after = frozen(&game, 1);
    let ships: Vec<(Ship, Ship)> = before
        .entities
        .iter()
        .zip(&after.entities)
        .filter_map(|(b, a)| Some((*b.as_ship()?, *a.as_ship()?)))
        .collect();
    assert_eq!(ships.len(), NPC_COUNT as usize);
    for (b, a) in &ships {
        assert_ne!(a.pos, b.pos, "NPC {:?} did not move", a.id);
        let expected = match a.pilot {
            Pilot::Drifter => DRIFTER_SPEED,
            _ => TURNER_SPEED,
        };
        let speed = a.vel.length() * 30.0;
        assert!(
            (speed - expected).abs() < 0.5,
            "{:?} flies at {speed}",
            a.id
        );
        // The nose points where it flies (to the quaternion grid's precision).
        assert!(a.forward().dot(a.vel.normalize()) > 0.999, "{a:?}");
    }
    // Every axis sees motion: nothing is confined to a plane.
    for axis in 0..3 {
        assert!(ships.iter().any(|(_, a)| a.vel[axis].abs() > 0.3));
    }
    for (b, a) in &ships {
        match a.pilot {
            Pilot::Turner => assert_ne!(a.orientation, b.orientation, "a turner turns"),
            // A drifter turns only when it bounces off a wall.
            _ if a.vel == b.vel => assert_eq!(a.orientation, b.orientation),
            _ => {}
        }
    }
    let turners = ships.iter().filter(|(_, a)| a.pilot == Pilot::Turner);
    assert_eq!(turners.count(), TURNER_COUNT as usize);
}

#[test]
fn every_entity_stays_in_the_world_and_shots_stay_bounded() {
    // 120 players firing at will would keep hundreds of shots in flight
    // (six each, fewer as they leave the world): the cap holds them.
    let players = 120;
    let snaps = play(4, players, 600, 255);
    let mut most_shots = 0;
    for snap in &snaps {
        let shots = snap
            .entities
            .iter()
            .filter(|e| e.as_shot().is_some())
            .count();
        most_shots = most_shots.max(shots);
        assert!(snap.entities.len() <= 1 + NPC_COUNT as usize + players as usize + MAX_SHOTS);
        for e in &snap.entities {
            let (pos, vel) = match e {
                SpaceEntity::Ship(s) => (s.pos, s.vel),
                SpaceEntity::Shot(s) => (s.pos, s.vel),
                SpaceEntity::Score(_) => continue,
            };
            assert!(pos.abs().max_element() <= WORLD_HALF, "{e:?}");
            assert!(vel.is_finite(), "{e:?}");
        }
        for s in snap.entities.iter().filter_map(SpaceEntity::as_ship) {
            if s.pilot == Pilot::Player {
                // Rounding onto the grid may add a little.
                assert!(s.vel.length() <= MAX_SPEED / 30.0 + POS_QUANTUM, "{s:?}");
            }
        }
    }
    assert_eq!(most_shots, MAX_SHOTS, "the cap was never reached");
}

#[test]
fn inputs_out_of_range_are_clamped() {
    let wild = SpaceInput {
        thrust: i8::MIN,
        yaw: i8::MAX,
        pitch: i8::MIN,
        roll: 17,
        fire: true,
    };
    let limits = SpaceInput {
        thrust: -THRUST_MAX,
        yaw: ROTATE_MAX,
        pitch: -ROTATE_MAX,
        roll: ROTATE_MAX,
        fire: true,
    };
    assert_eq!(wild.clamped(), limits);
    let mut w = crate::snapshot::BitWriter::new();
    limits.write_full(&mut w);
    assert_eq!(w.finish().len(), 4, "27 bits, in 4 bytes");
    // Starting at rest at the centre, facing FORWARD: no wall interferes.
    let run = |input: SpaceInput| {
        let mut game = Space3d::new(&settings(2, 4));
        let id = game.join(PlayerId(1));
        place(&mut game, id, Vec3::ZERO);
        game.apply_input(PlayerId(1), 1, &input);
        for t in 1..=10 {
            game.step(Tick(t));
        }
        (frozen(&game, 10), id)
    };
    let ((clamped, id), (at_limits, _)) = (run(wild), run(limits));
    assert_eq!(clamped, at_limits);
    let turned = ship(&clamped, id);
    assert_eq!(turned.last_input_seq, 1);
    // Full rotation on every axis for 10 ticks turned the nose away.
    assert!(turned.forward().dot(FORWARD) < 0.9, "{turned:?}");
    // Thrust alone: -128 is full reverse, 10 ticks of acceleration backwards.
    let (reverse, id) = run(SpaceInput {
        thrust: i8::MIN,
        ..SpaceInput::default()
    });
    let backwards = ship(&reverse, id);
    let speed = backwards.vel.length() * 30.0;
    let expected = THRUST_ACCEL * 10.0 / 30.0;
    assert!(
        (speed - expected).abs() < 0.5,
        "speed {speed}, expected {expected}"
    );
    assert!(backwards.vel.normalize().dot(-FORWARD) > 0.999);
    // An input from a player who is not in the match changes nothing.
    let mut game = Space3d::new(&settings(2, 4));
    game.join(PlayerId(1));
    let before = frozen(&game, 0);
    game.apply_input(PlayerId(2), 1, &wild);
    game.step(Tick(1));
    let mut alone = Space3d::new(&settings(2, 4));
    alone.join(PlayerId(1));
    alone.step(Tick(1));
    assert_ne!(frozen(&game, 1), before);
    assert_eq!(frozen(&game, 1), frozen(&alone, 1));
}

#[test]
fn a_shot_hits_a_ship_and_the_kill_is_counted_on_the_scoreboard() {
    let mut game = Space3d::new(&settings(3, 4));
    let me = game.join(PlayerId(1));
    let target = EntityId(1);
    place(&mut game, me, Vec3::new(0.0, 0.0, 100.0));
    // 60 units ahead of the nose.
    place(&mut game, target, Vec3::new(0.0, 0.0, 40.0));
    let fire = SpaceInput {
        fire: true,
        ..SpaceInput::default()
    };
    let mut seq = 0;
    let mut tick = 0;
    let mut hp_seen = vec![START_HP];
    let mut events = Vec::new();
    while game.ship(target).unwrap().alive() {
        assert!(tick < 200, "the target never died");
        seq += 1;
        tick += 1;
        game.apply_input(PlayerId(1), seq, &fire);
        game.step(Tick(tick));
        let mut out = Outbox::new();
        game.events(Tick(tick), &mut out);
        events.extend(out.events);
        let hp = game.ship(target).unwrap().hp;
        if hp != *hp_seen.last().unwrap() {
            hp_seen.push(hp);
        }
    }
    assert_eq!(hp_seen, vec![100, 75, 50, 25, 0], "one shot, 25 hp");
    // Each hit is news for whoever sees the target; the kill for everyone.
    let hit = |hp| {
        let event = SpaceEvent::Hit(Hit {
            ship: target.0,
            shooter: me.0,
            hp,
        });
        (crate::game::Audience::Seeing(target), event)
    };
    let kill = SpaceEvent::Kill(Kill {
        ship: target.0,
        killer: me.0,
    });
    assert_eq!(
        events,
        vec![
            hit(75),
            hit(50),
            hit(25),
            hit(0),
            (crate::game::Audience::All, kill)
        ]
    );
    let snap = frozen(&game, tick);
    let board = *snap
        .get(SINGLETON_ID)
        .and_then(SpaceEntity::as_scoreboard)
        .unwrap();
    assert_eq!(board.kills, 1);
    assert_eq!(board.leaders().collect::<Vec<_>>(), vec![(me, 1)]);
    assert_eq!(ship(&snap, me).kills, 1);
    let wreck = ship(&snap, target);
    assert_eq!((wreck.hp, wreck.vel), (0, Vec3::ZERO));
    // The shooter's own shots never hit it, and the wreck respawns whole.
    assert_eq!(ship(&snap, me).hp, START_HP);
    let respawn = (RESPAWN_SECONDS * 30.0) as u32;
    for t in tick + 1..=tick + respawn {
        game.step(Tick(t));
    }
    let back = *game.ship(target).unwrap();
    assert_eq!(back.hp, START_HP);
    assert!(back.vel.length() > 0.0, "the NPC flies again");
}

#[test]
fn rounds_end_in_an_intermission_and_the_next_round_resets_kills() {
    let mut game = Space3d::new(&settings(3, 4));
    let me = game.join(PlayerId(1));
    game.ships
        .iter_mut()
        .find(|s| s.ship.id == me)
        .unwrap()
        .ship
        .kills = 3;
    let round = ROUND_SECONDS * 30;
    for t in 1..round {
        game.step(Tick(t));
    }
    let board = *game.scoreboard();
    assert_eq!(
        (board.phase, board.round, board.phase_ends),
        (Phase::Playing, 1, round)
    );
    assert_eq!(board.leaders().collect::<Vec<_>>(), vec![(me, 3)]);
    game.step(Tick(round));
    assert_eq!(game.scoreboard().phase, Phase::Intermission);
    // No firing between rounds.
    let fire = SpaceInput {
        fire: true,
        ..SpaceInput::default()
    };
    game.apply_input(PlayerId(1), 1, &fire);
    let ends = game.scoreboard().phase_ends;
    assert_eq!(ends, round + INTERMISSION_SECONDS * 30);
    for t in round + 1..ends {
        game.step(Tick(t));
        assert_eq!(game.shots().count(), 0);
    }
    game.step(Tick(ends));
    let board = *game.scoreboard();
    assert_eq!(
        (board.phase, board.round, board.kills),
        (Phase::Playing, 2, 0)
    );
    assert_eq!(board.leaders().count(), 0);
    assert_eq!(game.player_ship(PlayerId(1)).unwrap().kills, 0);
    assert_eq!(game.shots().count(), 1, "firing again");
}

#[test]
fn a_rejoining_player_keeps_its_ship_and_a_leaving_one_loses_it() {
    let mut game = Space3d::new(&settings(2, 4));
    let a = game.join(PlayerId(1));
    let b = game.join(PlayerId(2));
    assert_ne!(a, b);
    assert!(a.0 > NPC_COUNT && b.0 > NPC_COUNT);
    assert_eq!(game.join(PlayerId(1)), a);
    game.leave(PlayerId(1));
    let snap = frozen(&game, 1);
    assert!(snap.get(a).is_none());
    assert_eq!(ship(&snap, b).pilot, Pilot::Player);
    assert!(game.player_ship(PlayerId(1)).is_none());
}

#[test]
fn coasting_ships_and_flying_shots_cost_nothing_in_a_delta() {
    let mut game = Space3d::new(&settings(3, 4));
    let me = game.join(PlayerId(1));
    place(&mut game, me, Vec3::ZERO);
    // Thrust for 20 ticks firing once, then coast; one input per tick, as
    // a client sends them, so the input counter is predicted too.
    let mut tick = 0;
    let mut send = |game: &mut Space3d, input: SpaceInput| {
        tick += 1;
        game.apply_input(PlayerId(1), tick, &input);
        game.step(Tick(tick));
        tick
    };
    for t in 1..=20 {
        send(
            &mut game,
            SpaceInput {
                thrust: 127,
                yaw: 3,
                fire: t == 20,
                ..SpaceInput::default()
            },
        );
    }
    let t = send(&mut game, SpaceInput::default());
    let base = frozen(&game, t);
    let t = send(&mut game, SpaceInput::default());
    let next = frozen(&game, t);
    assert!(ship(&next, me).vel.length() > 1.0, "the player coasts");

    // Which entities changed, beyond their prediction: turners (they turn
    // every tick) and ships that bounced off a wall. Nothing else.
    let mut coasting = HashSet::new();
    for (b, n) in base.entities.iter().zip(&next.entities) {
        assert_eq!(b.id(), n.id());
        let steady = match (b, n) {
            (SpaceEntity::Ship(b), SpaceEntity::Ship(n)) => {
                b.pilot != Pilot::Turner && b.vel == n.vel
            }
            _ => true,
        };
        assert_eq!(n.same_on_wire(&b.predict(1)), steady, "{b:?} -> {n:?}");
        if steady {
            coasting.insert(n.id());
        }
    }
    let count = |f: fn(&SpaceEntity) -> bool| {
        next.entities
            .iter()
            .filter(|e| coasting.contains(&e.id()) && f(e))
            .count()
    };
    assert!(count(|e| e.as_ship().is_some_and(|s| s.pilot == Pilot::Drifter)) >= 40);
    assert_eq!(count(|e| e.as_shot().is_some()), 1);
    assert_eq!(count(|e| e.as_scoreboard().is_some()), 1);
    assert!(coasting.contains(&me));

    // The coasting part of the world: a delta of it is one byte, two
    // empty lists.
    let only = |s: &Snapshot<SpaceEntity>| {
        let kept = s.entities.iter().filter(|e| coasting.contains(&e.id()));
        Snapshot::new(s.tick, kept.cloned().collect())
    };
    assert_eq!(encode_delta(Some(&only(&base)), &only(&next)), vec![0x00]);
    // The whole world: far smaller than in full, and exact.
    let delta = encode_delta(Some(&base), &next);
    let full = encode_delta(None, &next);
    assert!(
        full.len() > 5 * delta.len(),
        "{} vs {}",
        delta.len(),
        full.len()
    );
    assert_eq!(decode_delta(Some(&base), next.tick, &delta).unwrap(), next);
}

fn vec3(bound: f32) -> impl Strategy<Value = Vec3> {
    prop_oneof![
        8 => (-bound..bound, -bound..bound, -bound..bound).prop_map(|(x, y, z)| Vec3::new(x, y, z)),
        1 => any::<[f32; 3]>().prop_map(Vec3::from_array),
    ]
}

fn quat() -> impl Strategy<Value = Quat> {
    prop_oneof![
        8 => (-PI..PI, -PI..PI, -PI..PI).prop_map(|(a, b, c)| Quat::from_euler(EulerRot::YXZ, a, b, c)),
        1 => any::<[f32; 4]>().prop_map(Quat::from_array),
    ]
}

fn ship_strategy() -> impl Strategy<Value = Ship> {
    (
        1u32..120,
        prop_oneof![
            Just(Pilot::Player),
            Just(Pilot::Drifter),
            Just(Pilot::Turner)
        ],
        vec3(520.0),
        vec3(70.0),
        quat(),
        (
            any::<u8>(),
            any::<u32>(),
            prop_oneof![0u32..1000, any::<u32>()],
        ),
    )
        .prop_map(
            |(id, pilot, pos, vel, orientation, (hp, kills, last_input_seq))| Ship {
                id: EntityId(id),
                pilot,
                pos,
                vel,
                orientation,
                hp,
                kills,
                last_input_seq,
            },
        )
}

fn shot_strategy() -> impl Strategy<Value = Shot> {
    (1u32..120, vec3(520.0), vec3(70.0), any::<u32>()).prop_map(|(id, pos, vel, owner)| Shot {
        id: EntityId(id),
        pos,
        vel,
        owner,
    })
}

fn scoreboard_strategy() -> impl Strategy<Value = Scoreboard> {
    (
        prop_oneof![Just(Phase::Playing), Just(Phase::Intermission)],
        any::<(u32, u32, u32)>(),
        any::<[(u32, u32); 3]>(),
    )
        .prop_map(|(phase, (round, phase_ends, kills), top)| Scoreboard {
            phase,
            round,
            phase_ends,
            kills,
            first: top[0].0,
            first_kills: top[0].1,
            second: top[1].0,
            second_kills: top[1].1,
            third: top[2].0,
            third_kills: top[2].1,
        })
}

fn entity_strategy() -> impl Strategy<Value = SpaceEntity> {
    prop_oneof![
        ship_strategy().prop_map(SpaceEntity::Ship),
        shot_strategy().prop_map(SpaceEntity::Shot),
    ]
}

fn snapshot_strategy(tick: u32) -> impl Strategy<Value = Snapshot<SpaceEntity>> {
    (
        proptest::option::of(scoreboard_strategy()),
        proptest::collection::vec(entity_strategy(), 0..60),
    )
        .prop_map(move |(board, mut entities)| {
            entities.extend(board.map(SpaceEntity::Score));
            Snapshot::new(Tick(tick), entities)
        })
}

/// A current snapshot derived from a baseline: most entities predicted,
/// some changed (some into another kind), some removed, some added.
fn evolved(
    base: &Snapshot<SpaceEntity>,
    ticks: u32,
    changes: &[(u8, SpaceEntity)],
) -> Snapshot<SpaceEntity> {
    let mut out: Vec<SpaceEntity> = base.entities.iter().map(|e| e.predict(ticks)).collect();
    for (op, e) in changes {
        let at = e.id().0 as usize % out.len().max(1);
        match op % 3 {
            0 if !out.is_empty() => {
                out.remove(at);
            }
            1 if !out.is_empty() && out[at].id() != SINGLETON_ID => {
                let mut changed = e.clone();
                match &mut changed {
                    SpaceEntity::Ship(s) => s.id = out[at].id(),
                    SpaceEntity::Shot(s) => s.id = out[at].id(),
                    SpaceEntity::Score(_) => {}
                }
                out[at] = changed;
            }
            _ => out.push(e.clone()),
        }
    }
    Snapshot::new(Tick(base.tick.0 + ticks), out)
}

proptest! {
    #[test]
    fn full_snapshots_round_trip(current in snapshot_strategy(1)) {
        let payload = encode_delta(None, &current);
        prop_assert_eq!(decode_delta(None, current.tick, &payload).unwrap(), current);
    }

    #[test]
    fn deltas_round_trip_against_any_baseline(base in snapshot_strategy(10), current in snapshot_strategy(13)) {
        let payload = encode_delta(Some(&base), &current);
        prop_assert_eq!(decode_delta(Some(&base), current.tick, &payload).unwrap(), current);
    }

    #[test]
    fn evolved_states_round_trip(
        base in snapshot_strategy(100),
        ticks in 1u32..40,
        changes in proptest::collection::vec((any::<u8>(), entity_strategy()), 0..20),
    ) {
        let current = evolved(&base, ticks, &changes);
        let payload = encode_delta(Some(&base), &current);
        prop_assert_eq!(decode_delta(Some(&base), current.tick, &payload).unwrap(), current);
    }

    #[test]
    fn decoding_garbage_is_an_error_not_a_panic(base in snapshot_strategy(5), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_delta(Some(&base), Tick(6), &bytes);
        let _ = decode_delta::<SpaceEntity>(None, Tick(6), &bytes);
    }
}
