//! Property tests of the round math over the whole `u64` range.

use core::num::NonZeroU32;

use proptest::prelude::*;
use veil_core::{ChainTime, Round, RoundError};

fn chain_time() -> impl Strategy<Value = ChainTime> {
    // Mix realistic chains with extreme ones.
    let genesis = prop_oneof![0u64..=2_000_000_000, any::<u64>()];
    let period = prop_oneof![1u32..=60, any::<u32>().prop_filter("non-zero", |p| *p != 0)];
    (genesis, period).prop_map(|(g, p)| ChainTime::new(g, NonZeroU32::new(p).unwrap()))
}

fn any_time() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=4_000_000_000, any::<u64>(), Just(u64::MAX), Just(0)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn round_at_inverts_time_of(ct in chain_time(), r in prop_oneof![1u64..=100_000_000, 1u64..=u64::MAX]) {
        let round = Round::new(r).unwrap();
        match ct.time_of(round) {
            Ok(t) => prop_assert_eq!(ct.round_at(t), Ok(round)),
            Err(e) => prop_assert_eq!(e, RoundError::Overflow),
        }
    }

    #[test]
    fn round_at_is_the_latest_emitted(ct in chain_time(), now in any_time()) {
        match ct.round_at(now) {
            Ok(r) => {
                let t = ct.time_of(r).unwrap();
                prop_assert!(t <= now || r == Round::FIRST);
                let next = r.get().checked_add(1).map(Round::new);
                if let Some(Ok(next)) = next
                    && let Ok(tn) = ct.time_of(next)
                {
                    prop_assert!(tn > now);
                }
            }
            Err(e) => prop_assert_eq!(e, RoundError::Overflow),
        }
    }

    #[test]
    fn reveal_round_is_never_early_and_is_the_first(ct in chain_time(), t in any_time()) {
        match ct.reveal_round(t) {
            Ok(r) => {
                prop_assert!(ct.time_of(r).unwrap() >= t, "never early");
                if r.get() > 1 {
                    let prev = Round::new(r.get() - 1).unwrap();
                    prop_assert!(ct.time_of(prev).unwrap() < t, "the first such round");
                }
            }
            // Only when no round at or after t is representable.
            Err(e) => {
                prop_assert_eq!(e, RoundError::Overflow);
                let last = ct.round_at(u64::MAX);
                if let Ok(last) = last {
                    prop_assert!(ct.time_of(last).unwrap() < t);
                }
            }
        }
    }

    #[test]
    fn rounds_are_monotonic_in_time(ct in chain_time(), a in any_time(), b in any_time()) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if let (Ok(x), Ok(y)) = (ct.round_at(lo), ct.round_at(hi)) {
            prop_assert!(x <= y);
        }
        if let (Ok(x), Ok(y)) = (ct.reveal_round(lo), ct.reveal_round(hi)) {
            prop_assert!(x <= y);
        }
        // reveal is never before the current round, and at most one after it.
        if let (Ok(cur), Ok(rev)) = (ct.round_at(lo), ct.reveal_round(lo)) {
            prop_assert!(rev >= cur && rev.get() - cur.get() <= 1);
        }
    }
}
