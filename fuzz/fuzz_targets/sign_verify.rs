//! sr25519 verification on arbitrary keys, signatures and messages (errors
//! only, never a panic), and sign∘verify with a fixed key: a signature
//! verifies on its message, not on a changed one, and survives hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::sign::{Keypair, PublicKey, Signature};

fuzz_target!(|data: &[u8]| {
    if let Some((pk, rest)) = data.split_first_chunk::<32>() {
        if let Some((sig, msg)) = rest.split_first_chunk::<64>() {
            if let Ok(pk) = PublicKey::from_bytes(pk) {
                let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
                if let Ok(sig) = Signature::from_hex(&hex) {
                    let _ = pk.verify(msg, &sig);
                }
            }
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = Signature::from_hex(text);
    }
    let pair = Keypair::from_mini_secret(&[7; 32]).unwrap();
    let sig = pair.sign(data, &mut ChaCha20Rng::seed_from_u64(data.len() as u64));
    pair.public().verify(data, &sig).unwrap();
    let mut other = data.to_vec();
    other.push(0);
    assert!(pair.public().verify(&other, &sig).is_err());
    assert_eq!(Signature::from_hex(&sig.to_hex()).unwrap().to_hex(), sig.to_hex());
});
