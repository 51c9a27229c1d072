//! Arbitrary `X-Bittensor-*` headers as a hostile caller would send them to
//! a miner: six newline-separated values (version, hotkey, receiver, nonce,
//! crypto, signature) then a method and a path. Parsing and verifying
//! return errors only, never a panic, whatever the numbers; a request that
//! verifies was signed for the receiver it names; the payload is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::bittensor::btauth::{self, BtAuthHeaders, header};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    let values: Vec<&str> = text.split('\n').collect();
    let get = |name: &str| {
        let i = header::ALL.iter().position(|n| *n == name)?;
        values.get(i).copied().filter(|v| !v.is_empty())
    };
    let method = values.get(6).copied().unwrap_or("POST");
    let path = values.get(7).copied().unwrap_or("/IdentitySynapse");
    let digest = [7u8; 32];
    if let Ok(h) = BtAuthHeaders::parse(get) {
        let receiver = h.receiver.unwrap_or("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        let now = h.nonce_ns.wrapping_add(data.len() as u64 * 1_000_000_000);
        if h.verify(method, path, &digest, receiver, now).is_ok() {
            assert_eq!(h.receiver, Some(receiver));
        }
        if let Ok(p) = btauth::payload(method, path, &digest, h.nonce_ns, h.hotkey, receiver) {
            assert!(p.len() <= veil_core::limits::MAX_BTAUTH_PAYLOAD_LEN);
        }
    }
});
