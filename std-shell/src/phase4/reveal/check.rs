//! Opening and checking the pending objects: downloads bounded by
//! `downloads`, CPU work (open, hash, verify, decode, thumbnail) on
//! blocking threads bounded by `jobs`, each verdict journaled at once.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use std::collections::HashMap;
use std::path::Path;

use futures_util::StreamExt as _;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use veil_core::ibe::RoundKey;
use veil_core::miid;
use veil_core::sign::Signature;
use veil_core::{Chain, Round};

use super::journal::{Journal, Unit};
use super::{Progress, RevealConfig};
use crate::limits::THUMBNAIL_SIDE;
use crate::phase4::images::{self, Fingerprint, ImageLimits};
use crate::phase4::records::{Checked, MinerRecord, ObjectRecord, Results, Verdict};
use crate::phase4::stores::Stores;
use crate::store::{ErrorKind, ObjectStore};
use crate::text::peer_line;
use crate::timelock;

/// How often the reveal tries a store that fails for a reason that may
/// pass, and how long it waits after the first failure (doubling).
const READ_ATTEMPTS: u32 = 3;
const READ_PAUSE: core::time::Duration = core::time::Duration::from_secs(1);

/// A checked object, and whether its verdict is final (journaled) or may
/// change on a rerun (an object that could not be read).
pub(super) struct Outcome {
    pub(super) checked: Checked,
    pub(super) final_: bool,
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

/// Downloads (or reads the validator's copy of), opens and checks every
/// pending object. One miner's store failing costs that miner's objects
/// only, once the retries are spent.
pub(super) async fn run_pending(
    results: &Results,
    config: &RevealConfig,
    stores: &Stores,
    journal: &Journal,
    keys: &BTreeMap<Round, RoundKey>,
    pending: Vec<Unit>,
    progress: &dyn Progress,
) -> Vec<Outcome> {
    progress.note(&format!(
        "opening {} objects, {} at a time",
        pending.len(),
        config.jobs.max(1)
    ));
    let bar = bar(pending.len(), config.progress);
    let cpu = Arc::new(Semaphore::new(config.jobs.max(1)));
    // The memory budget, in KiB (a semaphore counts in u32 permits).
    let budget_kib = u32::try_from(config.memory.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let memory = Arc::new(Semaphore::new(budget_kib as usize));
    let failed = core::sync::atomic::AtomicUsize::new(0);
    let ctx = Arc::new(Context {
        chain: results.chain.clone(),
        cid: results.challenge_id.clone(),
        keys: keys.clone(),
        limits: config.limits,
        journal: journal.clone(),
        out_dir: config.out_dir.clone(),
    });
    let results_dir = results
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let miners: HashMap<u32, &MinerRecord> = results.miners.iter().map(|m| (m.uid, m)).collect();
    let work = futures_util::stream::iter(pending).map(|unit| {
        let cpu = Arc::clone(&cpu);
        let memory = Arc::clone(&memory);
        let ctx = Arc::clone(&ctx);
        let bar = bar.clone();
        let failed = &failed;
        let results_dir = &results_dir;
        let store = miners
            .get(&unit.uid)
            .ok_or_else(|| "no such miner".to_owned())
            .and_then(|m| stores.open(m));
        async move {
            // Room for the object before a byte of it is read: its accepted
            // size (or the cap) and its plaintext. One larger than the
            // whole budget takes all of it and goes alone.
            let size = unit
                .object
                .as_ref()
                .map_or(config.max_object, |o| o.size.min(config.max_object));
            let cost = crate::limits::reveal_cost(size);
            let kib = u32::try_from(cost.div_ceil(1024))
                .unwrap_or(u32::MAX)
                .clamp(1, budget_kib);
            let Ok(room) = memory.acquire_many_owned(kib).await else {
                return Outcome {
                    checked: Context::failed_before_opening(&unit, "the reveal stopped".into()),
                    final_: false,
                };
            };
            let read = read_object(&unit, results_dir, store, config.max_object).await;
            let outcome = match read {
                Read::Final(reason) => Outcome {
                    checked: Context::failed_before_opening(&unit, reason),
                    final_: true,
                },
                Read::Unreadable(reason) => Outcome {
                    checked: Context::failed_before_opening(&unit, reason),
                    final_: false,
                },
                Read::Bytes {
                    bytes,
                    source,
                    changed,
                } => {
                    let permit = cpu.acquire_owned().await;
                    let u = unit.clone();
                    let ctx = Arc::clone(&ctx);
                    let joined = tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        let _room = room;
                        ctx.check(&u, bytes)
                    })
                    .await;
                    match joined {
                        Ok(mut checked) => {
                            checked.source = Some(source.to_owned());
                            checked.changed_after_acceptance = changed;
                            Outcome {
                                checked,
                                final_: true,
                            }
                        }
                        Err(e) => Outcome {
                            checked: Context::failed_before_opening(
                                &unit,
                                format!("the check stopped: {e}"),
                            ),
                            final_: false,
                        },
                    }
                }
            };
            let outcome = if outcome.final_ {
                match ctx.journal.write(&outcome.checked) {
                    Ok(()) => outcome,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot journal a verdict: a rerun checks it again");
                        Outcome {
                            final_: false,
                            ..outcome
                        }
                    }
                }
            } else {
                outcome
            };
            if outcome.checked.verdict != Verdict::Verified {
                let n = failed.fetch_add(1, core::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("{n} not verified"));
            }
            bar.inc(1);
            outcome
        }
    });
    let out: Vec<_> = work
        .buffer_unordered(config.downloads.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    out
}

