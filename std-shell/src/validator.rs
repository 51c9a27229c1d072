//! The MIID Phase 4 validator: one cycle picks a base image and a target
//! round, queries every miner over the axon protocol, checks every
//! submission as it arrives, records weights from the previous reveal's
//! reputation, and writes the results JSON the reveal reads.
//!
//! ## Target round
//!
//! The round must not be emitted before every miner could have answered,
//! so `target = reveal_round(now + timeout·n·(1 + 0.1·n) + buffer)` with
//! `n = retries + 1`: the first round whose emission time is **at or
//! after** that instant (not the seed's floor, which can open up to a
//! period early). And no answer is taken after `reveal_time − buffer`,
//! whatever queueing delayed a query: an answer is never made by a miner
//! that could already open the round.
//!
//! ## Checks on each submission (the first that fails is the reason)
//!
//! 1. the record's shape (key layout, 64-hex hash, 128-hex signature, a
//!    known type, 16-hex path signature);
//! 2. the key is this challenge's and this miner's:
//!    `submissions/{cid}/{miner}/{path_signature}/{seed_name}/{type}_…`;
//! 3. the type was requested, and no key or hash repeats in the answer;
//! 4. the signature of `challenge:{cid}:hash:{hash}` verifies under the
//!    miner's hotkey;
//! 5. the object is in the miner's store (HEAD) and not larger than the cap;
//! 6. the object is a timelock ciphertext sealed to the target round (and,
//!    for age, to this chain), where its format carries them.
//!
//! ## Results (`veil/results/v1`)
//!
//! Written atomically to `{out}/results-{challenge_id}.json`, documented
//! in `docs/results.md`: MIID's `responses[uid]` and `phase4_image_data`,
//! plus what the reveal needs (the chain's `/info`, the format, each miner's
//! store, the base image's copy and hash) and the cycle's weights.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::time::Duration;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use veil_core::Chain;
use veil_core::format::Format;
use veil_core::limits::MAX_VARIATION_REQUESTS as MAX_VARIATIONS;
use veil_core::miid::{self, seed_image_name};
use veil_core::sign::{Keypair, Signature};

use crate::Error;
use crate::axon::{AxonTarget, CallError, Dendrite, sanitize_line};
use crate::drand::Clock;
use crate::images::{self, BaseImage};
use crate::miner::{SYNAPSE, Submission};
use crate::store::{ErrorKind, ObjectStore};
use crate::timelock;
use crate::weights::{self, Delivery, Reputation, WeightSink, Weights};

/// The schema tag of the results file.
pub const RESULTS_SCHEMA: &str = "veil/results/v1";

/// Largest sealed object the validator reads to check its round, bytes.
pub const DEFAULT_MAX_OBJECT: u64 = 64 * 1024 * 1024;

/// Largest metagraph file read, bytes.
pub const MAX_METAGRAPH_FILE: usize = 64 * 1024 * 1024;

/// The variations a cycle asks for, in order: MIID's standard five first
/// (background indoor and outdoor, then the three pairs), then single
/// types at other intensities.
pub const STANDARD_VARIATIONS: [(&str, &str, &str); 10] = [
    (
        "background_edit",
        "medium",
        "Replace the background with an indoor scene",
    ),
    (
        "background_edit",
        "medium",
        "Replace the background with an outdoor scene",
    ),
    (
        "lighting_edit+expression_edit",
        "medium",
        "Change the lighting and the facial expression",
    ),
    (
        "lighting_edit+pose_edit",
        "medium",
        "Change the lighting and turn the head",
    ),
    (
        "pose_edit+expression_edit",
        "medium",
        "Turn the head and change the facial expression",
    ),
    ("lighting_edit", "far", "Strong directional lighting"),
    ("pose_edit", "light", "A slight head turn"),
    ("expression_edit", "far", "A very different expression"),
    (
        "background_edit",
        "light",
        "A subtle background colour change",
    ),
    ("lighting_edit", "light", "Slightly warmer light"),
];

