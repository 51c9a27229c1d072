//! Arbitrary u64s must never overflow or panic, and the round laws hold.
#![no_main]

use core::num::NonZeroU32;
use libfuzzer_sys::fuzz_target;
use veil_core::{ChainTime, Round};

fuzz_target!(|input: (u64, u32, u64, u64)| {
    let (genesis, period, t, r) = input;
    let Some(period) = NonZeroU32::new(period) else { return };
    let ct = ChainTime::new(genesis, period);
    if let Ok(round) = ct.reveal_round(t) {
        assert!(ct.time_of(round).unwrap() >= t);
    }
    if let Ok(round) = Round::new(r) {
        if let Ok(time) = ct.time_of(round) {
            assert_eq!(ct.round_at(time), Ok(round));
        }
    }
    let _ = ct.round_at(t);
});
