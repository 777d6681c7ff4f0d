//! One client's side of interest management and the bandwidth budget: what
//! it holds, and what it gets this tick. Kept by the client's writer, on
//! the network threads, so the tick thread never works per client.
//!
//! Each tick the viewer builds the exact state the client will hold after
//! decoding this tick's frame (a [`ClientView`]), and encodes it as an
//! ordinary delta against the view the client acknowledged. The wire does
//! not change: an entity entering the view is new to the baseline (sent in
//! full), one leaving it is removed, and one the budget skips becomes its
//! baseline's prediction, which the delta then leaves out at no cost. So
//! `decode(frame, baseline view) == view` by construction, and the next
//! frame's baseline is always what the client really holds.
//!
//! Under a budget, each visible entity has a priority that grows by its
//! weight every tick it is not up to date on the client (a priority
//! accumulator) and resets when it is sent; each tick the client gets the
//! highest priorities that fit its token bucket. Two kinds are always sent:
//! the player's own entity, and an entity written in a frame the client has
//! not yet acknowledged (the next frame decodes against an older baseline,
//! and leaving it out would take the client back in time).

use super::published::{snapshot_frame, with_encoder, SharedFrame, CHANGED, FRESH, UNKNOWN};
use super::views::Seen;
use super::Published;
use crate::game::interest::ALWAYS;
use crate::protocol::{EntityId, Tick, MAX_BASELINE_AGE};
use crate::snapshot::{BitWriter, NetEntity, Snapshot};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

/// Views a viewer keeps as possible baselines (the protocol's age limit).
const RING: usize = MAX_BASELINE_AGE as usize;
/// A frame's bytes beyond its entities: message type, ticks, lengths, and
/// the payload's two list ends, rounded up.
const FRAME_OVERHEAD_BITS: u32 = 10 * 8;
/// What an entity's id costs in a frame, on average (a gamma-coded gap).
const ID_BITS: u32 = 10;
/// The nearest entities whose freshness is counted (scenario arena-v2's
/// `near16_coverage`): the heaviest non-own entries of a view.
pub const NEAR: usize = 16;
/// How many visible entities ahead `classify` asks the cache for.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to start loading `value` into the cache; only a hint.
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no state the program can
    // observe; the pointer comes from a reference, so it is valid anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Per-client frames a tick keeps for sharing; beyond it, no more are kept.
const SHARED_FRAMES: usize = 256;

/// What one client holds after decoding one frame: a baseline for the next.
#[derive(Debug)]
pub struct ClientView<E> {
    pub snapshot: Snapshot<E>,
    /// The ids of `snapshot.entities`, packed: what the next frame merges
    /// its visible ids with, without loading the entities themselves.
    ids: Vec<EntityId>,
    /// Every entity is as its tick's snapshot holds it (none left stale by
    /// a budget): its changes since then are the same for every client
    /// that holds it, and shared (see `Published::fresh_since`).
    exact: bool,
}

/// A per-client bandwidth budget: a token bucket filled every tick.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    per_tick: f64,
    cap: f64,
}

impl Budget {
    /// `bytes_per_s` at `tick_rate`; the bucket holds two ticks' worth, so
    /// a quiet tick lends its bytes to the next one and no second ever gets
    /// more than its budget and two ticks' worth.
    pub fn new(bytes_per_s: u32, tick_rate: u16) -> Self {
        let per_tick = f64::from(bytes_per_s) / f64::from(tick_rate.max(1));
        Budget {
            per_tick,
            cap: 2.0 * per_tick,
        }
    }
}

/// One visible entity's priority for this client, kept between ticks.
#[derive(Debug, Clone, Copy)]
struct Prio {
    id: EntityId,
    acc: f32,
    /// The newest tick whose frame wrote it (0: never).
    sent_at: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Up to date on the client without a bit sent (its prediction holds).
    Fresh,
    /// Sent, whatever the budget.
    Write,
    /// Sent if the budget has room; else stale (or not yet entered).
    Candidate { selected: bool },
}

/// Kept small: a frame writes one per visible entity, and reads them in
/// several passes.
#[derive(Debug)]
struct Item {
    id: EntityId,
    index: u32,
    weight: f32,
    class: Class,
    /// Where `Viewer::predictions` holds the baseline's prediction of a
    /// changed entity the client holds (`NONE`: unchanged, or new).
    predicted: u32,
    cost_bits: u32,
    acc: f32,
    sent_at: u32,
}

