//! The MIID Phase 4 miner: answers `IdentitySynapse` requests behind the
//! axon ([`crate::axon`]); [`MinerService`] serves it.
//!
//! For one request:
//!
//! 1. the `image_request` is decoded by the core
//!    ([`ImageRequestMeta::decode`]: key-safe names, known variation types
//!    and intensities, at most 16 variations) and its base64 image is
//!    size-checked before decoding, then decoded within [`ImageLimits`];
//! 2. `path_signature` is signed once (`{challenge_id}:{miner_ss58}`);
//! 2. the target round must be emitted at least `min_lead` after the request
//!    arrives, and the caller's first request for the challenge fixes it
//!    (`rounds`: the same caller asking the same challenge for another
//!    round is refused);
//! 3. each variation, concurrently (bounded by slots shared by all
//!    requests, with a share per caller): generated ([`Generator`], seeded by
//!    [`GeneratorKey::variation_seed`]`(caller, challenge_id, round, index)`
//!    with the miner's secret generator key: nobody else can compute its
//!    images, and a replayed challenge gets other ones), hashed (SHA-256 of
//!    the PNG), signed (`challenge:{cid}:hash:{hash}`), sealed to
//!    `target_drand_round` (one prepared round per request), and uploaded
//!    through the [`Uploader`];
//! 4. only objects that are **stored** are reported as `S3Submission`s;
//!    a spooled object goes up later but its key is not reported (the
//!    validator would look for it now and find nothing).
//!
//! Work that outlives the caller's timeout is stopped (work not started is
//! skipped, an external generator's command killed, its slot freed) and
//! what finished is answered, so a slow generator costs variations, not the
//! whole answer; a caller that hangs up stops its work the same way. One
//! caller's requests hold at most `per_caller` of the slots.

use alloc::borrow::Cow;
use alloc::sync::Arc;
use core::time::Duration;
use std::time::Instant;

use axum::body::Bytes;
use rand_core::OsRng;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;
use veil_core::format::Format;
use veil_core::ibe::PreparedRound;
use veil_core::miid::{self, GeneratorKey, ImageHasher, ImageRequestMeta, JsonStr, KeyParts};
use veil_core::sign::Keypair;
use veil_core::{Chain, Round};

use super::generator::{Cancel, Generator, Job, Variation};
use super::images::{self, ImageLimits};
use super::records::Submission;
use crate::axon::{Caller, Refusal, Synapse};
use crate::clock::Clock;
use crate::keys::address_of;
use crate::limits::{DEFAULT_ANSWER_TIME, MAX_ANSWER_TIME};
use crate::store::spool::{Upload, Uploader};
use crate::timelock;

pub(crate) mod captures;
pub(crate) mod rounds;
mod serve;
mod slots;

use self::captures::Capture;
pub use self::captures::CaptureQueue;
use self::rounds::ChallengeRounds;
use self::slots::Slots;
pub use serve::{MinerService, ServeConfig};

/// The synapse a miner serves.
pub const SYNAPSE: &str = "IdentitySynapse";

/// MIID's default challenge id when the request names none.
pub const DEFAULT_CHALLENGE_ID: &str = "sandbox_test";

/// How a miner works.
#[derive(Clone, Debug)]
pub struct MinerConfig {
    /// The chain to seal to.
    pub chain: Chain,
    /// The timelock format (MIID's graders read `bittensor`).
    pub format: Format,
    /// Limits on the base image.
    pub limits: ImageLimits,
    /// Variations in progress at once, across all requests.
    pub concurrency: usize,
    /// Of those, the most one caller's requests hold at once (1 to
    /// `concurrency`).
    pub per_caller: usize,
    /// Seal to rounds already emitted (tests with public beacons only:
    /// such images can be opened by anyone at once). Refused otherwise.
    pub allow_emitted_rounds: bool,
    /// The target round must be emitted at least this long after a request
    /// arrives (`--min-lead`; [`crate::limits::DEFAULT_MIN_LEAD`]).
    pub min_lead: Duration,
    /// Real screen-replay captures to attach, one per answer
    /// (`--captures DIR`).
    pub captures: Option<Arc<CaptureQueue>>,
}

