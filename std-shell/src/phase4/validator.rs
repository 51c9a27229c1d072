//! The MIID Phase 4 validator: one cycle picks a base image and a target
//! round, queries every miner over the axon protocol, checks every
//! submission as it arrives, records weights from the previous reveal's
//! reputation, and writes the results JSON the reveal reads.
//!
//! The target round and the request are made in `validator/challenge.rs`,
//! each submission is checked in `validator/checks.rs` (the rules are in
//! `docs/results.md`), and cycles run one after another in [`run_cycles`].
//!
//! ## Results (`veil/results/v1`)
//!
//! Written atomically to `{out}/results-{challenge_id}.json`
//! ([`ResultsFile`], documented in `docs/results.md`): MIID's
//! `responses[uid]` and `phase4_image_data`, plus what the reveal needs
//! (the chain's `/info`, the format, each miner's store, the base image's
//! copy and hash) and the cycle's weights.

mod answer;
mod challenge;
mod checks;
mod cycles;
mod requests;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::time::Duration;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use veil_core::Chain;
use veil_core::format::Format;
use veil_core::limits::MAX_VARIATION_REQUESTS as MAX_VARIATIONS;
use veil_core::sign::Keypair;

use self::challenge::Challenge;
use self::checks::{Seen, TypeBudget};
pub use self::cycles::{Schedule, TargetSource, run_cycles};
pub use self::requests::{
    IMAGE_VARIATION_REQUIREMENTS, RequestedVariation, STANDARD_TYPES, standard_requests,
};
use super::images::BaseImage;
use super::miner::SYNAPSE;
use super::records::{
    AcceptedSubmission, AxonRecord, BaseImageRecord, MinerResponse, MinerSubmissions,
    Phase4ImageData, RESULTS_SCHEMA, Rejected, RequestedVariations, ResultsFile, StoreRecord,
    Submission, WeightsRecord,
};
use super::reputation::Reputation;
use super::weights::{self, Delivery, WeightSink, Weights};
use crate::Error;
use crate::axon::{AxonTarget, CallError, Dendrite, Transport};
use crate::clock::Clock;
use crate::limits::{ANSWER_MARGIN, VALIDATOR_OBJECT_MEMORY};
use crate::ops::metrics::{Reason, metrics};

/// [`VALIDATOR_OBJECT_MEMORY`] in KiB (a semaphore's permits).
#[expect(clippy::cast_possible_truncation, reason = "the assert proves it fits")]
const OBJECT_ROOM_KIB: u32 = {
    let kib = VALIDATOR_OBJECT_MEMORY / 1024;
    assert!(kib <= u32::MAX as u64);
    kib as u32
};
use crate::store::ObjectStore;
use crate::text::peer_line;

pub use crate::limits::MAX_OBJECT as DEFAULT_MAX_OBJECT;

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
    pub store_record: StoreRecord,
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
    /// The day's seed image, sent as MIID's `daily_seed_image` when given.
    pub daily_seed: Option<BaseImage>,
    /// How miners are queried: bittensor 10.x axon headers, or btauth/1.
    pub transport: Transport,
    /// Keep a copy of each accepted object under `objects/` in the results
    /// folder (the reveal opens it, whatever became of the miner's store);
    /// otherwise the reveal reads the stores.
    pub keep_objects: bool,
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
    /// Room, in KiB, for the objects being checked at once
    /// ([`crate::limits::VALIDATOR_OBJECT_MEMORY`]).
    object_room: Arc<Semaphore>,
}