/// `Item::predicted` when there is no prediction.
const NONE: u32 = u32::MAX;

impl Item {
    /// Up to date on the client after this frame.
    fn fresh(&self) -> bool {
        !matches!(self.class, Class::Candidate { selected: false })
    }

    /// Written into this frame.
    fn written(&self) -> bool {
        matches!(
            self.class,
            Class::Write | Class::Candidate { selected: true }
        )
    }

    /// Held by the client after this frame (fresh, or left at its prediction).
    fn present(&self) -> bool {
        self.fresh() || self.predicted != NONE
    }
}

/// The frame for one client, and how it was made.
#[derive(Debug)]
pub struct FrameOut {
    pub frame: Bytes,
    /// Against no baseline.
    pub full: bool,
    /// Encoded by another client with the same baseline and view.
    pub shared: bool,
}

/// What a viewer counted since its counts were last taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ViewerCounts {
    /// Of the `NEAR` heaviest entries of each view (the own entity aside),
    /// those up to date on the client after the frame, and all of them.
    pub near_fresh: u64,
    pub near_total: u64,
    /// Entities the budget left stale, or not yet entered.
    pub deferred: u64,
    /// Frames another client of the same tick had already encoded.
    pub shared: u64,
}

/// One client's views, priorities and budget; see the module doc.
#[derive(Debug)]
pub struct Viewer<E> {
    ring: [Option<Arc<ClientView<E>>>; RING],
    /// The tick of each `ring` entry, beside it: reading it through the
    /// pointer costs a cache miss per entry per frame.
    ring_ticks: [u32; RING],
    budget: Option<Budget>,
    tokens: f64,
    last_tick: Option<Tick>,
    prio: Vec<Prio>,
    next_prio: Vec<Prio>,
    items: Vec<Item>,
    /// The baseline's predictions of this frame's changed entities.
    predictions: Vec<E>,
    order: Vec<u32>,
    near: Vec<(f32, bool)>,
    /// Baseline entities no longer visible: this frame removes them.
    removed: Vec<EntityId>,
    everything: Vec<Seen>,
    scratch: BitWriter,
    /// Entity buffers of views no client holds any more, for reuse.
    spare: Vec<(Vec<E>, Vec<EntityId>)>,
    counts: ViewerCounts,
}

impl<E: NetEntity> Viewer<E> {
    pub fn new(budget: Option<Budget>) -> Self {
        Viewer {
            ring: std::array::from_fn(|_| None),
            ring_ticks: [0; RING],
            budget,
            tokens: budget.map_or(0.0, |b| b.per_tick),
            last_tick: None,
            prio: Vec::new(),
            next_prio: Vec::new(),
            items: Vec::new(),
            predictions: Vec::new(),
            order: Vec::new(),
            near: Vec::new(),
            removed: Vec::new(),
            everything: Vec::new(),
            scratch: BitWriter::new(),
            spare: Vec::new(),
            counts: ViewerCounts::default(),
        }
    }

    /// The counts since the last call.
    pub fn take_counts(&mut self) -> ViewerCounts {
        std::mem::take(&mut self.counts)
    }

    /// Counts bytes sent besides snapshots (events, reports) against the budget.
    pub fn charge(&mut self, bytes: usize) {
        if self.budget.is_some() {
            self.tokens -= bytes as f64;
        }
    }

    /// The view this client acknowledged, if it can be a baseline for tick
    /// `now`; releases every view that never can again.
    fn baseline(&mut self, acked: u32, now: Tick) -> Option<Arc<ClientView<E>>> {
        let oldest_usable = acked.max(now.0.saturating_sub(MAX_BASELINE_AGE));
        for (slot, &tick) in self.ring.iter_mut().zip(&self.ring_ticks) {
            if slot.is_some() && tick < oldest_usable {
                let view = slot.take().expect("checked above");
                // Nobody else holds it: keep its buffer for a later view.
                if let Ok(view) = Arc::try_unwrap(view) {
                    if self.spare.len() < 2 {
                        self.spare.push((view.snapshot.entities, view.ids));
                    }
                }
            }
        }
        if acked == 0 || acked < oldest_usable || acked >= now.0 {
            return None;
        }
        let slot = acked as usize % RING;
        if self.ring_ticks[slot] != acked {
            return None;
        }
        self.ring[slot].clone()
    }

