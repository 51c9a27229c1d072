//! Post-validation, "the reveal": once a cycle's target round is emitted,
//! open every accepted submission of its results file and say, per image,
//! whether it holds up.
//!
//! ## What is checked (the first that fails is the reason)
//!
//! 1. the object can still be read from the miner's store (its bucket from
//!    its commitment, or the store the results name);
//! 2. it opens with the target round's beacon, verified against the chain
//!    of the results (one verified key serves every ciphertext: the batch
//!    shares the round);
//! 3. `sha256(plaintext) == image_hash`;
//! 4. the signature of `challenge:{cid}:hash:{image_hash}` verifies under
//!    the miner's hotkey;
//! 5. the plaintext is a PNG or JPEG that decodes within the image limits;
//! 6. it is not the base image itself, and no other miner submitted the
//!    same image (same SHA-256) or a near copy of it (a perceptual
//!    [`Fingerprint`] within [`NEAR_DUPLICATE_MAX`] grey levels): every
//!    miner of such a group fails, since who copied whom cannot be told.
//!
//! ## Resuming
//!
//! Every object checked is journaled at once, atomically, under
//! `{out}/reveal-{cid}/checked/`, with its plaintext and thumbnail beside
//! it. A reveal run again (after a crash, a kill, or a store that was
//! down) skips what is journaled and does only the rest. Objects that
//! could not be read for a reason that may pass (network, 5xx, missing
//! credentials) are never journaled: the run ends with an error naming
//! them, writes nothing final, and the next run retries them. The
//! reputation file records which challenges it has counted, so a reveal
//! is counted once however often it runs.
//!
//! ## Outputs
//!
//! `{out}/reveal-{cid}.json` (`veil/reveal/v1`, documented in
//! `docs/results.md`), the HTML report `{out}/report-{cid}.html`
//! ([`crate::report`]), and the updated reputation file that the next
//! validator cycle reads ([`crate::weights`]).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use veil_core::ibe::RoundKey;
use veil_core::miid;
use veil_core::sign::{PublicKey, Signature};
use veil_core::{Beacon, Chain, Round, ss58};

use crate::Error;
use crate::axon::sanitize_line;
use crate::drand::{Clock, DrandClient};
use crate::images::{self, Fingerprint, ImageLimits, NEAR_DUPLICATE_MAX};
use crate::miner::Submission;
use crate::registry::CommitmentBook;
use crate::store::{self, ErrorKind, ObjectStore, RetryPolicy};
use crate::timelock::{self, DecryptOptions, KeySource};
use crate::validator::RESULTS_SCHEMA;
use crate::weights::{Outcome, Reputation};

/// The schema tag of the reveal file.
pub const REVEAL_SCHEMA: &str = "veil/reveal/v1";

/// Largest results file read, bytes.
pub const MAX_RESULTS_FILE: usize = 64 * 1024 * 1024;

/// Largest journal entry read back, bytes.
const MAX_JOURNAL_ENTRY: usize = 64 * 1024;

/// Longest side of the thumbnails kept for the report, pixels.
pub const THUMBNAIL_SIDE: u32 = 192;

/// A miner as the results file records it.
#[derive(Clone, Debug)]
pub struct MinerRecord {
    /// Its uid.
    pub uid: u32,
    /// Its SS58 hotkey.
    pub hotkey: String,
    /// Where the validator read its objects (never a secret).
    pub store: Value,
    /// The submissions the validator accepted.
    pub submissions: Vec<Submission>,
    /// How many submissions its answer listed.
    pub reported: usize,
    /// How many the validator rejected.
    pub rejected: usize,
    /// The status of its answer.
    pub status_code: Option<u16>,
    /// Why it delivered nothing, if so.
    pub error: Option<String>,
}

/// The base image the results record.
#[derive(Clone, Debug)]
pub struct BaseRecord {
    /// Its file name.
    pub filename: String,
    /// SHA-256 hex of its bytes.
    pub sha256: String,
    /// Where its copy is, when the copy is present.
    pub path: Option<PathBuf>,
}

/// A results file (`veil/results/v1`), as the reveal reads it.
#[derive(Clone, Debug)]
pub struct Results {
    /// The file.
    pub path: PathBuf,
    /// The challenge.
    pub challenge_id: String,
    /// The round the images are sealed to.
    pub round: Round,
    /// The chain, from the `/info` the results carry.
    pub chain: Chain,
    /// Variations requested of each miner.
    pub requested: usize,
    /// The base image.
    pub base: Option<BaseRecord>,
    /// Every miner queried, by uid.
    pub miners: Vec<MinerRecord>,
}

