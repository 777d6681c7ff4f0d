//! Input timing on the client: when to sample and send an input so that it
//! reaches the server a small margin before the tick it is meant for.
//!
//! The input for tick `T` is sent `send_ahead` before `origin + T * dt`.
//! `origin` is fit from the first snapshots' arrivals (tick `T`'s snapshot
//! arrives at about `origin + T * dt`, late by jitter, never early, so the
//! earliest arrival fixes it) and held from the first `InputTiming` report
//! on. From then on only the reports move the sends: they measure exactly
//! what the clock is for, how early inputs reach their tick, where arrivals
//! add the downstream path's jitter. (A clock that also kept following
//! arrivals had two estimators of one offset pulling against each other,
//! and sent inputs a tick early for seconds after a disturbance.)
//!
//! A report window's least lead should be `margin`, half the usual spread of
//! leads (jitter) above a floor. The error is corrected by half each report,
//! except in three cases where the window says more than noise would:
//! - every input came over half a tick early: jitter only delays, so the
//!   server's tick grid moved later (it skips the slots of a stalled tick,
//!   and reports early right after one): follow at once;
//! - inputs were late in a window without a stall: the path got slower,
//!   and a late input costs the player a tick: at once;
//! - a window whose leads lie three times further apart than usual had a
//!   stall in it (this client, the path or the server stopped for a
//!   moment): its lateness is not followed, nor its spread, unless the next
//!   window is stalled too (then the path's jitter really is that wide).
//!   Following a stall sent every input a stall early for seconds after it.

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
/// A window whose spread of leads is this many times the usual one had a
/// stall in it.
const STALL_SPREAD: f64 = 3.0;
/// The first reports: their lateness is followed at once even in a stalled
/// window (the first guess, a round trip, may be short by anything), and
/// their earliness by half, however early (the first guess errs early on
/// purpose, and the spread is not known yet).
const SETTLING_REPORTS: u32 = 2;

#[derive(Debug, Clone)]
pub struct InputClock {
    dt: f64,
    /// Local time at which tick 0's snapshot would arrive, at the earliest
    /// (held once the reports steer).
    origin: Option<Instant>,
    /// Seconds before `origin + T * dt` that the input for `T` is sent;
    /// negative once the server's grid has moved later than the fit.
    send_ahead: f64,
    /// Seconds of lead the worst input of a window should keep.
    margin: f64,
    /// Smoothed spread (max - min lead) of report windows, in seconds.
    spread: f64,
    /// The previous report's window had a stall in it.
    stalled_before: bool,
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
            stalled_before: false,
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

    /// A snapshot of `tick` arrived at `at`: until the first report, the
    /// earliest arrival fixes `origin`.
    pub fn on_snapshot(&mut self, tick: Tick, at: Instant) {
        if self.reports > 0 {
            return;
        }
        let since_origin = Duration::from_secs_f64(f64::from(tick.0) * self.dt);
        let Some(estimate) = at.checked_sub(since_origin) else {
            return;
        };
        self.origin = Some(self.origin.map_or(estimate, |o| o.min(estimate)));
    }

    /// A report from the server: the least and most lead of the window (s),
    /// and how many inputs of it were late.
    pub fn on_report(&mut self, lead_min: f64, lead_max: f64, late: u16) {
        self.reports += 1;
        let spread = (lead_max - lead_min).max(0.0);
        // A stall: leads spread far wider than usual (a single input held
        // up by a busy client or path), not the jitter the margin covers.
        let stalled =
            self.reports > 1 && spread > (STALL_SPREAD * self.spread).max(4.0 * MIN_MARGIN);
        // Two stalled windows in a row: the path's jitter is that wide.
        let lasting = stalled && self.stalled_before;
        self.stalled_before = stalled;
        if self.reports == 1 {
            self.spread = spread.min(self.dt / 2.0);
        } else if !stalled || lasting {
            self.spread += (spread.min(self.dt) - self.spread) * 0.25;
        }
        // Half the usual spread on top of the least margin: the worst input
        // of the next window rarely falls further than that.
        self.margin = (MIN_MARGIN + self.spread / 2.0).min(self.dt / 2.0);
        let error = lead_min - self.margin;
        let late = late > 0 || lead_min < 0.0;
        let settling = self.reports <= SETTLING_REPORTS;
        let step = if error > self.dt / 2.0 && !settling {
            // The whole window came over half a tick early: the grid moved.
            // (Not while settling: the first guess is early on purpose, and
            // the spread is still unknown.)
            error
        } else if late && (!stalled || lasting || settling) {
            error
        } else if late {
            // One stalled window: the next one says whether it lasts.
            0.0
        } else {
            error * GAIN
        };
        // Never more than a second either way.
        self.send_ahead = (self.send_ahead - step).clamp(-1.0, 1.0);
    }