/// What one request is answered with.
#[derive(Debug)]
pub struct Answer {
    /// The stored submissions.
    pub submissions: Vec<Submission>,
    /// The capture among them, consumed once the answer is sent.
    pub capture: Option<String>,
}

/// A miner: the [`Synapse`] behind `veil miner`'s axon.
pub struct Miner {
    keypair: Arc<Keypair>,
    hotkey: String,
    seed_key: GeneratorKey,
    rounds: Arc<ChallengeRounds>,
    config: MinerConfig,
    uploader: Arc<Uploader>,
    generator: Arc<dyn Generator>,
    clock: Arc<dyn Clock>,
    slots: Arc<Slots>,
}

impl core::fmt::Debug for Miner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Miner")
            .field("hotkey", &self.hotkey)
            .field("generator", &self.generator.describe())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RequestBody<'a> {
    #[serde(borrow, default)]
    image_request: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct BaseImage<'a> {
    #[serde(borrow)]
    base_image: Cow<'a, str>,
    #[serde(borrow, default)]
    daily_seed_image: Option<Cow<'a, str>>,
}

/// One variation, owned, for a worker task.
struct Work {
    index: u32,
    kind: String,
    intensity: String,
    description: String,
    detail: String,
}

/// What a worker task reports.
enum Outcome {
    Stored(Box<Submission>),
    Spooled(String),
    Failed(u32, String),
}

fn unescape(raw: &str) -> Result<String, Refusal> {
    let mut buf = vec![0u8; raw.len()];
    JsonStr(raw)
        .unescape_into(&mut buf)
        .map(str::to_owned)
        .map_err(|e| Refusal::new(400, format!("image_request: {e}")))
}

impl Miner {
    /// A miner signing with `keypair`, uploading through `uploader`,
    /// keeping its rounds per (caller, challenge) in `rounds`.
    pub(crate) fn new(
        keypair: Arc<Keypair>,
        config: MinerConfig,
        uploader: Arc<Uploader>,
        generator: Arc<dyn Generator>,
        clock: Arc<dyn Clock>,
        rounds: Arc<ChallengeRounds>,
    ) -> Self {
        let public = keypair.public();
        Self {
            hotkey: address_of(&public),
            seed_key: GeneratorKey::derive(&keypair),
            rounds,
            slots: Arc::new(Slots::new(config.concurrency, config.per_caller)),
            keypair,
            config,
            uploader,
            generator,
            clock,
        }
    }

    /// The miner's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// The target round is far enough ahead, and the caller's first (or
    /// only) round for this challenge.
    fn check_round(&self, caller: &Caller, cid: &str, round: Round) -> Result<(), Refusal> {
        let now = self.clock.now();
        let at = self
            .config
            .chain
            .time()
            .time_of(round)
            .map_err(|e| Refusal::new(400, format!("target_drand_round: {e}")))?;
        let lead = self.config.min_lead.as_secs();
        if at < now.saturating_add(lead) {
            if !self.config.allow_emitted_rounds {
                let why = if at <= now {
                    "is already emitted: images sealed to it could be opened at once".to_owned()
                } else {
                    format!(
                        "is emitted in {} s, sooner than the {lead} s this miner requires \
                         (images sealed to it could be opened before the answers are in)",
                        at - now
                    )
                };
                return Err(Refusal::new(
                    400,
                    format!("target_drand_round {round} {why}"),
                ));
            }
            tracing::warn!(%round, "the target round is emitted too soon: the images may be opened before the answers are in");
        }
        let expires = at.saturating_add(rounds::KEEP_AFTER_ROUND);
        match self
            .rounds
            .claim(&caller.hotkey, cid, round.get(), expires, now)
        {
            Ok(()) => Ok(()),
            Err(Ok(claimed)) => Err(Refusal::new(
                400,
                format!(
                    "challenge {cid} was asked of this miner for round {claimed}: one challenge, \
                     one round (not {round})"
                ),
            )),
            Err(Err(e)) => {
                tracing::error!(error = %e, "cannot journal the challenge's round");
                Err(Refusal::new(503, "the miner cannot record the round now"))
            }
        }
    }

