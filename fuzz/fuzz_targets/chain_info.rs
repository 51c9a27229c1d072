//! Arbitrary bytes as a drand /info document: an error or a chain whose hash
//! was recomputed, never a panic or unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::Chain;

fuzz_target!(|data: &[u8]| {
    if let Ok(chain) = Chain::from_info_json(data) {
        assert_eq!(chain.public_key().group(), chain.scheme().public_key_group());
    }
});
