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
use crate::phase4::records::{Checked, MinerRecord, Results, Verdict};
use crate::phase4::stores::Stores;
use crate::store::{ErrorKind, ObjectStore};
use crate::text::peer_line;
use crate::timelock;

/// Why an object was not checked this run (a rerun retries it).
pub(super) struct Unavailable(pub(super) String);

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

/// Downloads, opens and checks every pending object.
pub(super) async fn run_pending(
    results: &Results,
    config: &RevealConfig,
    stores: &Stores,
    journal: &Journal,
    keys: &BTreeMap<Round, RoundKey>,
    pending: Vec<Unit>,
    progress: &dyn Progress,
) -> Vec<(Unit, Result<Checked, Unavailable>)> {
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
        cid: results.challenge_id.clone(),
        keys: keys.clone(),
        limits: config.limits,
        journal: journal.clone(),
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
                Err(why) => Err(Unavailable(why)),
                Ok(store) => {
                    match download(store.as_ref(), &unit.sub.s3_key, config.max_object).await {
                        Err(skip) => Err(skip),
                        Ok(Err(reason)) => Ok(Context::failed_before_opening(&unit, reason)),
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
                                Err(e) => Err(Unavailable(format!("the check stopped: {e}"))),
                            }
                        }
                    }
                }
            };
            let outcome = outcome.and_then(|c| match ctx.journal.write(&c) {
                Ok(()) => Ok(c),
                Err(e) => Err(Unavailable(format!("cannot journal: {e}"))),
            });
            if !matches!(&outcome, Ok(c) if c.verdict == Verdict::Verified) {
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
) -> Result<Result<Vec<u8>, String>, Unavailable> {
    match store.get(key, max).await {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(e) => match e.kind() {
            ErrorKind::NotFound => Ok(Err(format!("the object is gone from {}", store.describe()))),
            ErrorKind::TooLarge => Ok(Err(format!("the object is larger than {max} bytes"))),
            ErrorKind::InvalidKey => Ok(Err(format!("the key is not acceptable: {e}"))),
            _ => Err(Unavailable(format!("{}: {e}", store.describe()))),
        },
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

    /// Opens and checks one object (CPU work: on a blocking thread).
    fn check(&self, unit: &Unit, sealed: &[u8]) -> Checked {
        let mut c = Self::blank(unit);
        if let Err(reason) = self.check_into(unit, sealed, &mut c) {
            c.reason = Some(peer_line(&reason));
        } else {
            c.verdict = Verdict::Verified;
        }
        c
    }

    fn check_into(&self, unit: &Unit, sealed: &[u8], c: &mut Checked) -> Result<(), String> {
        let round = unit.round;
        let key = self
            .keys
            .get(&round)
            .ok_or_else(|| format!("no beacon of round {round}"))?;
        let mut plain = Vec::with_capacity(sealed.len());
        let format = timelock::open_with(&self.chain, round, key, sealed, &mut plain)
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
        let img = images::decode(&plain, &self.limits).map_err(|e| e.to_string())?;
        c.width = Some(img.width());
        c.height = Some(img.height());
        c.fingerprint = Some(Fingerprint::of(&img).to_hex());
        let image_path = self
            .journal
            .image_path(unit.uid, unit.index, kind.extension());
        crate::fs::write_private_atomic(&image_path, &plain).map_err(|e| e.to_string())?;
        c.image = Some(self.relative(&image_path));
        let thumb = images::thumbnail_jpeg(&img, THUMBNAIL_SIDE).map_err(|e| e.to_string())?;
        let thumb_path = self.journal.thumbnail_path(unit.uid, unit.index);
        crate::fs::write_private_atomic(&thumb_path, &thumb).map_err(|e| e.to_string())?;
        c.thumbnail = Some(self.relative(&thumb_path));
        Ok(())
    }
}

/// The record of an object that could not be read this run.
pub(super) fn unavailable(unit: &Unit, why: &str) -> Checked {
    let mut c = Context::blank(unit);
    c.verdict = Verdict::Unavailable;
    c.reason = Some(why.to_owned());
    c
}
