//! Weights from reputation: the file the reveal writes after each cycle
//! ([`Reputation`]), the formula that turns it into weights
//! ([`compute`]), and where weights go ([`WeightSink`]; a file by default,
//! since setting weights on chain is a signed extrinsic veil does not send
//! yet).
//!
//! ## The reputation file (`veil/reputation/v1`)
//!
//! ```json
//! { "schema": "veil/reputation/v1",
//!   "updated": 1795312666,
//!   "miners": { "5F…": { "score": 0.83, "cycles": 4, "verified": 19, "failed": 1 } } }
//! ```
//!
//! `score` is in `[0, 1]` (values outside are clamped, non-numbers make the
//! file invalid); the counters are informational. Unknown fields are
//! ignored, so later versions can add to it.
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

use alloc::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The schema tag of the reputation file.
pub const REPUTATION_SCHEMA: &str = "veil/reputation/v1";

/// The reputation of a miner the file does not list.
pub const DEFAULT_REPUTATION: f64 = 0.5;

/// Largest reputation file read, bytes.
pub const MAX_REPUTATION_FILE: usize = 64 * 1024 * 1024;

/// One miner's standing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerReputation {
    /// In `[0, 1]`.
    pub score: f64,
    /// Cycles revealed so far.
    #[serde(default)]
    pub cycles: u64,
    /// Images that verified.
    #[serde(default)]
    pub verified: u64,
    /// Images that did not.
    #[serde(default)]
    pub failed: u64,
}

/// The reputation file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reputation {
    /// [`REPUTATION_SCHEMA`].
    pub schema: String,
    /// Unix seconds of the last update.
    pub updated: u64,
    /// By SS58 hotkey.
    pub miners: BTreeMap<String, MinerReputation>,
    /// The challenges whose reveals are already counted (the latest
    /// [`MAX_REVEALED`]): a reveal run again never counts twice.
    #[serde(default)]
    pub revealed: Vec<String>,
}

/// How much one reveal moves a score: `score ← (1 − RATE)·score + RATE·cycle`.
pub const REPUTATION_RATE: f64 = 0.3;

/// How many revealed challenge ids the reputation file remembers.
pub const MAX_REVEALED: usize = 1024;

/// What one miner's images came to in one reveal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// SS58 hotkey.
    pub hotkey: String,
    /// Variations requested of it.
    pub requested: usize,
    /// Images that verified.
    pub verified: usize,
    /// Images that did not (missing ones are not counted here: they lower
    /// `verified / requested`).
    pub failed: usize,
}

impl Default for Reputation {
    fn default() -> Self {
        Self {
            schema: REPUTATION_SCHEMA.into(),
            updated: 0,
            miners: BTreeMap::new(),
            revealed: Vec::new(),
        }
    }
}