    /// This tick's frame for the client that acknowledged `acked`: its view
    /// `seen` (`None`: every entity, each of weight 1, and `own`, the
    /// player's entity, always), within its budget.
    pub fn frame(
        &mut self,
        published: &Published<E>,
        seen: Option<&[Seen]>,
        acked: u32,
        own: Option<EntityId>,
    ) -> FrameOut {
        let now = published.snapshot.tick;
        let base = self.baseline(acked, now);
        if let Some(b) = self.budget {
            let ticks = self.last_tick.map_or(1, |t| now.since(t).max(1));
            self.tokens = (self.tokens + b.per_tick * f64::from(ticks)).min(b.cap);
        }
        self.last_tick = Some(now);
        let mut everything = std::mem::take(&mut self.everything);
        let seen = match seen {
            Some(s) => s,
            None => {
                let entities = &published.snapshot.entities;
                everything.clear();
                everything
                    .extend((0..entities.len() as u32).map(|index| Seen { index, weight: 1.0 }));
                if let Some(i) =
                    own.and_then(|id| entities.binary_search_by_key(&id, |e| e.id()).ok())
                {
                    everything[i].weight = ALWAYS;
                }
                &everything
            }
        };
        self.classify(published, seen, base.as_deref());
        self.everything = everything;
        if self.budget.is_some() {
            self.select();
        }
        self.carry_priorities(now);
        let stale = self.stale_bits();
        let ids = self.present_ids();

        let shared_view = match self.find_shared(published, base.as_ref(), &stale, ids) {
            Shared::Frame(view, frame) => {
                self.remember(now, view);
                self.counts.shared += 1;
                self.charge(frame.len());
                return FrameOut {
                    frame,
                    full: base.is_none(),
                    shared: true,
                };
            }
            Shared::View(view) => Some(view),
            Shared::Nothing => None,
        };
        let cur = &published.snapshot.entities;
        let view = shared_view.unwrap_or_else(|| {
            let (mut entities, mut ids) = self.spare.pop().unwrap_or_default();
            entities.clear();
            ids.clear();
            let mut exact = true;
            for item in &self.items {
                if item.fresh() {
                    entities.push(cur[item.index as usize].clone());
                    ids.push(item.id);
                } else if item.predicted != NONE {
                    entities.push(self.predictions[item.predicted as usize].clone());
                    ids.push(item.id);
                    exact = false;
                }
            }
            Arc::new(ClientView {
                snapshot: Snapshot {
                    tick: now,
                    entities,
                },
                ids,
                exact,
            })
        });
        // Each entity was compared with its prediction once, in `classify`:
        // the payload is written from that, not compared again.
        let written = self.items.iter().filter(|i| i.written()).map(|i| {
            let predicted = (i.predicted != NONE).then(|| &self.predictions[i.predicted as usize]);
            (&cur[i.index as usize], predicted)
        });
        let frame = with_encoder(|encoder| {
            let payload = encoder.encode_parts(self.removed.iter().copied(), written);
            snapshot_frame(now, base.as_ref().map(|b| b.snapshot.tick), payload)
        });
        if let Ok(mut frames) = published.view_frames.lock() {
            if frames.len() < SHARED_FRAMES {
                frames.push(SharedFrame {
                    baseline: base.as_ref().map(Arc::downgrade),
                    view: Arc::downgrade(&view),
                    count: ids.count,
                    ids_hash: ids.hash,
                    stale,
                    frame: frame.clone(),
                });
            }
        }
        self.remember(now, view);
        self.charge(frame.len());
        FrameOut {
            frame,
            full: base.is_none(),
            shared: false,
        }
    }

    fn remember(&mut self, now: Tick, view: Arc<ClientView<E>>) {
        let slot = now.0 as usize % RING;
        self.ring[slot] = Some(view);
        self.ring_ticks[slot] = now.0;
    }