/// One miner to query.
#[derive(Clone)]
pub struct MinerEntry {
    /// Its uid (position in the metagraph or in the `--miner` list).
    pub uid: u32,
    /// Where its axon is.
    pub target: AxonTarget,
    /// Where its objects are, or why that store cannot be used (a
    /// malformed commitment, say): the miner is then recorded with that
    /// error and not queried.
    pub store: Result<Arc<dyn ObjectStore>, String>,
    /// The store, for the results (never a secret).
    pub store_record: Value,
}

impl core::fmt::Debug for MinerEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MinerEntry")
            .field("uid", &self.uid)
            .field("target", &self.target)
            .field(
                "store",
                &self
                    .store
                    .as_ref()
                    .map(|s| s.describe())
                    .map_err(String::as_str),
            )
            .finish()
    }
}

/// A neuron of a metagraph file.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Neuron {
    /// Its uid.
    pub uid: u32,
    /// SS58 hotkey.
    pub hotkey: String,
    /// Axon IP or host (`0.0.0.0` or empty: not serving).
    #[serde(default)]
    pub ip: String,
    /// Axon port (0: not serving).
    #[serde(default)]
    pub port: u16,
    /// Stake, in TAO.
    #[serde(default)]
    pub stake: f64,
    /// Whether it may set weights.
    #[serde(default)]
    pub validator_permit: bool,
}

/// A metagraph snapshot file: `{"netuid": N, "neurons": [Neuron…]}` or a
/// bare array of neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct Metagraph {
    /// The neurons.
    pub neurons: Vec<Neuron>,
}

impl Metagraph {
    /// Reads a metagraph file.
    ///
    /// # Errors
    ///
    /// Unreadable, too large, not of the shape above, or two neurons with
    /// one uid.
    pub fn load(path: &Path) -> Result<Self, Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum File {
            Object { neurons: Vec<Neuron> },
            Array(Vec<Neuron>),
        }
        let bytes = crate::chains::read_capped(path, MAX_METAGRAPH_FILE)?;
        let neurons = match serde_json::from_slice::<File>(&bytes) {
            Ok(File::Object { neurons } | File::Array(neurons)) => neurons,
            Err(e) => {
                return Err(Error::Content(format!(
                    "{}: not a metagraph (an array of {{uid, hotkey, ip, port, stake}} or {{\"neurons\": [...]}}): {e}",
                    path.display()
                )));
            }
        };
        let mut seen = HashSet::new();
        for n in &neurons {
            if !seen.insert(n.uid) {
                return Err(Error::Content(format!(
                    "{}: uid {} appears twice",
                    path.display(),
                    n.uid
                )));
            }
        }
        Ok(Self { neurons })
    }

    /// The neurons that serve an axon, as targets.
    ///
    /// # Errors
    ///
    /// A serving neuron whose hotkey or address is malformed.
    pub fn targets(&self) -> Result<Vec<(u32, AxonTarget)>, Error> {
        self.neurons
            .iter()
            .filter(|n| n.port != 0 && !n.ip.is_empty() && n.ip != "0.0.0.0")
            .map(|n| {
                AxonTarget::new(&n.ip, n.port, &n.hotkey)
                    .map(|t| (n.uid, t))
                    .map_err(|e| Error::Content(format!("metagraph uid {}: {e}", n.uid)))
            })
            .collect()
    }

    /// Hotkeys with at least `min_stake`.
    pub fn staked(&self, min_stake: f64) -> Vec<&str> {
        self.neurons
            .iter()
            .filter(|n| n.stake >= min_stake)
            .map(|n| n.hotkey.as_str())
            .collect()
    }
}

