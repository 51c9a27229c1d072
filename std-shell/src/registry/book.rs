//! The last good set of commitments, refreshed from a registry, kept to
//! the hotkeys of the metagraph.

use alloc::collections::BTreeSet;
use alloc::sync::Arc;
use core::time::Duration;
use std::sync::RwLock;

use super::{Commitment, CommitmentRegistry, Commitments};
use crate::Error;

/// The last good set of commitments, refreshed from a registry.
#[derive(Debug)]
pub struct CommitmentBook {
    registry: Arc<dyn CommitmentRegistry>,
    current: RwLock<Arc<Commitments>>,
    hotkeys: RwLock<Option<BTreeSet<String>>>,
}

impl CommitmentBook {
    /// An empty book over `registry`; call [`CommitmentBook::refresh`].
    #[must_use]
    pub fn new(registry: Arc<dyn CommitmentRegistry>) -> Self {
        Self {
            registry,
            current: RwLock::new(Arc::new(Commitments::default())),
            hotkeys: RwLock::new(None),
        }
    }

    /// Keeps only the commitments of these hotkeys from the next refresh on
    /// (`None`: all).
    pub fn set_hotkeys(&self, hotkeys: Option<BTreeSet<String>>) {
        if let Ok(mut h) = self.hotkeys.write() {
            *h = hotkeys;
        }
    }

    /// Fetches the commitments again. On failure the previous set stays.
    ///
    /// # Errors
    ///
    /// The registry's error (after which [`CommitmentBook::snapshot`] still
    /// returns the last good set).
    pub async fn refresh(&self) -> Result<Arc<Commitments>, Error> {
        let mut fresh = self.registry.fetch().await.inspect_err(|e| {
            tracing::warn!(%e, source = self.registry.describe(), "commitments refresh failed; keeping the last good set");
        })?;
        if let Some(keep) = self.hotkeys.read().ok().and_then(|h| h.clone()) {
            fresh.entries.retain(|hotkey, _| keep.contains(hotkey));
            // Skipped lines start with the hotkey when it is known; drop
            // those of hotkeys outside the set too.
            fresh.skipped.retain(|line| {
                let first = line.split(':').next().unwrap_or("");
                keep.contains(first) || veil_core::ss58::decode(first).is_err()
            });
        }
        for s in &fresh.skipped {
            tracing::warn!(entry = %s, "commitment skipped");
        }
        let fresh = Arc::new(fresh);
        if let Ok(mut c) = self.current.write() {
            *c = Arc::clone(&fresh);
        }
        Ok(fresh)
    }

    /// The current set.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Commitments> {
        self.current
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_default()
    }

    /// The commitment of `hotkey`, if known.
    #[must_use]
    pub fn get(&self, hotkey: &str) -> Option<Commitment> {
        self.snapshot().entries.get(hotkey).cloned()
    }

    /// Refreshes every `every` until the task is aborted.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = me.refresh().await;
            }
        })
    }
}