impl core::fmt::Debug for Validator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Validator")
            .field("hotkey", &self.hotkey)
            .finish_non_exhaustive()
    }
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
        let seed_image = config.daily_seed.as_ref().map_or(0, |i| i.bytes.len());
        // A reference axon echoes the request, base64 images included (4/3
        // of their size, with room to spare); an answer larger than that
        // is refused as it arrives, so a cycle holds at most `concurrency`
        // answers of this size.
        let max_response = max_image
            .saturating_add(seed_image)
            .saturating_mul(2)
            .saturating_add(ANSWER_MARGIN);
        let dendrite = Dendrite::new(Arc::clone(&keypair), max_response, Arc::clone(&clock))?
            .with_transport(config.transport);
        Ok(Self {
            hotkey: dendrite.hotkey().to_owned(),
            dendrite,
            config,
            images,
            sink,
            clock,
            object_room: Arc::new(Semaphore::new(OBJECT_ROOM_KIB as usize)),
        })
    }

    /// The validator's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
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
        let results: Vec<MinerResponse> = {
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
        let accepted = results
            .iter()
            .map(|r| (r.uid, r.s3_submissions.len()))
            .collect();
        let path = self.write_results(image, &challenge, results, &weights, sink_error, now)?;
        Ok(CycleReport {
            results: path,
            challenge_id: challenge.cid.clone(),
            target_round: challenge.target,
            accepted,
        })
    }

    async fn query_and_check(&self, m: &MinerEntry, c: &Challenge) -> MinerResponse {
        let mut r = MinerResponse {
            uid: m.uid,
            hotkey: m.target.hotkey.clone(),
            axon: AxonRecord {
                ip: m.target.host.clone(),
                port: m.target.port,
                hotkey: m.target.hotkey.clone(),
            },
            store: Some(m.store_record.clone()),
            ..MinerResponse::default()
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
        let reply = match outcome {
            Ok(reply) => reply,
            Err(e) => {
                r.status_code = Some(e.status());
                r.error = Some(e.to_string());
                metrics().refused(Reason::Answer);
                tracing::info!(uid = m.uid, error = %e, "no answer");
                return r;
            }
        };
        r.status_code = Some(200);
        r.response_time = Some(reply.elapsed.as_secs_f64());
        let most = c.requested.len();
        // Items past the requested count are each recorded up to a bound,
        // then counted: an answer of millions of items costs one line.
        let listed = most.saturating_mul(2).saturating_add(8);
        let items = match answer::submissions(&reply.body, listed) {
            Ok(items) => items,
            Err(why) => {
                metrics().refused(Reason::Answer);
                tracing::info!(uid = m.uid, error = %why, "answer refused");
                r.error = Some(why);
                return r;
            }
        };
        drop(reply);
        r.submission_count = items.count;
        // The answer's place in the receipt order, taken as it arrives.
        let first_receipt = c.receipts.fetch_add(
            u64::try_from(items.count).unwrap_or(u64::MAX),
            core::sync::atomic::Ordering::Relaxed,
        );
        let mut seen = Seen::default();
        let mut budget = TypeBudget::new(&c.requested);
        let (mut requested_items, mut captures) = (0usize, 0usize);
        let ignored = items.count.saturating_sub(items.read.len());
        for (position, item) in (0u64..).zip(items.read) {
            let sub: Submission = match item {
                Ok(s) => s,
                Err(rejected) => {
                    metrics().refused(Reason::Shape);
                    r.rejected.push(rejected);
                    continue;
                }
            };
            // A real screen-replay capture rides along with the requested
            // variations (MIID's miners attach at most one per answer).
            let capture = sub.variation_type == "screen_replay"
                && (sub.s3_key_angle2.is_some() || sub.screen_replay_uav.is_some());
            let verdict = if capture {
                captures += 1;
                if captures > 1 {
                    Err("more than one screen-replay capture in one answer".to_owned())
                } else {
                    self.check_capture(m, store.as_ref(), c, &sub, &mut seen)
                        .await
                        .map(|(a1, a2)| (a1, Some(a2)))
                }
            } else {
                requested_items += 1;
                if requested_items > most {
                    Err(format!("more submissions than the {most} requested"))
                } else {
                    self.check(m, store.as_ref(), c, &sub, &mut seen, &mut budget)
                        .await
                        .map(|r| (r, None))
                }
            };
            match verdict {
                Ok((first, second)) => r.s3_submissions.push(AcceptedSubmission {
                    submission: sub,
                    drand_round: Some(first.round),
                    drand_round_angle2: second.as_ref().map(|s| s.round),
                    received: Some(first_receipt.saturating_add(position)),
                    object: Some(first.object),
                    object_angle2: second.map(|s| s.object),
                }),
                Err(reason) => {
                    metrics().refused(checks::reason_of(&reason));
                    tracing::info!(uid = m.uid, key = %peer_line(&sub.s3_key), %reason, "rejected");
                    r.rejected.push(Rejected {
                        s3_key: Some(peer_line(&sub.s3_key)),
                        variation_type: Some(peer_line(&sub.variation_type)),
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
        metrics().accepted(r.s3_submissions.len());
        tracing::info!(
            uid = m.uid,
            accepted = r.s3_submissions.len(),
            rejected = r.rejected.len(),
            "checked"
        );
        r
    }

    fn write_results(
        &self,
        image: &BaseImage,
        c: &Challenge,
        results: Vec<MinerResponse>,
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
                crate::fs::create_dir_all(dir)?;
            }
            crate::fs::write_private_atomic(&copy, &image.bytes)?;
        }
        let reveal_timestamp = c.reveal_timestamp;
        let file = ResultsFile {
            schema: RESULTS_SCHEMA.to_owned(),
            timestamp: now,
            validator: self.hotkey.clone(),
            chain: ResultsFile::chain_json(&self.config.chain)?,
            format: self.config.format.name().to_owned(),
            base_image: Some(BaseImageRecord {
                filename: image.name.clone(),
                sha256: base_sha,
                path: copy_rel,
            }),
            phase4_image_data: Phase4ImageData {
                cycle: "veil".to_owned(),
                challenge_id: c.cid.clone(),
                base_image_filename: image.name.clone(),
                target_drand_round: c.target,
                reveal_timestamp,
                requested_variations: RequestedVariations::List(c.requested.clone()),
                variation_count: c.requested.len(),
                variation_types: c.requested.iter().map(|v| v.kind.clone()).collect(),
                variation_intensities: c.requested.iter().map(|v| v.intensity.clone()).collect(),
                s3_submissions_by_miner: results
                    .iter()
                    .map(|r| {
                        (
                            r.uid.to_string(),
                            MinerSubmissions {
                                hotkey: r.hotkey.clone(),
                                submissions: r
                                    .s3_submissions
                                    .iter()
                                    .map(|a| a.submission.clone())
                                    .collect(),
                                submission_count: r.s3_submissions.len(),
                            },
                        )
                    })
                    .collect(),
            },
            responses: results
                .into_iter()
                .map(|r| (r.uid.to_string(), r))
                .collect(),
            weights: Some(WeightsRecord {
                sink: self.sink.describe(),
                recorded: sink_error.is_none(),
                error: sink_error.map(|e| e.to_string()),
                reputation_file: self
                    .config
                    .reputation
                    .as_ref()
                    .map(|p| p.display().to_string()),
                formula: weights.formula.to_owned(),
                requested: weights.requested,
                uids: weights.uids.clone(),
                hotkeys: weights.hotkeys.clone(),
                reputation: weights.reputation.clone(),
                weights: weights.weights.clone(),
            }),
        };
        let path = self.config.out_dir.join(format!("results-{}.json", c.cid));
        file.save(&path)?;
        Ok(path)
    }
}