    /// Sorts every visible entity into fresh, written or candidate, with
    /// its priority carried over, and lists the baseline's entities no
    /// longer visible (this frame removes them).
    fn classify(&mut self, published: &Published<E>, seen: &[Seen], base: Option<&ClientView<E>>) {
        let (base_entities, base_ids, ticks, base_tick): (&[E], &[EntityId], u32, u32) = match base
        {
            Some(b) => (
                &b.snapshot.entities,
                &b.ids,
                published.snapshot.tick.since(b.snapshot.tick),
                b.snapshot.tick.0,
            ),
            None => (&[], &[], 0, 0),
        };
        // Which entities changed since the baseline's tick, as far as other
        // clients of this tick have found out: only for a baseline that
        // holds every entity as its tick's snapshot did.
        let shared = base
            .filter(|b| b.exact)
            .and_then(|_| published.fresh_since(ticks));
        let cur = &published.snapshot.entities;
        let budgeted = self.budget.is_some();
        self.items.clear();
        self.predictions.clear();
        self.removed.clear();
        let (mut bi, mut pi) = (0usize, 0usize);
        for (n, s) in seen.iter().enumerate() {
            // The tick thread wrote the snapshot on another core: without a
            // hint, the first read of each visible entity waits for memory
            // (a third of this function's time under load).
            if let Some(ahead) = seen.get(n + PREFETCH_AHEAD) {
                prefetch(&cur[ahead.index as usize]);
            }
            let entity = &cur[s.index as usize];
            let id = entity.id();
            while bi < base_ids.len() && base_ids[bi] < id {
                self.removed.push(base_ids[bi]);
                bi += 1;
            }
            // Without a budget `prio` stays empty.
            while pi < self.prio.len() && self.prio[pi].id < id {
                pi += 1;
            }
            let (acc, sent_at) = match self.prio.get(pi) {
                Some(p) if p.id == id => (p.acc, p.sent_at),
                _ => (0.0, 0),
            };
            // Written by a frame not yet acknowledged: the client holds it,
            // but this frame decodes against an older baseline.
            let must = !budgeted || s.weight == ALWAYS || sent_at > base_tick;
            let class_of = |must: bool| {
                if must {
                    Class::Write
                } else {
                    Class::Candidate { selected: false }
                }
            };
            let held = base_ids.get(bi).is_some_and(|&b| b == id);
            let (class, predicted, cost_bits) = match held.then(|| &base_entities[bi]) {
                Some(b) => {
                    bi += 1;
                    let i = s.index as usize;
                    let known = shared.map_or(UNKNOWN, |t| t[i].load(Relaxed));
                    // Known fresh: the baseline's entity is not even loaded.
                    let predicted = (known != FRESH).then(|| b.predict(ticks));
                    let fresh = match &predicted {
                        None => true,
                        Some(p) if known == UNKNOWN => {
                            let fresh = entity.same_on_wire(p);
                            if let Some(t) = shared {
                                t[i].store(if fresh { FRESH } else { CHANGED }, Relaxed);
                            }
                            fresh
                        }
                        Some(_) => false,
                    };
                    if let Some(predicted) = predicted.filter(|_| !fresh) {
                        let cost = if budgeted {
                            self.scratch.clear();
                            entity.write_changes(&predicted, &mut self.scratch);
                            self.scratch.len_bits() + ID_BITS
                        } else {
                            0
                        };
                        self.predictions.push(predicted);
                        (class_of(must), (self.predictions.len() - 1) as u32, cost)
                    } else {
                        (Class::Fresh, NONE, 0)
                    }
                }
                None => {
                    let cost = if budgeted {
                        self.scratch.clear();
                        entity.write_full(&mut self.scratch);
                        self.scratch.len_bits() + ID_BITS
                    } else {
                        0
                    };
                    (class_of(must), NONE, cost)
                }
            };
            self.items.push(Item {
                id,
                index: s.index,
                weight: s.weight,
                class,
                predicted,
                cost_bits,
                acc,
                sent_at,
            });
        }
        self.removed
            .extend_from_slice(&base_ids[bi.min(base_ids.len())..]);
    }

    /// Marks the candidates that fit the budget, highest priority first.
    fn select(&mut self) {
        let mut must_bits = FRAME_OVERHEAD_BITS + self.removed.len() as u32 * ID_BITS;
        for item in self.items.iter().filter(|i| i.class == Class::Write) {
            must_bits += item.cost_bits;
        }
        let mut left = self.tokens * 8.0 - f64::from(must_bits);
        self.order.clear();
        self.order.extend(
            self.items
                .iter()
                .enumerate()
                .filter(|(_, i)| matches!(i.class, Class::Candidate { .. }))
                .map(|(n, _)| n as u32),
        );
        let items = &self.items;
        let priority = |n: u32| {
            let i = &items[n as usize];
            i.acc + i.weight
        };
        self.order
            .sort_unstable_by(|&a, &b| priority(b).total_cmp(&priority(a)));
        for &n in &self.order {
            if left < f64::from(ID_BITS) {
                break;
            }
            let item = &mut self.items[n as usize];
            if f64::from(item.cost_bits) <= left {
                left -= f64::from(item.cost_bits);
                item.class = Class::Candidate { selected: true };
            }
        }
    }

