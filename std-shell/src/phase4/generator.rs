//! Variation generators: the miner's pluggable source of image variations.
//!
//! A validator asks each miner for N variations of a base image, each with a
//! type (`pose_edit`, `lighting_edit`, `expression_edit`, `background_edit`,
//! `screen_replay`, or a `+`-joined combination such as
//! `lighting_edit+pose_edit`) and an intensity (`light`, `medium`, `far`).
//! A [`Generator`] turns one such [`Job`] into one PNG per variation. Two
//! implementations:
//!
//! - [`Builtin`]: deterministic image transforms, no model, no I/O. Fast
//!   (a few milliseconds for a 256×256 image) and good enough to exercise the
//!   whole protocol in the sandbox and on testnets.
//! - [`External`]: an operator-supplied command (a real model), driven by
//!   the small file-and-JSON protocol documented below.
//!
//! # Seeds
//!
//! Every [`Variation`] carries a 32-byte seed, computed by the miner with
//! [`veil_core::miid::GeneratorKey::variation_seed`]: keyed by a secret
//! derived from the miner's hotkey (never output) over the caller's hotkey,
//! the challenge id, the round the images are sealed to and the index. It
//! is the **only** randomness a generator may use. Nobody but the miner can
//! compute it, so nobody can compute the miner's images; a caller who
//! replays a validator's challenge (with its own hotkey, or another round)
//! gets other images; two honest miners never produce the same ones. An
//! external command receives the seed in hex and **must** seed its model
//! with it if the model is deterministic (otherwise a model that depends
//! only on public inputs could be replayed).
//!
//! The built-in transforms are described in [`Builtin`], the external
//! command protocol in [`External`].

mod builtin;
mod external;
#[cfg(test)]
mod test_support;
mod transforms;

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;

pub use builtin::Builtin;
pub use external::External;

use crate::Error;

/// One requested variation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variation<'a> {
    /// Its index in the request (also the index in the object key).
    pub index: u32,
    /// Its type, e.g. `lighting_edit` or `lighting_edit+pose_edit`.
    pub kind: &'a str,
    /// `light`, `medium` or `far`.
    pub intensity: &'a str,
    /// The validator's free-text description (for models; the built-in
    /// generator ignores it).
    pub description: &'a str,
    /// The validator's free-text detail (likewise).
    pub detail: &'a str,
    /// The only randomness a generator may use (see the module docs).
    pub seed: [u8; 32],
}

/// Set when a job's answer is no longer wanted (its caller is gone, or its
/// deadline passed): a generator stops what it can (the external command
/// is killed) and its slot is free again.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    /// Not cancelled yet.
    pub const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// Cancels the job.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the job is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What a generator is asked to do: N variations of one base image.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// The decoded base image.
    pub base: &'a RgbImage,
    /// The base image's original encoded bytes (PNG or JPEG).
    pub base_bytes: &'a [u8],
    /// The validator's file name for the base image.
    pub base_filename: &'a str,
    /// The day's seed image (its encoded bytes and its name), when the
    /// validator sent one (MIID's optional `daily_seed_image`).
    pub daily_seed: Option<(&'a [u8], &'a str)>,
    /// The challenge being answered.
    pub challenge_id: &'a str,
    /// The variations, in request order.
    pub variations: &'a [Variation<'a>],
    /// Whether the answer is still wanted.
    pub cancel: &'a Cancel,
}

impl fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("base", &self.base.dimensions())
            .field("base_bytes", &self.base_bytes.len())
            .field("base_filename", &self.base_filename)
            .field("daily_seed", &self.daily_seed.map(|(b, n)| (b.len(), n)))
            .field("challenge_id", &self.challenge_id)
            .field("variations", &self.variations)
            .finish()
    }
}

/// A source of image variations.
pub trait Generator: Send + Sync {
    /// A one-line description for logs (`builtin transforms`, the command, ...).
    fn describe(&self) -> String;

    /// One PNG (encoded bytes) per variation, in order; a failure of one
    /// variation does not fail the others. Blocks until done.
    fn generate(&self, job: &Job<'_>) -> Vec<Result<Vec<u8>, Error>>;
}

/// Fails every variation of `job` with `msg`.
pub(crate) fn fail_all(job: &Job<'_>, msg: &str) -> Vec<Result<Vec<u8>, Error>> {
    job.variations
        .iter()
        .map(|v| Err(Error::Content(format!("variation {}: {msg}", v.index))))
        .collect()
}
