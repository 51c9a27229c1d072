//! Timelocked weights (commit-reveal): what `commit_timelocked_weights`
//! carries, byte-compatible with bittensor-drand 2.0's
//! `get_encrypted_commit_v2` (source: opentensor/bittensor-drand
//! `src/drand.rs`, `src/epoch_schedule.rs`, `src/constants.rs`).
//!
//! ```text
//! payload = SCALE WeightsTlockPayload { hotkey: Vec<u8> (the 32-byte key),
//!                                       uids: Vec<u16>, values: Vec<u16>,
//!                                       version_key: u64 }
//! commit  = TLE (layout `tle`, n + 244 bytes) of payload to quicknet round R
//! R       = ⌊(now + (first_reveal_block + 3 − current_block) · block_time
//!             − 1692803367) / 3⌋, at least 1
//! ```
//!
//! `first_reveal_block` simulates the subnet's epochs block by block from
//! the block after the current one until the epoch index reaches the
//! commit's epoch plus the reveal period, as subtensor's coinbase advances
//! it. The chain decrypts the commit when quicknet emits round R.

use rand_core::{CryptoRng, RngCore};
use veil_core::timelock::ibe::PreparedRound;
use veil_core::{BuiltinChain, Round};

use crate::Error;

/// quicknet's genesis time (the commit's round is quicknet's).
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;
/// quicknet's period, seconds.
pub const QUICKNET_PERIOD: u64 = 3;
/// Blocks after the first reveal block at which the chain ingests the
/// round (bittensor-drand's `SECURITY_BLOCK_OFFSET`).
pub const SECURITY_BLOCK_OFFSET: u64 = 3;
/// The most epochs a tempo can be simulated over
/// (`MAX_TEMPO`, blocks per epoch bound).
const MAX_TEMPO: u64 = 50_400;
/// The block time bittensor assumes when committing (mainnet's 12 s).
pub const BLOCK_TIME: f64 = 12.0;

/// A subnet's epoch schedule, as storage holds it at one block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpochState {
    /// `LastEpochBlock(netuid)`.
    pub last_epoch_block: u64,
    /// `PendingEpochAt(netuid)` (0: none).
    pub pending_epoch_at: u64,
    /// `SubnetEpochIndex(netuid)`.
    pub subnet_epoch_index: u64,
    /// `Tempo(netuid)`.
    pub tempo: u16,
    /// `BlocksSinceLastStep(netuid)`.
    pub blocks_since_last_step: u64,
    /// The head's number.
    pub current_block: u64,
}

impl EpochState {
    fn should_run_epoch(&self, block: u64) -> bool {
        if self.tempo == 0 {
            return false;
        }
        if self.pending_epoch_at > 0 && block >= self.pending_epoch_at {
            return true;
        }
        if self.blocks_since_last_step > MAX_TEMPO {
            return true;
        }
        block.saturating_sub(self.last_epoch_block) >= u64::from(self.tempo)
    }

    fn epoch_before_coinbase(&self, block: u64) -> u64 {
        self.subnet_epoch_index
            .saturating_add(u64::from(self.should_run_epoch(block)))
    }

    fn run_coinbase(&mut self, block: u64) {
        self.blocks_since_last_step = self.blocks_since_last_step.saturating_add(1);
        self.current_block = block;
        if self.should_run_epoch(block) {
            self.last_epoch_block = block;
            self.pending_epoch_at = 0;
            self.subnet_epoch_index = self.subnet_epoch_index.saturating_add(1);
            self.blocks_since_last_step = 0;
        }
    }
}

/// The first block at which a commit included in the next block is
/// revealed, `reveal_period` epochs on.
///
/// # Errors
///
/// A tempo of 0 (the subnet runs no epochs), or no such block within the
/// bound bittensor-drand simulates.
pub fn first_reveal_block(state: &EpochState, reveal_period: u64) -> Result<u64, Error> {
    if state.tempo == 0 {
        return Err(Error::Content(
            "tempo is zero: the subnet runs no epochs, so a commit is never revealed".into(),
        ));
    }
    let included = state.current_block.saturating_add(1);
    let target = state
        .epoch_before_coinbase(included)
        .saturating_add(reveal_period);
    let bound = reveal_period
        .saturating_mul(MAX_TEMPO)
        .saturating_add(MAX_TEMPO);
    let mut s = *state;
    let mut block = included;
    while block <= included.saturating_add(bound) {
        if s.epoch_before_coinbase(block) == target {
            return Ok(block);
        }
        s.run_coinbase(block);
        block = block.saturating_add(1);
    }
    Err(Error::Content(format!(
        "no reveal block within {bound} blocks of block {included}"
    )))
}