    /// Carries each visible entity's priority into the next tick (an entity
    /// leaving the view forgets it), and counts what the budget deferred and
    /// how fresh the nearest entities are.
    fn carry_priorities(&mut self, now: Tick) {
        if self.budget.is_none() {
            // Every visible entity is up to date after the frame, and no
            // priority is ever read.
            let near = self.items.iter().filter(|i| i.weight != ALWAYS).count();
            let near = near.min(NEAR) as u64;
            self.counts.near_total += near;
            self.counts.near_fresh += near;
            return;
        }
        self.next_prio.clear();
        self.near.clear();
        for item in &self.items {
            let fresh = item.fresh();
            self.next_prio.push(Prio {
                id: item.id,
                acc: if fresh { 0.0 } else { item.acc + item.weight },
                sent_at: if item.written() { now.0 } else { item.sent_at },
            });
            if !fresh {
                self.counts.deferred += 1;
            }
            if item.weight != ALWAYS {
                self.near.push((item.weight, fresh));
            }
        }
        std::mem::swap(&mut self.prio, &mut self.next_prio);
        let near = &mut self.near;
        if near.len() > NEAR {
            near.select_nth_unstable_by(NEAR - 1, |a, b| b.0.total_cmp(&a.0));
            near.truncate(NEAR);
        }
        self.counts.near_total += near.len() as u64;
        self.counts.near_fresh += near.iter().filter(|n| n.1).count() as u64;
    }

    /// One bit per visible entity: left stale by the budget. With the
    /// baseline and the visible ids, it decides the view exactly.
    fn stale_bits(&self) -> Vec<u64> {
        if self.budget.is_none() {
            return Vec::new();
        }
        let mut bits = vec![0u64; self.items.len().div_ceil(64)];
        for (n, item) in self.items.iter().enumerate() {
            if !item.fresh() {
                bits[n / 64] |= 1 << (n % 64);
            }
        }
        bits
    }

    /// What another client of this tick made that this one can reuse: the
    /// frame, when it had the same baseline (the same `Arc`), the same
    /// visible ids and the same stale entities (the views are then equal,
    /// and so are the frames); else the view alone, when both views are
    /// all up to date with the same ids (a view without stale entities is
    /// the current state of its ids, whatever the baseline). Sharing the
    /// view makes the next tick's baselines the same `Arc`, so from then on
    /// the frames are shared too.
    fn find_shared(
        &self,
        published: &Published<E>,
        base: Option<&Arc<ClientView<E>>>,
        stale: &[u64],
        ids: PresentIds,
    ) -> Shared<E> {
        let Ok(frames) = published.view_frames.lock() else {
            return Shared::Nothing;
        };
        let same_base = |b: &Option<Weak<ClientView<E>>>| match (b, base) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::eq(a.as_ptr(), Arc::as_ptr(b)),
            _ => false,
        };
        let present = || self.items.iter().filter(|i| i.present()).map(|i| i.id);
        let all_fresh = |bits: &[u64]| bits.iter().all(|&b| b == 0);
        let mut view = None;
        for f in frames.iter() {
            if f.count != ids.count || f.ids_hash != ids.hash {
                continue;
            }
            let frame_fits = f.stale == stale && same_base(&f.baseline);
            let view_fits = view.is_none() && all_fresh(stale) && all_fresh(&f.stale);
            if !frame_fits && !view_fits {
                continue;
            }
            // The hash matched: the ids are almost surely the same, but a
            // shared view must be exactly this client's.
            let Some(v) = f.view.upgrade() else { continue };
            if !v.ids.iter().copied().eq(present()) {
                continue;
            }
            if frame_fits {
                return Shared::Frame(v, f.frame.clone());
            }
            view = Some(v);
        }
        view.map_or(Shared::Nothing, Shared::View)
    }

    /// The count and a hash of the ids the client holds after this frame.
    fn present_ids(&self) -> PresentIds {
        let mut ids = PresentIds { count: 0, hash: 0 };
        for item in self.items.iter().filter(|i| i.present()) {
            ids.count += 1;
            ids.hash = (ids.hash.rotate_left(5) ^ u64::from(item.id.0))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        ids
    }
}

/// What `find_shared` compares first.
#[derive(Debug, Clone, Copy)]
struct PresentIds {
    count: u32,
    hash: u64,
}

