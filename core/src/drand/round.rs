//! drand round arithmetic: which round is emitted when.
//!
//! Follows drand's `common/time.go`: round `r ≥ 1` is emitted at
//! `genesis + (r−1)·period`, and before genesis the current round is 1. Every
//! operation is checked: no input of any `u64` overflows or panics; instead an
//! operation that cannot be represented returns [`RoundError::Overflow`].
//!
//! Three questions are answered, and they differ on purpose:
//!
//! * [`ChainTime::time_of`]: when is round `r` emitted?
//! * [`ChainTime::round_at`]: which round is the latest emitted at time `t`
//!   (drand's `CurrentRound`, floor + 1)?
//! * [`ChainTime::reveal_round`]: which is the first round emitted **at or
//!   after** `t`? This is the round to seal to for "not readable before `t`":
//!   `ceil((t − genesis)/period) + 1`. drand's `tle -D` uses floor + 1, which can
//!   open up to `period − 1` seconds early, and bittensor-drand's floor without
//!   + 1 opens a whole period early; veil uses neither.

use core::fmt;
use core::num::{NonZeroU32, NonZeroU64};

/// A drand round number. Round 0 does not exist: the first beacon is round 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Round(NonZeroU64);

impl Round {
    /// The first round of every chain.
    pub const FIRST: Round = Round(NonZeroU64::MIN);

    /// Wraps a round number.
    ///
    /// # Errors
    ///
    /// [`RoundError::Zero`] for round 0.
    pub const fn new(round: u64) -> Result<Self, RoundError> {
        match NonZeroU64::new(round) {
            Some(r) => Ok(Round(r)),
            None => Err(RoundError::Zero),
        }
    }

    /// The round number.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The round number as drand hashes it: 8 bytes, big-endian.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.get().to_be_bytes()
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a round computation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoundError {
    /// Round 0 does not exist.
    Zero,
    /// The result does not fit in 64 bits.
    Overflow,
}

impl fmt::Display for RoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero => f.write_str("round 0 does not exist (the first round is 1)"),
            Self::Overflow => f.write_str("round arithmetic overflows 64 bits"),
        }
    }
}

impl core::error::Error for RoundError {}

/// The clock of a drand chain: its genesis time and period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChainTime {
    genesis: u64,
    period: NonZeroU32,
}

impl ChainTime {
    /// A chain clock starting at `genesis` (unix seconds) with one round every
    /// `period` seconds.
    pub const fn new(genesis: u64, period: NonZeroU32) -> Self {
        Self { genesis, period }
    }

    /// Genesis time, unix seconds: the emission time of round 1.
    pub const fn genesis(&self) -> u64 {
        self.genesis
    }

    /// Seconds between rounds.
    pub const fn period(&self) -> NonZeroU32 {
        self.period
    }

    /// Emission time of `round`: `genesis + (round − 1)·period`.
    ///
    /// # Errors
    ///
    /// [`RoundError::Overflow`] when the time does not fit in a `u64`.
    pub fn time_of(&self, round: Round) -> Result<u64, RoundError> {
        // round ≥ 1, so the subtraction cannot underflow.
        let elapsed_rounds = round.get().saturating_sub(1);
        elapsed_rounds
            .checked_mul(u64::from(self.period.get()))
            .and_then(|d| d.checked_add(self.genesis))
            .ok_or(RoundError::Overflow)
    }

    /// The latest round emitted at time `now` (drand's `CurrentRound`):
    /// `floor((now − genesis)/period) + 1`, and round 1 before genesis.
    ///
    /// `round_at(time_of(r)) == r` for every representable `r`.
    ///
    /// # Errors
    ///
    /// [`RoundError::Overflow`] only when the round number itself would not fit
    /// in a `u64` (genesis 0, period 1, `now == u64::MAX`).
    pub fn round_at(&self, now: u64) -> Result<Round, RoundError> {
        let Some(elapsed) = now.checked_sub(self.genesis) else {
            return Ok(Round::FIRST);
        };
        let whole = elapsed / NonZeroU64::from(self.period);
        let r = whole.checked_add(1).ok_or(RoundError::Overflow)?;
        Round::new(r)
    }

