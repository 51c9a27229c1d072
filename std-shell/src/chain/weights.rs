//! Weights on chain: keyed by hotkey, mapped to uids from a metagraph read
//! just before sending, processed as bittensor 10.5's
//! `process_weights_for_netuid` does (`bittensor/utils/weight_utils.py`,
//! with `exclude_quantile = 0`), turned into u16 as its
//! `convert_weights_and_uids_for_emit` does, then sent with `set_weights`
//! where the subnet's commit-reveal is off.
//!
//! Where the subnet's commit-reveal is on (the default today), the weights
//! go as `commit_timelocked_weights`, sealed to the round the subnet reveals
//! them at ([`super::commit_reveal`]); a runtime without that call (spec
//! 218) is refused before sending, in one line.

use alloc::sync::Arc;
use core::fmt;
use std::path::Path;

use subxt::dynamic::{self, Value};
use veil_core::sign::Keypair;

use super::client::{Included, Subtensor, read};
use super::commit_reveal::{self, EpochState};
use crate::Error;
use crate::ops::metrics::metrics;
use crate::phase4::weights::{FileSink, WeightSink, Weights};

const PALLET: &str = "SubtensorModule";

/// bittensor's `normalize_max_weight` (float32, eps 1e-7): weights summing
/// to 1 with none above `limit`.
pub fn normalize_max_weight(x: &[f32], limit: f32) -> Vec<f32> {
    const EPS: f32 = 1e-7;
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f32;
    let sum: f32 = x.iter().sum();
    if sum == 0.0 || nf * limit <= 1.0 {
        return vec![1.0 / nf; n];
    }
    let mut est: Vec<f32> = x.iter().map(|v| v / sum).collect();
    est.sort_by(f32::total_cmp);
    if est.last().copied().unwrap_or(0.0) <= limit {
        return x.iter().map(|v| v / sum).collect();
    }
    let mut cumsum = Vec::with_capacity(n);
    let mut acc = 0.0f32;
    for e in &est {
        acc += e;
        cumsum.push(acc);
    }
    let mut n_values = 0usize;
    for (i, (e, c)) in est.iter().zip(&cumsum).enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let est_sum = (n - i - 1) as f32 * e;
        if e / (est_sum + c + EPS) < limit {
            n_values += 1;
        }
    }
    let Some(c) = n_values.checked_sub(1).and_then(|i| cumsum.get(i)) else {
        return x.iter().map(|v| v / sum).collect();
    };
    #[allow(clippy::cast_precision_loss)]
    let cutoff_scale = (limit * c - EPS) / (1.0 - limit * (n - n_values) as f32);
    let cutoff = cutoff_scale * sum;
    let clipped: Vec<f32> = x.iter().map(|v| v.min(cutoff)).collect();
    let s: f32 = clipped.iter().sum();
    clipped.iter().map(|v| v / s).collect()
}

/// bittensor's `process_weights` with `exclude_quantile = 0`: `weights[i]`
/// is uid `i`'s weight, `n` neurons. Returns (uids, weights).
pub fn process_weights(
    weights: &[f32],
    n: usize,
    min_allowed_weights: usize,
    max_weight_limit: f32,
) -> (Vec<u16>, Vec<f32>) {
    let all: Vec<u16> = (0..n).filter_map(|i| u16::try_from(i).ok()).collect();
    let nonzero: Vec<(u16, f32)> = weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .filter_map(|(i, w)| u16::try_from(i).ok().map(|u| (u, *w)))
        .collect();
    if nonzero.is_empty() || n < min_allowed_weights {
        #[allow(clippy::cast_precision_loss)]
        return (all, vec![1.0 / n.max(1) as f32; n]);
    }
    if nonzero.len() < min_allowed_weights {
        let mut w = vec![1e-5f32; n];
        for (u, v) in &nonzero {
            if let Some(slot) = w.get_mut(usize::from(*u)) {
                *slot += v;
            }
        }
        return (all, normalize_max_weight(&w, max_weight_limit));
    }
    let uids = nonzero.iter().map(|(u, _)| *u).collect();
    let w: Vec<f32> = nonzero.iter().map(|(_, v)| *v).collect();
    (uids, normalize_max_weight(&w, max_weight_limit))
}

/// bittensor's `convert_weights_and_uids_for_emit`: the largest weight
/// becomes 65535, each rounded half to even, zeros dropped with their uid.
pub fn to_u16(uids: &[u16], weights: &[f32]) -> (Vec<u16>, Vec<u16>) {
    let max = weights.iter().copied().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let mut out_uids = Vec::new();
    let mut out = Vec::new();
    for (u, w) in uids.iter().zip(weights) {
        let scaled = f64::from(*w) / f64::from(max) * 65535.0;
        let v = scaled.round_ties_even().clamp(0.0, 65535.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = v as u16;
        if v > 0 {
            out_uids.push(*u);
            out.push(v);
        }
    }
    (out_uids, out)
}

/// What was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct SentWeights {
    /// Where it landed.
    pub included: Included,
    /// The uids sent.
    pub uids: Vec<u16>,
    /// Their u16 weights.
    pub values: Vec<u16>,
    /// The version key sent.
    pub version_key: u64,
}

