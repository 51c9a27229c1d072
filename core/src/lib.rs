//! # veil-core
//!
//! The pure core of veil: drand chains, round math and beacon verification
//! (and, as veil grows, timelock encryption, sr25519 signing and message
//! framing). It is what auditors read and what fuzzers attack.
//!
//! ## Contract
//!
//! * **Guarantees.** Every beacon is verified (full subgroup checks, one
//!   multi-Miller loop, one final exponentiation) before anything is derived
//!   from it. Chain hashes are recomputed, never trusted. Every arithmetic
//!   operation on untrusted numbers is checked. No input panics.
//! * **Never.** No clock, no socket, no file, no RNG of its own, no logging,
//!   no `unsafe`, no `std`. Time comes in as `now: u64` unix seconds;
//!   randomness (where needed) as a caller's `CryptoRng`.
//! * **Memory.** `#![no_std]` + `alloc`. Only the pairing allocates (a
//!   bounded, input-independent amount, ~55 KB peak), and the fixed-base
//!   tables: the generator tables (~240 KB, once per process, feature
//!   `precomputed-tables`) and a round's table (468 KiB, only when
//!   [`ibe::PreparedRound::precompute`] is called). No allocation is
//!   proportional to untrusted input beyond the bounds in [`limits`].
//! * **Secret scalars.** Table lookups indexed by a secret scalar are masked
//!   scans; arkworks' field arithmetic underneath is not written to be
//!   constant time.
//!
//! ```text
//!   shell (std, tokio)                          core (no_std + alloc)
//!   ──────────────────                          ─────────────────────
//!   clock ── now: u64 ───────────────────────▶  round::ChainTime
//!   file / HTTP ── /info bytes ──────────────▶  chain::Chain::from_info_json
//!   relay ── round, signature bytes ─────────▶  Chain::verify_beacon ──▶ VerifiedBeacon
//!   errors ◀──────────── Copy error enums ────  error::Error
//! ```
//!
//! ## Example
//!
//! ```
//! use veil_core::{Beacon, Chain, Round, encoding};
//!
//! // drand quicknet, round 1000 (public beacon, also in drand/tlock's tests).
//! let chain = Chain::builtin("quicknet")?;
//! let signature = encoding::decode_array::<48>(
//!     "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125\
//!      e342b73a8dd2bacbe47e4b6b63ed5e39",
//! )?;
//! let round = Round::new(1000)?;
//! let beacon = chain.verify_beacon(&Beacon { round, signature: &signature, previous_signature: None })?;
//! assert_eq!(chain.time().time_of(round)?, 1_692_806_364);
//! assert_eq!(beacon.randomness()[0], 0xfe);
//! # Ok::<(), veil_core::Error>(())
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

extern crate alloc;

// ---------------------------------------------------------------------------
// Budgets and errors
// ---------------------------------------------------------------------------
pub mod error;
pub mod limits;

// ---------------------------------------------------------------------------
// Encodings and hashing
// ---------------------------------------------------------------------------
pub mod encoding;
pub mod hash;

// ---------------------------------------------------------------------------
// drand: time, chains, beacons
// ---------------------------------------------------------------------------
pub mod beacon;
pub mod chain;
mod curve;
mod fixed_base;
mod pairing;
pub mod round;

// ---------------------------------------------------------------------------
// Timelock: the IBE and the four formats around it
// ---------------------------------------------------------------------------
pub mod age;
pub mod armor;
pub mod bittensor;
pub mod devnet;
pub mod format;
pub mod ibe;
pub mod tle;

// ---------------------------------------------------------------------------
// Bittensor: hotkeys, addresses
// ---------------------------------------------------------------------------
pub mod axon;
pub mod commitment;
pub mod miid;
pub mod sign;
pub mod ss58;
pub mod subtensor;

pub use beacon::{Beacon, BeaconError, Signature, VerifiedBeacon};
pub use chain::{BuiltinChain, Chain, ChainError, Group, PublicKey, Scheme};
pub use error::Error;
pub use round::{ChainTime, Round, RoundError};