/// The quicknet round the chain reveals the commit at, from the wall clock
/// `now` (Unix seconds, as a float like bittensor-drand's).
///
/// # Errors
///
/// As [`first_reveal_block`].
pub fn reveal_round(
    state: &EpochState,
    reveal_period: u64,
    block_time: f64,
    now: f64,
) -> Result<u64, Error> {
    let ingest = first_reveal_block(state, reveal_period)?.saturating_add(SECURITY_BLOCK_OFFSET);
    #[allow(clippy::cast_precision_loss)]
    let blocks = ingest.saturating_sub(state.current_block) as f64;
    #[allow(clippy::cast_precision_loss)]
    let at = (now + blocks * block_time - QUICKNET_GENESIS as f64) / QUICKNET_PERIOD as f64;
    let round = at.floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(if round < 1.0 { 1 } else { round as u64 })
}

fn compact(n: usize, out: &mut Vec<u8>) {
    // Lengths here are far below 2^30 (a commit is capped at 5000 bytes).
    #[allow(clippy::cast_possible_truncation)]
    match n {
        0..=0x3f => out.push((n as u8) << 2),
        0x40..=0x3fff => out.extend_from_slice(&(((n as u16) << 2) | 1).to_le_bytes()),
        _ => out.extend_from_slice(&(((n as u32) << 2) | 2).to_le_bytes()),
    }
}

/// The SCALE `WeightsTlockPayload` the chain decodes after the reveal.
pub fn payload(hotkey: &[u8; 32], uids: &[u16], values: &[u16], version_key: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + 2 * (uids.len() + values.len()));
    compact(hotkey.len(), &mut out);
    out.extend_from_slice(hotkey);
    compact(uids.len(), &mut out);
    for u in uids {
        out.extend_from_slice(&u.to_le_bytes());
    }
    compact(values.len(), &mut out);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&version_key.to_le_bytes());
    out
}

/// `payload` sealed to quicknet `round` in the `tle` layout (what
/// bittensor-drand's `encrypt_and_compress` returns).
///
/// # Errors
///
/// A round of 0 or a payload too large.
pub fn seal(
    payload: &[u8],
    round: u64,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Vec<u8>, Error> {
    let chain = BuiltinChain::Quicknet
        .chain()
        .map_err(|e| Error::Content(format!("quicknet: {e}")))?;
    let round = Round::new(round).map_err(|e| Error::Content(format!("round: {e}")))?;
    let prepared = PreparedRound::new(&chain, round)
        .map_err(|e| Error::Content(format!("quicknet round: {e}")))?;
    crate::timelock::seal_bytes(&prepared, veil_core::format::Format::Tle, payload, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reveal_block_follows_the_epochs() {
        // bittensor-drand 2.0, run on this state: the reveal block is 1360.
        let s = EpochState {
            last_epoch_block: 1000,
            pending_epoch_at: 0,
            subnet_epoch_index: 42,
            tempo: 360,
            blocks_since_last_step: 10,
            current_block: 1010,
        };
        assert_eq!(first_reveal_block(&s, 1).unwrap(), 1360);
        assert_eq!(first_reveal_block(&s, 2).unwrap(), 1720);
        // A pending epoch fires first.
        let p = EpochState {
            pending_epoch_at: 1100,
            ..s
        };
        assert_eq!(first_reveal_block(&p, 1).unwrap(), 1100);
        assert!(first_reveal_block(&EpochState { tempo: 0, ..s }, 1).is_err());
    }

    #[test]
    fn payload_is_scale() {
        let p = payload(&[7; 32], &[1, 2], &[65535, 3], 9);
        let mut want = vec![128];
        want.extend_from_slice(&[7; 32]);
        want.extend_from_slice(&[8, 1, 0, 2, 0, 8, 255, 255, 3, 0]);
        want.extend_from_slice(&9u64.to_le_bytes());
        assert_eq!(p, want);
    }
}
