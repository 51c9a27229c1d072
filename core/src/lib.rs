//! # veil-core
//!
//! The pure core of veil: drand chains, round math and beacon verification;
//! timelock encryption in four formats; sr25519 hotkeys, SS58 addresses and
//! the axon protocol's signing rules; MIID Phase 4 records and object keys;
//! GRAIL read commitments and their subtensor storage encoding. It is what
//! auditors read and what fuzzers attack.
//!
//! ## Contract
//!
//! * **Guarantees.** Every beacon is verified (full subgroup checks, one
//!   multi-Miller loop, one final exponentiation) before anything is derived
//!   from it. Chain hashes are recomputed, never trusted. Every ciphertext
//!   is authenticated before a byte of plaintext is released, and every
//!   failure to open is one opaque error. Every arithmetic operation on
//!   untrusted numbers is checked. No input panics.
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
//!   shell (std, tokio)                             core (no_std + alloc)
//!   ──────────────────                             ─────────────────────
//!   clock ── now: u64 ──────────────────────────▶  drand::round::ChainTime
//!   file / HTTP ── /info bytes ─────────────────▶  Chain::from_info_json   (and Chain::info_json back)
//!   relay ── round, signature bytes ────────────▶  Chain::verify_beacon ──▶ VerifiedBeacon
//!   plaintext + OS RNG ──────────────────────────▶  PreparedRound ─ seal ──▶ age / TLE / bittensor bytes
//!   ciphertext bytes + VerifiedBeacon ──────────▶  RoundKey ─ open ───────▶ plaintext (authenticated)
//!   axon headers, JSON bodies ──────────────────▶  bittensor::axon, miid records ──▶ checked borrows
//!   hotkey seed + OS RNG ────────────────────────▶  sign::Keypair ─ sign ──▶ Signature (verify back)
//!   chain storage bytes ────────────────────────▶  subtensor, grail ──────▶ ReadCommitment
//!   errors ◀───────────────── Copy error enums ───  error::Error
//! ```
//!
//! ## Layers
//!
//! Each layer uses only those above it:
//!
//! 1. [`limits`], [`error`], [`encoding`]: budgets, errors, hex;
//! 2. [`bls`]: BLS12-381 points, hash-to-curve, pairings, fixed-base tables
//!    and the constant-time helpers under them;
//! 3. [`drand`]: rounds, chains, beacons, devnet keys;
//! 4. [`timelock`]: the IBE and the four formats;
//! 5. [`bittensor`]: sr25519, SS58, axon signing rules, subtensor storage;
//! 6. [`miid`] and [`grail`]: the application records.
//!
//! The modules callers used before the layers (`veil_core::age`,
//! `veil_core::chain`, `veil_core::sign`, …) are re-exported at the root
//! under the same names.
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
// 1. Budgets, errors, encodings
// ---------------------------------------------------------------------------
pub mod encoding;
pub mod error;
pub mod limits;

// ---------------------------------------------------------------------------
// 2. BLS12-381 arithmetic
// ---------------------------------------------------------------------------
pub mod bls;

// ---------------------------------------------------------------------------
// 3. drand: rounds, chains, beacons
// ---------------------------------------------------------------------------
pub mod drand;

// ---------------------------------------------------------------------------
// 4. Timelock: the IBE and the four formats
// ---------------------------------------------------------------------------
pub mod timelock;

// ---------------------------------------------------------------------------
// 5. Bittensor: hotkeys, addresses, the axon's rules, chain storage
// ---------------------------------------------------------------------------
pub mod bittensor;

// ---------------------------------------------------------------------------
// 6. The application records: MIID Phase 4, GRAIL
// ---------------------------------------------------------------------------
pub mod grail;
pub mod miid;

// ---------------------------------------------------------------------------
// The paths callers already use
// ---------------------------------------------------------------------------
pub use bittensor::{axon, sign, ss58, subtensor};
pub use bls::hash;
pub use drand::{beacon, chain, devnet, round};
pub use grail as commitment;
pub use timelock::{age, armor, format, ibe, tle};

pub use drand::beacon::{Beacon, BeaconError, Signature, VerifiedBeacon};
pub use drand::builtin::BuiltinChain;
pub use drand::chain::{Chain, ChainError, Group, PublicKey, Scheme};
pub use drand::round::{ChainTime, Round, RoundError};
pub use error::Error;