    /// Makes, seals and uploads the variations one request asks for.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] (400) for a malformed request or base image.
    pub async fn answer(
        &self,
        caller: &Caller,
        body: &[u8],
        deadline: Option<Duration>,
    ) -> Result<Answer, Refusal> {
        let started = Instant::now();
        let parsed: RequestBody<'_> = serde_json::from_slice(body)
            .map_err(|e| Refusal::new(400, format!("the body is not an IdentitySynapse: {e}")))?;
        let raw = parsed
            .image_request
            .filter(|r| r.get() != "null")
            .ok_or_else(|| Refusal::new(400, "the request has no image_request"))?;
        let meta = ImageRequestMeta::decode(raw.get().as_bytes())
            .map_err(|e| Refusal::new(400, format!("image_request: {e}")))?;
        let cid = meta
            .challenge_id
            .filter(|c| !c.is_empty())
            .unwrap_or(DEFAULT_CHALLENGE_ID)
            .to_owned();
        let round = meta.target_drand_round;
        self.check_round(caller, &cid, round)?;
        let base: BaseImage<'_> = serde_json::from_str(raw.get())
            .map_err(|_| Refusal::new(400, "image_request: base_image must be a string"))?;
        // Decoding is CPU work (and up to the decode limit of memory): off
        // the async workers, under the same bound as the variations.
        let text = base.base_image.into_owned();
        let seed_text = base.daily_seed_image.map(Cow::into_owned);
        let limits = self.config.limits;
        let caller_key = caller.key.to_bytes();
        let permit = self
            .slots
            .acquire(caller_key)
            .await
            .ok_or_else(|| Refusal::new(503, "the miner is shutting down"))?;
        let (base_bytes, base_image, daily_seed) = tokio::task::spawn_blocking(move || {
            let bytes = images::decode_base64(&text, limits.max_bytes)
                .map_err(|e| format!("base_image: {e}"))?;
            let image = images::decode(&bytes, &limits).map_err(|e| format!("base_image: {e}"))?;
            // The day's seed image goes to an external generator as it came,
            // checked like the base image.
            let seed = seed_text
                .map(|t| {
                    let b = images::decode_base64(&t, limits.max_bytes)?;
                    images::decode(&b, &limits)?;
                    Ok::<_, crate::Error>(b)
                })
                .transpose()
                .map_err(|e| format!("daily_seed_image: {e}"))?;
            Ok::<_, String>((bytes, image, seed))
        })
        .await
        .map_err(|_| Refusal::new(500, "internal error decoding the base image"))?
        .map_err(|e| Refusal::new(400, e))?;
        drop(permit);
        let prepared = Arc::new(
            PreparedRound::new(&self.config.chain, round)
                .map_err(|e| Refusal::new(400, format!("target_drand_round: {e}")))?,
        );
        let path_msg = miid::path_message(&cid, &self.hotkey)
            .map_err(|e| Refusal::new(400, format!("challenge_id: {e}")))?;
        let path_sig = miid::path_signature(&self.keypair.sign(path_msg.as_bytes(), &mut OsRng));
        let mut work = Vec::with_capacity(meta.variation_requests.len());
        for (i, v) in meta.variation_requests.iter().enumerate() {
            work.push(Work {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                kind: v.kind.to_owned(),
                intensity: v.intensity.to_owned(),
                description: unescape(v.description)?,
                detail: unescape(v.detail)?,
            });
        }
        let shared = Arc::new(Shared {
            keypair: Arc::clone(&self.keypair),
            hotkey: self.hotkey.clone(),
            seed_key: self.seed_key.clone(),
            caller: caller.key.to_bytes(),
            round: round.get(),
            cid: cid.clone(),
            path_sig: path_sig.to_string(),
            image_filename: meta.image_filename.to_owned(),
            base_bytes,
            base_image,
            daily_seed: daily_seed.map(|bytes| {
                (
                    bytes,
                    meta.daily_seed_filename.unwrap_or("daily-seed").to_owned(),
                )
            }),
            prepared,
            format: self.config.format,
            generator: Arc::clone(&self.generator),
            cancel: Cancel::new(),
        });
        let _cancel = CancelOnDrop(Arc::clone(&shared));
        let requested = work.len();
        let mut tasks = JoinSet::new();
        for w in work {
            let shared = Arc::clone(&shared);
            let slots = Arc::clone(&self.slots);
            let uploader = Arc::clone(&self.uploader);
            let clock = Arc::clone(&self.clock);
            tasks.spawn(async move {
                let Some(permit) = slots.acquire(caller_key).await else {
                    return Outcome::Failed(w.index, "the miner is shutting down".into());
                };
                let index = w.index;
                // The permit lives as long as the blocking work, even when
                // this task is aborted at the deadline: abandoned work still
                // counts against the bound until it ends.
                let made = tokio::task::spawn_blocking(move || {
                    let made = shared.make(&w, clock.now());
                    drop(permit);
                    made
                })
                .await;
                match made {
                    Ok(Ok((sub, sealed))) => match uploader.upload(&sub.s3_key, &sealed).await {
                        Ok(Upload::Stored) => Outcome::Stored(Box::new(sub)),
                        Ok(Upload::Spooled) => Outcome::Spooled(sub.s3_key),
                        Err(e) => Outcome::Failed(index, format!("upload: {e}")),
                    },
                    Ok(Err(e)) => Outcome::Failed(index, e),
                    Err(e) => Outcome::Failed(index, format!("worker failed: {e}")),
                }
            });
        }
        let mut stored = Vec::new();
        let (mut spooled, mut failed) = (0usize, 0usize);
        let collect = async {
            while let Some(done) = tasks.join_next().await {
                match done {
                    Ok(Outcome::Stored(s)) => stored.push(*s),
                    Ok(Outcome::Spooled(key)) => {
                        spooled += 1;
                        tracing::warn!(key, "spooled: not reported to the validator");
                    }
                    Ok(Outcome::Failed(i, why)) => {
                        failed += 1;
                        tracing::warn!(index = i, reason = %why, "variation failed");
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(%e, "variation task failed");
                    }
                }
            }
        };
        let timed_out = match deadline {
            Some(d) => tokio::time::timeout(d, collect).await.is_err(),
            None => {
                collect.await;
                false
            }
        };
        if timed_out {
            tasks.abort_all();
        }
        stored.sort_by(|a, b| a.s3_key.cmp(&b.s3_key));
        let left = deadline.map(|d| d.saturating_sub(started.elapsed()));
        let capture = match (&self.config.captures, timed_out) {
            (Some(queue), false) => {
                let index = u32::try_from(requested).unwrap_or(u32::MAX);
                self.attach_capture(queue, &shared, index, left).await
            }
            _ => None,
        };
        let capture = capture.map(|(sub, id)| {
            stored.push(sub);
            id
        });
        tracing::info!(
            challenge = %cid,
            %round,
            requested,
            stored = stored.len(),
            spooled,
            failed,
            timed_out,
            secs = started.elapsed().as_secs_f64(),
            capture = capture.as_deref().unwrap_or("-"),
            "answered"
        );
        Ok(Answer {
            submissions: stored,
            capture,
        })
    }

