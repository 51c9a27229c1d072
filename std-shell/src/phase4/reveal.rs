//! Post-validation, "the reveal": once a cycle's target round is emitted,
//! open every accepted submission of its results file and say, per image,
//! whether it holds up.
//!
//! ## What is checked (the first that fails is the reason)
//!
//! 1. the object as it was accepted: the validator's copy when it kept one
//!    (intact: its SHA-256 is the one recorded), else the miner's store
//!    (its bucket from its commitment, or the store the results name),
//!    retried, and holding the same bytes as were accepted ("changed after
//!    acceptance" otherwise); a store that no longer holds the accepted
//!    object is reported beside a copy's verdict;
//! 2. it opens with the beacon of the round it is sealed to (the
//!    validator records it per submission; stock MIID miners seal some to
//!    the target round and some to the one before), verified against the
//!    chain of the results once per distinct round;
//! 3. `sha256(plaintext) == image_hash`;
//! 4. the signature of `challenge:{cid}:hash:{image_hash}` verifies under
//!    the miner's hotkey;
//! 5. the plaintext is a PNG or JPEG that decodes within the image limits
//!    (a capture's photos within a phone camera's);
//! 6. it is neither the base image nor a near copy of it, and of a group
//!    of identical (SHA-256) or near-identical images (a perceptual
//!    [`Fingerprint`] within
//!    [`NEAR_DUPLICATE_MAX`], `docs/duplicates.md`) from different miners,
//!    only the one the validator received first keeps credit;
//! 7. a capture's two photos both pass, and are not the same photo.
//!
//! ## Resuming
//!
//! Every object checked is journaled at once, atomically, under
//! `{out}/reveal-{cid}/checked/`, with its plaintext and thumbnail beside
//! it. A reveal run again (after a crash, a kill, or a store that was
//! down) skips what is journaled and does only the rest. An object whose
//! store failed every attempt (network, 5xx, a commitment gone) fails its
//! miner in this run's files, is never journaled, and is tried again by
//! the next run; no miner's store stops the others' reveal. The
//! reputation file records which challenges it has counted, so a reveal
//! is counted once however often it runs.
//!
//! ## Outputs
//!
//! `{out}/reveal-{cid}.json` ([`RevealFile`], `veil/reveal/v2`, documented
//! in `docs/results.md`), the HTML report `{out}/report-{cid}.html`
//! ([`super::report`]), and the updated reputation file that the next
//! validator cycle reads ([`super::reputation`]).

mod captures;
mod check;
mod duplicates;
mod journal;

use alloc::collections::BTreeMap;
use std::path::PathBuf;

use veil_core::Round;

use self::journal::{Journal, Unit, units_of};
use super::images::{Fingerprint, ImageLimits, NEAR_DUPLICATE_MAX};
use super::records::{
    BeaconRecord, Checked, MinerOutcome, REVEAL_SCHEMA, ReputationRecord, Results, RevealFile,
    RevealSummary, RevealedBase, Verdict,
};
use super::report;
use super::reputation::{Outcome, REPUTATION_RATE, Reputation};
use super::stores::Stores;
use crate::Error;
use crate::clock::Clock;
use crate::drand::{BeaconSource, FetchedBeacon};
use crate::ops::metrics::metrics;
use crate::text::peer_line;

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
    /// Bytes the objects being read, opened and checked may hold at once
    /// (their sealed bytes, their plaintext and a decoded image each):
    /// objects wait for room before they are read
    /// ([`crate::limits::REVEAL_MEMORY`] by default).
    pub memory: u64,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
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

