//! Cycles one after another: before each, the commitments are refreshed
//! (the last good set is kept when that fails) and each miner's store is
//! chosen; after each, the caller is told (it prints the results path, or
//! reveals). A stop during a cycle ends it without results; between cycles
//! it ends the wait.

use core::future::Future;
use core::pin::pin;
use core::time::Duration;

use super::{CycleReport, MinerEntry, Validator};
use crate::Error;
use crate::axon::AxonTarget;
use crate::ops::metrics::metrics;
use crate::phase4::stores::MinerStores;

/// How many cycles, and how far apart their starts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Cycles to run (0: until stopped).
    pub cycles: u64,
    /// From the start of one cycle to the start of the next (a cycle that
    /// takes longer is followed at once).
    pub period: Duration,
}

/// The miners to query, asked before each cycle: a fixed list (the
/// `--miner` flags, a metagraph file) or the metagraph on chain.
#[async_trait::async_trait]
pub trait TargetSource: Send + Sync {
    /// The `(uid, axon)` of each serving miner now.
    ///
    /// # Errors
    ///
    /// When no list can be had (a source that had one before keeps it).
    async fn targets(&self) -> Result<Vec<(u32, AxonTarget)>, Error>;
}

#[async_trait::async_trait]
impl TargetSource for Vec<(u32, AxonTarget)> {
    async fn targets(&self) -> Result<Vec<(u32, AxonTarget)>, Error> {
        Ok(self.clone())
    }
}

/// Runs `schedule`'s cycles of `validator` against `targets`, reading each
/// miner's objects where `stores` says, until they are done or `stop`
/// resolves; `after` is awaited with each cycle's report. Returns the
/// number of cycles completed.
///
/// # Errors
///
/// A cycle that cannot run ([`Validator::run_cycle`]) or `after`'s error;
/// a miner's failure is recorded in the results, never an error here.
pub async fn run_cycles<F, Fut>(
    validator: &Validator,
    targets: &dyn TargetSource,
    stores: &MinerStores,
    schedule: Schedule,
    stop: impl Future<Output = ()>,
    mut after: F,
) -> Result<u64, Error>
where
    F: FnMut(CycleReport) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut stop = pin!(stop);
    let mut done = 0u64;
    loop {
        let started = tokio::time::Instant::now();
        let targets = targets.targets().await?;
        if let Some(book) = stores.book() {
            book.set_hotkeys(Some(
                targets.iter().map(|(_, t)| t.hotkey.clone()).collect(),
            ));
            if let Err(e) = book.refresh().await {
                tracing::warn!(%e, "commitments not refreshed; using the last good set");
            }
        }
        let miners: Vec<MinerEntry> = targets
            .iter()
            .map(|(uid, target)| {
                let (store, store_record) = stores.for_miner(&target.hotkey);
                MinerEntry {
                    uid: *uid,
                    target: target.clone(),
                    store,
                    store_record,
                }
            })
            .collect();
        let report = tokio::select! {
            r = validator.run_cycle(&miners) => r.inspect_err(|e| {
                metrics().cycle("failed");
                tracing::error!(%e, "cycle failed");
            })?,
            () = &mut stop => {
                tracing::info!("stopping: the cycle in progress is abandoned, nothing of it written");
                return Ok(done);
            }
        };
        metrics().cycle("done");
        tracing::info!(
            challenge = %report.challenge_id,
            round = report.target_round,
            accepted = report.accepted.values().sum::<usize>(),
            results = %report.results.display(),
            "cycle done"
        );
        after(report).await?;
        done += 1;
        if schedule.cycles != 0 && done >= schedule.cycles {
            return Ok(done);
        }
        tokio::select! {
            () = tokio::time::sleep_until(started + schedule.period) => {}
            () = &mut stop => return Ok(done),
        }
    }
}