/// What a client can reuse of another's work this tick.
enum Shared<E> {
    Frame(Arc<ClientView<E>>, Bytes),
    View(Arc<ClientView<E>>),
    Nothing,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::arena::{ArenaEntity, KIND_NPC, KIND_PLAYER};
    use crate::protocol::{decode_server, ServerMsg};
    use crate::snapshot::decode_delta;
    use crate::tick::Views;
    use glam::IVec2;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const OWN: EntityId = EntityId(1);

    fn entity(id: u32, rng: &mut fastrand::Rng) -> ArenaEntity {
        ArenaEntity {
            id: EntityId(id),
            kind: if EntityId(id) == OWN {
                KIND_PLAYER
            } else {
                KIND_NPC
            },
            pos: IVec2::new(rng.i32(0..=64000), rng.i32(0..=64000)),
            vel: IVec2::new(rng.i32(-40..=40), rng.i32(-40..=40)),
            angle: rng.u16(..),
            hp: rng.u16(0..=255),
            last_input_seq: 0,
        }
    }

    /// The world one tick on: most entities coast (exactly predictable),
    /// some turn or lose hp, a few leave and a few arrive.
    fn step(world: &mut Vec<ArenaEntity>, next_id: &mut u32, rng: &mut fastrand::Rng) {
        for e in world.iter_mut() {
            e.pos = (e.pos + e.vel).clamp(IVec2::ZERO, IVec2::splat(64000));
            if rng.u8(..) < 40 {
                e.vel = IVec2::new(rng.i32(-40..=40), rng.i32(-40..=40));
            }
            if rng.u8(..) < 10 {
                e.hp = e.hp.saturating_sub(7);
            }
        }
        world.retain(|e| e.id == OWN || rng.u8(..) >= 4);
        for _ in 0..rng.usize(0..3) {
            *next_id += 1;
            world.push(entity(*next_id, rng));
        }
    }

    /// The only player of `with_random_view`.
    const ONE: crate::protocol::PlayerId = crate::protocol::PlayerId(1);

    /// `snapshot` published with a random view for player `ONE`: each entity
    /// seen with some chance, with a weight of its own (as nearness changes
    /// slowly); the own entity always.
    fn with_random_view(
        snapshot: Snapshot<ArenaEntity>,
        rng: &mut fastrand::Rng,
        share: u8,
    ) -> Published<ArenaEntity> {
        let mut view = crate::game::View::new();
        for e in &snapshot.entities {
            if rng.u8(..) < share {
                view.see(e.id, 0.1 + (e.id.0 % 17) as f32);
            }
        }
        view.see(OWN, ALWAYS);
        let mut views = Views::default();
        views.push(&snapshot, ONE, &mut view);
        views.finish();
        Published::with_views(snapshot, Some(views))
    }

    /// Decodes a viewer's frame as its client does, against the states it
    /// holds by tick.
    fn decode_as_client(
        frame: &[u8],
        held: &BTreeMap<u32, Snapshot<ArenaEntity>>,
    ) -> Snapshot<ArenaEntity> {
        let ServerMsg::Snapshot {
            tick,
            baseline,
            payload,
        } = decode_server(frame, 1 << 20).expect("a snapshot frame")
        else {
            panic!("not a snapshot");
        };
        let base = baseline.map(|b| {
            held.get(&b.0)
                .expect("the baseline is one the client holds")
        });
        decode_delta(base, tick, &payload).expect("decodes")
    }

    struct Run {
        /// Every frame's size, by tick.
        sizes: Vec<usize>,
        near: ViewerCounts,
        /// Ticks on which the heaviest entity in view was up to date.
        decoded: usize,
    }

