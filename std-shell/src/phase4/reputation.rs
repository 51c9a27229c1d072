//! The reputation the reveal writes and the next cycle's weights read.
//!
//! ## The file (`veil/reputation/v1`)
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

use std::path::Path;

use alloc::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::limits::MAX_REPUTATION_FILE;

/// The schema tag of the reputation file.
pub const REPUTATION_SCHEMA: &str = "veil/reputation/v1";

/// The reputation of a miner the file does not list.
pub const DEFAULT_REPUTATION: f64 = 0.5;

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

pub use crate::limits::MAX_REVEALED;

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
        let Some(bytes) = crate::fs::read_file_capped_if_exists(path, MAX_REPUTATION_FILE)? else {
            return Ok(Self::default());
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
        crate::fs::write_private_atomic(path, &bytes)
    }

    /// A miner's reputation in `[0, 1]`.
    pub fn of(&self, hotkey: &str) -> f64 {
        self.miners
            .get(hotkey)
            .map_or(DEFAULT_REPUTATION, |m| m.score.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