/// How the validator runs a cycle.
#[derive(Clone, Debug)]
pub struct ValidatorConfig {
    /// The chain (its `/info` goes into the results).
    pub chain: Chain,
    /// The timelock format miners are told to use (recorded; the checks
    /// accept any format veil reads).
    pub format: Format,
    /// Per-attempt query timeout.
    pub timeout: Duration,
    /// Extra seconds between the last possible answer and the reveal.
    pub reveal_buffer: Duration,
    /// Extra attempts on connection trouble, timeouts and 5xx.
    pub retries: u32,
    /// Variations per request (1 to 16).
    pub variations: usize,
    /// Where results (and copies of base images) go.
    pub out_dir: PathBuf,
    /// Largest sealed object read for the round check.
    pub max_object: u64,
    /// Miners queried at once.
    pub concurrency: usize,
    /// The reputation file of the previous reveal, if any.
    pub reputation: Option<PathBuf>,
}

/// One cycle's outcome.
#[derive(Clone, Debug)]
pub struct CycleReport {
    /// The results file written.
    pub results: PathBuf,
    /// The challenge.
    pub challenge_id: String,
    /// The round sealed to.
    pub target_round: u64,
    /// Accepted submissions per uid.
    pub accepted: BTreeMap<u32, usize>,
}

/// The validator.
pub struct Validator {
    dendrite: Dendrite,
    hotkey: String,
    config: ValidatorConfig,
    images: Vec<BaseImage>,
    sink: Arc<dyn WeightSink>,
    clock: Arc<dyn Clock>,
}

impl core::fmt::Debug for Validator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Validator")
            .field("hotkey", &self.hotkey)
            .finish_non_exhaustive()
    }
}

/// What became of one miner this cycle.
#[derive(Clone, Debug, Default, Serialize)]
struct MinerResult {
    uid: u32,
    hotkey: String,
    axon: Value,
    store: Value,
    response_time: Option<f64>,
    status_code: Option<u16>,
    attempts: u32,
    s3_submissions: Vec<Submission>,
    rejected: Vec<Rejected>,
    submission_count: usize,
    error: Option<String>,
}

/// A submission that did not pass, and why.
#[derive(Clone, Debug, Serialize)]
struct Rejected {
    s3_key: Option<String>,
    variation_type: Option<String>,
    reason: String,
}

/// The request of one cycle, shared by every miner's task.
struct Challenge {
    cid: String,
    target: u64,
    /// No answer is taken after this: `reveal_timestamp − reveal_buffer`
    /// (minus a second for the clock's rounding).
    deadline: tokio::time::Instant,
    seed_name: String,
    requested: Vec<(&'static str, &'static str, &'static str)>,
    fields: Map<String, Value>,
}

impl Validator {
    /// A validator signing with `keypair`, choosing base images from
    /// `images` (at least one).
    ///
    /// # Errors
    ///
    /// No images, a bad variation count, or an HTTP client that cannot be
    /// built.
    pub fn new(
        keypair: Arc<Keypair>,
        config: ValidatorConfig,
        images: Vec<BaseImage>,
        sink: Arc<dyn WeightSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        if images.is_empty() {
            return Err(Error::Content("no base images".into()));
        }
        if config.variations == 0 || config.variations > MAX_VARIATIONS {
            return Err(Error::value(
                "--variations",
                format!("must be 1 to {MAX_VARIATIONS}"),
            ));
        }
        let max_image = images.iter().map(|i| i.bytes.len()).max().unwrap_or(0);
        // A reference axon echoes the request, base64 image included.
        let max_response = max_image.saturating_mul(2).saturating_add(16 * 1024 * 1024);
        let dendrite = Dendrite::new(Arc::clone(&keypair), max_response)?;
        Ok(Self {
            hotkey: dendrite.hotkey().to_owned(),
            dendrite,
            config,
            images,
            sink,
            clock,
        })
    }