    /// Plays `ticks` ticks of a changing world and changing views through a
    /// viewer and a client that decodes every frame and acknowledges with a
    /// random lag; checks each decoded state against the viewer's view and
    /// the visible set.
    fn play(seed: u64, ticks: u32, budget: Option<u32>, share: u8, ack_lag: u32) -> Run {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut next_id = 40;
        let mut world: Vec<ArenaEntity> = (1..=next_id).map(|id| entity(id, &mut rng)).collect();
        let mut viewer = Viewer::new(budget.map(|b| Budget::new(b, 30)));
        let mut client: BTreeMap<u32, Snapshot<ArenaEntity>> = BTreeMap::new();
        let mut acked = 0u32;
        let mut sizes = Vec::new();
        for t in 1..=ticks {
            step(&mut world, &mut next_id, &mut rng);
            let snapshot = Snapshot::new(Tick(t), world.clone());
            let published = with_random_view(snapshot, &mut rng, share);
            let seen = published.views.as_ref().unwrap().of(ONE);
            let out = viewer.frame(&published, seen, acked, None);
            sizes.push(out.frame.len());
            let decoded = decode_as_client(&out.frame, &client);
            assert_eq!(decoded.tick, Tick(t));
            let view = viewer.ring[t as usize % RING].as_ref().unwrap();
            assert_eq!(
                decoded, view.snapshot,
                "the client holds exactly the viewer's view"
            );
            let visible: Vec<EntityId> = seen
                .unwrap()
                .iter()
                .map(|s| published.snapshot.entities[s.index as usize].id)
                .collect();
            for e in &decoded.entities {
                assert!(visible.contains(&e.id), "{:?} is not in view", e.id);
            }
            let own = decoded.get(OWN).expect("the own entity is always sent");
            assert_eq!(own, published.snapshot.get(OWN).unwrap(), "and up to date");
            if budget.is_none() {
                assert_eq!(
                    decoded.entities.len(),
                    visible.len(),
                    "without a budget, all of the view"
                );
                for e in &decoded.entities {
                    assert_eq!(
                        Some(e),
                        published.snapshot.get(e.id),
                        "and all of it up to date"
                    );
                }
            }
            client.insert(t, decoded);
            // The client acknowledges what it decoded `ack_lag` ticks ago (random
            // extra delay), as acks travel.
            if t > ack_lag && rng.u8(..) < 200 {
                acked = acked.max((t - ack_lag).saturating_sub(rng.u32(0..=ack_lag.min(2))));
            }
            client.retain(|&k, _| k + MAX_BASELINE_AGE + 2 >= t);
        }
        Run {
            sizes,
            near: viewer.take_counts(),
            decoded: client.len(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn a_client_decodes_exactly_its_view_without_a_budget(
            seed in any::<u64>(), share in 20u8..=255, lag in 0u32..4,
        ) {
            let run = play(seed, 120, None, share, lag);
            prop_assert!(run.decoded > 0);
            prop_assert_eq!(run.near.near_fresh, run.near.near_total);
        }

        #[test]
        fn a_client_decodes_exactly_its_view_under_a_budget(
            seed in any::<u64>(), share in 20u8..=255, lag in 0u32..4, budget in 600u32..6000,
        ) {
            play(seed, 120, Some(budget), share, lag);
        }
    }

    #[test]
    fn a_budget_bounds_every_second_and_the_heaviest_are_sent_first() {
        let budget = 2000;
        let total = |r: &Run| r.sizes.iter().sum::<usize>();
        for lag in [0, 1] {
            let run = play(7, 300, Some(budget), 255, lag);
            let worst = run
                .sizes
                .windows(30)
                .map(|w| w.iter().sum::<usize>())
                .max()
                .unwrap();
            // The bucket lends at most two ticks' worth to any second.
            let bound = budget as usize + 2 * budget as usize / 30 + 30;
            assert!(
                worst <= bound,
                "lag {lag}: worst second {worst} B > {bound} B"
            );
            let unbudgeted = play(7, 300, None, 255, lag);
            assert!(
                total(&run) < total(&unbudgeted),
                "lag {lag}: the budget binds in this world"
            );
        }
        // Acknowledged at once (as a timed client does): the budget defers
        // many entities every tick, and the heaviest 16 are still up to date
        // most ticks.
        let run = play(7, 300, Some(budget), 255, 0);
        assert!(
            run.near.deferred > 300 * 10,
            "deferred {}",
            run.near.deferred
        );
        let coverage = run.near.near_fresh as f64 / run.near.near_total as f64;
        assert!(coverage > 0.7, "near coverage {coverage}");
    }

    #[test]
    fn clients_with_the_same_baseline_and_view_share_one_encoding() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut next_id = 30;
        let mut world: Vec<ArenaEntity> = (1..=next_id).map(|id| entity(id, &mut rng)).collect();
        let (mut a, mut b, mut c) = (Viewer::new(None), Viewer::new(None), Viewer::new(None));
        // A client that arrives later, then acknowledges as `a` does.
        let mut late = Viewer::new(None);
        let mut shared = 0;
        for t in 1..=20u32 {
            step(&mut world, &mut next_id, &mut rng);
            let snapshot = Snapshot::new(Tick(t), world.clone());
            let published = with_random_view(snapshot, &mut rng, 128);
            let seen = published.views.as_ref().unwrap().of(ONE);
            let acked = t - 1;
            let fa = a.frame(&published, seen, acked, None);
            let fb = b.frame(&published, seen, acked, None);
            assert!(!fa.shared);
            assert!(fb.shared, "tick {t}: same baseline, same view");
            assert_eq!(fa.frame, fb.frame);
            // A client a tick behind in its acks has another baseline.
            let fc = c.frame(&published, seen, acked.saturating_sub(1), None);
            assert_eq!(fc.shared, t == 1, "tick {t}");
            if t >= 5 {
                // Its first frame is full, but its view is `a`'s (all up to
                // date, same ids): from the next tick on, its baseline is
                // the same `Arc` as `a`'s, and it shares `a`'s frames.
                let acked_late = if t == 5 { 0 } else { acked };
                let fl = late.frame(&published, seen, acked_late, None);
                assert_eq!(fl.shared, t > 5, "tick {t}");
                if t > 5 {
                    assert_eq!(fl.frame, fa.frame);
                }
            }
            shared += usize::from(fb.shared);
        }
        assert_eq!(b.take_counts().shared, shared as u64);
    }

    /// Several clients of one match framed from the same `Published` every
    /// tick, each with its own changing view, ack lag and (two of them) a
    /// budget; two always see the same view. Whatever one viewer works out
    /// for the others (a frame, a view, which entities changed since a
    /// baseline tick), every client decodes exactly its own view.
    #[test]
    fn clients_of_one_match_each_decode_exactly_their_own_view() {
        const LAGS: [u32; 6] = [0, 0, 1, 2, 3, 1];
        const BUDGETS: [Option<u32>; 6] = [None, None, None, Some(3000), None, Some(1500)];
        let mut shared = 0;
        for seed in 0..6 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut next_id = 60;
            let mut world: Vec<ArenaEntity> =
                (1..=next_id).map(|id| entity(id, &mut rng)).collect();
            let mut viewers: Vec<Viewer<ArenaEntity>> = BUDGETS
                .iter()
                .map(|b| Viewer::new(b.map(|b| Budget::new(b, 30))))
                .collect();
            let mut clients: Vec<BTreeMap<u32, Snapshot<ArenaEntity>>> =
                vec![BTreeMap::new(); LAGS.len()];
            let mut acked = [0u32; LAGS.len()];
            for t in 1..=90u32 {
                step(&mut world, &mut next_id, &mut rng);
                let snapshot = Snapshot::new(Tick(t), world.clone());
                let mut views = Views::default();
                let mut first = None;
                for p in 0..LAGS.len() {
                    let mut view = crate::game::View::new();
                    if p == 1 {
                        view = first.take().expect("client 0's view");
                    } else {
                        for e in &snapshot.entities {
                            if rng.u8(..) < 200 {
                                view.see(e.id, 1.0 + (e.id.0 % 5) as f32);
                            }
                        }
                    }
                    views.push(
                        &snapshot,
                        crate::protocol::PlayerId(p as u64 + 1),
                        &mut view,
                    );
                    if p == 0 {
                        first = Some(view);
                    }
                }
                views.finish();
                let published = Published::with_views(snapshot, Some(views));
                for (p, viewer) in viewers.iter_mut().enumerate() {
                    let player = crate::protocol::PlayerId(p as u64 + 1);
                    let seen = published.views.as_ref().unwrap().of(player);
                    let out = viewer.frame(&published, seen, acked[p], None);
                    shared += usize::from(out.shared);
                    let decoded = decode_as_client(&out.frame, &clients[p]);
                    let view = viewer.ring[t as usize % RING].as_ref().unwrap();
                    assert_eq!(decoded, view.snapshot, "seed {seed}, tick {t}, client {p}");
                    if BUDGETS[p].is_none() {
                        let visible: Vec<&ArenaEntity> = seen
                            .unwrap()
                            .iter()
                            .map(|s| &published.snapshot.entities[s.index as usize])
                            .collect();
                        assert_eq!(
                            decoded.entities.iter().collect::<Vec<_>>(),
                            visible,
                            "seed {seed}, tick {t}, client {p}: all of its view, up to date"
                        );
                    }
                    clients[p].insert(t, decoded);
                    clients[p].retain(|&k, _| k + MAX_BASELINE_AGE + 2 >= t);
                    if t > LAGS[p] {
                        acked[p] = t - LAGS[p];
                    }
                }
            }
        }
        assert!(shared > 0, "clients 0 and 1 share frames");
    }
}
