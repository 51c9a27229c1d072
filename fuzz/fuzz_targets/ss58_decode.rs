//! Arbitrary text as an SS58 address: errors only; decode∘encode is identity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::ss58;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    if let Ok((prefix, key)) = ss58::decode(text) {
        assert_eq!(ss58::decode(&ss58::encode(prefix, &key)), Ok((prefix, key)));
    }
});
