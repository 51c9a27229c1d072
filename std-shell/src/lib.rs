//! # veil
//!
//! The std shell around [`veil_core`]: everything with a side effect
//! (files, the clock, the network, the OS RNG, logging) lives here, and the
//! `veil` binary only wires these functions to the command line.
//!
//! ```text
//!  bin/veil ──▶ phase4 (miner, validator, reveal, report, sandbox)
//!                 │
//!                 ├──▶ axon (server, dendrite)   store (dir, S3/R2, public; spool)
//!                 ├──▶ drand (BeaconSource: relays, cache, fixed; devnet)
//!                 ├──▶ registry (commitments: file, subtensor)
//!                 └──▶ timelock (the four formats over files and streams)
//!  shared: clock, fs, text, args, keys, limits, error ──▶ veil_core (no_std)
//! ```
//!
//! One room per concern:
//!
//! - [`phase4`]: the MIID Phase 4 application: records and files, miner,
//!   validator, reveal, HTML report, weights and reputation, sandbox,
//!   images and generators;
//! - [`axon`]: the bittensor axon/dendrite transport;
//! - [`drand`]: where beacons come from ([`drand::BeaconSource`]) and the
//!   devnet beacon server;
//! - [`store`]: object stores and the upload spool;
//! - [`registry`]: GRAIL commitments;
//! - [`timelock`]: sealing and opening in the four formats;
//! - [`ops`]: what operators see: logs, metrics, the health probe;
//! - shared pieces written once: [`clock`] (the only wall clock), [`fs`]
//!   (capped reads, private writes and folders), [`text`] (one-line
//!   messages), [`args`] (command-line values), [`keys`] (hotkeys),
//!   [`limits`] (every cap), [`io`] (stdin/stdout and `-o`), [`error`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod args;
pub mod axon;
pub mod chain;
pub mod clock;
pub mod drand;
pub mod error;
pub mod fs;
pub mod io;
pub mod keys;
pub mod limits;
pub mod listener;
pub mod ops;
pub mod phase4;
pub mod process;
pub mod registry;
pub mod store;
pub mod text;
pub mod timelock;

// --- The seams: one trait per side effect
pub use clock::{Clock, SystemClock};
pub use drand::{BeaconSource, FetchedBeacon};
pub use registry::CommitmentRegistry;
pub use store::ObjectStore;

// --- The Phase 4 roles and their files
pub use phase4::miner::{Miner, MinerConfig, MinerService, ServeConfig};
pub use phase4::records::{Results, ResultsFile, RevealFile, Submission};
pub use phase4::reveal::{RevealConfig, RevealReport, reveal};
pub use phase4::sandbox::SandboxConfig;
pub use phase4::validator::{Schedule, Validator, ValidatorConfig, run_cycles};

// --- Errors
pub use error::Error;
