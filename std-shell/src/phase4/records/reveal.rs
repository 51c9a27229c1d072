//! The reveal file (`veil/reveal/v2`): each accepted submission's verdict
//! once its round is out. Schema, meaning and what changed from v1:
//! `docs/results.md`.

use alloc::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Uav;
use crate::Error;

/// The schema tag of the reveal file veil writes.
pub const REVEAL_SCHEMA: &str = "veil/reveal/v2";

/// The schema tag of the reveal files earlier veils wrote.
pub const REVEAL_SCHEMA_V1: &str = "veil/reveal/v1";

/// What one image came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It passed every check.
    Verified,
    /// It failed one (the reason says which).
    Failed,
    /// It could not be read (reveal files before captures and copies; a
    /// reveal now fails such an object once its retries are spent).
    Unavailable,
}

impl Verdict {
    /// As written in the files (`verified`, `failed`, `unavailable`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Unavailable => "unavailable",
        }
    }
}

/// One image's outcome: journaled as soon as it is known, and listed in
/// the reveal file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    /// The miner's uid.
    pub uid: u32,
    /// Position in the miner's accepted submissions.
    pub index: usize,
    /// 1, or 2 for a capture's second photo (written only when 2).
    #[serde(default = "first_angle", skip_serializing_if = "is_first_angle")]
    pub angle: u8,
    /// The object's key.
    pub s3_key: String,
    /// The variation type it claims.
    pub variation_type: String,
    /// The drand round it is sealed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it failed.
    pub reason: Option<String>,
    /// It opened with the round's key.
    pub opened: bool,
    /// The timelock format it was sealed in.
    pub format: Option<String>,
    /// SHA-256 hex of the plaintext.
    pub sha256: Option<String>,
    /// Pixel width.
    pub width: Option<u32>,
    /// Pixel height.
    pub height: Option<u32>,
    /// The perceptual fingerprint, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The plaintext, relative to the output folder.
    pub image: Option<String>,
    /// The thumbnail, relative to the output folder.
    pub thumbnail: Option<String>,
    /// Its place in the validator's receipt order (of copies, the earliest
    /// keeps credit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// Read from the validator's copy (`copy`) or from the miner's store
    /// (`store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The miner's store no longer holds the accepted object (replaced or
    /// gone since): what the validator's copy is judged on instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_after_acceptance: Option<String>,
    /// A capture's UAV report, as the miner gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_replay_uav: Option<Uav>,
    /// A capture's second photo (only in the reveal file; journaled on its
    /// own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub angle2: Option<Box<Checked>>,
}

const fn first_angle() -> u8 {
    1
}

// serde's skip_serializing_if passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
const fn is_first_angle(angle: &u8) -> bool {
    *angle == 1
}

/// One miner's reveal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerOutcome {
    /// Its uid.
    pub uid: u32,
    /// Its hotkey.
    pub hotkey: String,
    /// The status of its answer to the validator.
    pub status_code: Option<u16>,
    /// Why it delivered nothing, if so.
    pub error: Option<String>,
    /// Variations requested.
    pub requested: usize,
    /// Submissions its answer listed (sealed and stored, by its word).
    pub reported: usize,
    /// Submissions the validator accepted (found in its store, sealed to
    /// the round).
    pub accepted: usize,
    /// Opened with the beacon.
    pub revealed: usize,
    /// Passed every check.
    pub verified: usize,
    /// Failed a check.
    pub failed: usize,
    /// Not read this run (retried by the next).
    pub unavailable: usize,
    /// Each accepted submission's outcome.
    pub images: Vec<Checked>,
}

/// A beacon the reveal opened with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconRecord {
    /// Its round.
    pub round: u64,
    /// Its signature, hex.
    pub signature: String,
}

/// The base image, as the reveal file names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedBase {
    /// Its file name.
    pub filename: String,
    /// SHA-256 hex of its bytes.
    pub sha256: String,
}

/// Totals over every miner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealSummary {
    /// Miners in the results.
    pub miners: usize,
    /// Accepted submissions to check.
    pub objects: usize,
    /// Opened.
    pub revealed: usize,
    /// Passed every check.
    pub verified: usize,
    /// Failed one.
    pub failed: usize,
}

/// The reputation this reveal moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReputationRecord {
    /// The reputation file.
    pub file: String,
    /// How far one reveal moves a score.
    pub rate: f64,
    /// Each miner's score after this reveal, by hotkey.
    pub scores: BTreeMap<String, f64>,
}

/// The reveal file, field for field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevealFile {
    /// [`REVEAL_SCHEMA`].
    pub schema: String,
    /// The results file revealed.
    pub results: String,
    /// The challenge.
    pub challenge_id: String,
    /// The cycle's target round.
    pub target_drand_round: u64,
    /// The chain's hash, hex.
    pub chain_hash: String,
    /// The verified beacon of every round a submission is sealed to, by
    /// round (none when there was nothing to open).
    pub beacons: Vec<BeaconRecord>,
    /// Unix seconds.
    pub revealed_at: u64,
    /// The base image.
    pub base_image: Option<RevealedBase>,
    /// Variations requested of each miner.
    pub requested_variations: usize,
    /// The near-copy threshold used (`docs/duplicates.md`).
    pub near_duplicate_max: f64,
    /// Totals.
    pub summary: RevealSummary,
    /// By uid (decimal string).
    pub miners: BTreeMap<String, MinerOutcome>,
    /// The reputation.
    pub reputation: ReputationRecord,
}

impl RevealFile {
    /// Writes the file atomically (0600), pretty-printed.
    ///
    /// # Errors
    ///
    /// [`Error::Write`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Content(format!("reveal: {e}")))?;
        crate::fs::write_private_atomic(path, &bytes)
    }
}