/// What reading one object came to.
enum Read {
    /// Its sealed bytes, where they came from, and whether the miner's
    /// store still holds the accepted object.
    Bytes {
        bytes: Vec<u8>,
        source: &'static str,
        changed: Option<String>,
    },
    /// It cannot be had, for good (gone, too large, replaced after
    /// acceptance with no copy kept).
    Final(String),
    /// Its store failed every attempt (a rerun tries again).
    Unreadable(String),
}

/// The accepted object's bytes: the validator's copy when it kept one and
/// it is intact (the store is then only asked whether it still holds the
/// same object), else the miner's store, retried, and checked against what
/// was accepted.
async fn read_object(
    unit: &Unit,
    results_dir: &Path,
    store: Result<Arc<dyn ObjectStore>, String>,
    max: u64,
) -> Read {
    let accepted = unit.object.as_ref();
    if let Some((bytes, object)) = accepted.and_then(|o| read_copy(results_dir, o, max)) {
        let changed = match &store {
            Ok(store) => changed_in_store(store.as_ref(), &unit.sub.s3_key, object, max).await,
            Err(why) => Some(format!("its store cannot be opened now: {why}")),
        };
        return Read::Bytes {
            bytes,
            source: "copy",
            changed,
        };
    }
    let store = match store {
        Ok(store) => store,
        Err(why) => return Read::Unreadable(format!("its store cannot be opened: {why}")),
    };
    let bytes = match download(store.as_ref(), &unit.sub.s3_key, max).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(reason)) => return Read::Final(reason),
        Err(reason) => return Read::Unreadable(reason),
    };
    if let Some(o) = accepted
        && let Some(reason) = changed_since(store.as_ref(), &unit.sub.s3_key, o, &bytes).await
    {
        return Read::Final(reason);
    }
    Read::Bytes {
        bytes,
        source: "store",
        changed: None,
    }
}