impl Subtensor {
    /// Sets `key`'s weights on `netuid` from `(hotkey SS58, weight)` pairs
    /// (refused before sending when the metagraph shows the hotkey
    /// unregistered, or without a validator permit for weights on others):
    /// uids from the metagraph read now (a hotkey no longer registered gets
    /// nothing; a uid whose hotkey changed gets 0), processed and sent as
    /// module docs say. `version_key` defaults to the subnet's
    /// `WeightsVersionKey`.
    ///
    /// # Errors
    ///
    /// [`Error::Content`]: commit-reveal is on, the runtime refused (no
    /// validator permit, an unregistered hotkey, the rate limit…), or the
    /// node failed.
    pub async fn set_weights(
        &self,
        netuid: u16,
        key: &Keypair,
        weights: &[(String, f64)],
        version_key: Option<u64>,
    ) -> Result<SentWeights, Error> {
        let graph = self.metagraph(netuid).await?;
        let at = self.at().await?;
        let me = crate::keys::address_of(&key.public());
        let Some(signer) = graph.metagraph.neurons.iter().find(|x| x.hotkey == me) else {
            return Err(self.fail(format!(
                "hotkey {me} is not registered on netuid {netuid} (HotKeyNotRegisteredInSubNet): it cannot set weights there"
            )));
        };
        let lone_self_weight = weights
            .iter()
            .filter(|(_, w)| *w > 0.0)
            .all(|(h, _)| *h == me);
        if !signer.validator_permit && !lone_self_weight {
            return Err(self.fail(format!(
                "hotkey {me} (uid {}) has no validator permit on netuid {netuid} (NeuronNoValidatorPermit): it may only set a weight on itself",
                signer.uid
            )));
        }
        let n = graph.metagraph.neurons.len();
        let mut dense = vec![0.0f32; n];
        for (hotkey, w) in weights {
            if let Some(neuron) = graph.metagraph.neurons.iter().find(|x| &x.hotkey == hotkey)
                && let Some(slot) = usize::try_from(neuron.uid)
                    .ok()
                    .and_then(|u| dense.get_mut(u))
            {
                #[allow(clippy::cast_possible_truncation)]
                let w = w.max(0.0) as f32;
                *slot = w;
            }
        }
        let min_allowed: u16 = read(self, &at, (PALLET, "MinAllowedWeights"), (netuid,)).await?;
        let max_limit: u16 = read(self, &at, (PALLET, "MaxWeightsLimit"), (netuid,)).await?;
        let (uids, w) = process_weights(
            &dense,
            n,
            usize::from(min_allowed),
            f32::from(max_limit) / 65535.0,
        );
        let (uids, values) = to_u16(&uids, &w);
        let version_key = match version_key {
            Some(v) => v,
            None => read(self, &at, (PALLET, "WeightsVersionKey"), (netuid,)).await?,
        };
        let reveal_on: bool =
            read(self, &at, (PALLET, "CommitRevealWeightsEnabled"), (netuid,)).await?;
        if reveal_on {
            let has_timelocked = at
                .metadata_ref()
                .pallet_by_name(PALLET)
                .and_then(|p| p.call_variant_by_name("commit_timelocked_weights"))
                .is_some();
            if !has_timelocked {
                return Err(self.fail(format!(
                    "commit-reveal is on for netuid {netuid}, and this runtime has no commit_timelocked_weights call: its weights cannot be set with set_weights"
                )));
            }
            let included = self
                .commit_timelocked(netuid, key, &uids, &values, version_key)
                .await?;
            return Ok(SentWeights {
                included,
                uids,
                values,
                version_key,
            });
        }
        let call = dynamic::tx(
            PALLET,
            "set_weights",
            vec![
                Value::u128(u128::from(netuid)),
                Value::unnamed_composite(uids.iter().map(|u| Value::u128(u128::from(*u)))),
                Value::unnamed_composite(values.iter().map(|v| Value::u128(u128::from(*v)))),
                Value::u128(u128::from(version_key)),
            ],
        );
        let included = self.submit("set_weights", &call, key).await?;
        Ok(SentWeights {
            included,
            uids,
            values,
            version_key,
        })
    }

