//! Bittensor: sr25519 hotkeys and signatures ([`sign`]), SS58 addresses
//! ([`ss58`]), the axon protocol's signing rules ([`axon`]) and
//! subtensor's storage encoding of commitments ([`subtensor`]).
//!
//! The bittensor timelock *envelope* is a timelock format and lives with
//! the others ([`crate::timelock::bittensor`]); its items are re-exported
//! here so that `veil_core::bittensor::parse` and friends keep their path.

pub mod axon;
pub mod sign;
pub mod ss58;
pub mod subtensor;

pub use crate::timelock::bittensor::*;
