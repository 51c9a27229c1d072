//! Which store each miner's objects are in: chosen by the validator
//! ([`MinerStores`]: the bucket of the miner's commitment, else the shared
//! store) and recorded in the results ([`StoreRecord`]); reopened from
//! that record by the reveal ([`Stores`]). A record never holds a secret:
//! a commitment's read keys are read from the registry again.

use alloc::sync::Arc;
use std::collections::HashMap;
use std::sync::Mutex;

use super::records::{MinerRecord, StoreRecord};
use crate::registry::CommitmentBook;
use crate::store::{self, ObjectStore, RetryPolicy};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The validator's choice of store per miner.
pub struct MinerStores {
    book: Option<CommitmentBook>,
    shared: Arc<dyn ObjectStore>,
    shared_spec: String,
}

impl core::fmt::Debug for MinerStores {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MinerStores")
            .field("shared", &self.shared.describe())
            .finish_non_exhaustive()
    }
}

impl MinerStores {
    /// Miners with a commitment in `book` are read from its bucket; the
    /// others from `shared` (recorded as `shared_spec`,
    /// [`store::record_spec`]).
    pub fn new(
        book: Option<CommitmentBook>,
        shared: Arc<dyn ObjectStore>,
        shared_spec: String,
    ) -> Self {
        Self {
            book,
            shared,
            shared_spec,
        }
    }

    /// The commitments, if a registry was given.
    pub fn book(&self) -> Option<&CommitmentBook> {
        self.book.as_ref()
    }

    /// The store `hotkey`'s objects are read from, or why it cannot be
    /// used (a malformed commitment costs that miner this cycle, never the
    /// validator), and how the results record it.
    pub fn for_miner(&self, hotkey: &str) -> (Result<Arc<dyn ObjectStore>, String>, StoreRecord) {
        if let Some(c) = self.book.as_ref().and_then(|b| b.get(hotkey)) {
            let bucket = c.read().bucket.to_owned();
            let store = store::for_commitment(&c.read(), &env)
                .map_err(|e| format!("the bucket of its commitment: {e}"));
            let describe = store.as_ref().map_or_else(Clone::clone, |s| s.describe());
            return (store, StoreRecord::Commitment { bucket, describe });
        }
        (
            Ok(Arc::clone(&self.shared)),
            StoreRecord::Store {
                spec: self.shared_spec.clone(),
                describe: self.shared.describe(),
            },
        )
    }
}

/// The reveal's view: opens the store a miner's objects are in from what
/// the results record.
pub struct Stores {
    book: Option<CommitmentBook>,
    fixed: Option<Arc<dyn ObjectStore>>,
    opened: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl core::fmt::Debug for Stores {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

impl Stores {
    /// Miners whose results name a commitment are read with the read pair
    /// of their commitment in `book`; the others from `fixed` when given
    /// (`--store`), else from the store spec the results record.
    pub fn new(book: Option<CommitmentBook>, fixed: Option<Arc<dyn ObjectStore>>) -> Self {
        Self {
            book,
            fixed,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The store of `miner`, or why it cannot be had.
    ///
    /// # Errors
    ///
    /// A commitment that no registry was given for or that the registry
    /// lacks, or a store spec that cannot be opened.
    pub fn open(&self, miner: &MinerRecord) -> Result<Arc<dyn ObjectStore>, String> {
        match &miner.store {
            Some(StoreRecord::Commitment { .. }) => {
                let book = self.book.as_ref().ok_or(
                    "its bucket is named by its commitment: give --registry FILE or --subtensor URL --netuid N",
                )?;
                let c = book
                    .get(&miner.hotkey)
                    .ok_or("the registry has no commitment for its hotkey")?;
                store::for_commitment(&c.read(), &env)
                    .map_err(|e| format!("the bucket of its commitment: {e}"))
            }
            record => {
                if let Some(fixed) = &self.fixed {
                    return Ok(Arc::clone(fixed));
                }
                let Some(StoreRecord::Store { spec, .. }) = record else {
                    return Err("the results name no store for it: give --store".into());
                };
                let mut opened = self
                    .opened
                    .lock()
                    .map_err(|_| "the store cache is poisoned".to_owned())?;
                if let Some(s) = opened.get(spec) {
                    return Ok(Arc::clone(s));
                }
                let s = store::from_spec(spec, &env, RetryPolicy::default())
                    .map_err(|e| format!("its store {spec}: {e}"))?;
                opened.insert(spec.clone(), Arc::clone(&s));
                Ok(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;

    fn record(uid: u32, store: Option<StoreRecord>) -> MinerRecord {
        MinerRecord {
            uid,
            hotkey: "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH".into(),
            store,
            submissions: Vec::new(),
            reported: 0,
            rejected: 0,
            status_code: None,
            error: None,
        }
    }

    #[test]
    fn the_validators_record_reopens_the_same_store_and_never_holds_a_secret() {
        let dir = std::env::temp_dir().join(format!("veil-stores-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let shared: Arc<dyn ObjectStore> = Arc::new(LocalStore::open(&dir).unwrap());
        let spec = store::record_spec(&dir.display().to_string());
        let chooser = MinerStores::new(None, Arc::clone(&shared), spec.clone());
        let (chosen, rec) = chooser.for_miner("any");
        assert_eq!(chosen.unwrap().describe(), shared.describe());
        assert_eq!(
            rec,
            StoreRecord::Store {
                spec,
                describe: shared.describe()
            }
        );
        // The reveal opens the recorded spec, once per spec.
        let reveal = Stores::new(None, None);
        let a = reveal.open(&record(0, Some(rec.clone()))).unwrap();
        let b = reveal.open(&record(1, Some(rec))).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.describe(), shared.describe());
        // A commitment needs a registry; no record needs --store.
        let bucket = StoreRecord::Commitment {
            bucket: "b".into(),
            describe: "d".into(),
        };
        assert!(
            reveal
                .open(&record(2, Some(bucket)))
                .unwrap_err()
                .contains("--registry")
        );
        assert!(
            reveal
                .open(&record(3, None))
                .unwrap_err()
                .contains("--store")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