    /// Seals, signs and stores the next capture of `queue` (both photos),
    /// within `left`; its submission and id, or `None` (the capture is then
    /// released for a later answer).
    async fn attach_capture(
        &self,
        queue: &Arc<CaptureQueue>,
        shared: &Arc<Shared>,
        index: u32,
        left: Option<Duration>,
    ) -> Option<(Submission, String)> {
        let capture = queue.claim()?;
        let id = capture.id.clone();
        let work = async {
            let shared = Arc::clone(shared);
            let now = self.clock.now();
            let (sub, sealed1, sealed2) =
                tokio::task::spawn_blocking(move || shared.make_capture(&capture, index, now))
                    .await
                    .map_err(|e| format!("worker failed: {e}"))??;
            let key2 = sub.s3_key_angle2.clone().unwrap_or_default();
            for (key, sealed) in [(&sub.s3_key, sealed1), (&key2, sealed2)] {
                match self.uploader.upload(key, &sealed).await {
                    Ok(Upload::Stored) => {}
                    Ok(Upload::Spooled) => return Err("spooled: the store is failing".to_owned()),
                    Err(e) => return Err(format!("upload: {e}")),
                }
            }
            Ok(sub)
        };
        let done = match left {
            Some(left) => tokio::time::timeout(left, work)
                .await
                .unwrap_or_else(|_| Err("no time left in this answer".to_owned())),
            None => work.await,
        };
        match done {
            Ok(sub) => Some((sub, id)),
            Err(why) => {
                tracing::warn!(capture = %id, %why, "capture not attached; kept for a later answer");
                queue.release(&id);
                None
            }
        }
    }
}

