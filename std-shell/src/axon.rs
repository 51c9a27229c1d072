//! The bittensor 10.x axon/dendrite transport: the miner's HTTP server
//! ([`server`]), which authenticates every request before anything reaches
//! the synapse, and the validator's client ([`dendrite`]), which signs
//! them. The protocol's rules (headers, signed message, nonces) are in
//! [`veil_core::axon`].

pub mod dendrite;
pub mod server;

pub use dendrite::{AxonTarget, CallError, Dendrite, Reply};
pub use server::{Allow, AxonConfig, Caller, Refusal, Synapse, router};