#[derive(Deserialize)]
struct RawResults {
    schema: String,
    chain: Value,
    #[serde(default)]
    base_image: Option<RawBase>,
    phase4_image_data: RawPhase4,
    #[serde(default)]
    responses: BTreeMap<String, RawResponse>,
}

#[derive(Deserialize)]
struct RawBase {
    filename: String,
    sha256: String,
    path: String,
}

#[derive(Deserialize)]
struct RawPhase4 {
    challenge_id: String,
    target_drand_round: u64,
    #[serde(default)]
    requested_variations: usize,
}

#[derive(Deserialize)]
struct RawResponse {
    uid: u32,
    hotkey: String,
    #[serde(default)]
    store: Value,
    #[serde(default)]
    s3_submissions: Vec<Submission>,
    #[serde(default)]
    submission_count: usize,
    #[serde(default)]
    rejected: Vec<Value>,
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default)]
    error: Option<String>,
}

impl Results {
    /// Reads and checks a results file.
    ///
    /// # Errors
    ///
    /// Unreadable, too large, not `veil/results/v1`, a chain `/info` that
    /// does not verify, or a challenge id that could not name a file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = crate::chains::read_capped(path, MAX_RESULTS_FILE)?;
        let bad = |why: String| Error::Content(format!("{}: {why}", path.display()));
        let raw: RawResults = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a veil results file: {e}")))?;
        if raw.schema != RESULTS_SCHEMA {
            return Err(bad(format!(
                "schema {:?}, expected {RESULTS_SCHEMA:?}",
                raw.schema
            )));
        }
        let info = serde_json::to_vec(&raw.chain).map_err(|e| bad(e.to_string()))?;
        let chain =
            Chain::from_info_json(&info).map_err(|e| bad(format!("its chain /info: {e}")))?;
        let p4 = raw.phase4_image_data;
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
        let base = raw.base_image.map(|b| {
            // The copy sits under the results' folder; a path that tries to
            // leave it is ignored.
            let safe = !b.path.is_empty()
                && Path::new(&b.path)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            BaseRecord {
                filename: sanitize_line(&b.filename),
                sha256: b.sha256.to_ascii_lowercase(),
                path: safe.then(|| dir.join(&b.path)),
            }
        });
        let mut miners: Vec<MinerRecord> = raw
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
                error: r.error.map(|e| sanitize_line(&e)),
            })
            .collect();
        miners.sort_by_key(|m| m.uid);
        miners.dedup_by_key(|m| m.uid);
        Ok(Self {
            path: path.to_owned(),
            challenge_id: cid,
            round,
            chain,
            requested: p4.requested_variations,
            base,
            miners,
        })
    }
}

/// Where the beacon of the target round comes from.
pub enum BeaconSource {
    /// drand relays (or a devnet): wait for the round, then fetch it.
    Relays(Arc<DrandClient>),
    /// A signature given by the operator.
    Signature(Vec<u8>),
}

impl core::fmt::Debug for BeaconSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Relays(_) => "Relays(..)",
            Self::Signature(_) => "Signature(..)",
        })
    }
}

