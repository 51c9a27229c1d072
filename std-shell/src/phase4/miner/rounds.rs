//! One round per (caller, challenge): the first request of a caller for a
//! challenge fixes the round its images are sealed to, and a request of the
//! same caller for the same challenge with another round is refused. A
//! replay of a challenge with an earlier round would otherwise get images
//! that open sooner; keyed by caller, so nobody can claim a challenge for
//! another caller (the real validator is never refused because someone
//! asked first).
//!
//! Journaled (`challenge-rounds.jsonl` in the miner's spool folder, one
//! JSON line per claim, written before the answer is made) so a restart
//! keeps the rule; an entry is kept until ten minutes after its round is
//! emitted (the images are public then), and at most
//! [`MAX_ROUNDS_PER_CALLER`] per caller, for at most [`MAX_ROUND_CALLERS`]
//! callers (the oldest go first). The file is compacted when opened and
//! whenever it holds four times more lines than live entries.

use alloc::collections::VecDeque;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::limits::{MAX_ROUND_CALLERS, MAX_ROUND_JOURNAL, MAX_ROUNDS_PER_CALLER};

/// How long after its round an entry is kept, seconds.
pub(crate) const KEEP_AFTER_ROUND: u64 = 600;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    caller: String,
    cid: String,
    round: u64,
    /// Unix seconds after which the entry no longer matters.
    expires: u64,
}

#[derive(Default)]
struct Inner {
    by_caller: HashMap<String, VecDeque<Entry>>,
    file: Option<File>,
    lines: usize,
}

impl Inner {
    fn live(&self) -> usize {
        self.by_caller.values().map(VecDeque::len).sum()
    }

    fn insert(&mut self, e: Entry) {
        if !self.by_caller.contains_key(&e.caller) && self.by_caller.len() >= MAX_ROUND_CALLERS {
            // The caller whose latest claim is the oldest goes.
            let oldest = self
                .by_caller
                .iter()
                .min_by_key(|(_, q)| q.back().map_or(0, |e| e.expires))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.by_caller.remove(&k);
            }
        }
        let q = self.by_caller.entry(e.caller.clone()).or_default();
        if q.len() >= MAX_ROUNDS_PER_CALLER {
            q.pop_front();
        }
        q.push_back(e);
    }

    fn expire(&mut self, now: u64) {
        for q in self.by_caller.values_mut() {
            q.retain(|e| e.expires > now);
        }
        self.by_caller.retain(|_, q| !q.is_empty());
    }
}

/// The rounds claimed per (caller, challenge) (module docs).
pub(crate) struct ChallengeRounds {
    inner: Mutex<Inner>,
    path: Option<PathBuf>,
}