    /// The validator's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    fn target_round(&self, now: u64) -> Result<u64, Error> {
        // Attempt i waits timeout·(1 + 0.1·i); bound their sum by
        // attempts · timeout · (1 + 0.1·attempts), in whole milliseconds.
        let attempts = u128::from(self.config.retries) + 1;
        let worst_ms = self.config.timeout.as_millis() * attempts * (10 + attempts) / 10;
        let worst = u64::try_from(worst_ms.div_ceil(1000)).unwrap_or(u64::MAX);
        let not_before = now
            .saturating_add(worst)
            .saturating_add(self.config.reveal_buffer.as_secs());
        Ok(self.config.chain.time().reveal_round(not_before)?.get())
    }

    fn challenge(&self, image: &BaseImage, now: u64) -> Result<Challenge, Error> {
        let target = self.target_round(now)?;
        let round = veil_core::Round::new(target)?;
        let reveal_timestamp = self.config.chain.time().time_of(round)?;
        let short: String = self.hotkey.chars().take(8).collect();
        // MIID's `challenge_{unix}_{hotkey[..8]}`, plus 32 random bits: two
        // cycles started in the same second must not share results files or
        // object keys.
        let cid = format!("challenge_{now}_{short}_{:08x}", OsRng.next_u32());
        let requested: Vec<_> = STANDARD_VARIATIONS
            .iter()
            .cycle()
            .take(self.config.variations)
            .copied()
            .collect();
        let variation_requests: Vec<Value> = requested
            .iter()
            .map(|(t, i, d)| json!({"type": t, "intensity": i, "description": d, "detail": ""}))
            .collect();
        let mut fields = Map::new();
        fields.insert(
            "image_request".into(),
            json!({
                "base_image": images::encode_base64(&image.bytes),
                "image_filename": image.name,
                "variation_requests": variation_requests,
                "target_drand_round": target,
                "reveal_timestamp": reveal_timestamp,
                "challenge_id": cid,
            }),
        );
        let seed_name = seed_image_name(&image.name).to_owned();
        let left = reveal_timestamp
            .saturating_sub(now)
            .saturating_sub(self.config.reveal_buffer.as_secs())
            .saturating_sub(1);
        Ok(Challenge {
            cid,
            target,
            deadline: tokio::time::Instant::now() + Duration::from_secs(left),
            seed_name,
            requested,
            fields,
        })
    }

    /// Runs one cycle against `miners` and writes its results.
    ///
    /// # Errors
    ///
    /// When the results cannot be written, or the chain cannot schedule a
    /// round; a miner's failure is recorded, never an error of the cycle.
    pub async fn run_cycle(&self, miners: &[MinerEntry]) -> Result<CycleReport, Error> {
        let now = self.clock.now();
        let image = self
            .images
            .get(usize::try_from(OsRng.next_u64() % self.images.len() as u64).unwrap_or(0))
            .ok_or_else(|| Error::Content("no base images".into()))?;
        // A bad reputation file fails the cycle before any miner works for it.
        let reputation = match &self.config.reputation {
            Some(p) => Reputation::load(p)?,
            None => Reputation::default(),
        };
        let challenge = Arc::new(self.challenge(image, now)?);
        tracing::info!(challenge = %challenge.cid, round = challenge.target, miners = miners.len(), image = %image.name, "cycle");
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let results: Vec<MinerResult> = {
            let tasks = miners.iter().map(|m| {
                let challenge = Arc::clone(&challenge);
                let permits = Arc::clone(&permits);
                async move {
                    let _permit = permits.acquire().await;
                    self.query_and_check(m, &challenge).await
                }
            });
            futures_util::future::join_all(tasks).await
        };
        let deliveries: Vec<Delivery> = results
            .iter()
            .map(|r| Delivery {
                uid: r.uid,
                hotkey: r.hotkey.clone(),
                accepted: r.s3_submissions.len(),
            })
            .collect();
        let weights = weights::compute(&reputation, &deliveries, challenge.requested.len());
        let sink_error = self.sink.set(&challenge.cid, &weights).await.err();
        if let Some(e) = &sink_error {
            tracing::warn!(%e, sink = %self.sink.describe(), "weights not recorded");
        }
        let path = self.write_results(image, &challenge, &results, &weights, sink_error, now)?;
        Ok(CycleReport {
            results: path,
            challenge_id: challenge.cid.clone(),
            target_round: challenge.target,
            accepted: results
                .iter()
                .map(|r| (r.uid, r.s3_submissions.len()))
                .collect(),
        })
    }

