//! # veil
//!
//! The std shell around [`veil_core`]: everything with a side effect (files,
//! clocks, the network, the OS RNG, logging) lives here, and the `veil`
//! binary only wires these functions to the command line.
//!
//! So far: resolving `--chain` arguments (built-in names or drand `/info`
//! files, read with a size cap) and parsing command-line values into core
//! types with one-line errors.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
pub mod chains;
pub mod error;
pub mod io;
pub mod keys;
pub mod timelock;

pub use error::Error;