impl Reputation {
    /// Reads `path`; a file that does not exist is an empty reputation.
    ///
    /// # Errors
    ///
    /// Unreadable, too large, not JSON of the schema, or a score that is
    /// not a finite number.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = match crate::chains::read_capped(path, MAX_REPUTATION_FILE) {
            Ok(b) => b,
            Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(e) => return Err(e),
        };
        let rep: Self = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Content(format!("{}: {e}", path.display())))?;
        if rep.schema != REPUTATION_SCHEMA {
            return Err(Error::Content(format!(
                "{}: schema {:?}, expected {REPUTATION_SCHEMA:?}",
                path.display(),
                rep.schema
            )));
        }
        if let Some((k, _)) = rep.miners.iter().find(|(_, m)| !m.score.is_finite()) {
            return Err(Error::Content(format!(
                "{}: the score of {k} is not a number",
                path.display()
            )));
        }
        Ok(rep)
    }

    /// Counts one reveal of `challenge_id`: each miner's score moves
    /// towards `min(1, verified / requested)` by [`REPUTATION_RATE`],
    /// starting from [`DEFAULT_REPUTATION`] for a new miner. Returns false
    /// (and changes nothing) when that challenge was already counted.
    pub fn apply(&mut self, challenge_id: &str, outcomes: &[Outcome], now: u64) -> bool {
        if self.revealed.iter().any(|c| c == challenge_id) {
            return false;
        }
        for o in outcomes {
            let cycle = if o.requested == 0 {
                0.0
            } else {
                (o.verified.min(o.requested) as f64) / (o.requested as f64)
            };
            let m = self
                .miners
                .entry(o.hotkey.clone())
                .or_insert(MinerReputation {
                    score: DEFAULT_REPUTATION,
                    cycles: 0,
                    verified: 0,
                    failed: 0,
                });
            m.score = ((1.0 - REPUTATION_RATE) * m.score.clamp(0.0, 1.0) + REPUTATION_RATE * cycle)
                .clamp(0.0, 1.0);
            m.cycles = m.cycles.saturating_add(1);
            m.verified = m.verified.saturating_add(o.verified as u64);
            m.failed = m.failed.saturating_add(o.failed as u64);
        }
        self.revealed.push(challenge_id.to_owned());
        let excess = self.revealed.len().saturating_sub(MAX_REVEALED);
        self.revealed.drain(..excess);
        self.updated = now;
        true
    }

    /// Writes the file atomically (0600).
    ///
    /// # Errors
    ///
    /// [`Error::Write`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Content(format!("reputation: {e}")))?;
        crate::io::write_private_atomic(path, &bytes).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// A miner's reputation in `[0, 1]`.
    pub fn of(&self, hotkey: &str) -> f64 {
        self.miners
            .get(hotkey)
            .map_or(DEFAULT_REPUTATION, |m| m.score.clamp(0.0, 1.0))
    }
}

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
        crate::io::write_private_atomic(&self.path, &bytes).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn reputation_file() {
        let dir = std::env::temp_dir().join(format!("veil-rep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rep.json");
        assert_eq!(Reputation::load(&p).unwrap(), Reputation::default());
        std::fs::write(
            &p,
            r#"{"schema":"veil/reputation/v1","updated":5,"miners":{"x":{"score":0.25}},"extra":1}"#,
        )
        .unwrap();
        let r = Reputation::load(&p).unwrap();
        assert_eq!(r.of("x"), 0.25);
        assert_eq!(r.of("y"), DEFAULT_REPUTATION);
        std::fs::write(&p, r#"{"schema":"other","updated":5,"miners":{}}"#).unwrap();
        assert!(Reputation::load(&p).is_err());
        std::fs::write(&p, "not json").unwrap();
        let e = Reputation::load(&p).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod reveal_tests {
    use super::*;

    #[test]
    fn a_reveal_counts_once_and_moves_scores_by_the_rate() {
        let mut rep = Reputation::default();
        let outcomes = [
            Outcome {
                hotkey: "a".into(),
                requested: 5,
                verified: 5,
                failed: 0,
            },
            Outcome {
                hotkey: "b".into(),
                requested: 5,
                verified: 1,
                failed: 4,
            },
        ];
        assert!(rep.apply("c1", &outcomes, 7));
        let before = rep.clone();
        assert!(!rep.apply("c1", &outcomes, 8), "counted twice");
        assert_eq!(rep, before);
        assert!((rep.of("a") - 0.65).abs() < 1e-12);
        assert!((rep.of("b") - (0.35 + 0.3 * 0.2)).abs() < 1e-12);
        assert_eq!(rep.miners["b"].failed, 4);
        assert_eq!(rep.updated, 7);
        for i in 0..MAX_REVEALED + 5 {
            rep.apply(&format!("x{i}"), &[], 9);
        }
        assert_eq!(rep.revealed.len(), MAX_REVEALED);
        assert_eq!(rep.revealed.last().map(String::as_str), Some("x1028"));
    }
}