    /// The first round emitted at or after `not_before`:
    /// `ceil((not_before − genesis)/period) + 1`, and round 1 when
    /// `not_before ≤ genesis`. Sealing to this round guarantees
    /// `time_of(round) ≥ not_before`: the data never opens early.
    ///
    /// # Errors
    ///
    /// [`RoundError::Overflow`] when that round number, or its emission
    /// time, would not fit in a `u64`.
    pub fn reveal_round(&self, not_before: u64) -> Result<Round, RoundError> {
        let Some(elapsed) = not_before.checked_sub(self.genesis) else {
            return Ok(Round::FIRST);
        };
        let period = NonZeroU64::from(self.period);
        let whole = elapsed / period;
        let partial = u64::from(elapsed % period != 0);
        let r = whole
            .checked_add(partial)
            .and_then(|r| r.checked_add(1))
            .ok_or(RoundError::Overflow)?;
        let round = Round::new(r)?;
        // The promise is about the emission time: refuse a round whose time
        // cannot be represented rather than return one nobody can schedule.
        self.time_of(round)?;
        Ok(round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICKNET: ChainTime = ChainTime::new(1_692_803_367, NonZeroU32::new(3).unwrap());

    fn r(n: u64) -> Round {
        Round::new(n).unwrap()
    }

    #[test]
    fn round_zero_is_refused() {
        assert_eq!(Round::new(0), Err(RoundError::Zero));
    }

    #[test]
    fn quicknet_round_1000_time() {
        // drand quicknet round 1000 was emitted 2023-08-23T15:59:24Z
        // (round_math.json, matching the dee README).
        assert_eq!(QUICKNET.time_of(r(1000)), Ok(1_692_806_364));
        assert_eq!(QUICKNET.time_of(Round::FIRST), Ok(QUICKNET.genesis()));
    }

    #[test]
    fn before_genesis_is_round_one() {
        assert_eq!(QUICKNET.round_at(0), Ok(Round::FIRST));
        assert_eq!(QUICKNET.reveal_round(0), Ok(Round::FIRST));
        assert_eq!(QUICKNET.reveal_round(QUICKNET.genesis()), Ok(Round::FIRST));
        assert_eq!(QUICKNET.reveal_round(QUICKNET.genesis() + 1), Ok(r(2)));
    }

    #[test]
    fn extremes_never_panic() {
        let fastest = ChainTime::new(0, NonZeroU32::MIN);
        assert_eq!(fastest.round_at(u64::MAX), Err(RoundError::Overflow));
        assert_eq!(fastest.reveal_round(u64::MAX), Err(RoundError::Overflow));
        assert_eq!(fastest.time_of(r(u64::MAX)), Ok(u64::MAX - 1));
        assert_eq!(QUICKNET.time_of(r(u64::MAX)), Err(RoundError::Overflow));
        let slowest = ChainTime::new(u64::MAX, NonZeroU32::MAX);
        assert_eq!(slowest.time_of(r(2)), Err(RoundError::Overflow));
        assert_eq!(slowest.round_at(u64::MAX), Ok(Round::FIRST));
        // u64::MAX − quicknet genesis is a multiple of 3, so the very last
        // second is exactly a round boundary, and one second earlier is too.
        let last = r(6_148_914_690_672_249_417);
        assert_eq!(QUICKNET.reveal_round(u64::MAX), Ok(last));
        assert_eq!(QUICKNET.time_of(last), Ok(u64::MAX));
        assert_eq!(QUICKNET.reveal_round(u64::MAX - 1), Ok(last));
        assert_eq!(
            QUICKNET.time_of(r(last.get() + 1)),
            Err(RoundError::Overflow)
        );
    }
}
