//! Uploads that are never lost: a failed upload waits on disk and goes up
//! later.
//!
//! [`Uploader::upload`] puts an object through its store (which retries
//! transient failures). When that still fails, the object is written to the
//! [`Spool`] directory and the caller is told [`Upload::Spooled`]: the object
//! is **not** stored yet, so its key must not be reported to anyone. A
//! background task ([`Uploader::spawn_flusher`]) re-uploads spooled objects;
//! a new process opening the same spool picks them up, so a restart loses
//! nothing.
//!
//! Layout: one entry per key, named by the SHA-256 of the key, as two files
//! written with temp-file-and-rename: `ID.data` (the object) then `ID.json`
//! (`{"key", "size", "sha256"}`). An entry counts once its `.json` exists;
//! data without one (a crash between the two renames) is removed by a later
//! open once it is an hour old.
//! The data is checked against its digest before it is uploaded. Spooling a
//! key again replaces the older object, as the store would. Files are
//! created `0600` in a `0700` directory; they hold sealed objects and keys,
//! never credentials.

use alloc::sync::Arc;
use core::time::Duration;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ObjectStore, put_bytes};
use crate::Error;

/// The default cap on the bytes a spool holds (1 GiB).
pub const DEFAULT_SPOOL_CAP: u64 = 1 << 30;

/// The largest object one spool entry holds (it is kept in memory while
/// spooled and when read back).
pub const MAX_SPOOLED: usize = 1 << 30;

#[derive(Serialize, Deserialize)]
struct Meta {
    key: String,
    size: u64,
    sha256: String,
}

/// A directory of objects waiting to be uploaded.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    cap: u64,
    // Serialises writers within the process (entries are whole files, so
    // readers need no lock).
    lock: tokio::sync::Mutex<()>,
}

