//! Bittensor: sr25519 hotkeys and signatures ([`sign`]), SS58 addresses
//! ([`ss58`]), the request signing of the 10.x axon protocol ([`axon`])
//! and of bittensor 11's `btauth/1` ([`btauth`]), and subtensor's storage
//! encoding of commitments ([`subtensor`]).
//!
//! The bittensor timelock *envelope* is a timelock format and lives with
//! the others ([`crate::timelock::bittensor`]); its items are re-exported
//! here so that `veil_core::bittensor::parse` and friends keep their path.

pub mod axon;
pub mod btauth;
pub mod sign;
pub mod ss58;
pub mod subtensor;

pub use crate::timelock::bittensor::*;
