//! Prediction of the player's own entity, with reconciliation: the newest
//! snapshot's state of the entity, then every input the server had not yet
//! applied in it, each at its tick, stepped by the game's own code
//! ([`Predict`]). Re-simulating from the server's state on every snapshot is
//! the reconciliation: a misprediction (a door the client had not seen
//! close) lasts until the first snapshot that shows its cause.

use crate::game::{Predict, PredictWorld};
use crate::protocol::{EntityId, Tick};
use crate::snapshot::Snapshot;
use std::collections::VecDeque;

/// Inputs kept for prediction: the one in force and those not yet applied.
/// More than a second of inputs at any tick rate means the server stopped
/// applying them; the oldest go first.
pub(super) const KEPT_INPUTS: usize = 256;

/// An input as sent: its seq, the tick it was meant for (timed ones), the input.
pub(super) type SentInput<I> = (u32, Option<Tick>, I);

/// What the last prediction computed, to tell a correction from a match.
#[derive(Debug)]
pub(super) struct PredictionState<E> {
    /// The predicted states of the last run, tick by tick.
    states: Vec<(Tick, E)>,
    /// The snapshot the last run started from.
    from: Option<Tick>,
    corrections: u64,
}

impl<E> Default for PredictionState<E> {
    fn default() -> Self {
        PredictionState {
            states: Vec::new(),
            from: None,
            corrections: 0,
        }
    }
}

impl<E> PredictionState<E> {
    pub(super) fn corrections(&self) -> u64 {
        self.corrections
    }

    /// Forgets the last run (a new match, a resume): nothing to compare with.
    pub(super) fn reset(&mut self) {
        self.states.clear();
        self.from = None;
    }
}

/// Predicts `own` from `snapshot` with `inputs` (oldest first, pruned here
/// of those the snapshot already includes, but the one in force), and
/// counts a correction when the new run disagrees with the previous one on
/// a tick both predicted. Returns the predicted present state.
pub(super) fn run<G>(
    state: &mut PredictionState<G::Entity>,
    inputs: &mut VecDeque<SentInput<G::Input>>,
    snapshot: &Snapshot<G::Entity>,
    own: EntityId,
    tick_rate: u16,
) -> Option<G::Entity>
where
    G: Predict,
    G::Entity: PartialEq,
    G::Input: Default,
{
    let mut entity = snapshot.get(own)?.clone();
    let applied = G::applied_input(&entity);
    while inputs.len() >= 2 && inputs[1].0 <= applied {
        inputs.pop_front();
    }
    let mut in_force = match inputs.front() {
        Some((seq, _, input)) if *seq <= applied => input.clone(),
        _ => G::Input::default(),
    };
    let world = PredictWorld {
        tick_rate,
        snapshot,
        own,
    };
    let mut states = Vec::new();
    let mut tick = snapshot.tick;
    // Two seconds of ticks at most: an input meant for a tick far ahead
    // (a broken clock) must not stall the caller.
    let limit = snapshot.tick.0 + 2 * u32::from(tick_rate.max(4));
    let mut pending = inputs
        .iter()
        .filter(|(seq, _, _)| *seq > applied)
        .peekable();
    while let Some((_, meant_for, _)) = pending.peek() {
        // An untimed input counts as meant for the next tick; none goes back.
        let target = Tick(meant_for.map_or(tick.0 + 1, |t| t.0.max(tick.0 + 1)));
        if target.0 > limit {
            break;
        }
        while tick < target {
            tick = Tick(tick.0 + 1);
            while let Some((seq, _, input)) =
                pending.next_if(|(_, m, _)| m.is_none_or(|t| t <= tick))
            {
                G::predict_input(&mut entity, *seq, input, &world);
                in_force = input.clone();
                if pending.peek().is_some_and(|(_, m, _)| m.is_none()) {
                    // Untimed inputs go one per tick.
                    break;
                }
            }
            G::predict_step(&mut entity, &in_force, &world);
            states.push((tick, entity.clone()));
        }
    }
    if state.from != Some(snapshot.tick) {
        let disagrees = states.iter().any(|(t, new)| {
            state
                .states
                .iter()
                .find(|(old_t, _)| old_t == t)
                .is_some_and(|(_, old)| !G::agrees(old, new))
        });
        state.corrections += u64::from(disagrees);
        state.from = Some(snapshot.tick);
    }
    state.states = states;
    // The last state stepped, or the server's when nothing is pending.
    Some(entity)
}
