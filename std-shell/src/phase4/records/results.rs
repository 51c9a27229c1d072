//! The results file of a validator cycle (`veil/results/v2`): written by
//! the validator, read by the reveal (which still reads `veil/results/v1`).
//! MIID's `responses` and `phase4_image_data` field names and shapes, plus
//! what the reveal needs. Schema, meaning and what changed from v1:
//! `docs/results.md`.

use alloc::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use veil_core::{Chain, Round};

use super::{RequestedVariation, StoreRecord, Submission};
use crate::Error;
use crate::limits::MAX_RESULTS_FILE;
use crate::text::peer_line;

/// The schema tag of the results file veil writes.
pub const RESULTS_SCHEMA: &str = "veil/results/v2";

/// The schema tag of the results files earlier veils wrote (still read).
pub const RESULTS_SCHEMA_V1: &str = "veil/results/v1";

/// The results file, field for field.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultsFile {
    /// [`RESULTS_SCHEMA`].
    pub schema: String,
    /// Unix seconds when the cycle began.
    #[serde(default)]
    pub timestamp: u64,
    /// The validator's SS58 hotkey.
    #[serde(default)]
    pub validator: String,
    /// The drand `/info` JSON of the chain sealed to ([`Chain::info_json`]).
    pub chain: Box<RawValue>,
    /// The format miners were expected to use.
    #[serde(default)]
    pub format: String,
    /// The base image sent.
    #[serde(default)]
    pub base_image: Option<BaseImageRecord>,
    /// MIID's grading payload.
    pub phase4_image_data: Phase4ImageData,
    /// Every miner queried, by uid (decimal string).
    #[serde(default)]
    pub responses: BTreeMap<String, MinerResponse>,
    /// The cycle's weights.
    #[serde(default)]
    pub weights: Option<WeightsRecord>,
}

/// The base image, as the results record it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImageRecord {
    /// As sent (`image_filename`).
    pub filename: String,
    /// SHA-256 hex of the bytes sent.
    pub sha256: String,
    /// A copy, relative to the results file's folder.
    pub path: String,
}

/// MIID's `phase4_image_data`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Phase4ImageData {
    /// `veil`.
    #[serde(default)]
    pub cycle: String,
    /// The challenge.
    pub challenge_id: String,
    /// The base image's name.
    #[serde(default)]
    pub base_image_filename: String,
    /// Every image must be sealed to this round.
    pub target_drand_round: u64,
    /// Its emission time.
    #[serde(default)]
    pub reveal_timestamp: u64,
    /// The requests sent to each miner (MIID's shape: the list of request
    /// records; v1 files hold their number).
    #[serde(default)]
    pub requested_variations: RequestedVariations,
    /// The same (MIID's name).
    #[serde(default)]
    pub variation_count: usize,
    /// The requested types, in order.
    #[serde(default)]
    pub variation_types: Vec<String>,
    /// Their intensities.
    #[serde(default)]
    pub variation_intensities: Vec<String>,
    /// The accepted submissions per uid.
    #[serde(default)]
    pub s3_submissions_by_miner: BTreeMap<String, MinerSubmissions>,
}

/// `requested_variations`: MIID's list of requests, or (results v1) how
/// many there were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestedVariations {
    /// The requests (v2, MIID's shape).
    List(Vec<RequestedVariation>),
    /// Their number (v1).
    Count(usize),
}

impl Default for RequestedVariations {
    fn default() -> Self {
        Self::Count(0)
    }
}

impl RequestedVariations {
    /// How many variations were requested.
    pub fn len(&self) -> usize {
        match self {
            Self::List(list) => list.len(),
            Self::Count(n) => *n,
        }
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One miner's accepted submissions, as MIID groups them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinerSubmissions {
    /// Its hotkey.
    pub hotkey: String,
    /// The accepted submissions.
    pub submissions: Vec<Submission>,
    /// How many.
    pub submission_count: usize,
}

/// Where a miner's axon was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxonRecord {
    /// Host or IP.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Its hotkey.
    pub hotkey: String,
}

