//! Arbitrary bytes as a subtensor `CommitmentOf` value and storage key, as a
//! hostile node would serve them: errors only, never a panic; a decoded
//! registration holds at most three fields, each within its bound; a read
//! commitment found in it re-encodes to the same 128 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::subtensor::{Data, MAX_BIG_RAW, MAX_FIELDS, MAX_TIMELOCK_ENCRYPTED, Registration, account_of_key};

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the subnet; the rest is both key and value.
    let (netuid, rest) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    if let Ok(account) = account_of_key(rest, netuid) {
        assert_eq!(&rest[42..], &account);
    }
    let Ok(reg) = Registration::decode(rest) else { return };
    assert!(reg.fields.len() <= MAX_FIELDS);
    for f in &reg.fields {
        match f {
            Data::Raw(b) => assert!(b.len() <= 128),
            Data::TimelockEncrypted { encrypted, .. } => assert!(encrypted.len() <= MAX_TIMELOCK_ENCRYPTED),
            Data::BigRaw(b) => assert!(b.len() <= MAX_BIG_RAW),
            _ => {}
        }
    }
    if let Ok(c) = reg.read_commitment() {
        if let Ok(text) = c.encode() {
            assert_eq!(text.len(), 128);
        }
    }
});
