//! Input timing over a real socket on 127.0.0.1: a timed input waits in the
//! match for its tick, a late one is applied at once and reported, and the
//! Rust client's clock schedules inputs that the server sees in time.

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
