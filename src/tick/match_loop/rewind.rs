//! Lag compensation's rewind: the world a player saw when it acted, from the
//! snapshots the match keeps.

use crate::protocol::Tick;
use crate::tick::Published;
use std::collections::VecDeque;
use std::sync::Arc;

/// The world a player saw, `view_back` sixteenths of a tick before `tick`,
/// from the kept snapshots (clamped to them); `None` when the input states
/// no view or nothing is kept.
pub(super) fn rewind<E>(
    history: &VecDeque<Arc<Published<E>>>,
    tick: Tick,
    view_back: u16,
) -> Option<crate::game::Rewind<'_, E>> {
    if view_back == 0 {
        return None;
    }
    let (oldest, newest) = (history.front()?, history.back()?);
    let view = f64::from(tick.0) - f64::from(view_back) / 16.0;
    let (first, last) = (
        f64::from(oldest.snapshot.tick.0),
        f64::from(newest.snapshot.tick.0),
    );
    let clamped = view < first || view > last;
    let view = view.clamp(first, last);
    // Snapshots are one per tick: the pair around `view` is found by index.
    let i = ((view - first).floor() as usize).min(history.len() - 1);
    let before = &history[i].snapshot;
    let after = &history[(i + 1).min(history.len() - 1)].snapshot;
    let span = f64::from(after.tick.0) - f64::from(before.tick.0);
    let alpha = if span > 0.0 {
        ((view - f64::from(before.tick.0)) / span) as f32
    } else {
        0.0
    };
    Some(crate::game::Rewind {
        before,
        after,
        alpha,
        clamped,
    })
}
