//! The match loop's unit tests: inputs and their ticks, timing reports,
//! deadlines, events and lag compensation, on arena matches.

use super::*;
use crate::game::arena::Arena;

fn arena_loop() -> MatchLoop<Arena> {
    MatchLoop::new(MatchParts {
        id: MatchId(1),
        settings: MatchSettings {
            seed: 1,
            tick_rate: 240,
            capacity: 4,
        },
        inputs: Arc::new(ArrayQueue::new(16)),
        commands: Arc::new(SegQueue::new()),
        stats: Arc::new(MatchStats::default()),
        event_log: 8,
        max_input_lead: Duration::from_millis(500),
        max_rewind: Duration::from_millis(200),
        held_per_player: 4,
        empty_grace: Duration::from_secs(3600),
        request_end: Box::new(|_| false),
        on_kick: None,
        on_tick: None,
    })
}

#[test]
fn the_tick_grid_keeps_advancing_past_u32_slots() {
    let mut task = arena_loop();
    // About 207 days of uptime at 240 Hz: the slot index crosses 2^32.
    task.next_slot = u64::from(u32::MAX) - 2;
    let mut previous = task.deadline();
    for _ in 0..6 {
        let due = task.deadline();
        assert!(task.run(due), "the match keeps running");
        let next = task.deadline();
        assert!(
            next > previous,
            "deadlines strictly increase across the wrap"
        );
        assert_eq!(next - due, task.dt, "one slot per tick");
        previous = next;
    }
    assert!(task.next_slot > u64::from(u32::MAX));
    assert_eq!(task.stats.overruns.load(Ordering::Relaxed), 0);
}

#[test]
fn a_late_tick_counts_and_skips_its_missed_deadlines_instead_of_catching_up() {
    let mut task = arena_loop();
    let due = task.deadline();
    // 10.5 slots late: ten deadlines are missed and skipped at once.
    let late = due + task.dt * 21 / 2;
    assert!(task.run(late));
    assert_eq!(task.stats.overruns.load(Ordering::Relaxed), 10);
    assert_eq!(task.tick, Tick(1), "one tick, not eleven");
    assert!(task.deadline() > late, "the next deadline is in the future");
    assert!(task.deadline() <= late + task.dt);
}

#[test]
fn an_input_whose_seq_does_not_increase_is_rejected() {
    let mut task = arena_loop();
    let (reply, _joined) = tokio::sync::oneshot::channel();
    task.commands.push(MatchCommand::Join {
        player: PlayerId(7),
        role: Role::Player,
        last_event: 0,
        slot: Arc::new(OutboundSlot::new(1, 1)),
        reply,
    });
    task.apply_commands();
    let input = |seq| PlayerInput {
        player: PlayerId(7),
        what: Inbound::Input {
            seq,
            input: crate::game::arena::ArenaInput::default(),
            timing: None,
        },
    };
    for seq in [5, 5, 3, 6] {
        task.inputs.push(input(seq)).unwrap();
    }
    // And one from a player who is not in the match.
    task.inputs
        .push(PlayerInput {
            player: PlayerId(8),
            ..input(9)
        })
        .unwrap();
    task.apply_inputs();
    assert_eq!(task.stats.inputs_rejected.load(Ordering::Relaxed), 3);
    assert_eq!(task.players[0].last_seq, 6);
}

/// A match with player 7 in it; its outbound slot.
fn with_player(task: &mut MatchLoop<Arena>) -> Arc<OutboundSlot<crate::game::arena::ArenaEntity>> {
    let slot = Arc::new(OutboundSlot::new(4, 4));
    let (reply, _joined) = tokio::sync::oneshot::channel();
    task.commands.push(MatchCommand::Join {
        player: PlayerId(7),
        role: Role::Player,
        last_event: 0,
        slot: slot.clone(),
        reply,
    });
    task.apply_commands();
    slot
}

fn input_of_7(
    seq: u32,
    meant_for: Option<u32>,
) -> PlayerInput<crate::game::arena::ArenaInput, crate::game::arena::ArenaMessage> {
    PlayerInput {
        player: PlayerId(7),
        what: Inbound::Input {
            seq,
            input: crate::game::arena::ArenaInput::default(),
            timing: meant_for.map(|tick| InputTime {
                tick: Tick(tick),
                arrived: Instant::now(),
                view_back: 0,
            }),
        },
    }
}