/// What became of one miner in a cycle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MinerResponse {
    /// Its uid.
    pub uid: u32,
    /// Its hotkey.
    pub hotkey: String,
    /// Its axon.
    #[serde(default)]
    pub axon: AxonRecord,
    /// Where its objects are read from.
    #[serde(default)]
    pub store: Option<StoreRecord>,
    /// Seconds to its answer, `None` without one.
    #[serde(default)]
    pub response_time: Option<f64>,
    /// As a Python dendrite reports it (408 timeout, 503 no connection,
    /// 422 unusable answer, else the axon's).
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Queries sent.
    #[serde(default)]
    pub attempts: u32,
    /// The accepted submissions only, each with the round it is sealed to.
    #[serde(default)]
    pub s3_submissions: Vec<AcceptedSubmission>,
    /// Every submission that failed a check.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    /// Items in the answer, accepted or not.
    #[serde(default)]
    pub submission_count: usize,
    /// Why it gave no usable answer at all.
    #[serde(default)]
    pub error: Option<String>,
}

/// An accepted submission: MIID's record as the miner sent it, and what
/// the validator found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedSubmission {
    /// The record.
    #[serde(flatten)]
    pub submission: Submission,
    /// The drand round the object is sealed to (v1 files lack it: their
    /// target round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drand_round: Option<u64>,
    /// The round a capture's second angle is sealed to (a miner seals its
    /// two photos one after the other: they may straddle a round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drand_round_angle2: Option<u64>,
    /// Its place in the validator's receipt order for this challenge
    /// (0 first): of copies, the earliest received keeps credit. Never a
    /// time the miner controls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// The object as the validator accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRecord>,
    /// A capture's second object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_angle2: Option<ObjectRecord>,
}

/// A stored object as the validator accepted it: what it was, and where
/// the validator kept a copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Its size in bytes.
    pub size: u64,
    /// The store's entity tag then, when it gave one.
    #[serde(default)]
    pub etag: Option<String>,
    /// SHA-256 hex of the sealed bytes, when the validator read them all
    /// (it keeps copies); without copies it reads only the object's ends,
    /// and the size and entity tag say what was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The validator's copy, relative to the results file's folder
    /// (`objects/{challenge_id}/{sha256}.tlock`), when it kept one.
    #[serde(default)]
    pub copy: Option<String>,
}

/// A submission that did not pass, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its key, when the item was a record.
    pub s3_key: Option<String>,
    /// Its type, when the item was a record.
    pub variation_type: Option<String>,
    /// The first check it failed.
    pub reason: String,
}

/// The cycle's weights and where they went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightsRecord {
    /// The sink ([`crate::phase4::weights::WeightSink::describe`]).
    pub sink: String,
    /// Whether the sink took them.
    pub recorded: bool,
    /// Why not.
    pub error: Option<String>,
    /// The reputation file read, if any.
    pub reputation_file: Option<String>,
    /// The formula, in words.
    pub formula: String,
    /// Variations requested of each miner.
    pub requested: usize,
    /// The uids, in order.
    pub uids: Vec<u32>,
    /// Their hotkeys.
    pub hotkeys: Vec<String>,
    /// The reputation used for each.
    pub reputation: Vec<f64>,
    /// The normalized weights (sum 1, or all 0).
    pub weights: Vec<f64>,
}

impl ResultsFile {
    /// The chain's `/info` as the file carries it.
    ///
    /// # Errors
    ///
    /// Never in practice: [`Chain::info_json`] writes valid JSON.
    pub fn chain_json(chain: &Chain) -> Result<Box<RawValue>, Error> {
        RawValue::from_string(chain.info_json().to_string())
            .map_err(|e| Error::Content(format!("chain /info: {e}")))
    }

    /// Writes the file atomically (0600), pretty-printed.
    ///
    /// # Errors
    ///
    /// [`Error::Write`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Content(format!("results: {e}")))?;
        crate::fs::write_private_atomic(path, &bytes)
    }
}