/// A spooled object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolEntry {
    /// The key it goes under.
    pub key: String,
    /// Its size.
    pub size: u64,
    id: String,
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    write_private(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

impl Spool {
    /// Opens (creating `0700` when missing) the spool at `dir`, holding at
    /// most `cap` bytes. Removes what a crash left half-written over an hour
    /// ago (younger files may be another process's push in flight).
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the directory cannot be created or read.
    pub fn open(dir: &Path, cap: u64) -> Result<Self, Error> {
        let werr = |source| Error::Write {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(werr)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(werr)?;
        }
        for entry in std::fs::read_dir(dir).map_err(werr)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let orphan = match name.strip_suffix(".data") {
                Some(id) => !dir.join(format!("{id}.json")).exists(),
                None => name.ends_with(".tmp"),
            };
            if orphan && super::local::is_stale(&entry) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            cap,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The spool directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn id_of(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }

    /// Keeps `bytes` for `key` until [`Spool::remove`].
    ///
    /// # Errors
    ///
    /// [`Error::InputTooLarge`] when the spool would exceed its cap, or a
    /// write error. The object is then not kept.
    pub async fn push(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > MAX_SPOOLED {
            return Err(Error::InputTooLarge { max: MAX_SPOOLED });
        }
        let _guard = self.lock.lock().await;
        let id = Self::id_of(key);
        let held: u64 = self
            .entries()?
            .iter()
            .filter(|e| e.id != id)
            .map(|e| e.size)
            .sum();
        if held.saturating_add(bytes.len() as u64) > self.cap {
            return Err(Error::Content(format!(
                "the upload spool {} is full ({held} of {} bytes)",
                self.dir.display(),
                self.cap
            )));
        }
        let meta = Meta {
            key: key.to_owned(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        };
        let meta = serde_json::to_vec(&meta).map_err(|e| Error::Content(e.to_string()))?;
        let dir = self.dir.clone();
        let data = bytes.to_vec();
        tokio::task::spawn_blocking(move || {
            // The old entry's json goes first, so a crash in between never
            // pairs the new data with the old digest.
            let _ = std::fs::remove_file(dir.join(format!("{id}.json")));
            atomic_write(&dir, &format!("{id}.data"), &data)?;
            atomic_write(&dir, &format!("{id}.json"), &meta)
        })
        .await
        .map_err(|e| Error::Content(format!("spool: {e}")))?
        .map_err(|source| Error::Write {
            path: self.dir.clone(),
            source,
        })
    }

    /// The spooled objects, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the directory cannot be read.
    pub fn entries(&self) -> Result<Vec<SpoolEntry>, Error> {
        let rerr = |source| Error::Read {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(rerr)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json").filter(|id| !id.starts_with('.')) else {
                continue;
            };
            let Ok(text) = std::fs::read(entry.path()) else {
                continue;
            };
            let Ok(meta) = serde_json::from_slice::<Meta>(&text) else {
                tracing::warn!(entry = %name, "unreadable spool entry left in place");
                continue;
            };
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            out.push((
                modified,
                SpoolEntry {
                    key: meta.key,
                    size: meta.size,
                    id: id.to_owned(),
                },
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
        Ok(out.into_iter().map(|(_, e)| e).collect())
    }

    /// The bytes of `entry`, checked against the digest recorded with it.
    ///
    /// # Errors
    ///
    /// When the data is missing, too large, or does not match its digest.
    pub fn read(&self, entry: &SpoolEntry) -> Result<Vec<u8>, Error> {
        let path = self.dir.join(format!("{}.data", entry.id));
        let data = crate::chains::read_capped(&path, MAX_SPOOLED)?;
        let meta_path = self.dir.join(format!("{}.json", entry.id));
        let meta: Meta =
            serde_json::from_slice(&std::fs::read(&meta_path).map_err(|source| Error::Read {
                path: meta_path.clone(),
                source,
            })?)
            .map_err(|e| Error::Content(format!("{}: {e}", meta_path.display())))?;
        if data.len() as u64 != meta.size || hex::encode(Sha256::digest(&data)) != meta.sha256 {
            return Err(Error::Content(format!(
                "spooled object for {} is damaged ({} does not match its digest)",
                entry.key,
                path.display()
            )));
        }
        Ok(data)
    }

    /// Forgets `entry` (after it was uploaded).
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the files cannot be removed.
    pub async fn remove(&self, entry: &SpoolEntry) -> Result<(), Error> {
        let _guard = self.lock.lock().await;
        for ext in ["json", "data"] {
            let path = self.dir.join(format!("{}.{ext}", entry.id));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
        Ok(())
    }
}

/// Where an object ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Upload {
    /// In the store: its key may be reported.
    Stored,
    /// On disk, waiting for a later upload: its key must not be reported.
    Spooled,
}

/// What one pass over the spool did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Keys uploaded and removed from the spool.
    pub uploaded: Vec<String>,
    /// Entries still waiting.
    pub remaining: usize,
    /// One line per entry that failed this pass.
    pub errors: Vec<String>,
}

/// Uploads through a store, spooling what cannot go up now.
#[derive(Debug)]
pub struct Uploader {
    store: Arc<dyn ObjectStore>,
    spool: Spool,
}

impl Uploader {
    /// An uploader over `store` that spools into `spool`.
    #[must_use]
    pub fn new(store: Arc<dyn ObjectStore>, spool: Spool) -> Self {
        Self { store, spool }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The spool.
    #[must_use]
    pub const fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Stores `bytes` under `key`; when the store keeps failing, spools them.
    ///
    /// # Errors
    ///
    /// When the key is invalid, or the store failed and the spool could not
    /// keep the object either (the error names both). The object is then
    /// neither stored nor kept.
    pub async fn upload(&self, key: &str, bytes: &[u8]) -> Result<Upload, Error> {
        super::check_key(key).map_err(Error::Store)?;
        match put_bytes(self.store.as_ref(), key, bytes).await {
            Ok(()) => Ok(Upload::Stored),
            Err(e) => {
                tracing::warn!(%e, key, "upload failed; spooling it for a later retry");
                self.spool.push(key, bytes).await.map_err(|spool_err| {
                    Error::Content(format!("{e}; and it could not be spooled: {spool_err}"))
                })?;
                Ok(Upload::Spooled)
            }
        }
    }

    /// One pass over the spool: uploads each entry (oldest first) and removes
    /// those that went up.
    ///
    /// # Errors
    ///
    /// When the spool directory cannot be read.
    pub async fn flush(&self) -> Result<FlushReport, Error> {
        let mut report = FlushReport::default();
        for entry in self.spool.entries()? {
            let result = match self.spool.read(&entry) {
                Ok(data) => put_bytes(self.store.as_ref(), &entry.key, &data)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => {
                    self.spool.remove(&entry).await?;
                    tracing::info!(key = entry.key, "spooled object uploaded");
                    report.uploaded.push(entry.key);
                }
                Err(e) => {
                    report.errors.push(e);
                    report.remaining += 1;
                }
            }
        }
        Ok(report)
    }

    /// Flushes the spool every `every` until the task is aborted.
    pub fn spawn_flusher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match me.flush().await {
                    Ok(r) if !r.errors.is_empty() => {
                        tracing::warn!(remaining = r.remaining, first = %r.errors[0], "spool flush incomplete");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(%e, "cannot read the upload spool"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}
