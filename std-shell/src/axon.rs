//! The transport between validators and miners, both of bittensor's on one
//! port: the miner's HTTP server ([`server`]), which authenticates every
//! request before anything reaches the synapse — bittensor 10.x signed
//! headers (`v10.rs`) or bittensor 11's `btauth/1` (`btauth.rs`) — and the
//! validator's client ([`dendrite`]), which signs them either way. The
//! protocols' rules (headers, signed messages, nonces) are in
//! [`veil_core::axon`] and [`veil_core::bittensor::btauth`].

mod btauth;
pub mod dendrite;
pub mod server;
mod v10;

pub use dendrite::{AxonTarget, CallError, Dendrite, Reply};
pub use server::{Allow, AxonConfig, Caller, Refusal, Synapse, Transport, router};
