//! # veil
//!
//! The std shell around [`veil_core`]: everything with a side effect (files,
//! clocks, the network, the OS RNG, logging) lives here, and the `veil`
//! binary only wires these functions to the command line.
//!
//! So far: `--chain` arguments (built-in names or drand `/info` files, read
//! with a size cap), command-line values parsed into core types with
//! one-line errors, hotkeys, the timelock formats over files and streams,
//! and drand over HTTP ([`drand`]: a verified client with relay failover and
//! a cache, and the devnet beacon server).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod args;
pub mod chains;
pub mod drand;
pub mod error;
pub mod io;
pub mod keys;
pub mod timelock;

pub use error::Error;
