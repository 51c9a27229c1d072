//! An on-disk cache of verified beacons, so that a reveal never fetches a
//! round twice: `{dir}/{chainhash}/{round}.json`, written atomically, and
//! verified again when read (a file on disk is not trusted).

use std::path::{Path, PathBuf};

use veil_core::encoding::Hex;
use veil_core::{Chain, Round};

use super::client::{FetchedBeacon, parse_beacon_json};
use crate::Error;

/// The cache directory of one chain.
#[derive(Clone, Debug)]
pub struct BeaconCache {
    dir: PathBuf,
}

impl BeaconCache {
    /// The cache for `chain` under `root`.
    pub fn new(root: &Path, chain: &Chain) -> Self {
        Self {
            dir: root.join(Hex(chain.hash()).to_string()),
        }
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

    /// The cached beacon of `round`, verified against `chain`; `None` when
    /// absent, unreadable or invalid (an invalid file is removed).
    pub fn get(&self, chain: &Chain, round: Round) -> Option<FetchedBeacon> {
        let path = self.path(round);
        let bytes = std::fs::read(&path).ok()?;
        match parse_beacon_json(&bytes, chain, Some(round)) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "dropping a bad cached beacon");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a verified beacon (temp file + rename).
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the directory or file cannot be written.
    pub fn put(&self, beacon: &FetchedBeacon) -> Result<(), Error> {
        let write = |source| Error::Write {
            path: self.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(write)?;
        let path = self.path(beacon.round);
        let tmp = self
            .dir
            .join(format!(".{}.{}.tmp", beacon.round, std::process::id()));
        std::fs::write(&tmp, beacon.to_json()).map_err(write)?;
        std::fs::rename(&tmp, &path).map_err(|source| Error::Write { path, source })
    }
}