/// A miner as the reveal reads it from the results.
#[derive(Clone, Debug)]
pub struct MinerRecord {
    /// Its uid.
    pub uid: u32,
    /// Its SS58 hotkey.
    pub hotkey: String,
    /// Where the validator read its objects.
    pub store: Option<StoreRecord>,
    /// The submissions the validator accepted.
    pub submissions: Vec<AcceptedSubmission>,
    /// How many submissions its answer listed.
    pub reported: usize,
    /// How many the validator rejected.
    pub rejected: usize,
    /// The status of its answer.
    pub status_code: Option<u16>,
    /// Why it delivered nothing, if so.
    pub error: Option<String>,
}

/// The base image the results record, as the reveal uses it.
#[derive(Clone, Debug)]
pub struct BaseRecord {
    /// Its file name.
    pub filename: String,
    /// SHA-256 hex of its bytes.
    pub sha256: String,
    /// Where its copy is, when the copy is present.
    pub path: Option<PathBuf>,
}

/// A results file checked for the reveal: its chain rebuilt from the
/// `/info` it carries (hash recomputed), a challenge id that can name
/// files, a base-image path that stays under the results' folder.
#[derive(Clone, Debug)]
pub struct Results {
    /// The file.
    pub path: PathBuf,
    /// The challenge.
    pub challenge_id: String,
    /// The target round (each submission records the round it is
    /// sealed to; v1 submissions are sealed to this one).
    pub round: Round,
    /// The chain.
    pub chain: Chain,
    /// Variations requested of each miner.
    pub requested: usize,
    /// The base image.
    pub base: Option<BaseRecord>,
    /// Every miner queried, by uid.
    pub miners: Vec<MinerRecord>,
}

impl Results {
    /// Reads and checks a results file.
    ///
    /// # Errors
    ///
    /// Unreadable, too large, not `veil/results/v1`, a chain `/info` that
    /// does not verify, or a challenge id that could not name a file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = crate::fs::read_file_capped(path, MAX_RESULTS_FILE)?;
        let bad = |why: String| Error::Content(format!("{}: {why}", path.display()));
        let file: ResultsFile = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a veil results file: {e}")))?;
        if file.schema != RESULTS_SCHEMA && file.schema != RESULTS_SCHEMA_V1 {
            return Err(bad(format!(
                "schema {:?}, expected {RESULTS_SCHEMA:?} (or {RESULTS_SCHEMA_V1:?})",
                file.schema
            )));
        }
        let chain = Chain::from_info_json(file.chain.get().as_bytes())
            .map_err(|e| bad(format!("its chain /info: {e}")))?;
        let p4 = file.phase4_image_data;
        let cid = p4.challenge_id;
        if cid.is_empty()
            || cid.len() > 128
            || !cid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "challenge_id must be 1 to 128 characters of [A-Za-z0-9_-]".into(),
            ));
        }
        let round = Round::new(p4.target_drand_round)
            .map_err(|e| bad(format!("target_drand_round: {e}")))?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let base = file.base_image.map(|b| {
            // The copy sits under the results' folder; a path that tries to
            // leave it is ignored.
            let safe = !b.path.is_empty()
                && Path::new(&b.path)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            BaseRecord {
                filename: peer_line(&b.filename),
                sha256: b.sha256.to_ascii_lowercase(),
                path: safe.then(|| dir.join(&b.path)),
            }
        });
        let mut miners: Vec<MinerRecord> = file
            .responses
            .into_values()
            .map(|r| MinerRecord {
                uid: r.uid,
                hotkey: r.hotkey,
                store: r.store,
                reported: r.submission_count,
                rejected: r.rejected.len(),
                submissions: r.s3_submissions,
                status_code: r.status_code,
                error: r.error.map(|e| peer_line(&e)),
            })
            .collect();
        miners.sort_by_key(|m| m.uid);
        miners.dedup_by_key(|m| m.uid);
        Ok(Self {
            path: path.to_owned(),
            challenge_id: cid,
            round,
            chain,
            requested: p4.requested_variations.len(),
            base,
            miners,
        })
    }
}