/// What every worker of one request shares.
struct Shared {
    keypair: Arc<Keypair>,
    hotkey: String,
    seed_key: GeneratorKey,
    /// The caller's public key and the round: with the challenge and the
    /// index, what each variation's seed is keyed over.
    caller: [u8; 32],
    round: u64,
    cid: String,
    path_sig: String,
    image_filename: String,
    base_bytes: Vec<u8>,
    base_image: image::RgbImage,
    /// The day's seed image and its name, when the validator sent one.
    daily_seed: Option<(Vec<u8>, String)>,
    prepared: Arc<PreparedRound>,
    format: Format,
    generator: Arc<dyn Generator>,
    /// Set once the answer is no longer wanted: work not started is
    /// skipped, an external generator's command killed.
    cancel: Cancel,
}

/// Cancels a request's remaining work when dropped: when its answer is
/// sent, its deadline has passed, or its caller hung up (the request's
/// future is then dropped).
struct CancelOnDrop(Arc<Shared>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel.cancel();
    }
}

impl Shared {
    /// Generates, hashes, signs and seals one variation.
    fn make(&self, w: &Work, now: u64) -> Result<(Submission, Vec<u8>), String> {
        if self.cancel.is_cancelled() {
            return Err("the answer is no longer wanted".to_owned());
        }
        let variation = Variation {
            index: w.index,
            kind: &w.kind,
            intensity: &w.intensity,
            description: &w.description,
            detail: &w.detail,
            seed: self
                .seed_key
                .variation_seed(&self.caller, &self.cid, self.round, w.index),
        };
        let job = Job {
            base: &self.base_image,
            base_bytes: &self.base_bytes,
            base_filename: &self.image_filename,
            daily_seed: self
                .daily_seed
                .as_ref()
                .map(|(bytes, name)| (bytes.as_slice(), name.as_str())),
            challenge_id: &self.cid,
            variations: core::slice::from_ref(&variation),
            cancel: &self.cancel,
        };
        let png = self
            .generator
            .generate(&job)
            .into_iter()
            .next()
            .ok_or_else(|| "the generator made nothing".to_owned())?
            .map_err(|e| format!("generator: {e}"))?;
        let mut hasher = ImageHasher::new();
        hasher.update(&png);
        let hash = hasher.finalize_hex();
        let msg = miid::image_message(&self.cid, &hash).map_err(|e| e.to_string())?;
        let signature = self.keypair.sign(msg.as_bytes(), &mut OsRng).to_hex();
        let key = miid::object_key(&KeyParts {
            challenge_id: &self.cid,
            miner_ss58: &self.hotkey,
            path_signature: &self.path_sig,
            image_filename: &self.image_filename,
            variation_type: &w.kind,
            unix_ts: now,
            index: w.index,
        })
        .map_err(|e| e.to_string())?;
        let sealed = timelock::seal_bytes(&self.prepared, self.format, &png, &mut OsRng)
            .map_err(|e| format!("seal: {e}"))?;
        Ok((
            Submission::single(
                key.to_string(),
                hash.to_string(),
                signature.to_string(),
                w.kind.clone(),
                self.path_sig.clone(),
            ),
            sealed,
        ))
    }
}

