//! Any snapshot payload, against a real arena-v1 baseline: decoding never
//! panics, and whatever decodes re-encodes and decodes to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tickwire::game::arena::{Arena, ArenaEntity};
use tickwire::game::{Game, MatchSettings};
use tickwire::protocol::{PlayerId, Tick};
use tickwire::snapshot::{decode_delta, encode_delta, Snapshot};

fn baseline() -> &'static Snapshot<ArenaEntity> {
    static BASE: OnceLock<Snapshot<ArenaEntity>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut game = Arena::new(&MatchSettings { seed: 1, tick_rate: 30, capacity: 16 });
        for p in 0..4 {
            game.join(PlayerId(p));
        }
        for t in 1..=10 {
            game.step(Tick(t));
        }
        let mut out = Vec::new();
        game.freeze(&mut out);
        Snapshot::new(Tick(10), out)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&distance, payload)) = data.split_first() else { return };
    let base = baseline();
    let tick = Tick(10 + u32::from(distance % 20) + 1);
    for b in [Some(base), None] {
        if let Ok(state) = decode_delta(b, tick, payload) {
            let again = encode_delta(b, &state);
            assert_eq!(decode_delta(b, tick, &again).as_ref(), Ok(&state));
        }
    }
});