#[test]
fn an_early_timed_input_waits_for_its_tick_and_what_follows_it_waits_too() {
    let mut task = arena_loop();
    let _slot = with_player(&mut task);
    // Meant for tick 3; then an untimed input, which must not overtake it.
    task.inputs.push(input_of_7(1, Some(3))).unwrap();
    task.inputs.push(input_of_7(2, None)).unwrap();
    task.step_and_publish(); // tick 1
    assert_eq!(task.players[0].last_seq, 0, "not before its tick");
    task.step_and_publish(); // tick 2
    assert_eq!(task.players[0].last_seq, 0);
    task.step_and_publish(); // tick 3
    assert_eq!(task.players[0].last_seq, 2, "both, in order, at tick 3");
    assert_eq!(task.stats.inputs_rejected.load(Ordering::Relaxed), 0);
    assert_eq!(task.stats.inputs_held.load(Ordering::Relaxed), 1);
    assert_eq!(task.stats.inputs_late.load(Ordering::Relaxed), 0);
    assert_eq!(task.players[0].held, 0);
}

#[test]
fn a_late_timed_input_is_applied_at_once_counted_and_reported() {
    let mut task = arena_loop();
    let slot = with_player(&mut task);
    for _ in 0..5 {
        task.step_and_publish();
    }
    // Meant for tick 2, long gone: applied at tick 6, late by 4 ticks.
    task.inputs.push(input_of_7(1, Some(2))).unwrap();
    task.step_and_publish();
    assert_eq!(task.players[0].last_seq, 1);
    assert_eq!(task.stats.inputs_late.load(Ordering::Relaxed), 1);
    // The report goes out with the snapshot of every `report_every`th tick.
    while task.tick.0 % task.report_every != 0 {
        assert_eq!(slot.take_timing(), None, "not before the report tick");
        task.step_and_publish();
    }
    let report = slot.take_timing().expect("a report");
    assert_eq!(report.late, 1);
    // Four ticks at 240 Hz: about -16.7 ms, in tenths of a millisecond.
    assert!((-170..=-160).contains(&report.lead_min), "{report:?}");
    assert_eq!(report.lead_min, report.lead_max, "one input");
}

#[test]
fn skipped_slots_send_the_report_window_so_far_and_the_next_within_a_few_ticks() {
    let mut task = arena_loop();
    let slot = with_player(&mut task);
    let mut seq = 0;
    let mut timed_step = |task: &mut MatchLoop<Arena>| {
        seq += 1;
        let next = task.tick.0 + 1;
        task.inputs.push(input_of_7(seq, Some(next))).unwrap();
        task.step_and_publish();
    };
    for _ in 0..5 {
        timed_step(&mut task);
    }
    assert_eq!(
        slot.take_timing(),
        None,
        "half a second is 120 ticks at 240 Hz"
    );
    // 2.5 slots late: two skipped, and the window so far goes out with
    // this tick's snapshot.
    let late = task.deadline() + task.dt * 5 / 2;
    assert!(task.run(late));
    assert_eq!(task.stats.overruns.load(Ordering::Relaxed), 2);
    let before = slot.take_timing().expect("the window before the skip");
    assert_eq!(before.late, 0, "{before:?}");
    // The next report comes after a few ticks, not after 120.
    let mut waited = 0;
    let after = loop {
        timed_step(&mut task);
        waited += 1;
        if let Some(report) = slot.take_timing() {
            break report;
        }
        assert!(
            waited < task.report_every / 4,
            "no report within {waited} ticks"
        );
    };
    assert!(
        waited >= 2,
        "a window of a couple of inputs at least: {waited}"
    );
    assert_eq!(after.late, 0, "{after:?}");
    // And then every `report_every` ticks again.
    let mut gap = 0;
    loop {
        timed_step(&mut task);
        gap += 1;
        if slot.take_timing().is_some() {
            break;
        }
        assert!(gap <= task.report_every);
    }
    assert_eq!(gap, task.report_every);
}

#[test]
fn a_timed_input_meant_too_far_ahead_waits_only_the_lead_limit() {
    let mut task = arena_loop();
    let _slot = with_player(&mut task);
    let limit = task.max_lead_ticks;
    task.inputs.push(input_of_7(1, Some(1_000_000))).unwrap();
    for _ in 0..limit {
        task.step_and_publish();
        assert_eq!(task.players[0].last_seq, 0);
    }
    task.step_and_publish();
    assert_eq!(task.players[0].last_seq, 1, "applied at next + limit");
}

#[test]
fn a_player_may_hold_only_so_many_early_inputs() {
    let mut task = arena_loop();
    let _slot = with_player(&mut task);
    for seq in 1..=6 {
        task.inputs.push(input_of_7(seq, Some(10))).unwrap();
    }
    task.step_and_publish();
    assert_eq!(task.players[0].held, task.held_per_player);
    assert_eq!(
        task.stats.inputs_rejected.load(Ordering::Relaxed),
        6 - task.held_per_player as u64
    );
}

