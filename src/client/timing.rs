//! Input timing on the client: when to sample and send an input so that it
//! reaches the server a small margin before the tick it is meant for.
//!
//! The clock fits the server's tick grid from snapshot arrivals (tick `T`'s
//! snapshot arrives at about `origin + T * dt`; arrivals are late by jitter,
//! never early, so the fit follows the earliest ones). An input for tick `T`
//! is sent `send_ahead` before that arrival time: one round trip plus the
//! server's time to simulate and send, plus a margin. The server's
//! `InputTiming` reports say how early inputs really arrived, and correct
//! `send_ahead` until the worst input of a report window arrives `margin`
//! before its tick, with `margin` following the spread of arrivals (jitter).

use crate::protocol::Tick;
use std::time::{Duration, Instant};

/// When the next input should be sampled and sent, and the tick it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputDue {
    pub tick: Tick,
    pub at: Instant,
}

/// The least margin kept before a tick, in seconds: scheduling noise on a
/// quiet machine.
const MIN_MARGIN: f64 = 0.000_75;
/// How much of a report's error is corrected at once (reports come about
/// twice a second): a few reports settle it without chasing noise.
const GAIN: f64 = 0.5;
/// How fast the arrival fit follows arrivals that come later than it
/// predicts (a slower path, a drifting clock); earlier ones move it at once.
const ORIGIN_RISE: f64 = 0.02;

#[derive(Debug, Clone)]
pub struct InputClock {
    dt: f64,
    /// Local time at which tick 0's snapshot would arrive, at the earliest.
    origin: Option<Instant>,
    /// Seconds before a tick's snapshot arrival that its input is sent.
    send_ahead: f64,
    /// Seconds of lead the worst input of a window should keep.
    margin: f64,
    /// Smoothed spread (max - min lead) of report windows, in seconds.
    spread: f64,
    last_sent: Option<Tick>,
    reports: u32,
}

impl InputClock {
    /// A clock for a match at `tick_rate`, before any snapshot.
    pub fn new(tick_rate: u16) -> Self {
        let dt = 1.0 / f64::from(tick_rate.max(1));
        InputClock {
            dt,
            origin: None,
            // A guess until the first report: a whole tick ahead is on
            // time on any path of less than a tick's round trip.
            send_ahead: dt,
            margin: 2.0 * MIN_MARGIN,
            spread: 0.0,
            last_sent: None,
            reports: 0,
        }
    }

    /// Starts from a measured round trip instead of the one-tick guess.
    pub fn seed_rtt(&mut self, rtt: Duration) {
        if self.reports == 0 {
            self.send_ahead = rtt.as_secs_f64() + self.margin + self.dt / 4.0;
        }
    }

    /// A snapshot of `tick` arrived at `at`.
    pub fn on_snapshot(&mut self, tick: Tick, at: Instant) {
        let since_origin = Duration::from_secs_f64(f64::from(tick.0) * self.dt);
        let Some(estimate) = at.checked_sub(since_origin) else {
            return;
        };
        self.origin = Some(match self.origin {
            None => estimate,
            Some(origin) if estimate < origin => estimate,
            Some(origin) => origin + (estimate - origin).mul_f64(ORIGIN_RISE),
        });
    }

    /// A report from the server: the least and most lead of the window (s),
    /// and how many inputs of it were late.
    pub fn on_report(&mut self, lead_min: f64, lead_max: f64, late: u16) {
        self.reports += 1;
        let spread = (lead_max - lead_min).max(0.0);
        self.spread = if self.reports == 1 {
            spread
        } else {
            self.spread + (spread - self.spread) * 0.25
        };
        // Half the usual spread on top of the least margin: the worst input
        // of the next window rarely falls further than that.
        self.margin = (MIN_MARGIN + self.spread / 2.0).min(self.dt / 2.0);
        let error = lead_min - self.margin;
        if late > 0 || error < 0.0 {
            // Late inputs cost the player a tick: correct at once.
            self.send_ahead -= error;
        } else {
            self.send_ahead -= error * GAIN;
        }
        // Never later than the arrival itself, never more than a second ahead.
        self.send_ahead = self.send_ahead.clamp(0.0, 1.0);
    }

