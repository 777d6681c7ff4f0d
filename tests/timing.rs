//! Input timing over a real socket on 127.0.0.1: a timed input waits in the
//! match for its tick, a late one is applied at once and reported, and the
//! Rust client's clock schedules inputs that the server sees in time, and
//! follows the tick grid when the server skips slots after a stalled tick.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tickwire::client::{Client, ClientEvent, ClientOptions};
use tickwire::game::arena::ArenaInput;
use tickwire::protocol::Tick;
use tickwire::Arena;

/// The player's own `last_input_seq` in the newest snapshot.
fn applied(client: &Client<Arena>) -> u32 {
    let me = client.welcome().entity_id;
    client
        .world()
        .and_then(|w| w.get(me))
        .map_or(0, |e| e.last_input_seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_meant_for_a_later_tick_shows_first_in_that_ticks_snapshot() {
    let server = start(test_config()).await;
    let mut client = connect(&server, None, ClientOptions::default()).await;
    let now = next_snapshot(&mut client).await;
    // Well ahead (10 ticks, 333 ms at 30 Hz): it must wait in the match.
    let meant_for = Tick(now.0 + 10);
    let seq = client
        .send_timed_input(meant_for, ArenaInput::default())
        .await
        .unwrap();
    loop {
        let tick = next_snapshot(&mut client).await;
        if tick < meant_for {
            assert!(
                applied(&client) < seq,
                "applied before its tick, at {tick:?}"
            );
        } else {
            assert_eq!(tick, meant_for, "a snapshot per tick");
            assert_eq!(applied(&client), seq, "applied at its tick");
            break;
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_input_is_applied_at_the_next_tick_and_reported_late() {
    let server = start(test_config()).await;
    let mut client = connect(&server, None, ClientOptions::default()).await;
    let mut now = next_snapshot(&mut client).await;
    while now.0 < 5 {
        now = next_snapshot(&mut client).await;
    }
    let seq = client
        .send_timed_input(Tick(now.0 - 3), ArenaInput::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut seen_applied, mut report) = (false, None);
    while report.is_none() || !seen_applied {
        assert!(Instant::now() < deadline, "no report within 5 s");
        match within("recv", 5, client.recv()).await.unwrap() {
            ClientEvent::Snapshot { tick, .. } if applied(&client) == seq && !seen_applied => {
                seen_applied = true;
                // Its tick has run: the next one applies it.
                assert!(tick.0 <= now.0 + 3, "applied at once, not held ({tick:?})");
            }
            ClientEvent::InputTiming {
                lead_min,
                lead_max,
                late,
                ..
            } => report = Some((lead_min, lead_max, late)),
            _ => {}
        }
    }
    let (lead_min, lead_max, late) = report.unwrap();
    assert_eq!(late, 1, "one late input");
    assert!(
        lead_min < -0.05 && lead_min == lead_max,
        "three ticks and more behind (100 ms at 30 Hz): {lead_min} s"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clocks_inputs_reach_the_server_ahead_of_their_ticks() {
    let server = start(test_config()).await;
    let mut client = connect(&server, None, ClientOptions::default()).await;
    assert!(
        client.input_due().is_none(),
        "nothing is due before a snapshot"
    );
    next_snapshot(&mut client).await;
    let first_ahead = client.input_clock().send_ahead();
    let (mut reports, mut late, mut sent) = (Vec::new(), 0u32, 0u32);
    let deadline = Instant::now() + Duration::from_secs(10);
    // Four reports: about two seconds of inputs, one per tick.
    while reports.len() < 4 {
        assert!(Instant::now() < deadline, "four reports within 10 s");
        let due = client.input_due().expect("due after a snapshot");
        tokio::select! {
            _ = tokio::time::sleep_until(due.at.into()) => {
                client.send_timed_input(due.tick, ArenaInput::default()).await.unwrap();
                sent += 1;
            }
            event = client.recv() => {
                if let ClientEvent::InputTiming { lead_min, late: l, .. } = event.unwrap() {
                    reports.push(lead_min);
                    late += u32::from(l);
                }
            }
        }
    }
    assert!(sent >= 30, "an input per tick: {sent}");
    // One tick ahead at first is far more than loopback needs: the clock
    // moves its sends later, and inputs still come before their ticks.
    assert!(
        client.input_clock().send_ahead() < first_ahead,
        "{:?} then {:?}",
        first_ahead,
        client.input_clock().send_ahead()
    );
    assert!(
        reports.iter().all(|&lead| lead > -1.0 / 30.0),
        "no input a whole tick late: {reports:?}"
    );
    assert!(late <= sent / 10, "{late} of {sent} late");
    server.shutdown().await;
}

/// Arena, except that stepping tick `STALL_AT` takes four ticks' time: the
/// loop skips the slots it missed, and the tick grid moves later.
struct StallingArena(Arena);

/// 2.5 s in at 30 Hz: the clock has settled by then.
const STALL_AT: u32 = 75;

impl tickwire::game::Game for StallingArena {
    type Entity = tickwire::game::arena::ArenaEntity;
    type Input = ArenaInput;
    type Message = tickwire::replicate::NoMessages;
    type Event = tickwire::replicate::NoMessages;
    fn new(settings: &tickwire::game::MatchSettings) -> Self {
        StallingArena(Arena::new(settings))
    }
    fn join(&mut self, player: tickwire::protocol::PlayerId) -> tickwire::protocol::EntityId {
        self.0.join(player)
    }
    fn leave(&mut self, player: tickwire::protocol::PlayerId) {
        self.0.leave(player)
    }
    fn apply_input(&mut self, player: tickwire::protocol::PlayerId, seq: u32, input: &ArenaInput) {
        self.0.apply_input(player, seq, input)
    }
    fn step(&mut self, tick: Tick) {
        if tick.0 == STALL_AT {
            std::thread::sleep(Duration::from_millis(4 * 1000 / 30));
        }
        self.0.step(tick)
    }
    fn freeze(&self, out: &mut Vec<Self::Entity>) {
        self.0.freeze(out)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_server_skips_slots_the_clock_sends_that_much_later_within_a_second() {
    let server = tickwire::net::start::<StallingArena>(test_config())
        .await
        .unwrap();
    let mut client = within(
        "connect",
        10,
        Client::<StallingArena>::connect(&server.ws_url(), ClientOptions::default()),
    )
    .await
    .unwrap();
    let dt = 1.0 / f64::from(client.welcome().tick_rate);
    let (mut ahead_before, mut stalled_at) = (None, None);
    // (seconds after the stall, lead_min, lead_max) of each report after it.
    let mut after = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while stalled_at.is_none_or(|t: Instant| t.elapsed() < Duration::from_millis(2000)) {
        assert!(
            Instant::now() < deadline,
            "the stall and 2 s after it within 15 s"
        );
        let Some(due) = client.input_due() else {
            within("recv", 5, client.recv()).await.unwrap();
            continue;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(due.at.into()) => {
                client.send_timed_input(due.tick, ArenaInput::default()).await.unwrap();
            }
            event = client.recv() => match event.unwrap() {
                ClientEvent::Snapshot { tick, .. } if tick.0 == STALL_AT - 1 => {
                    ahead_before = Some(client.input_clock().send_ahead());
                }
                ClientEvent::Snapshot { tick, .. } if tick.0 >= STALL_AT && stalled_at.is_none() => {
                    stalled_at = Some(Instant::now());
                }
                ClientEvent::InputTiming { lead_min, lead_max, .. } => {
                    if let Some(t) = stalled_at {
                        after.push((t.elapsed().as_secs_f64(), lead_min, lead_max));
                    }
                }
                _ => {}
            }
        }
    }
    let ahead_before = ahead_before.expect("the snapshot before the stall");
    let ahead_after = client.input_clock().send_ahead();
    // Three slots skipped (four ticks' time, less the tick's own slot).
    assert!(
        ahead_after < ahead_before - 2.5 * dt,
        "sends moved later by the skipped slots: {ahead_before} then {ahead_after}; reports {after:?}"
    );
    // Right after the stall, inputs timed for the old grid came early...
    assert!(
        after.iter().any(|r| r.0 < 0.5 && r.2 > 2.0 * dt),
        "an early window reported at once: {after:?}"
    );
    // ...and from a second on, within half a tick of their ticks again.
    let settled: Vec<_> = after.iter().filter(|r| r.0 > 1.0).collect();
    assert!(!settled.is_empty(), "{after:?}");
    for r in settled {
        assert!(r.1 < dt / 2.0 && r.1 > -dt, "{r:?} in {after:?}");
    }
    server.shutdown().await;
}
