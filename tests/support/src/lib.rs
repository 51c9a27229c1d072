//! What every crate's tests share:
//!
//! - [`shared`]: the known-answer files of `../shared` beside the checkout.
//!   A missing file skips the test that needs it, saying so, unless
//!   `VEIL_REQUIRE_SHARED=1` (the test command sets it whenever `../shared`
//!   exists, so always in CI): then it fails the test. No test passes
//!   vacuously where the files should be.
//! - [`cli`]: the `veil` binary run under the CLI contract (exit codes, one
//!   line on stderr, nothing on stdout on failure).

#![forbid(unsafe_code)]

pub mod cli;
pub mod shared;

pub use cli::{Veil, run_with_stdin};
pub use shared::{shared_dir, shared_file, shared_required, shared_vector};
