//! Arbitrary beacons against every built-in chain: Ok or Err, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::{Beacon, BuiltinChain, Round};

fuzz_target!(|input: (u8, u64, Vec<u8>, Option<Vec<u8>>)| {
    let (which, round, signature, previous) = input;
    let all = BuiltinChain::ALL;
    let chain = all[usize::from(which) % all.len()].chain().unwrap();
    let Ok(round) = Round::new(round) else { return };
    let _ = chain.verify_beacon(&Beacon {
        round,
        signature: &signature,
        previous_signature: previous.as_deref(),
    });
});