    /// The next input: the first tick whose send time has not passed, after
    /// the last one sent. `None` before the first snapshot.
    pub fn due(&self, now: Instant) -> Option<InputDue> {
        let origin = self.origin?;
        let since = if now >= origin {
            (now - origin).as_secs_f64()
        } else {
            -(origin - now).as_secs_f64()
        };
        // Ticks whose send time (`origin + T * dt - send_ahead`) is still to come.
        let elapsed = (since + self.send_ahead).max(0.0);
        let mut tick = (elapsed / self.dt).floor() as u64 + 1;
        if let Some(last) = self.last_sent {
            tick = tick.max(u64::from(last.0) + 1);
        }
        let tick = Tick(u32::try_from(tick).unwrap_or(u32::MAX));
        let offset = f64::from(tick.0) * self.dt - self.send_ahead;
        let at = if offset >= 0.0 {
            origin + Duration::from_secs_f64(offset)
        } else {
            origin
                .checked_sub(Duration::from_secs_f64(-offset))
                .unwrap_or(now)
        };
        Some(InputDue { tick, at })
    }

    /// An input for `tick` went out.
    pub fn sent(&mut self, tick: Tick) {
        self.last_sent = Some(tick);
    }

    /// Seconds before `origin + T * dt` that the input for `T` is sent:
    /// about a round trip plus the server's time to send a snapshot, less
    /// the slots the server skipped since the fit (then it can be negative).
    pub fn send_ahead(&self) -> f64 {
        self.send_ahead
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
        // send_ahead is one tick (20 ms): tick 13 arrives at 260 ms on the
        // earliest arrival's fit, so its input is due at 240 ms, the first
        // send time still to come.
        assert_eq!(due.tick, Tick(13));
        let expected = origin + Duration::from_millis(240);
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
        assert!(settled < before, "{settled} < {before}");
        let margin = clock.margin().as_secs_f64();
        assert!((margin - (MIN_MARGIN + 0.001)).abs() < 1e-4, "{margin}");
        // A late window without a stall: sends move earlier by at least the
        // lateness at once.
        clock.on_report(-0.004, 0.001, 2);
        assert!(
            clock.send_ahead() >= settled + 0.004,
            "{}",
            clock.send_ahead()
        );
    }

    #[test]
    fn arrivals_fix_the_grid_until_the_first_report_and_no_longer() {
        let t0 = Instant::now();
        let mut clock = InputClock::new(50);
        clock.on_snapshot(Tick(10), t0 + Duration::from_millis(200));
        // An earlier arrival moves the fit before any report...
        clock.on_snapshot(Tick(11), t0 + Duration::from_millis(218));
        let before = clock.due(t0 + Duration::from_millis(230)).unwrap();
        clock.on_report(0.002, 0.003, 0);
        let steered = clock.due(t0 + Duration::from_millis(230)).unwrap();
        // ...and after one, neither an earlier nor a later one does: the
        // reports alone steer. This one's margin is 1.25 ms (the floor and
        // half its 1 ms spread): 0.75 ms too early, half of it corrected.
        clock.on_snapshot(Tick(12), t0 + Duration::from_millis(230));
        clock.on_snapshot(Tick(13), t0 + Duration::from_millis(250));
        assert_eq!(clock.due(t0 + Duration::from_millis(230)), Some(steered));
        let moved = steered.at - before.at;
        assert!(
            moved > Duration::from_micros(370) && moved < Duration::from_micros(380),
            "{moved:?}"
        );
    }

