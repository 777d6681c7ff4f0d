//! Input timing on the match's side: how early each player's timed inputs
//! arrive, gathered into report windows (`ServerMsg::InputTiming`), and what
//! a move of the tick grid (skipped slots) does to them.

use super::MatchLoop;
use crate::game::Game;
use crate::tick::TimingReport;

/// How early one player's timed inputs came since the last report, in µs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimingWindow {
    inputs: u32,
    late: u32,
    lead_min: i64,
    lead_max: i64,
}

impl TimingWindow {
    pub(super) fn record(&mut self, lead_us: i64) {
        if self.inputs == 0 {
            (self.lead_min, self.lead_max) = (lead_us, lead_us);
        } else {
            self.lead_min = self.lead_min.min(lead_us);
            self.lead_max = self.lead_max.max(lead_us);
        }
        self.inputs += 1;
        self.late += u32::from(lead_us < 0);
    }

    /// The window as the wire's report (tenths of a millisecond), and empty again.
    pub(super) fn take(&mut self) -> Option<TimingReport> {
        if self.inputs == 0 {
            return None;
        }
        let tenths = |us: i64| (us / 100).clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16;
        let report = TimingReport {
            lead_min: tenths(self.lead_min),
            lead_max: tenths(self.lead_max),
            late: u16::try_from(self.late).unwrap_or(u16::MAX),
        };
        *self = TimingWindow::default();
        Some(report)
    }
}

impl<G: Game> MatchLoop<G> {
    /// Skipped slots moved the tick grid later: every timed input sent for
    /// the old grid now comes that much early. The report windows so far
    /// (before the move) go out with this tick's snapshot, and the next ones
    /// after a few ticks rather than half a second, so that clients see
    /// the move and follow it at once (`InputClock`).
    pub(super) fn grid_moved(&mut self) {
        for p in &mut self.players {
            if let Some(timing) = p.timing.take() {
                p.slot.set_timing(timing);
            }
        }
        let soon = (self.report_every / 8).max(2);
        self.next_report = self.tick.0.saturating_add(soon).min(self.next_report);
    }
}
