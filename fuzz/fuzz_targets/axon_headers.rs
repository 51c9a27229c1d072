//! Arbitrary request headers as a hostile caller would send them to an axon:
//! seven newline-separated values (hotkey, nonce, uuid, signature, version,
//! body hash, timeout). Parsing and verifying return errors only, never a
//! panic; whatever parses re-checks its own shape; the nonce rules never
//! overflow on any numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::axon::{DendriteHeaders, NoncePolicy, header, parse_timeout_ms, signing_message};

const NAMES: [&str; 7] = [
    header::DENDRITE_HOTKEY,
    header::DENDRITE_NONCE,
    header::DENDRITE_UUID,
    header::DENDRITE_SIGNATURE,
    header::DENDRITE_VERSION,
    header::COMPUTED_BODY_HASH,
    header::TIMEOUT,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    let values: Vec<&str> = text.split('\n').collect();
    let get = |name: &str| {
        let i = NAMES.iter().position(|n| *n == name)?;
        values.get(i).copied().filter(|v| !v.is_empty())
    };
    let _ = parse_timeout_ms(text);
    if let Ok(h) = DendriteHeaders::parse(get) {
        assert!(signing_message(h.nonce, h.hotkey, h.hotkey, h.uuid, h.body_hash).is_ok());
        let _ = h.verify(h.hotkey);
        let p = NoncePolicy::default();
        let now = h.version.unwrap_or(h.nonce);
        let _ = p.check(h.nonce, h.timeout_ms, now, Some(now ^ h.nonce));
        let _ = p.forgettable(h.nonce, now);
    }
});