/// A shot judged where the shooter saw its target 100 ms ago hits it;
/// one at where the target is now on the server misses it.
#[test]
fn lag_compensation_judges_a_shot_against_the_world_the_shooter_saw() {
    use crate::game::arena::{ArenaInput, FIRE, HIT_RADIUS, START_HP};
    use glam::Vec2;
    let mut task = arena_loop(); // 240 Hz: 24 ticks are 100 ms
    let _slot = with_player(&mut task);
    for _ in 0..40 {
        task.step_and_publish();
    }
    let back = 24u32;
    let now = task.tick;
    let view = &task.history[task.history.len() - 1 - back as usize].snapshot;
    assert_eq!(view.tick.0, now.0 - back);
    let current = &task.history.back().unwrap().snapshot;
    let me = *task.game.player_entity(PlayerId(7)).unwrap();
    let from = me.pos.as_vec2();
    // Nothing but the target within reach of a ray, in a world.
    let clear = |world: &Snapshot<crate::game::arena::ArenaEntity>, target, to: Vec2| {
        let aim = (to - from).normalize();
        world
            .entities
            .iter()
            .filter(|e| e.id != me.id && e.id != target)
            .all(|e| {
                let d = e.pos.as_vec2() - from;
                (d - aim * d.dot(aim)).length() > 2.0 * HIT_RADIUS
            })
    };
    // A walking NPC that moved across the line of sight, with both rays clear.
    let (target, then, there) = view
        .entities
        .iter()
        .filter(|e| e.kind == crate::game::arena::ArenaKind::Npc)
        .find_map(|e| {
            let then = e.pos.as_vec2();
            let there = current.get(e.id)?.pos.as_vec2();
            let sight = (then - from).normalize();
            let across = ((there - then) - sight * (there - then).dot(sight)).length();
            (across > 2.0 * HIT_RADIUS && clear(view, e.id, then) && clear(view, e.id, there))
                .then_some((e.id, then, there))
        })
        .expect("a walking NPC crossing the line of sight");
    let shot = |seq, to: Vec2, fire| PlayerInput {
        player: PlayerId(7),
        what: Inbound::Input {
            seq,
            input: ArenaInput {
                aim: (to - from).to_angle(),
                buttons: if fire { FIRE } else { 0 },
                ..ArenaInput::default()
            },
            timing: Some(InputTime {
                tick: Tick(now.0 + 1),
                arrived: Instant::now(),
                view_back: (back * 16) as u16,
            }),
        },
    };
    let hp = |task: &MatchLoop<Arena>| {
        task.history
            .back()
            .unwrap()
            .snapshot
            .get(target)
            .unwrap()
            .hp
    };
    // Aimed where it was then, as the shooter saw it: a hit.
    task.inputs.push(shot(1, then, true)).unwrap();
    task.step_and_publish();
    assert_eq!(hp(&task), START_HP - crate::game::arena::SHOT_DAMAGE, "hit");
    // Release, then aim where it is now on the server: judged against
    // what the shooter saw then, that is a miss.
    task.inputs.push(shot(2, there, false)).unwrap();
    task.step_and_publish();
    let now = task.tick;
    let current = task
        .history
        .back()
        .unwrap()
        .snapshot
        .get(target)
        .unwrap()
        .pos
        .as_vec2();
    let mut miss = shot(3, current, true);
    if let Inbound::Input {
        timing: Some(t), ..
    } = &mut miss.what
    {
        t.tick = Tick(now.0 + 1);
    }
    task.inputs.push(miss).unwrap();
    task.step_and_publish();
    assert_eq!(
        hp(&task),
        START_HP - crate::game::arena::SHOT_DAMAGE,
        "missed"
    );
}

#[test]
fn a_view_older_than_the_rewind_limit_is_clamped_to_the_oldest_kept() {
    let mut task = arena_loop();
    for _ in 0..100 {
        task.step_and_publish();
    }
    assert_eq!(task.history.len(), task.rewind_ticks + 1, "bounded");
    let oldest = task.history.front().unwrap().snapshot.tick;
    let seen = rewind(&task.history, Tick(task.tick.0 + 1), 90 * 16).unwrap();
    assert!(seen.clamped);
    assert_eq!(seen.before.tick, oldest);
    let seen = rewind(&task.history, Tick(task.tick.0 + 1), 40).unwrap();
    assert!(!seen.clamped);
    assert_eq!(seen.before.tick.0, task.tick.0 - 2, "2.5 ticks back");
    assert!((seen.alpha - 0.5).abs() < 1e-6);
    assert!(
        rewind(&task.history, task.tick, 0).is_none(),
        "no view stated"
    );
}

#[test]
fn a_join_queued_after_the_match_failed_is_answered() {
    let mut task = arena_loop();
    let (reply, joined) = tokio::sync::oneshot::channel();
    task.commands.push(MatchCommand::Join {
        player: PlayerId(1),
        role: Role::Player,
        last_event: 0,
        slot: Arc::new(OutboundSlot::new(1, 1)),
        reply,
    });
    task.close_all(SlotClosed::MatchFailed);
    assert!(
        joined.blocking_recv().is_err(),
        "the joiner learns at once that the match is gone"
    );
}
