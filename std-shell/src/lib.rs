//! # veil
//!
//! The std shell around [`veil_core`]: everything with a side effect (files,
//! clocks, the network, the OS RNG, logging) lives here, and the `veil`
//! binary only wires these functions to the command line.
//!
//! So far: `--chain` arguments (built-in names or drand `/info` files, read
//! with a size cap), command-line values parsed into core types with
//! one-line errors, hotkeys, the timelock formats over files and streams,
//! drand over HTTP ([`drand`]: a verified client with relay failover and
//! a cache, and the devnet beacon server), object stores ([`store`]: a
//! directory, S3/R2 with dual credentials, a public bucket; an upload spool),
//! the commitments registry ([`registry`]: a local file, or subtensor's
//! storage over JSON-RPC), images decoded within limits ([`images`]) and
//! the variation generators ([`generator`]), the bittensor axon/dendrite
//! transport ([`axon`]), and the MIID Phase 4 roles: [`miner`], [`validator`]
//! and the weights it records ([`weights`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod args;
pub mod axon;
pub mod chains;
pub mod drand;
pub mod error;
pub mod generator;
pub mod images;
pub mod io;
pub mod keys;
pub mod miner;
pub mod registry;
pub mod report;
pub mod reveal;
pub mod sandbox;
pub mod store;
pub mod timelock;
pub mod validator;
pub mod weights;

pub use error::Error;
