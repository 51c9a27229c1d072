//! Arbitrary bytes as an age header, then as a payload opened with a fixed
//! key: errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::age::{Header, PAYLOAD_NONCE_LEN};
use veil_core::ibe::RoundKey;

// drand quicknet round 1000's signature: a valid key to drive open().
const SIG: [u8; 48] = [
    0xb4, 0x46, 0x79, 0xb9, 0xa5, 0x9a, 0xf2, 0xec, 0x87, 0x6b, 0x1a, 0x6b, 0x1a, 0xd5, 0x2e, 0xa9,
    0xb1, 0x61, 0x5f, 0xc3, 0x98, 0x2b, 0x19, 0x57, 0x63, 0x50, 0xf9, 0x34, 0x47, 0xcb, 0x11, 0x25,
    0xe3, 0x42, 0xb7, 0x3a, 0x8d, 0xd2, 0xba, 0xcb, 0xe4, 0x7e, 0x4b, 0x6b, 0x63, 0xed, 0x5e, 0x39,
];

fuzz_target!(|data: &[u8]| {
    let Ok(hdr) = Header::parse(data) else { return };
    assert!(hdr.len() <= data.len());
    let key = RoundKey::from_unverified_signature(&SIG).unwrap();
    let rest = &data[hdr.len()..];
    if let Some(nonce) = rest.get(..PAYLOAD_NONCE_LEN) {
        if let Ok(mut opener) = hdr.open(&key, nonce.try_into().unwrap()) {
            let mut chunk = rest[PAYLOAD_NONCE_LEN..].to_vec();
            let _ = opener.open_chunk(&mut chunk, true);
        }
    }
});
