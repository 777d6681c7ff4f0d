//! Any bytes a client can send: decoding never panics, and what decodes
//! survives an encode/decode round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire::game::arena::{ArenaInput, ArenaMessage};
use tickwire::protocol::{decode_client, encode_client};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_client::<ArenaInput, ArenaMessage>(data, 1024) {
        // Compare encodings, not values: a NaN aim is not equal to itself.
        let mut first = Vec::new();
        encode_client(&msg, &mut first);
        let again = decode_client::<ArenaInput, ArenaMessage>(&first, 1024)
            .expect("our own encoding decodes");
        let mut second = Vec::new();
        encode_client(&again, &mut second);
        assert_eq!(
            first, second,
            "an encode/decode round trip changed the message"
        );
    }
});
