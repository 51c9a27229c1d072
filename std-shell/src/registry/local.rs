//! The local registry: a JSON file of commitments by hotkey, the default
//! and the only registry veil writes.

use alloc::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{Commitment, CommitmentRegistry, Commitments};
use crate::Error;
use crate::limits::MAX_REGISTRY_FILE;

/// A JSON file `{"commitments": {"<hotkey ss58>": "<128 characters>"}}`,
/// written atomically (mode `0600`) under an exclusive lock, so several
/// processes on one machine can publish to it.
#[derive(Clone, Debug)]
pub struct LocalRegistry {
    path: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct RegistryFile {
    commitments: BTreeMap<String, String>,
}

/// The commitments hold read keys: wiped however the file is let go.
impl Drop for RegistryFile {
    fn drop(&mut self) {
        for v in self.commitments.values_mut() {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

/// What [`LocalRegistry::publish`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The entry was written (new or changed).
    Written,
    /// The same commitment was already there; nothing was written.
    Unchanged,
}

fn check_hotkey(hotkey: &str) -> Result<(), Error> {
    veil_core::ss58::decode(hotkey)
        .map(|_| ())
        .map_err(|e| Error::value("hotkey", e))
}

impl LocalRegistry {
    /// The registry at `path` (created by the first publish).
    #[must_use]
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    fn read_file(&self) -> Result<RegistryFile, Error> {
        match crate::fs::read_file_capped(&self.path, MAX_REGISTRY_FILE).map(Zeroizing::new) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Content(format!(
                    "{}: not a commitments registry: {e}",
                    self.path.display()
                ))
            }),
            Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(RegistryFile::default())
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `commitment` for `hotkey` unless the registry already holds
    /// exactly it.
    ///
    /// # Errors
    ///
    /// For an invalid hotkey, an unreadable registry, or a failed write.
    pub fn publish(&self, hotkey: &str, commitment: &Commitment) -> Result<Published, Error> {
        check_hotkey(hotkey)?;
        let werr = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Write { path, source }
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(werr(dir))?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(werr(&lock_path))?;
        lock.lock().map_err(werr(&lock_path))?;
        let mut file = self.read_file()?;
        let existing = file
            .commitments
            .get(hotkey)
            .and_then(|e| Commitment::parse(e).ok());
        if existing.is_some_and(|e| e.ct_eq(commitment)) {
            return Ok(Published::Unchanged);
        }
        file.commitments
            .insert(hotkey.to_owned(), commitment.text().to_owned());
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(&file).map_err(|e| Error::Content(e.to_string()))?,
        );
        crate::fs::write_private_atomic(&self.path, &json)?;
        Ok(Published::Written)
    }
}

#[async_trait::async_trait]
impl CommitmentRegistry for LocalRegistry {
    fn describe(&self) -> String {
        format!("registry file {}", self.path.display())
    }

    async fn fetch(&self) -> Result<Commitments, Error> {
        let file = self.read_file()?;
        let mut out = Commitments::default();
        for (hotkey, text) in &file.commitments {
            let parsed = check_hotkey(hotkey).and_then(|()| Commitment::parse(text));
            match parsed {
                Ok(c) => {
                    out.entries.insert(hotkey.clone(), c);
                }
                Err(e) => out.skipped.push(format!("{hotkey:?}: {e}")),
            }
        }
        Ok(out)
    }
}