/// Why the bytes read from the store are not those the validator accepted,
/// if they are not: their SHA-256 when it read them all, else (it read only
/// their ends) their size and the store's entity tag.
async fn changed_since(
    store: &dyn ObjectStore,
    key: &str,
    o: &ObjectRecord,
    bytes: &[u8],
) -> Option<String> {
    let changed = |what: String| {
        format!(
            "changed after acceptance: {} holds {what}, and no copy was kept",
            store.describe()
        )
    };
    if let Some(accepted) = &o.sha256 {
        let sha = hex::encode(Sha256::digest(bytes));
        return (!sha.eq_ignore_ascii_case(accepted)).then(|| {
            changed(format!(
                "other bytes than the validator accepted (sha256 {sha}, accepted {accepted})"
            ))
        });
    }
    if bytes.len() as u64 != o.size {
        return Some(changed(format!(
            "{} bytes, where the validator accepted {}",
            bytes.len(),
            o.size
        )));
    }
    let then = o.etag.as_ref()?;
    match store.head(key).await {
        Ok(Some(meta)) => match meta.etag {
            Some(now) if now != *then => Some(changed(format!(
                "another object (ETag {now}, accepted {then})"
            ))),
            _ => None,
        },
        _ => None,
    }
}

/// The validator's copy of `object`, if it kept one and it is intact.
fn read_copy<'o>(
    results_dir: &Path,
    object: &'o ObjectRecord,
    max: u64,
) -> Option<(Vec<u8>, &'o ObjectRecord)> {
    let rel = object.copy.as_deref()?;
    // The copy lives under the results folder: never elsewhere.
    if rel
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
        || rel.starts_with('/')
    {
        return None;
    }
    let sha256 = object.sha256.as_deref()?;
    let cap = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = crate::fs::read_file_capped(&results_dir.join(rel), cap).ok()?;
    hex::encode(Sha256::digest(&bytes))
        .eq_ignore_ascii_case(sha256)
        .then_some((bytes, object))
}

/// Whether the store still holds the object that was accepted: its size
/// and entity tag then, or, when the store gives no tag, its bytes. One
/// attempt, no retries: it is only reported.
async fn changed_in_store(
    store: &dyn ObjectStore,
    key: &str,
    object: &ObjectRecord,
    max: u64,
) -> Option<String> {
    let now_holds = |what: String| {
        format!(
            "{} now holds {what}; the copy the validator kept is checked",
            store.describe()
        )
    };
    let meta = match store.head(key).await {
        Ok(Some(meta)) => meta,
        Ok(None) => return Some(now_holds("nothing under its key".into())),
        Err(_) => return None,
    };
    if meta.size != object.size {
        return Some(now_holds(format!("another object ({} bytes)", meta.size)));
    }
    match (&object.etag, &meta.etag) {
        (Some(then), Some(now)) if then == now => None,
        (Some(_), Some(now)) => Some(now_holds(format!("another object (ETag {now})"))),
        _ => match store.get(key, max).await {
            Ok(bytes)
                if object.sha256.as_deref().is_some_and(|accepted| {
                    !hex::encode(Sha256::digest(&bytes)).eq_ignore_ascii_case(accepted)
                }) =>
            {
                Some(now_holds(
                    "another object (other bytes, the same size)".into(),
                ))
            }
            _ => None,
        },
    }
}

