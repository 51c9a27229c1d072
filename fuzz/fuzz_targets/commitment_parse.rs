//! Arbitrary text as a GRAIL commitment: errors only; parse∘encode∘parse is
//! stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::commitment::ReadCommitment;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    if let Ok(c) = ReadCommitment::parse(text) {
        if let Ok(encoded) = c.encode() {
            assert_eq!(ReadCommitment::parse(&encoded), Ok(c));
        }
    }
});