    /// `commit_timelocked_weights(netuid, commit, reveal_round, version)`:
    /// the weights sealed to the quicknet round the subnet reveals them at
    /// ([`super::commit_reveal`]), with the chain's
    /// `CommitRevealWeightsVersion`.
    async fn commit_timelocked(
        &self,
        netuid: u16,
        key: &Keypair,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
    ) -> Result<Included, Error> {
        let at = self.at().await?;
        let state = EpochState {
            last_epoch_block: read(self, &at, (PALLET, "LastEpochBlock"), (netuid,)).await?,
            pending_epoch_at: read(self, &at, (PALLET, "PendingEpochAt"), (netuid,)).await?,
            subnet_epoch_index: read(self, &at, (PALLET, "SubnetEpochIndex"), (netuid,)).await?,
            tempo: read(self, &at, (PALLET, "Tempo"), (netuid,)).await?,
            blocks_since_last_step: read(self, &at, (PALLET, "BlocksSinceLastStep"), (netuid,))
                .await?,
            current_block: at.block_number(),
        };
        let reveal_period: u64 = read(self, &at, (PALLET, "RevealPeriodEpochs"), (netuid,)).await?;
        let version: u16 = read(self, &at, (PALLET, "CommitRevealWeightsVersion"), ()).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| self.fail("the system clock is before 1970"))?
            .as_secs_f64();
        let round =
            commit_reveal::reveal_round(&state, reveal_period, commit_reveal::BLOCK_TIME, now)
                .map_err(|e| self.fail(format!("netuid {netuid}: {e}")))?;
        let plain = commit_reveal::payload(&key.public().to_bytes(), uids, values, version_key);
        let commit = commit_reveal::seal(&plain, round, &mut rand_core::OsRng)?;
        let call = dynamic::tx(
            PALLET,
            "commit_timelocked_weights",
            vec![
                Value::u128(u128::from(netuid)),
                Value::from_bytes(commit),
                Value::u128(u128::from(round)),
                Value::u128(u128::from(version)),
            ],
        );
        self.submit("commit_timelocked_weights", &call, key).await
    }
}

/// Weights to chain, and to a file as a record of what was sent.
pub struct ChainSink {
    chain: Subtensor,
    netuid: u16,
    key: Arc<Keypair>,
    version_key: Option<u64>,
    file: FileSink,
}

impl fmt::Debug for ChainSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainSink")
            .field("chain", &self.chain)
            .field("netuid", &self.netuid)
            .finish_non_exhaustive()
    }
}

impl ChainSink {
    /// Sets weights on `netuid` signed by `key`, recording each cycle's in
    /// `file`.
    pub fn new(
        chain: Subtensor,
        netuid: u16,
        key: Arc<Keypair>,
        version_key: Option<u64>,
        file: &Path,
    ) -> Self {
        Self {
            chain,
            netuid,
            key,
            version_key,
            file: FileSink::new(file),
        }
    }
}

#[async_trait::async_trait]
impl WeightSink for ChainSink {
    fn describe(&self) -> String {
        format!("subtensor:{} netuid {}", self.chain.shown(), self.netuid)
    }

    async fn set(&self, challenge_id: &str, weights: &Weights) -> Result<(), Error> {
        self.file.set(challenge_id, weights).await?;
        let pairs: Vec<(String, f64)> = weights
            .hotkeys
            .iter()
            .cloned()
            .zip(weights.weights.iter().copied())
            .collect();
        let sent = self
            .chain
            .set_weights(self.netuid, &self.key, &pairs, self.version_key)
            .await
            .inspect_err(|e| {
                metrics().chain_action("set_weights", "error");
                tracing::warn!(%e, "weights not set on chain");
            })?;
        metrics().chain_action("set_weights", "ok");
        tracing::info!(
            netuid = self.netuid,
            uids = ?sent.uids,
            values = ?sent.values,
            version_key = sent.version_key,
            "weights set on chain"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values: bittensor 10.5's weight_utils, run on the same
    // inputs (`process_weights`, `convert_weights_and_uids_for_emit`).
    #[test]
    fn emit_matches_bittensor() {
        assert_eq!(
            to_u16(&[0, 1, 2, 3], &[0.0, 0.25, 0.5, 1.0]),
            (vec![1, 2, 3], vec![16384, 32768, 65535])
        );
        assert_eq!(to_u16(&[0, 1], &[0.0, 0.0]), (vec![], vec![]));
        // A weight that rounds to 0 is dropped with its uid.
        assert_eq!(to_u16(&[0, 1], &[1.0, 1e-6]), (vec![0], vec![65535]));
    }

    #[test]
    fn process_matches_bittensor() {
        let w = [0.0, 0.1, 0.2, 0.3, 0.4];
        let (u, v) = process_weights(&w, 5, 2, 1.0);
        assert_eq!(u, [1, 2, 3, 4]);
        for (got, want) in v.iter().zip([0.1, 0.2, 0.3, 0.4]) {
            assert!((got - want).abs() < 1e-6, "{v:?}");
        }
        let (u, v) = process_weights(&w, 5, 2, 0.3);
        assert_eq!(u, [1, 2, 3, 4]);
        for (got, want) in v.iter().zip([0.133_333_3, 0.266_666_7, 0.3, 0.3]) {
            assert!((got - want).abs() < 1e-4, "{v:?}");
        }
        let (u, v) = process_weights(&[0.0; 5], 5, 2, 1.0);
        assert_eq!(u, [0, 1, 2, 3, 4]);
        assert!(v.iter().all(|x| (x - 0.2).abs() < 1e-7));
        // Fewer non-zero weights than the minimum: every uid, 1e-5 floor.
        let (u, v) = process_weights(&[0.0, 0.0, 0.0, 0.0, 1.0], 5, 2, 1.0);
        assert_eq!(u, [0, 1, 2, 3, 4]);
        assert!(v[4] > 0.99 && v[0] > 0.0, "{v:?}");
    }
}
