//! subtensor, the Bittensor chain: the node to use ([`network`]), a client
//! that reads the metadata from the node at run time and signs with the
//! hotkey ([`client`], [`config`]), and what veil does there — the
//! metagraph ([`metagraph`]), the miner's axon ([`serve`]), the GRAIL read
//! commitment ([`commitment`]) and weights ([`weights`]).
//!
//! Reads use the storage items the metadata types (never a runtime API whose
//! return type changes between runtimes). Every call has a deadline; every
//! response is bounded ([`crate::limits::MAX_CHAIN_MESSAGE`]).

pub mod client;
pub mod commit_reveal;
pub mod commitment;
pub mod config;
pub mod metagraph;
pub mod network;
pub mod serve;
pub mod upkeep;
pub mod weights;

pub use client::{ChainOptions, Included, Subtensor};
pub use network::{EndpointArgs, resolve};