impl Shared {
    /// Hashes, signs and seals both photos of a capture, keyed under its
    /// seed image as MIID's miner keys them (`screen_replay` and
    /// `screen_replay_angle2`).
    fn make_capture(
        &self,
        c: &Capture,
        index: u32,
        now: u64,
    ) -> Result<(Submission, Vec<u8>, Vec<u8>), String> {
        let key = miid::object_key(&KeyParts {
            challenge_id: &self.cid,
            miner_ss58: &self.hotkey,
            path_signature: &self.path_sig,
            image_filename: &c.uav.seed_image,
            variation_type: "screen_replay",
            unix_ts: now,
            index,
        })
        .map_err(|e| format!("capture key: {e}"))?
        .to_string();
        let (dir, leaf) = key.rsplit_once('/').unwrap_or(("", &key));
        let key2 = format!(
            "{dir}/{}",
            leaf.replacen("screen_replay_", "screen_replay_angle2_", 1)
        );
        miid::validate_object_key(&key2).map_err(|e| format!("capture key: {e}"))?;
        let mut signed = Vec::with_capacity(2);
        for photo in [&c.angle1, &c.angle2] {
            let mut hasher = ImageHasher::new();
            hasher.update(photo);
            let hash = hasher.finalize_hex().to_string();
            let msg = miid::image_message(&self.cid, &hash).map_err(|e| e.to_string())?;
            let signature = self
                .keypair
                .sign(msg.as_bytes(), &mut OsRng)
                .to_hex()
                .to_string();
            let sealed = timelock::seal_bytes(&self.prepared, self.format, photo, &mut OsRng)
                .map_err(|e| format!("seal: {e}"))?;
            signed.push((hash, signature, sealed));
        }
        let (Some((hash2, sig2, sealed2)), Some((hash1, sig1, sealed1))) =
            (signed.pop(), signed.pop())
        else {
            return Err("internal error: two photos".into());
        };
        let mut sub = Submission::single(
            key,
            hash1,
            sig1,
            "screen_replay".into(),
            self.path_sig.clone(),
        );
        sub.s3_key_angle2 = Some(key2);
        sub.image_hash_angle2 = Some(hash2);
        sub.signature_angle2 = Some(sig2);
        sub.screen_replay_uav = Some(c.uav.clone());
        Ok((sub, sealed1, sealed2))
    }
}

#[async_trait::async_trait]
impl Synapse for Miner {
    fn name(&self) -> &'static str {
        SYNAPSE
    }

    async fn forward(&self, caller: Caller, body: Bytes) -> Result<Map<String, Value>, Refusal> {
        // Leave a margin for the answer to travel back within the caller's
        // timeout; a caller that states none (or a long one) gets the
        // miner's bound, so no request holds its slots for long.
        let timeout = caller
            .timeout_ms
            .map_or(DEFAULT_ANSWER_TIME, Duration::from_millis)
            .min(MAX_ANSWER_TIME);
        let deadline = Some(
            timeout
                .saturating_sub(timeout / 10)
                .saturating_sub(Duration::from_millis(250)),
        );
        tracing::debug!(caller = %caller.hotkey, "IdentitySynapse");
        let started = Instant::now();
        let answer = self.answer(&caller, &body, deadline).await?;
        let mut fields = Map::new();
        fields.insert("s3_submissions".into(), json!(answer.submissions));
        // Sent with this answer: never again.
        if let (Some(queue), Some(id)) = (&self.config.captures, &answer.capture) {
            queue.consume(id);
        }
        fields.insert(
            "process_time".into(),
            json!(started.elapsed().as_secs_f64()),
        );
        Ok(fields)
    }
}