/// Opens the store a miner's objects are in.
pub struct Stores {
    book: Option<CommitmentBook>,
    fixed: Option<Arc<dyn ObjectStore>>,
    opened: std::sync::Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl core::fmt::Debug for Stores {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

impl Stores {
    /// Miners whose results name a commitment are read with the read pair
    /// of their commitment in `book`; the others from `fixed` when given
    /// (`--store`), else from the store spec the results record.
    pub fn new(book: Option<CommitmentBook>, fixed: Option<Arc<dyn ObjectStore>>) -> Self {
        Self {
            book,
            fixed,
            opened: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The store of `miner`, or why it cannot be had.
    ///
    /// # Errors
    ///
    /// A commitment that no registry was given for or that the registry
    /// lacks, or a store spec that cannot be opened.
    pub fn open(&self, miner: &MinerRecord) -> Result<Arc<dyn ObjectStore>, String> {
        let env = |name: &str| std::env::var(name).ok();
        match miner.store.get("kind").and_then(Value::as_str) {
            Some("commitment") => {
                let book = self.book.as_ref().ok_or(
                    "its bucket is named by its commitment: give --registry FILE or --subtensor URL --netuid N",
                )?;
                let c = book
                    .get(&miner.hotkey)
                    .ok_or("the registry has no commitment for its hotkey")?;
                store::for_commitment(&c.read(), &env)
                    .map_err(|e| format!("the bucket of its commitment: {e}"))
            }
            _ => {
                if let Some(fixed) = &self.fixed {
                    return Ok(Arc::clone(fixed));
                }
                let spec = miner
                    .store
                    .get("spec")
                    .and_then(Value::as_str)
                    .ok_or("the results name no store for it: give --store")?;
                let mut opened = self
                    .opened
                    .lock()
                    .map_err(|_| "the store cache is poisoned".to_owned())?;
                if let Some(s) = opened.get(spec) {
                    return Ok(Arc::clone(s));
                }
                let s = store::from_spec(spec, &env, RetryPolicy::default())
                    .map_err(|e| format!("its store {spec}: {e}"))?;
                opened.insert(spec.to_owned(), Arc::clone(&s));
                Ok(s)
            }
        }
    }
}

/// How a reveal runs.
#[derive(Clone, Debug)]
pub struct RevealConfig {
    /// Where the reveal file, the report and the journal go.
    pub out_dir: PathBuf,
    /// The reputation file to update.
    pub reputation: PathBuf,
    /// Objects opened at once (CPU bound: the cores).
    pub jobs: usize,
    /// Objects downloaded at once.
    pub downloads: usize,
    /// Bounds on the revealed images.
    pub limits: ImageLimits,
    /// Largest object read.
    pub max_object: u64,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

/// What one image came to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checked {
    /// The miner's uid.
    pub uid: u32,
    /// Position in the miner's accepted submissions.
    pub index: usize,
    /// The object's key.
    pub s3_key: String,
    /// The variation type it claims.
    pub variation_type: String,
    /// `verified` or `failed` (`unavailable` only in the reveal file).
    pub verdict: String,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The plaintext, relative to the output folder.
    pub image: Option<String>,
    /// The thumbnail, relative to the output folder.
    pub thumbnail: Option<String>,
}

/// One miner's reveal.
#[derive(Clone, Debug, Serialize)]
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

/// A finished reveal.
#[derive(Clone, Debug)]
pub struct RevealReport {
    /// The reveal file.
    pub reveal: PathBuf,
    /// The HTML report.
    pub report: PathBuf,
    /// The reputation file.
    pub reputation: PathBuf,
    /// Whether this run counted the reveal in it (false: counted before).
    pub reputation_applied: bool,
    /// The challenge.
    pub challenge_id: String,
    /// The round.
    pub round: u64,
    /// Objects to check in all.
    pub objects: usize,
    /// Objects already checked by an earlier run.
    pub resumed: usize,
    /// Per miner, by uid.
    pub miners: Vec<MinerOutcome>,
}

/// Things a reveal tells as it goes.
pub trait Progress: Send + Sync {
    /// A line of news ("waiting for round …").
    fn note(&self, line: &str);
}

/// Progress to nowhere.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn note(&self, _line: &str) {}
}

/// One object to check.
#[derive(Clone)]
struct Unit {
    uid: u32,
    index: usize,
    hotkey: String,
    key: Option<PublicKey>,
    sub: Submission,
}

/// Why an object was not checked this run.
enum Skip {
    Unavailable(String),
}

/// Runs (or resumes) the reveal of `results`.
///
/// # Errors
///
/// The beacon cannot be had or does not verify, the outputs cannot be
/// written, or some objects could not be read for a reason that may pass
/// (the error names how many and the first reason; a rerun retries them).
pub async fn reveal(
    results: &Results,
    config: &RevealConfig,
    beacon: &BeaconSource,
    stores: &Stores,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<RevealReport, Error> {
    let cid = &results.challenge_id;
    let state = config.out_dir.join(format!("reveal-{cid}"));
    for sub in ["", "checked", "images", "thumbs"] {
        create_private_dir_all(&state.join(sub))?;
    }
    let units = units_of(results);
    let mut done: BTreeMap<(u32, usize), Checked> = BTreeMap::new();
    for u in &units {
        if let Some(c) = read_journal(&state, u) {
            done.insert((u.uid, u.index), c);
        }
    }
    let resumed = done.len();
    let pending: Vec<Unit> = units
        .iter()
        .filter(|u| !done.contains_key(&(u.uid, u.index)))
        .cloned()
        .collect();
    if resumed > 0 {
        progress.note(&format!(
            "resuming: {resumed} of {} objects were checked by an earlier run",
            units.len()
        ));
    }
    let mut unavailable: BTreeMap<(u32, usize), String> = BTreeMap::new();
    let beacon_record = if pending.is_empty() && units.len() == resumed {
        read_beacon(&state, results).ok()
    } else {
        None
    };
    let beacon_record = match beacon_record {
        Some(b) => Some(b),
        None if units.is_empty() => None,
        None => Some(fetch_beacon(&state, results, beacon, clock, progress).await?),
    };
    if !pending.is_empty() {
        let key = beacon_record
            .as_ref()
            .map(|b| b.key)
            .ok_or_else(|| Error::Content("no beacon".into()))?;
        let checked = run_pending(results, config, stores, &state, key, pending, progress).await;
        for (unit, outcome) in checked {
            match outcome {
                Ok(c) => {
                    done.insert((unit.uid, unit.index), c);
                }
                Err(Skip::Unavailable(why)) => {
                    unavailable.insert((unit.uid, unit.index), why);
                }
            }
        }
    }
    let mut checked: Vec<Checked> = done.into_values().collect();
    judge_duplicates(&mut checked, results.base.as_ref());
    let miners = outcomes(results, &units, checked, &unavailable);
    let reveal_path = config.out_dir.join(format!("reveal-{cid}.json"));
    let report_path = config.out_dir.join(format!("report-{cid}.html"));
    if let Some(((uid, index), why)) = unavailable.iter().next() {
        return Err(Error::Content(format!(
            "{} of {} objects could not be read (uid {uid} #{index}: {why}); \
             what was checked is kept: run the reveal again to retry the rest",
            unavailable.len(),
            units.len()
        )));
    }
    let mut reputation = Reputation::load(&config.reputation)?;
    let outcomes_for_rep: Vec<Outcome> = miners
        .iter()
        .map(|m| Outcome {
            hotkey: m.hotkey.clone(),
            requested: m.requested,
            verified: m.verified,
            failed: m.failed,
        })
        .collect();
    let applied = reputation.apply(cid, &outcomes_for_rep, clock.now());
    let doc = json!({
        "schema": REVEAL_SCHEMA,
        "results": results.path.display().to_string(),
        "challenge_id": cid,
        "target_drand_round": results.round.get(),
        "chain_hash": hex::encode(results.chain.hash()),
        "beacon": beacon_record.as_ref().map(|b| json!({
            "round": results.round.get(),
            "signature": hex::encode(&b.signature),
        })),
        "revealed_at": clock.now(),
        "base_image": results.base.as_ref().map(|b| json!({
            "filename": b.filename,
            "sha256": b.sha256,
        })),
        "requested_variations": results.requested,
        "near_duplicate_max": NEAR_DUPLICATE_MAX,
        "summary": {
            "miners": miners.len(),
            "objects": units.len(),
            "revealed": miners.iter().map(|m| m.revealed).sum::<usize>(),
            "verified": miners.iter().map(|m| m.verified).sum::<usize>(),
            "failed": miners.iter().map(|m| m.failed).sum::<usize>(),
        },
        "miners": miners.iter().map(|m| (m.uid.to_string(), json!(m))).collect::<serde_json::Map<_, _>>(),
        "reputation": {
            "file": config.reputation.display().to_string(),
            "rate": crate::weights::REPUTATION_RATE,
            "scores": miners.iter().map(|m| (m.hotkey.clone(), json!(reputation.of(&m.hotkey)))).collect::<serde_json::Map<_, _>>(),
        },
    });
    let bytes =
        serde_json::to_vec_pretty(&doc).map_err(|e| Error::Content(format!("reveal: {e}")))?;
    write_file(&reveal_path, &bytes)?;
    let html = crate::report::render(&crate::report::Page {
        out_dir: &config.out_dir,
        challenge_id: cid,
        round: results.round.get(),
        chain_hash: &hex::encode(results.chain.hash()),
        base: results.base.as_ref(),
        miners: &miners,
    });
    write_file(&report_path, html.as_bytes())?;
    // Last: once the reputation counts this reveal, everything it stands
    // on is on disk.
    if applied {
        reputation.save(&config.reputation)?;
    }
    Ok(RevealReport {
        reveal: reveal_path,
        report: report_path,
        reputation: config.reputation.clone(),
        reputation_applied: applied,
        challenge_id: cid.clone(),
        round: results.round.get(),
        objects: units.len(),
        resumed,
        miners,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::io::write_private_atomic(path, bytes).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

fn create_private_dir_all(path: &Path) -> Result<(), Error> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

fn units_of(results: &Results) -> Vec<Unit> {
    let mut units = Vec::new();
    for m in &results.miners {
        let key = ss58::decode(&m.hotkey)
            .ok()
            .and_then(|(_, k)| PublicKey::from_bytes(&k).ok());
        for (index, sub) in m.submissions.iter().enumerate() {
            units.push(Unit {
                uid: m.uid,
                index,
                hotkey: m.hotkey.clone(),
                key,
                sub: sub.clone(),
            });
        }
    }
    units
}

fn journal_path(state: &Path, uid: u32, index: usize) -> PathBuf {
    state.join("checked").join(format!("{uid}-{index}.json"))
}

/// The journaled outcome of `u`, if one was written for this very object.
fn read_journal(state: &Path, u: &Unit) -> Option<Checked> {
    let bytes =
        crate::chains::read_capped(&journal_path(state, u.uid, u.index), MAX_JOURNAL_ENTRY).ok()?;
    let c: Checked = serde_json::from_slice(&bytes).ok()?;
    (c.uid == u.uid && c.index == u.index && c.s3_key == u.sub.s3_key).then_some(c)
}

/// A verified beacon of the target round.
struct BeaconRecord {
    signature: Vec<u8>,
    key: RoundKey,
}

#[derive(Serialize, Deserialize)]
struct BeaconFile {
    round: u64,
    signature: String,
    #[serde(default)]
    previous_signature: Option<String>,
}

fn verify_beacon(
    results: &Results,
    signature: &[u8],
    previous: Option<&[u8]>,
) -> Result<RoundKey, Error> {
    let beacon = results
        .chain
        .verify_beacon(&Beacon {
            round: results.round,
            signature,
            previous_signature: previous,
        })
        .map_err(|e| {
            Error::Content(format!(
                "the beacon of round {} does not verify for the results' chain: {e}",
                results.round
            ))
        })?;
    Ok(RoundKey::from_verified(&beacon))
}

fn read_beacon(state: &Path, results: &Results) -> Result<BeaconRecord, Error> {
    let bytes = crate::chains::read_capped(&state.join("beacon.json"), MAX_JOURNAL_ENTRY)?;
    let f: BeaconFile =
        serde_json::from_slice(&bytes).map_err(|e| Error::Content(format!("beacon.json: {e}")))?;
    let signature = hex::decode(&f.signature).map_err(|e| Error::value("beacon.json", e))?;
    let previous = f
        .previous_signature
        .map(hex::decode)
        .transpose()
        .map_err(|e| Error::value("beacon.json", e))?;
    if f.round != results.round.get() {
        return Err(Error::Content("beacon.json is of another round".into()));
    }
    let key = verify_beacon(results, &signature, previous.as_deref())?;
    Ok(BeaconRecord { signature, key })
}

async fn fetch_beacon(
    state: &Path,
    results: &Results,
    source: &BeaconSource,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<BeaconRecord, Error> {
    if let Ok(b) = read_beacon(state, results) {
        return Ok(b);
    }
    let (signature, previous) = match source {
        BeaconSource::Signature(sig) => (sig.clone(), None),
        BeaconSource::Relays(client) => {
            if client.chain().hash() != results.chain.hash() {
                return Err(Error::Content(format!(
                    "the relays serve chain {}, the results are of chain {}",
                    hex::encode(client.chain().hash()),
                    hex::encode(results.chain.hash())
                )));
            }
            let at = results.chain.time().time_of(results.round)?;
            let now = clock.now();
            if at > now {
                progress.note(&format!(
                    "waiting for round {} ({} s)",
                    results.round,
                    at - now
                ));
            }
            let b = client.wait_for_round(results.round, clock).await?;
            (b.signature, b.previous_signature)
        }
    };
    let key = verify_beacon(results, &signature, previous.as_deref())?;
    let file = BeaconFile {
        round: results.round.get(),
        signature: hex::encode(&signature),
        previous_signature: previous.as_ref().map(hex::encode),
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Content(e.to_string()))?;
    write_file(&state.join("beacon.json"), &bytes)?;
    progress.note(&format!("beacon of round {} verified", results.round));
    Ok(BeaconRecord { signature, key })
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn bar(len: usize, enabled: bool) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("  opening [{bar:32}] {pos}/{len} objects  {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

async fn run_pending(
    results: &Results,
    config: &RevealConfig,
    stores: &Stores,
    state: &Path,
    key: RoundKey,
    pending: Vec<Unit>,
    progress: &dyn Progress,
) -> Vec<(Unit, Result<Checked, Skip>)> {
    progress.note(&format!(
        "opening {} objects, {} at a time",
        pending.len(),
        config.jobs.max(1)
    ));
    let bar = bar(pending.len(), config.progress);
    let cpu = Arc::new(Semaphore::new(config.jobs.max(1)));
    let failed = core::sync::atomic::AtomicUsize::new(0);
    let ctx = Arc::new(Context {
        chain: results.chain.clone(),
        round: results.round,
        cid: results.challenge_id.clone(),
        key,
        limits: config.limits,
        state: state.to_owned(),
        out_dir: config.out_dir.clone(),
    });
    let miners: HashMap<u32, &MinerRecord> = results.miners.iter().map(|m| (m.uid, m)).collect();
    let work = futures_util::stream::iter(pending).map(|unit| {
        let cpu = Arc::clone(&cpu);
        let ctx = Arc::clone(&ctx);
        let bar = bar.clone();
        let failed = &failed;
        let store = miners
            .get(&unit.uid)
            .ok_or_else(|| "no such miner".to_owned())
            .and_then(|m| stores.open(m));
        async move {
            let outcome = match store {
                Err(why) => Err(Skip::Unavailable(why)),
                Ok(store) => {
                    match download(store.as_ref(), &unit.sub.s3_key, config.max_object).await {
                        Err(skip) => Err(skip),
                        Ok(Err(reason)) => Ok(ctx.failed_before_opening(&unit, reason)),
                        Ok(Ok(bytes)) => {
                            let permit = cpu.acquire_owned().await;
                            let u = unit.clone();
                            let ctx = Arc::clone(&ctx);
                            let joined = tokio::task::spawn_blocking(move || {
                                let _permit = permit;
                                ctx.check(&u, &bytes)
                            })
                            .await;
                            match joined {
                                Ok(checked) => Ok(checked),
                                Err(e) => Err(Skip::Unavailable(format!("the check stopped: {e}"))),
                            }
                        }
                    }
                }
            };
            let outcome = outcome.and_then(|c| match ctx.journal(&c) {
                Ok(()) => Ok(c),
                Err(e) => Err(Skip::Unavailable(format!("cannot journal: {e}"))),
            });
            if !matches!(&outcome, Ok(c) if c.verdict == "verified") {
                let n = failed.fetch_add(1, core::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("{n} not verified"));
            }
            bar.inc(1);
            (unit, outcome)
        }
    });
    let out: Vec<_> = work
        .buffer_unordered(config.downloads.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    out
}

/// The object's bytes; `Ok(Err(reason))` for a final failure (gone, too
/// large), `Err` for one that may pass.
async fn download(
    store: &dyn ObjectStore,
    key: &str,
    max: u64,
) -> Result<Result<Vec<u8>, String>, Skip> {
    match store.get(key, max).await {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(e) => match e.kind() {
            ErrorKind::NotFound => Ok(Err(format!("the object is gone from {}", store.describe()))),
            ErrorKind::TooLarge => Ok(Err(format!("the object is larger than {max} bytes"))),
            ErrorKind::InvalidKey => Ok(Err(format!("the key is not acceptable: {e}"))),
            _ => Err(Skip::Unavailable(format!("{}: {e}", store.describe()))),
        },
    }
}

struct Context {
    chain: Chain,
    round: Round,
    cid: String,
    key: RoundKey,
    limits: ImageLimits,
    state: PathBuf,
    out_dir: PathBuf,
}

impl Context {
    fn blank(unit: &Unit) -> Checked {
        Checked {
            uid: unit.uid,
            index: unit.index,
            s3_key: unit.sub.s3_key.clone(),
            variation_type: sanitize_line(&unit.sub.variation_type),
            verdict: "failed".into(),
            reason: None,
            opened: false,
            format: None,
            sha256: None,
            width: None,
            height: None,
            fingerprint: None,
            image: None,
            thumbnail: None,
        }
    }

    fn failed_before_opening(&self, unit: &Unit, reason: String) -> Checked {
        let mut c = Self::blank(unit);
        c.reason = Some(reason);
        c
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.out_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Opens and checks one object (CPU work: on a blocking thread).
    fn check(&self, unit: &Unit, sealed: &[u8]) -> Checked {
        let mut c = Self::blank(unit);
        if let Err(reason) = self.check_into(unit, sealed, &mut c) {
            c.reason = Some(sanitize_line(&reason));
        } else {
            c.verdict = "verified".into();
        }
        c
    }

    fn check_into(&self, unit: &Unit, sealed: &[u8], c: &mut Checked) -> Result<(), String> {
        let opts = DecryptOptions {
            chain: self.chain.clone(),
            key: KeySource::Verified {
                round: self.round,
                key: self.key,
            },
            round: Some(self.round),
        };
        let mut plain = Vec::with_capacity(sealed.len());
        let format = timelock::decrypt(&opts, &mut &*sealed, &mut plain)
            .map_err(|e| format!("does not open with round {}'s beacon: {e}", self.round))?;
        c.opened = true;
        c.format = Some(format.name().to_owned());
        let digest = hex::encode(Sha256::digest(&plain));
        c.sha256 = Some(digest.clone());
        if !digest.eq_ignore_ascii_case(&unit.sub.image_hash) {
            return Err(format!(
                "sha256 of the image is {digest}, not the image_hash {}",
                sanitize_line(&unit.sub.image_hash)
            ));
        }
        let key = unit
            .key
            .as_ref()
            .ok_or_else(|| format!("{} is not a hotkey", sanitize_line(&unit.hotkey)))?;
        let msg =
            miid::image_message(&self.cid, &unit.sub.image_hash).map_err(|e| e.to_string())?;
        let sig =
            Signature::from_hex(&unit.sub.signature).map_err(|e| format!("signature: {e}"))?;
        key.verify(msg.as_bytes(), &sig)
            .map_err(|_| "the signature does not verify under the miner's hotkey".to_owned())?;
        let kind = images::Format::detect(&plain).map_err(|e| e.to_string())?;
        let img = images::decode(&plain, &self.limits).map_err(|e| e.to_string())?;
        c.width = Some(img.width());
        c.height = Some(img.height());
        c.fingerprint = Some(Fingerprint::of(&img).to_hex());
        let name = format!("{}-{}", unit.uid, unit.index);
        let image_path = self
            .state
            .join("images")
            .join(format!("{name}.{}", kind.extension()));
        write_file(&image_path, &plain).map_err(|e| e.to_string())?;
        c.image = Some(self.relative(&image_path));
        let thumb = images::thumbnail_jpeg(&img, THUMBNAIL_SIDE).map_err(|e| e.to_string())?;
        let thumb_path = self.state.join("thumbs").join(format!("{name}.jpg"));
        write_file(&thumb_path, &thumb).map_err(|e| e.to_string())?;
        c.thumbnail = Some(self.relative(&thumb_path));
        Ok(())
    }

    fn journal(&self, c: &Checked) -> Result<(), Error> {
        let bytes = serde_json::to_vec(c).map_err(|e| Error::Content(e.to_string()))?;
        write_file(&journal_path(&self.state, c.uid, c.index), &bytes)
    }
}

/// Fails every image that is the base image, or the same as or a near
/// copy of another miner's image.
fn judge_duplicates(checked: &mut [Checked], base: Option<&BaseRecord>) {
    let prints: Vec<Option<Fingerprint>> = checked
        .iter()
        .map(|c| {
            c.fingerprint
                .as_deref()
                .and_then(|f| Fingerprint::from_hex(f).ok())
        })
        .collect();
    let mut reasons: Vec<Option<String>> = vec![None; checked.len()];
    for (i, c) in checked.iter().enumerate() {
        if c.verdict != "verified" {
            continue;
        }
        if let (Some(b), Some(h)) = (base, &c.sha256)
            && b.sha256.eq_ignore_ascii_case(h)
        {
            reasons[i] = Some("it is the base image itself, unchanged".into());
            continue;
        }
        for (j, o) in checked.iter().enumerate() {
            if j == i || o.uid == c.uid || o.verdict != "verified" {
                continue;
            }
            if c.sha256.is_some() && c.sha256 == o.sha256 {
                reasons[i] = Some(format!(
                    "the same image as uid {}'s {} ({})",
                    o.uid, o.variation_type, o.s3_key
                ));
                break;
            }
            if let (Some(a), Some(b)) = (&prints[i], &prints[j]) {
                let d = a.distance(b);
                if d <= NEAR_DUPLICATE_MAX {
                    reasons[i] = Some(format!(
                        "a near copy of uid {}'s {} ({}; {d:.1} grey levels apart at most, \
                         within {NEAR_DUPLICATE_MAX})",
                        o.uid, o.variation_type, o.s3_key
                    ));
                    break;
                }
            }
        }
    }
    for (c, r) in checked.iter_mut().zip(reasons) {
        if let Some(r) = r {
            c.verdict = "failed".into();
            c.reason = Some(r);
        }
    }
}

fn outcomes(
    results: &Results,
    units: &[Unit],
    checked: Vec<Checked>,
    unavailable: &BTreeMap<(u32, usize), String>,
) -> Vec<MinerOutcome> {
    let mut by_uid: BTreeMap<u32, Vec<Checked>> = BTreeMap::new();
    for c in checked {
        by_uid.entry(c.uid).or_default().push(c);
    }
    for ((uid, index), why) in unavailable {
        if let Some(u) = units.iter().find(|u| u.uid == *uid && u.index == *index) {
            let mut c = Context::blank(u);
            c.verdict = "unavailable".into();
            c.reason = Some(why.clone());
            by_uid.entry(*uid).or_default().push(c);
        }
    }
    results
        .miners
        .iter()
        .map(|m| {
            let mut images = by_uid.remove(&m.uid).unwrap_or_default();
            images.sort_by_key(|c| c.index);
            let count = |v: &str| images.iter().filter(|c| c.verdict == v).count();
            MinerOutcome {
                uid: m.uid,
                hotkey: sanitize_line(&m.hotkey),
                status_code: m.status_code,
                error: m.error.clone(),
                requested: results.requested,
                reported: m.reported,
                accepted: m.submissions.len(),
                revealed: images.iter().filter(|c| c.opened).count(),
                verified: count("verified"),
                failed: count("failed"),
                unavailable: count("unavailable"),
                images,
            }
        })
        .collect()
}

/// The default number of objects opened at once: the cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The per-miner table of a reveal, as text lines: sealed (what the miner
/// reported), uploaded (found in its store, sealed to the round), revealed
/// (opened with the beacon), verified (every check passed), and the first
/// reason of each miner's failures.
pub fn summary_lines(r: &RevealReport) -> Vec<String> {
    let width = r
        .miners
        .iter()
        .map(|m| m.hotkey.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut lines = vec![format!(
        "  {:<4} {:<width$}  {:>6} {:>8} {:>8} {:>8}",
        "uid", "hotkey", "sealed", "uploaded", "revealed", "verified"
    )];
    for m in &r.miners {
        lines.push(format!(
            "  {:<4} {:<width$}  {:>6} {:>8} {:>8} {:>8}",
            m.uid, m.hotkey, m.reported, m.accepted, m.revealed, m.verified
        ));
    }
    for m in &r.miners {
        if let Some(e) = &m.error {
            lines.push(format!("  uid {}: {e}", m.uid));
        }
        if let Some(c) = m.images.iter().find(|c| c.verdict != "verified") {
            lines.push(format!(
                "  uid {}: {} not verified, first: {} {}",
                m.uid,
                m.images.len() - m.verified,
                c.variation_type,
                c.reason.as_deref().unwrap_or("")
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(uid: u32, index: usize, sha: &str, img: Option<&image::RgbImage>) -> Checked {
        Checked {
            uid,
            index,
            s3_key: format!("k{uid}-{index}"),
            variation_type: "pose_edit".into(),
            verdict: "verified".into(),
            reason: None,
            opened: true,
            format: Some("bittensor".into()),
            sha256: Some(sha.into()),
            width: None,
            height: None,
            fingerprint: img.map(|i| Fingerprint::of(i).to_hex()),
            image: None,
            thumbnail: None,
        }
    }

    fn gradient(shift: u8) -> image::RgbImage {
        image::RgbImage::from_fn(64, 64, |x, y| {
            let v = u8::try_from((x * 3 + y) % 200).unwrap_or(0);
            image::Rgb([v.saturating_add(shift), v, v / 2])
        })
    }

    #[test]
    fn duplicates_across_miners_fail_both_and_the_base_image_fails() {
        let a = gradient(0);
        let brighter = gradient(4);
        let other = image::RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([u8::try_from((x * y) % 255).unwrap_or(0), 10, 200])
        });
        let mut all = vec![
            checked(0, 0, "aa", Some(&a)),
            checked(1, 0, "aa", Some(&a)), // the same bytes as uid 0
            checked(2, 0, "bb", Some(&brighter)), // a near copy (uniformly brighter)
            checked(3, 0, "cc", Some(&other)), // its own image
            checked(3, 1, "base", Some(&other)), // the base image
            checked(0, 1, "dd", Some(&other)), // replaced below: far from all
        ];
        all[5].fingerprint = Some(Fingerprint::of(&gradient(100)).to_hex());
        let base = BaseRecord {
            filename: "face.png".into(),
            sha256: "base".into(),
            path: None,
        };
        judge_duplicates(&mut all, Some(&base));
        let reason = |i: usize| all[i].reason.clone().unwrap_or_default();
        assert_eq!(all[0].verdict, "failed");
        assert!(
            reason(0).contains("the same image as uid 1"),
            "{}",
            reason(0)
        );
        assert!(
            reason(1).contains("the same image as uid 0"),
            "{}",
            reason(1)
        );
        assert!(reason(2).contains("a near copy of uid 0"), "{}", reason(2));
        assert_eq!(all[3].verdict, "verified", "{}", reason(3));
        assert!(reason(4).contains("base image"), "{}", reason(4));
        assert_eq!(all[5].verdict, "verified", "{}", reason(5));
    }

    #[test]
    fn a_failed_image_is_never_the_reason_another_fails() {
        let a = gradient(0);
        let mut all = vec![checked(0, 0, "aa", Some(&a)), checked(1, 0, "aa", Some(&a))];
        all[0].verdict = "failed".into();
        judge_duplicates(&mut all, None);
        assert_eq!(all[1].verdict, "verified");
    }
}