    async fn query_and_check(&self, m: &MinerEntry, c: &Challenge) -> MinerResult {
        let mut r = MinerResult {
            uid: m.uid,
            hotkey: m.target.hotkey.clone(),
            axon: json!({"ip": m.target.host, "port": m.target.port, "hotkey": m.target.hotkey}),
            store: m.store_record.clone(),
            ..MinerResult::default()
        };
        let store = match &m.store {
            Ok(store) => store,
            Err(e) => {
                r.error = Some(format!("its store cannot be used: {e}"));
                return r;
            }
        };
        let mut outcome = Err(CallError::Invalid("not queried".into()));
        for attempt in 0..=self.config.retries {
            // An answer after the deadline could come from a miner that has
            // already seen the revealed round: never wait past it.
            let left = c
                .deadline
                .saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                if attempt == 0 {
                    outcome = Err(CallError::Timeout(Duration::ZERO));
                }
                break;
            }
            r.attempts = attempt + 1;
            let timeout = (self.config.timeout / 10)
                .saturating_mul(10 + attempt)
                .min(left);
            outcome = self
                .dendrite
                .call(&m.target, SYNAPSE, &c.fields, timeout)
                .await;
            match &outcome {
                Err(e) if e.is_transient() && attempt < self.config.retries => {
                    tracing::info!(uid = m.uid, %e, attempt, "retrying");
                }
                _ => break,
            }
        }
        let mut reply = match outcome {
            Ok(reply) => reply,
            Err(e) => {
                r.status_code = Some(e.status());
                r.error = Some(e.to_string());
                tracing::info!(uid = m.uid, error = %e, "no answer");
                return r;
            }
        };
        r.status_code = Some(200);
        r.response_time = Some(reply.elapsed.as_secs_f64());
        let items = match reply.body.remove("s3_submissions") {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => {
                r.error = Some("the answer has no s3_submissions".into());
                return r;
            }
            Some(_) => {
                r.error = Some("s3_submissions is not a list".into());
                return r;
            }
        };
        r.submission_count = items.len();
        let most = c.requested.len();
        let mut keys = HashSet::new();
        let mut hashes = HashSet::new();
        let mut budget = TypeBudget::new(&c.requested);
        // Items past the requested count are each recorded up to a bound,
        // then counted: an answer of millions of items costs one line.
        let listed = most.saturating_mul(2).saturating_add(8);
        let ignored = r.submission_count.saturating_sub(listed);
        for (i, item) in items.into_iter().take(listed).enumerate() {
            let key = item
                .get("s3_key")
                .and_then(Value::as_str)
                .map(sanitize_line);
            let sub: Submission = match serde_json::from_value(item) {
                Ok(s) => s,
                Err(e) => {
                    r.rejected.push(Rejected {
                        s3_key: key,
                        variation_type: None,
                        reason: format!("not an S3Submission: {}", sanitize_line(&e.to_string())),
                    });
                    continue;
                }
            };
            let verdict = if i >= most {
                Err(format!("more submissions than the {most} requested"))
            } else {
                self.check(
                    m,
                    store.as_ref(),
                    c,
                    &sub,
                    &mut keys,
                    &mut hashes,
                    &mut budget,
                )
                .await
            };
            match verdict {
                Ok(()) => r.s3_submissions.push(sub),
                Err(reason) => {
                    tracing::info!(uid = m.uid, key = %sanitize_line(&sub.s3_key), %reason, "rejected");
                    r.rejected.push(Rejected {
                        s3_key: Some(sanitize_line(&sub.s3_key)),
                        variation_type: Some(sanitize_line(&sub.variation_type)),
                        reason,
                    });
                }
            }
        }
        if ignored > 0 {
            r.rejected.push(Rejected {
                s3_key: None,
                variation_type: None,
                reason: format!("{ignored} more items past the first {listed} were not read"),
            });
        }
        tracing::info!(
            uid = m.uid,
            accepted = r.s3_submissions.len(),
            rejected = r.rejected.len(),
            "checked"
        );
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn check(
        &self,
        m: &MinerEntry,
        store: &dyn ObjectStore,
        c: &Challenge,
        sub: &Submission,
        keys: &mut HashSet<String>,
        hashes: &mut HashSet<String>,
        budget: &mut TypeBudget,
    ) -> Result<(), String> {
        sub.as_core()
            .validate()
            .map_err(|e| format!("malformed: {e}"))?;
        let prefix = format!(
            "submissions/{}/{}/{}/{}/",
            c.cid, m.target.hotkey, sub.path_signature, c.seed_name
        );
        let name = sub
            .s3_key
            .strip_prefix(&prefix)
            .ok_or_else(|| format!("the key is not under {prefix}"))?;
        let type_part = format!("{}_", sub.variation_type.replace('+', "_"));
        let well_named = name
            .strip_prefix(&type_part)
            .and_then(|rest| rest.strip_suffix(".png.tlock"))
            .and_then(|rest| rest.split_once('_'))
            .is_some_and(|(ts, index)| {
                [ts, index].iter().all(|n| {
                    !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit())
                })
            });
        if !well_named {
            return Err(format!(
                "the key's file name must be {type_part}{{unix_ts}}_{{index}}.png.tlock"
            ));
        }
        budget.take(&sub.variation_type)?;
        if !keys.insert(sub.s3_key.clone()) {
            return Err("the same s3_key appears twice".into());
        }
        if !hashes.insert(sub.image_hash.to_ascii_lowercase()) {
            return Err("the same image_hash appears twice".into());
        }
        let msg = miid::image_message(&c.cid, &sub.image_hash).map_err(|e| e.to_string())?;
        let sig = Signature::from_hex(&sub.signature).map_err(|e| format!("signature: {e}"))?;
        m.target
            .key
            .verify(msg.as_bytes(), &sig)
            .map_err(|_| "the signature does not verify under the miner's hotkey".to_owned())?;
        let meta = match store.head(&sub.s3_key).await {
            Ok(Some(meta)) => meta,
            Ok(None) => return Err(format!("the object is not in {}", store.describe())),
            Err(e) => return Err(format!("store: {e}")),
        };
        if meta.size > self.config.max_object {
            return Err(format!(
                "the object is {} bytes, more than {}",
                meta.size, self.config.max_object
            ));
        }
        let bytes = match store.get(&sub.s3_key, self.config.max_object).await {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(format!("the object is not in {}", store.describe()));
            }
            Err(e) => return Err(format!("store: {e}")),
        };
        let seen = timelock::inspect(&mut bytes.as_slice())
            .map_err(|e| format!("not a timelock ciphertext veil reads: {e}"))?;
        if let Some(round) = seen.round
            && round != c.target
        {
            return Err(format!(
                "sealed to round {round}, not the target round {}",
                c.target
            ));
        }
        if let Some(hash) = &seen.chain_hash {
            let ours = hex::encode(self.config.chain.hash());
            if !hash.eq_ignore_ascii_case(&ours) {
                return Err(format!("sealed to chain {hash}, not {ours}"));
            }
        }
        Ok(())
    }

    fn write_results(
        &self,
        image: &BaseImage,
        c: &Challenge,
        results: &[MinerResult],
        weights: &Weights,
        sink_error: Option<Error>,
        now: u64,
    ) -> Result<PathBuf, Error> {
        let base_sha = hex::encode(Sha256::digest(&image.bytes));
        let ext = Path::new(&image.name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("png")
            .to_ascii_lowercase();
        let copy_rel = format!("base-images/{base_sha}.{ext}");
        let copy = self.config.out_dir.join(&copy_rel);
        if !copy.exists() {
            if let Some(dir) = copy.parent() {
                std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                    path: dir.to_owned(),
                    source,
                })?;
            }
            crate::io::write_private_atomic(&copy, &image.bytes).map_err(|source| {
                Error::Write {
                    path: copy.clone(),
                    source,
                }
            })?;
        }
        let round = veil_core::Round::new(c.target)?;
        let reveal_timestamp = self.config.chain.time().time_of(round)?;
        let by_miner: Map<String, Value> = results
            .iter()
            .map(|r| {
                (
                    r.uid.to_string(),
                    json!({"hotkey": r.hotkey, "submissions": r.s3_submissions, "submission_count": r.s3_submissions.len()}),
                )
            })
            .collect();
        let responses: Map<String, Value> = results
            .iter()
            .map(|r| (r.uid.to_string(), json!(r)))
            .collect();
        let info: Value =
            serde_json::from_str(&crate::drand::devnet::info_json(&self.config.chain))
                .unwrap_or(Value::Null);
        let doc = json!({
            "schema": RESULTS_SCHEMA,
            "timestamp": now,
            "validator": self.hotkey,
            "chain": info,
            "format": self.config.format.name(),
            "base_image": {"filename": image.name, "sha256": base_sha, "path": copy_rel},
            "phase4_image_data": {
                "cycle": "veil",
                "challenge_id": c.cid,
                "base_image_filename": image.name,
                "target_drand_round": c.target,
                "reveal_timestamp": reveal_timestamp,
                "requested_variations": c.requested.len(),
                "variation_count": c.requested.len(),
                "variation_types": c.requested.iter().map(|v| v.0).collect::<Vec<_>>(),
                "variation_intensities": c.requested.iter().map(|v| v.1).collect::<Vec<_>>(),
                "s3_submissions_by_miner": by_miner,
            },
            "responses": responses,
            "weights": {
                "sink": self.sink.describe(),
                "recorded": sink_error.is_none(),
                "error": sink_error.map(|e| e.to_string()),
                "reputation_file": self.config.reputation.as_ref().map(|p| p.display().to_string()),
                "formula": weights.formula,
                "requested": weights.requested,
                "uids": weights.uids,
                "hotkeys": weights.hotkeys,
                "reputation": weights.reputation,
                "weights": weights.weights,
            },
        });
        let bytes =
            serde_json::to_vec_pretty(&doc).map_err(|e| Error::Content(format!("results: {e}")))?;
        let path = self.config.out_dir.join(format!("results-{}.json", c.cid));
        crate::io::write_private_atomic(&path, &bytes).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

/// How many more submissions of each type a miner may have accepted: as
/// many as were requested, so repeating an easy type cannot stand in for
/// the others.
struct TypeBudget(Vec<(&'static str, usize)>);

impl TypeBudget {
    fn new(requested: &[(&'static str, &'static str, &'static str)]) -> Self {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for (t, _, _) in requested {
            match counts.iter_mut().find(|(k, _)| k == t) {
                Some((_, n)) => *n += 1,
                None => counts.push((t, 1)),
            }
        }
        Self(counts)
    }

    fn take(&mut self, kind: &str) -> Result<(), String> {
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            None => Err(format!("variation_type {kind} was not requested")),
            Some((_, 0)) => Err(format!(
                "more {kind} submissions than the requests for that type"
            )),
            Some((_, n)) => {
                *n -= 1;
                Ok(())
            }
        }
    }
}