    /// Runs a client against a simulated server for `ticks` ticks at 60 Hz
    /// and returns each input's lead (s) by tick: one-way paths of 5 ms,
    /// 0.2 ms of steady jitter, reports every 30 ticks, the server's grid
    /// moving a tick later at `skip` and the client's input for `stall`
    /// held up by 40 ms.
    fn simulate(ticks: u32, skip: Option<u32>, stall: Option<u32>) -> Vec<(u32, f64)> {
        let dt = 1.0 / 60.0;
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let secs = |i: Instant| i.saturating_duration_since(t0).as_secs_f64();
        // The server begins tick T at `begin(T)` (1 s in, to keep times positive).
        let begin =
            |t: u32| 1.0 + (f64::from(t) + f64::from(u32::from(skip.is_some_and(|s| t >= s)))) * dt;
        let mut clock = InputClock::new(60);
        clock.seed_rtt(Duration::from_millis(10));
        let mut rng = fastrand::Rng::with_seed(7);
        let mut leads = Vec::new();
        let mut window: Vec<f64> = Vec::new();
        for t in 0..ticks {
            // Snapshot `t` leaves 0.5 ms after its tick begins.
            clock.on_snapshot(Tick(t), at(begin(t) + 0.0055 + rng.f64() * 0.0002));
            // Every input the clock asks for before the next snapshot.
            while let Some(due) = clock.due(at(begin(t) + 0.0055)) {
                if due.at > at(begin(t + 1) + 0.0055) {
                    break;
                }
                clock.sent(due.tick);
                let mut arrives = secs(due.at) + 0.005 + rng.f64() * 0.0002;
                if stall == Some(due.tick.0) {
                    arrives += 0.040;
                }
                let lead = begin(due.tick.0) - arrives;
                leads.push((due.tick.0, lead));
                window.push(lead);
            }
            if t % 30 == 29 && !window.is_empty() {
                let min = window.iter().copied().fold(f64::MAX, f64::min);
                let max = window.iter().copied().fold(f64::MIN, f64::max);
                let late = window.iter().filter(|l| **l < 0.0).count() as u16;
                clock.on_report(min, max, late);
                window.clear();
            }
        }
        leads
    }

    #[test]
    fn a_steady_path_settles_to_a_lead_of_a_millisecond_or_two() {
        let leads = simulate(600, None, None);
        let settled: Vec<f64> = leads
            .iter()
            .filter(|(t, _)| *t > 240)
            .map(|l| l.1)
            .collect();
        assert!(settled.len() > 300);
        for lead in settled {
            assert!((0.0..0.003).contains(&lead), "{lead}");
        }
    }

    #[test]
    fn a_skipped_slot_is_followed_within_two_reports_and_a_stall_is_not() {
        // The server skips a slot at tick 300: inputs come a tick early,
        // then at their margin again within two report windows.
        let leads = simulate(600, Some(300), None);
        let early = |from: u32, to: u32| {
            leads
                .iter()
                .filter(|(t, _)| (from..to).contains(t))
                .map(|l| l.1)
                .fold(f64::MIN, f64::max)
        };
        assert!(early(300, 310) > 0.015, "the skip made inputs early");
        assert!(early(370, 600) < 0.003, "{}", early(370, 600));
        assert!(leads.iter().filter(|(t, _)| *t > 240).all(|l| l.1 >= 0.0));
        // One input held up by 40 ms: late once, and the sends stay put.
        let steady = simulate(600, None, None);
        let stalled = simulate(600, None, Some(305));
        let late: Vec<u32> = stalled
            .iter()
            .filter(|l| l.1 < 0.0 && l.0 > 240)
            .map(|l| l.0)
            .collect();
        assert_eq!(late, vec![305]);
        for (a, b) in steady.iter().zip(&stalled).filter(|(a, _)| a.0 > 330) {
            assert!(
                (a.1 - b.1).abs() < 0.0005,
                "tick {}: {} against {}",
                a.0,
                a.1,
                b.1
            );
        }
    }
}