/// The object's bytes; `Ok(Err(reason))` for a final failure (gone, too
/// large), `Err` once every attempt failed for a reason that may pass.
async fn download(
    store: &dyn ObjectStore,
    key: &str,
    max: u64,
) -> Result<Result<Vec<u8>, String>, String> {
    let mut pause = READ_PAUSE;
    let mut attempt = 1;
    loop {
        match store.get(key, max).await {
            Ok(bytes) => return Ok(Ok(bytes)),
            Err(e) => match e.kind() {
                ErrorKind::NotFound => {
                    return Ok(Err(format!("the object is gone from {}", store.describe())));
                }
                ErrorKind::TooLarge => {
                    return Ok(Err(format!("the object is larger than {max} bytes")));
                }
                ErrorKind::InvalidKey => return Ok(Err(format!("the key is not acceptable: {e}"))),
                _ if attempt >= READ_ATTEMPTS => {
                    return Err(format!(
                        "unreadable: {}: {e} (after {READ_ATTEMPTS} attempts)",
                        store.describe()
                    ));
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            },
        }
    }
}

/// What checking one object needs.
struct Context {
    chain: Chain,
    cid: String,
    keys: BTreeMap<Round, RoundKey>,
    limits: ImageLimits,
    journal: Journal,
    out_dir: std::path::PathBuf,
}

impl Context {
    /// A failed record of `unit` before anything was learnt about it.
    pub(super) fn blank(unit: &Unit) -> Checked {
        Checked {
            uid: unit.uid,
            index: unit.index,
            angle: unit.angle,
            s3_key: unit.sub.s3_key.clone(),
            variation_type: peer_line(&unit.sub.variation_type),
            round: Some(unit.round.get()),
            verdict: Verdict::Failed,
            reason: None,
            opened: false,
            format: None,
            sha256: None,
            width: None,
            height: None,
            fingerprint: None,
            image: None,
            thumbnail: None,
            received: unit.received,
            source: None,
            changed_after_acceptance: None,
            screen_replay_uav: (unit.angle == 1)
                .then(|| unit.sub.screen_replay_uav.clone())
                .flatten(),
            angle2: None,
        }
    }

    fn failed_before_opening(unit: &Unit, reason: String) -> Checked {
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

    /// Opens and checks one object (CPU work: on a blocking thread). The
    /// sealed bytes are taken: whole-buffer formats open in place.
    fn check(&self, unit: &Unit, sealed: Vec<u8>) -> Checked {
        let mut c = Self::blank(unit);
        if let Err(reason) = self.check_into(unit, sealed, &mut c) {
            c.reason = Some(peer_line(&reason));
        } else {
            c.verdict = Verdict::Verified;
        }
        c
    }

    fn check_into(&self, unit: &Unit, sealed: Vec<u8>, c: &mut Checked) -> Result<(), String> {
        let round = unit.round;
        let key = self
            .keys
            .get(&round)
            .ok_or_else(|| format!("no beacon of round {round}"))?;
        let (format, plain) = timelock::open_owned(&self.chain, round, key, sealed)
            .map_err(|e| format!("does not open with round {round}'s beacon: {e}"))?;
        c.opened = true;
        c.format = Some(format.name().to_owned());
        let digest = hex::encode(Sha256::digest(&plain));
        c.sha256 = Some(digest.clone());
        if !digest.eq_ignore_ascii_case(&unit.sub.image_hash) {
            return Err(format!(
                "sha256 of the image is {digest}, not the image_hash {}",
                peer_line(&unit.sub.image_hash)
            ));
        }
        let key = unit
            .key
            .as_ref()
            .ok_or_else(|| format!("{} is not a hotkey", peer_line(&unit.hotkey)))?;
        let msg =
            miid::image_message(&self.cid, &unit.sub.image_hash).map_err(|e| e.to_string())?;
        let sig =
            Signature::from_hex(&unit.sub.signature).map_err(|e| format!("signature: {e}"))?;
        key.verify(msg.as_bytes(), &sig)
            .map_err(|_| "the signature does not verify under the miner's hotkey".to_owned())?;
        let kind = images::Format::detect(&plain).map_err(|e| e.to_string())?;
        // A real capture's photos come from phone cameras.
        let limits = if unit.sub.s3_key_angle2.is_some() || unit.angle == 2 {
            ImageLimits::capture()
        } else {
            self.limits
        };
        let img = images::decode(&plain, &limits).map_err(|e| e.to_string())?;
        c.width = Some(img.width());
        c.height = Some(img.height());
        c.fingerprint = Some(Fingerprint::of(&img).to_hex());
        let image_path = self.journal.image_path(unit, kind.extension());
        crate::fs::write_private_atomic(&image_path, &plain).map_err(|e| e.to_string())?;
        c.image = Some(self.relative(&image_path));
        let thumb = images::thumbnail_jpeg(&img, THUMBNAIL_SIDE).map_err(|e| e.to_string())?;
        let thumb_path = self.journal.thumbnail_path(unit);
        crate::fs::write_private_atomic(&thumb_path, &thumb).map_err(|e| e.to_string())?;
        c.thumbnail = Some(self.relative(&thumb_path));
        Ok(())
    }
}