impl core::fmt::Debug for ChallengeRounds {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChallengeRounds")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ChallengeRounds {
    /// Only in memory (a restart forgets).
    #[cfg(test)]
    pub(crate) fn in_memory() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            path: None,
        }
    }

    /// The journal at `path`, read (entries expired at `now` dropped) and
    /// compacted; created when missing.
    ///
    /// # Errors
    ///
    /// It cannot be read or written.
    pub(crate) fn open(path: &Path, now: u64) -> Result<Self, Error> {
        let mut inner = Inner::default();
        if let Some(bytes) = crate::fs::read_file_capped_if_exists(path, MAX_ROUND_JOURNAL)? {
            for line in bytes.split(|b| *b == b'\n') {
                // A torn last line (a crash mid-write) is skipped.
                if let Ok(e) = serde_json::from_slice::<Entry>(line) {
                    inner.insert(e);
                }
            }
        }
        inner.expire(now);
        let rounds = Self {
            inner: Mutex::new(inner),
            path: Some(path.to_owned()),
        };
        {
            let mut inner = rounds
                .inner
                .lock()
                .map_err(|_| Error::Content("the round journal is poisoned".into()))?;
            rounds.rewrite(&mut inner)?;
        }
        Ok(rounds)
    }

    /// Rewrites the journal with the live entries only, atomically, and
    /// reopens it for appending.
    fn rewrite(&self, inner: &mut Inner) -> Result<(), Error> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut text = Vec::new();
        for e in inner.by_caller.values().flatten() {
            serde_json::to_writer(&mut text, e).map_err(|e| Error::Content(e.to_string()))?;
            text.push(b'\n');
        }
        crate::fs::write_private_atomic(path, &text)?;
        inner.lines = inner.live();
        inner.file = Some(
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(Error::io("cannot open the round journal"))?,
        );
        Ok(())
    }

    /// Claims `round` for `caller`'s `cid` (kept until `expires`): `Ok` when
    /// it is the first claim or the same round again, `Err(round)` with the
    /// round already claimed otherwise.
    ///
    /// # Errors
    ///
    /// `Err(Ok(round))` for another round; `Err(Err(..))` when the journal
    /// cannot be written (the claim is then not made).
    pub(crate) fn claim(
        &self,
        caller: &str,
        cid: &str,
        round: u64,
        expires: u64,
        now: u64,
    ) -> Result<(), Result<u64, Error>> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| Err(Error::Content("the round journal is poisoned".into())))?;
        if let Some(e) = inner
            .by_caller
            .get(caller)
            .and_then(|q| q.iter().find(|e| e.cid == cid && e.expires > now))
        {
            return if e.round == round {
                Ok(())
            } else {
                Err(Ok(e.round))
            };
        }
        let entry = Entry {
            caller: caller.to_owned(),
            cid: cid.to_owned(),
            round,
            expires,
        };
        if let Some(file) = inner.file.as_mut() {
            let mut line =
                serde_json::to_vec(&entry).map_err(|e| Err(Error::Content(e.to_string())))?;
            line.push(b'\n');
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(|e| Err(Error::io("cannot write the round journal")(e)))?;
            inner.lines += 1;
        }
        inner.insert(entry);
        if inner.lines > 4 * inner.live().max(64) {
            inner.expire(now);
            self.rewrite(&mut inner).map_err(Err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_round_per_caller_and_challenge_across_restarts() {
        let dir = std::env::temp_dir().join(format!("veil-rounds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("challenge-rounds.jsonl");
        let r = ChallengeRounds::open(&path, 100).unwrap();
        assert!(r.claim("validator", "c1", 50, 1000, 100).is_ok());
        assert!(r.claim("validator", "c1", 50, 1000, 100).is_ok(), "a retry");
        assert!(matches!(
            r.claim("validator", "c1", 49, 1000, 100),
            Err(Ok(50))
        ));
        // Another caller's claim on the same challenge is its own.
        assert!(r.claim("someone", "c1", 7, 1000, 100).is_ok());
        assert!(r.claim("someone", "c2", 8, 150, 100).is_ok());
        drop(r);
        // A restart keeps the claims; expired ones are gone.
        let r = ChallengeRounds::open(&path, 200).unwrap();
        assert!(matches!(
            r.claim("validator", "c1", 49, 1000, 200),
            Err(Ok(50))
        ));
        assert!(r.claim("someone", "c2", 9, 1000, 200).is_ok(), "expired");
        // A torn last line is skipped.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"caller\":\"x\",\"ci").unwrap();
        drop((f, r));
        let r = ChallengeRounds::open(&path, 200).unwrap();
        assert!(matches!(
            r.claim("validator", "c1", 1, 1000, 200),
            Err(Ok(50))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bounded_per_caller() {
        let r = ChallengeRounds::in_memory();
        for i in 0..(MAX_ROUNDS_PER_CALLER + 5) {
            r.claim("v", &format!("c{i}"), 1, 1000, 0).unwrap();
        }
        let inner = r.inner.lock().unwrap();
        assert_eq!(inner.by_caller["v"].len(), MAX_ROUNDS_PER_CALLER);
        assert_eq!(inner.by_caller["v"].front().unwrap().cid, "c5");
    }
}