/// Runs (or resumes) the reveal of `results`, with the target round's
/// beacon from `beacons` (waited for; it must be of the results' chain).
///
/// # Errors
///
/// The beacon cannot be had or does not verify, or the outputs cannot be
/// written. A miner's unreadable objects fail that miner, not the reveal.
pub async fn reveal(
    results: &Results,
    config: &RevealConfig,
    beacons: &dyn BeaconSource,
    stores: &Stores,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<RevealReport, Error> {
    let cid = &results.challenge_id;
    let journal = Journal::open(&config.out_dir, cid)?;
    let units = units_of(results);
    let mut done: BTreeMap<(u32, usize, u8), Checked> = BTreeMap::new();
    for u in &units {
        if let Some(c) = journal.read(u) {
            done.insert(u.id(), c);
        }
    }
    let resumed = done.len();
    let pending: Vec<Unit> = units
        .iter()
        .filter(|u| !done.contains_key(&u.id()))
        .cloned()
        .collect();
    if resumed > 0 {
        progress.note(&format!(
            "resuming: {resumed} of {} objects were checked by an earlier run",
            units.len()
        ));
    }
    let mut rounds: Vec<Round> = units.iter().map(|u| u.round).collect();
    rounds.sort_unstable();
    rounds.dedup();
    let mut beacons_used: BTreeMap<Round, FetchedBeacon> = BTreeMap::new();
    // The latest round first: once it is out, the earlier ones are too.
    for round in rounds.iter().rev() {
        let beacon = match journal.read_beacon(results, *round) {
            Ok(b) => b,
            Err(_) => fetch_beacon(&journal, results, *round, beacons, clock, progress).await?,
        };
        beacons_used.insert(*round, beacon);
    }
    let mut unreadable = 0usize;
    if !pending.is_empty() {
        let keys = beacons_used
            .iter()
            .map(|(r, b)| (*r, b.round_key()))
            .collect();
        let checked =
            check::run_pending(results, config, stores, &journal, &keys, pending, progress).await;
        for outcome in checked {
            unreadable += usize::from(!outcome.final_);
            let c = outcome.checked;
            done.insert((c.uid, c.index, c.angle), c);
        }
    }
    if unreadable > 0 {
        progress.note(&format!(
            "{unreadable} of {} objects could not be read and fail; a rerun tries them again",
            units.len()
        ));
    }
    let mut checked: Vec<Checked> = done.into_values().collect();
    let base_print = results
        .base
        .as_ref()
        .and_then(|b| b.path.as_deref())
        .and_then(|p| crate::fs::read_file_capped(p, config.limits.max_bytes).ok())
        .and_then(|bytes| super::images::decode(&bytes, &config.limits).ok())
        .map(|img| Fingerprint::of(&img));
    duplicates::judge_duplicates(&mut checked, results.base.as_ref(), base_print.as_ref());
    let miners = outcomes(results, captures::merge(checked));
    let reveal_path = config.out_dir.join(format!("reveal-{cid}.json"));
    let report_path = config.out_dir.join(format!("report-{cid}.html"));
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
    let file = RevealFile {
        schema: REVEAL_SCHEMA.to_owned(),
        results: results.path.display().to_string(),
        challenge_id: cid.clone(),
        target_drand_round: results.round.get(),
        chain_hash: hex::encode(results.chain.hash()),
        beacons: beacons_used
            .values()
            .map(|b| BeaconRecord {
                round: b.round.get(),
                signature: hex::encode(&b.signature),
            })
            .collect(),
        revealed_at: clock.now(),
        base_image: results.base.as_ref().map(|b| RevealedBase {
            filename: b.filename.clone(),
            sha256: b.sha256.clone(),
        }),
        requested_variations: results.requested,
        // As written in the source (an f32 widened would print its error).
        near_duplicate_max: (f64::from(NEAR_DUPLICATE_MAX) * 1e6).round() / 1e6,
        summary: RevealSummary {
            miners: miners.len(),
            objects: units.len(),
            revealed: miners.iter().map(|m| m.revealed).sum(),
            verified: miners.iter().map(|m| m.verified).sum(),
            failed: miners.iter().map(|m| m.failed).sum(),
        },
        miners: miners
            .iter()
            .map(|m| (m.uid.to_string(), m.clone()))
            .collect(),
        reputation: ReputationRecord {
            file: config.reputation.display().to_string(),
            rate: REPUTATION_RATE,
            scores: miners
                .iter()
                .map(|m| (m.hotkey.clone(), reputation.of(&m.hotkey)))
                .collect(),
        },
    };
    file.save(&reveal_path)?;
    let html = report::render(&report::Page {
        out_dir: &config.out_dir,
        challenge_id: cid,
        round: results.round.get(),
        chain_hash: &file.chain_hash,
        base: results.base.as_ref(),
        miners: &miners,
    });
    crate::fs::write_private_atomic(&report_path, html.as_bytes())?;
    // Last: once the reputation counts this reveal, everything it stands
    // on is on disk.
    if applied {
        reputation.save(&config.reputation)?;
    }
    if unreadable == 0 {
        prune_copies(results, progress);
    }
    for m in &miners {
        metrics().verdicts("verified", m.verified);
        metrics().verdicts("failed", m.failed);
        metrics().verdicts("unavailable", m.unavailable);
    }
    tracing::info!(
        challenge = %cid,
        objects = units.len(),
        verified = miners.iter().map(|m| m.verified).sum::<usize>(),
        "reveal written"
    );
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

/// Removes the validator's copies of this challenge's objects
/// (`objects/{cid}/` beside the results file) once every verdict is final:
/// the journal holds the verdicts and the plaintexts, so nothing needs
/// them any more, and a validator's disk does not fill cycle after cycle.
/// While any object could not be read, they stay for the rerun.
fn prune_copies(results: &Results, progress: &dyn Progress) {
    let cid = &results.challenge_id;
    // The challenge id names one folder, never a path.
    if cid.is_empty() || cid.starts_with('.') || cid.contains(['/', '\\']) {
        return;
    }
    let Some(dir) = results
        .path
        .parent()
        .map(|p| p.join("objects").join(cid.as_str()))
    else {
        return;
    };
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {
            // `objects/` itself goes once no other challenge's copies are in it.
            if let Some(objects) = dir.parent() {
                let _ = std::fs::remove_dir(objects);
            }
            progress.note(&format!(
                "every verdict is final: removed the validator's copies in {}",
                dir.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, dir = %dir.display(), "cannot remove the copies"),
    }
}

/// The beacon of `round` from `beacons` (waited for), then journaled.
async fn fetch_beacon(
    journal: &Journal,
    results: &Results,
    round: Round,
    beacons: &dyn BeaconSource,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<FetchedBeacon, Error> {
    if beacons.chain().hash() != results.chain.hash() {
        return Err(Error::Content(format!(
            "{} serves chain {}, the results are of chain {}",
            beacons.describe(),
            hex::encode(beacons.chain().hash()),
            hex::encode(results.chain.hash())
        )));
    }
    let at = results.chain.time().time_of(round)?;
    let now = clock.now();
    if at > now {
        progress.note(&format!("waiting for round {round} ({} s)", at - now));
    }
    let beacon = beacons.wait_for(round).await?;
    journal.write_beacon(&beacon)?;
    progress.note(&format!("beacon of round {round} verified"));
    Ok(beacon)
}

fn outcomes(results: &Results, checked: Vec<Checked>) -> Vec<MinerOutcome> {
    let mut by_uid: BTreeMap<u32, Vec<Checked>> = BTreeMap::new();
    for c in checked {
        by_uid.entry(c.uid).or_default().push(c);
    }
    results
        .miners
        .iter()
        .map(|m| {
            let mut images = by_uid.remove(&m.uid).unwrap_or_default();
            images.sort_by_key(|c| c.index);
            let count = |v: Verdict| images.iter().filter(|c| c.verdict == v).count();
            MinerOutcome {
                uid: m.uid,
                hotkey: peer_line(&m.hotkey),
                status_code: m.status_code,
                error: m.error.clone(),
                requested: results.requested,
                reported: m.reported,
                accepted: m.submissions.len(),
                revealed: images.iter().filter(|c| c.opened).count(),
                verified: count(Verdict::Verified),
                failed: count(Verdict::Failed),
                unavailable: count(Verdict::Unavailable),
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
        if let Some(c) = m.images.iter().find(|c| c.verdict != Verdict::Verified) {
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
