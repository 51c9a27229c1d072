//! An on-disk cache of verified beacons in front of any [`BeaconSource`],
//! so that a reveal never fetches a round twice:
//! `{root}/{chainhash}/{round}.json`, written atomically, and verified
//! again when read (a file on disk is not trusted).

use alloc::sync::Arc;
use std::path::{Path, PathBuf};

use veil_core::encoding::Hex;
use veil_core::{Chain, Round};

use super::{BeaconSource, FetchedBeacon};
use crate::Error;
use crate::limits::MAX_DRAND_RESPONSE;

/// A [`BeaconSource`] that answers from disk when it can and stores what
/// the source behind it serves.
#[derive(Debug)]
pub struct Cached {
    inner: Arc<dyn BeaconSource>,
    dir: PathBuf,
}

impl Cached {
    /// `inner` behind a cache under `root` (one folder per chain).
    pub fn new(inner: Arc<dyn BeaconSource>, root: &Path) -> Self {
        let dir = root.join(Hex(inner.chain().hash()).to_string());
        Self { inner, dir }
    }

    /// The default root: `$VEIL_CACHE_DIR`, else `$XDG_CACHE_HOME/veil/beacons`,
    /// else `~/.cache/veil/beacons`; `None` when none can be found.
    pub fn default_root() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("VEIL_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("veil").join("beacons"))
    }

    fn path(&self, round: Round) -> PathBuf {
        self.dir.join(format!("{round}.json"))
    }

    /// The cached beacon of `round`, verified again; `None` when absent,
    /// unreadable or invalid (an invalid file is removed).
    fn get(&self, round: Round) -> Option<FetchedBeacon> {
        let path = self.path(round);
        // Only a file the cache wrote: never a link (to `/dev/zero`, say) or a
        // FIFO, and its size checked before it is read.
        let bytes = crate::fs::read_own_file_capped(&path, MAX_DRAND_RESPONSE).ok()?;
        match FetchedBeacon::parse(&bytes, self.inner.chain(), Some(round)) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "dropping a bad cached beacon");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a verified beacon; a failure is logged, never the caller's.
    fn put(&self, beacon: &FetchedBeacon) {
        let stored = crate::fs::create_private_dir_all(&self.dir).and_then(|()| {
            crate::fs::write_private_atomic(&self.path(beacon.round), beacon.to_json().as_bytes())
        });
        if let Err(e) = stored {
            tracing::warn!(error = %e, "cannot cache the beacon");
        }
    }
}

#[async_trait::async_trait]
impl BeaconSource for Cached {
    fn chain(&self) -> &Chain {
        self.inner.chain()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn beacon(&self, round: Round) -> Result<FetchedBeacon, Error> {
        if let Some(b) = self.get(round) {
            return Ok(b);
        }
        let b = self.inner.beacon(round).await?;
        self.put(&b);
        Ok(b)
    }

    async fn wait_for(&self, round: Round) -> Result<FetchedBeacon, Error> {
        if let Some(b) = self.get(round) {
            return Ok(b);
        }
        let b = self.inner.wait_for(round).await?;
        self.put(&b);
        Ok(b)
    }

    async fn latest(&self) -> Result<FetchedBeacon, Error> {
        self.inner.latest().await
    }

    fn unverified_signature(&self) -> Option<&[u8]> {
        self.inner.unverified_signature()
    }
}
