//! Arbitrary bytes as a bittensor envelope: errors only; a parse covers the
//! input exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::bittensor;

fuzz_target!(|data: &[u8]| {
    if let Ok((round, inner)) = bittensor::parse(data) {
        assert!(round.get() > 0);
        assert_eq!(inner.end + 8, data.len());
    }
});
