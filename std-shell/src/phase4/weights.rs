//! Weights from reputation: the formula that turns the reputation the
//! reveal writes ([`Reputation`]) into weights ([`compute`]), and where
//! weights go ([`WeightSink`]; a file by default, since setting weights on
//! chain is a signed extrinsic veil does not send yet).
//!
//! ## The formula
//!
//! For each miner queried this cycle:
//!
//! ```text
//! reputation_i  = score from the file, or 0.5 for a miner it does not list
//!                 (a new miner starts in the middle, not at zero)
//! completeness_i = min(1, accepted submissions_i / variations requested)
//! raw_i          = reputation_i · completeness_i
//! weight_i       = raw_i / Σ raw          (all zero when Σ raw = 0)
//! ```
//!
//! So a miner is paid for what it delivered **now**, scaled by how its past
//! deliveries held up when they were revealed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::reputation::Reputation;
use crate::Error;

/// What one miner delivered this cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The miner's uid.
    pub uid: u32,
    /// Its hotkey.
    pub hotkey: String,
    /// Submissions accepted.
    pub accepted: usize,
}

/// The weights of one cycle.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Weights {
    /// The formula, in words (recorded with the numbers).
    pub formula: &'static str,
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

/// The formula in words, recorded in every results file.
pub const FORMULA: &str = "weight_i = raw_i / sum(raw); raw_i = reputation_i * min(1, accepted_i / requested); reputation from the previous reveal (0.5 when unknown)";

/// Applies the formula (module docs).
pub fn compute(reputation: &Reputation, deliveries: &[Delivery], requested: usize) -> Weights {
    let mut uids = Vec::new();
    let mut hotkeys = Vec::new();
    let mut reps = Vec::new();
    let mut raw = Vec::new();
    for d in deliveries {
        let rep = reputation.of(&d.hotkey);
        let completeness = if requested == 0 {
            0.0
        } else {
            (d.accepted.min(requested) as f64) / (requested as f64)
        };
        uids.push(d.uid);
        hotkeys.push(d.hotkey.clone());
        reps.push(rep);
        raw.push(rep * completeness);
    }
    let sum: f64 = raw.iter().sum();
    let weights = if sum > 0.0 {
        raw.iter().map(|r| r / sum).collect()
    } else {
        vec![0.0; raw.len()]
    };
    Weights {
        formula: FORMULA,
        requested,
        uids,
        hotkeys,
        reputation: reps,
        weights,
    }
}

/// Where weights go.
#[async_trait::async_trait]
pub trait WeightSink: Send + Sync {
    /// For results and logs.
    fn describe(&self) -> String;
    /// Records (or sets) the weights of a cycle.
    ///
    /// # Errors
    ///
    /// When they could not be recorded.
    async fn set(&self, challenge_id: &str, weights: &Weights) -> Result<(), Error>;
}

/// Writes each cycle's weights to one JSON file (atomically, replacing the
/// previous cycle's): `{challenge_id, weights: {...}}`.
#[derive(Clone, Debug)]
pub struct FileSink {
    path: PathBuf,
}

impl FileSink {
    /// A sink writing `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl WeightSink for FileSink {
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }

    async fn set(&self, challenge_id: &str, weights: &Weights) -> Result<(), Error> {
        let doc = serde_json::json!({ "challenge_id": challenge_id, "weights": weights });
        let bytes =
            serde_json::to_vec_pretty(&doc).map_err(|e| Error::Content(format!("weights: {e}")))?;
        crate::fs::write_private_atomic(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::reputation::MinerReputation;
    use super::*;

    fn d(uid: u32, hotkey: &str, accepted: usize) -> Delivery {
        Delivery {
            uid,
            hotkey: hotkey.into(),
            accepted,
        }
    }

    #[test]
    fn formula() {
        let mut rep = Reputation::default();
        rep.miners.insert(
            "a".into(),
            MinerReputation {
                score: 1.0,
                cycles: 1,
                verified: 5,
                failed: 0,
            },
        );
        rep.miners.insert(
            "b".into(),
            MinerReputation {
                score: 7.0, // clamped to 1
                cycles: 1,
                verified: 5,
                failed: 0,
            },
        );
        rep.miners.insert(
            "z".into(),
            MinerReputation {
                score: 0.0,
                cycles: 1,
                verified: 0,
                failed: 5,
            },
        );
        // a: 1·1, b: 1·0.4, c (unknown): 0.5·1, z: 0·1 → sum 1.9
        let w = compute(
            &rep,
            &[d(0, "a", 5), d(1, "b", 2), d(2, "c", 9), d(3, "z", 5)],
            5,
        );
        let expect = [1.0 / 1.9, 0.4 / 1.9, 0.5 / 1.9, 0.0];
        for (got, want) in w.weights.iter().zip(expect) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(w.uids, [0, 1, 2, 3]);
        assert_eq!(w.reputation, [1.0, 1.0, 0.5, 0.0]);
        // Nothing delivered: all zero, no division by zero.
        let w = compute(&rep, &[d(0, "a", 0), d(1, "c", 0)], 5);
        assert_eq!(w.weights, [0.0, 0.0]);
        let w = compute(&rep, &[d(0, "a", 3)], 0);
        assert_eq!(w.weights, [0.0]);
    }
}