    /// The next input: the first tick whose send time has not passed, after
    /// the last one sent. `None` before the first snapshot.
    pub fn due(&self, now: Instant) -> Option<InputDue> {
        let origin = self.origin?;
        let ahead = Duration::from_secs_f64(self.send_ahead);
        // Ticks whose arrival minus `send_ahead` is still to come.
        let elapsed = (now + ahead)
            .saturating_duration_since(origin)
            .as_secs_f64();
        let mut tick = (elapsed / self.dt).floor() as u64 + 1;
        if let Some(last) = self.last_sent {
            tick = tick.max(u64::from(last.0) + 1);
        }
        let tick = Tick(u32::try_from(tick).unwrap_or(u32::MAX));
        let arrival = origin + Duration::from_secs_f64(f64::from(tick.0) * self.dt);
        let at = arrival.checked_sub(ahead).unwrap_or(now);
        Some(InputDue { tick, at })
    }

    /// An input for `tick` went out.
    pub fn sent(&mut self, tick: Tick) {
        self.last_sent = Some(tick);
    }

    /// How long before a tick's snapshot arrives its input is sent.
    pub fn send_ahead(&self) -> Duration {
        Duration::from_secs_f64(self.send_ahead)
    }

    /// The lead the latest input of a window aims to keep.
    pub fn margin(&self) -> Duration {
        Duration::from_secs_f64(self.margin)
    }

    /// Reports received so far.
    pub fn reports(&self) -> u32 {
        self.reports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_due_one_send_ahead_before_their_ticks_arrival_and_never_twice() {
        let t0 = Instant::now();
        let mut clock = InputClock::new(50); // 20 ms ticks
        assert_eq!(clock.due(t0), None, "no snapshot yet");
        // Tick 10 arrives 200 ms after the origin, tick 11 with 3 ms of jitter.
        let origin = t0 + Duration::from_secs(1);
        clock.on_snapshot(Tick(10), origin + Duration::from_millis(200));
        clock.on_snapshot(Tick(11), origin + Duration::from_millis(223));
        let now = origin + Duration::from_millis(225);
        let due = clock.due(now).unwrap();
        // send_ahead is one tick (20 ms): tick 13 arrives at 260 ms (and
        // the 60 µs the late tick 11 raised the fit by), so its input is
        // due at 240 ms, the first send time still to come.
        assert_eq!(due.tick, Tick(13));
        let expected = origin + Duration::from_millis(240) + Duration::from_micros(60);
        let off = due.at.max(expected) - due.at.min(expected);
        assert!(off < Duration::from_micros(2), "{:?}", due.at - origin);
        clock.sent(due.tick);
        let again = clock.due(now).unwrap();
        assert_eq!(again.tick, Tick(14), "a tick gets one input");
    }

    #[test]
    fn reports_move_the_sends_until_the_worst_input_keeps_the_margin() {
        let mut clock = InputClock::new(30);
        let before = clock.send_ahead();
        // Inputs arrive 20 to 22 ms early: far more than needed, send later.
        for _ in 0..20 {
            clock.on_report(0.020, 0.022, 0);
        }
        let settled = clock.send_ahead();
        assert!(settled < before, "{settled:?} < {before:?}");
        let margin = clock.margin().as_secs_f64();
        assert!((margin - (MIN_MARGIN + 0.001)).abs() < 1e-4, "{margin}");
        // A late window: sends move earlier by at least the lateness at once.
        clock.on_report(-0.004, 0.001, 2);
        assert!(clock.send_ahead() >= settled + Duration::from_millis(4));
    }
}
