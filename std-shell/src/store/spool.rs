//! Uploads that are never lost: a failed upload waits on disk and goes up
//! later.
//!
//! [`Uploader::upload`] puts an object through its store (which retries
//! transient failures). When that still fails transiently, the object is
//! written to the [`Spool`] directory and the caller is told
//! [`Upload::Spooled`]: the object is **not** stored yet, so its key must not
//! be reported to anyone. A background task ([`Uploader::spawn_flusher`])
//! re-uploads spooled objects; a new process opening the same spool picks
//! them up, so a restart loses nothing. Failures that waiting cannot cure (a
//! denied write, a read-only store, a bad key) are returned to the caller
//! instead of filling the spool with objects that can never go up.
//!
//! Layout: one entry per key, named by the SHA-256 of the key, as two files
//! written with temp-file-and-rename: `ID.data` (the object) then `ID.json`
//! (`{"key", "size", "sha256", "store"}`). An entry counts once its `.json`
//! exists; data without one (a crash between the two renames) is removed by a
//! later open once it is an hour old. `store` names the destination, so a
//! flush through another store leaves the entry alone. Every change, and the
//! read before an upload, happens under an exclusive lock on `DIR/.lock`, so
//! several processes can share a spool; an uploaded entry is removed only if
//! it still holds the bytes that were uploaded (a newer push of the same key
//! stays). Data that does not match its digest is moved to `DIR/damaged/`
//! and reported. Files are created `0600` in a `0700` directory; they hold
//! sealed objects and keys, never credentials.

use alloc::sync::Arc;
use core::time::Duration;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ErrorKind, ObjectStore, put_bytes};
use crate::Error;
use crate::ops::metrics::metrics;

use crate::limits::MAX_SPOOL_META;
pub use crate::limits::{DEFAULT_SPOOL_CAP, MAX_SPOOLED};

#[derive(Serialize, Deserialize, Clone)]
struct Meta {
    key: String,
    size: u64,
    sha256: String,
    /// The destination ([`ObjectStore::describe`]).
    store: String,
}

/// A directory of objects waiting to be uploaded.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    cap: u64,
}

/// A spooled object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolEntry {
    /// The key it goes under.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// The store it is meant for.
    pub store: String,
    id: String,
}

fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    crate::fs::write_private_atomic(&dir.join(name), bytes)
}

fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Spool {
    /// Opens the spool under `dir`: its own private subdirectory
    /// [`SPOOL_SUBDIR`], created `0700` when missing (`dir` with it; an
    /// existing `dir`, `/tmp` say, is never changed). An existing
    /// subdirectory must be a directory (not a link) of this user that no
    /// one else may read. Entries an earlier veil kept directly in `dir` are
    /// moved in. Removes what a crash left half-written over an hour ago
    /// (younger files may be another process's push in flight).
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the directory cannot be created or read, or
    /// [`Error::Content`] for a subdirectory others could read or replace.
    pub fn open(dir: &Path, cap: u64) -> Result<Self, Error> {
        let parent = dir;
        let dir = parent.join(SPOOL_SUBDIR);
        let werr = |source| Error::Write {
            path: dir.clone(),
            source,
        };
        crate::fs::create_dir_all(parent)?;
        match crate::fs::create_private_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_private(&dir)?,
            Err(source) => return Err(werr(source)),
        }
        adopt_old_entries(parent, &dir);
        for entry in std::fs::read_dir(&dir).map_err(werr)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let orphan = match name.strip_suffix(".data") {
                Some(id) => !dir.join(format!("{id}.json")).exists(),
                None => name.ends_with(".tmp"),
            };
            if orphan && super::local::is_stale(&entry) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir, cap })
    }

    /// The spool directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn id_of(key: &str) -> String {
        digest_hex(key.as_bytes())
    }

    /// Runs `f` under the spool's exclusive lock, off the async threads.
    async fn locked<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let lock_path = dir.join(".lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|source| Error::Write {
                    path: lock_path.clone(),
                    source,
                })?;
            lock.lock().map_err(|source| Error::Write {
                path: lock_path,
                source,
            })?;
            f(&dir)
        })
        .await
        .map_err(|e| Error::Content(format!("spool: {e}")))?
    }

    /// Keeps `bytes` for `key`, to go to `store`, until uploaded. Replaces
    /// an older entry of the same key.
    ///
    /// # Errors
    ///
    /// When the spool would exceed its cap, or a write fails. The object is
    /// then not kept.
    pub async fn push(&self, key: &str, store: &str, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > MAX_SPOOLED {
            return Err(Error::InputTooLarge { max: MAX_SPOOLED });
        }
        let id = Self::id_of(key);
        let meta = Meta {
            key: key.to_owned(),
            size: bytes.len() as u64,
            sha256: digest_hex(bytes),
            store: store.to_owned(),
        };
        let meta = serde_json::to_vec(&meta).map_err(|e| Error::Content(e.to_string()))?;
        let data = bytes.to_vec();
        let cap = self.cap;
        self.locked(move |dir| {
            let held: u64 = entries_in(dir)?
                .iter()
                .filter(|e| e.id != id)
                .map(|e| e.size)
                .sum();
            if held.saturating_add(data.len() as u64) > cap {
                return Err(Error::Content(format!(
                    "the upload spool {} is full ({held} of {cap} bytes)",
                    dir.display()
                )));
            }
            let werr = |source| Error::Write {
                path: dir.to_owned(),
                source,
            };
            // The old entry's json goes first, so a crash in between never
            // pairs the new data with the old digest.
            match std::fs::remove_file(dir.join(format!("{id}.json"))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(werr(e)),
                _ => {}
            }
            atomic_write(dir, &format!("{id}.data"), &data)?;
            atomic_write(dir, &format!("{id}.json"), &meta)
        })
        .await
    }

    /// The spooled objects, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the directory cannot be read.
    pub fn entries(&self) -> Result<Vec<SpoolEntry>, Error> {
        entries_in(&self.dir)
    }

    /// Drops the entry of `key`, if any (its object went up another way).
    ///
    /// # Errors
    ///
    /// When the files cannot be removed.
    pub async fn discard(&self, key: &str) -> Result<(), Error> {
        let id = Self::id_of(key);
        self.locked(move |dir| remove_entry(dir, &id)).await
    }

    /// The bytes of `entry`, checked against their digest. Damaged data is
    /// moved to `damaged/` and reported.
    async fn read(&self, entry: &SpoolEntry) -> Result<(Vec<u8>, String), Error> {
        let entry = entry.clone();
        self.locked(move |dir| {
            let meta = read_meta(dir, &entry.id)?.ok_or_else(|| {
                Error::Content(format!("spooled object for {} is gone", entry.key))
            })?;
            let path = dir.join(format!("{}.data", entry.id));
            let data = crate::fs::read_own_file_capped(&path, MAX_SPOOLED);
            let intact = data
                .as_ref()
                .is_ok_and(|d| d.len() as u64 == meta.size && digest_hex(d) == meta.sha256);
            match data {
                Ok(d) if intact => Ok((d, meta.sha256)),
                _ => {
                    let damaged = dir.join("damaged");
                    let _ = std::fs::create_dir_all(&damaged);
                    for ext in ["data", "json"] {
                        let name = format!("{}.{ext}", entry.id);
                        let _ = std::fs::rename(dir.join(&name), damaged.join(&name));
                    }
                    Err(Error::Content(format!(
                        "spooled object for {} is damaged (it does not match its digest); moved to {}",
                        entry.key,
                        damaged.display()
                    )))
                }
            }
        })
        .await
    }

    /// Removes `entry` if it still holds the object with digest `sha256`.
    async fn remove_if_unchanged(&self, entry: &SpoolEntry, sha256: String) -> Result<(), Error> {
        let id = entry.id.clone();
        self.locked(move |dir| match read_meta(dir, &id)? {
            Some(meta) if meta.sha256 == sha256 => remove_entry(dir, &id),
            _ => Ok(()),
        })
        .await
    }
}

/// The spool's own directory under the `--spool` one.
pub const SPOOL_SUBDIR: &str = "veil-spool";

/// An existing spool directory is a real directory of this user, private.
fn check_private(dir: &Path) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| Error::Read {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::Content(format!(
            "{} is not a directory (a link is not followed)",
            dir.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(Error::Content(format!(
                "{} belongs to another user",
                dir.display()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(Error::Content(format!(
                "{} may be read by others (mode {:o}): run chmod 700 on it",
                dir.display(),
                meta.mode() & 0o777
            )));
        }
    }
    Ok(())
}

/// Moves the entries an earlier veil spooled directly in `parent` (before
/// the spool had its own subdirectory) into `dir`, so none is lost.
fn adopt_old_entries(parent: &Path, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_suffix(".json")
            .or_else(|| name.strip_suffix(".data"))
            .is_some_and(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::rename(entry.path(), dir.join(&name));
        }
    }
}

fn read_meta(dir: &Path, id: &str) -> Result<Option<Meta>, Error> {
    let path = dir.join(format!("{id}.json"));
    match crate::fs::read_own_file_capped(&path, MAX_SPOOL_META) {
        Ok(text) => serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| Error::Content(format!("{}: {e}", path.display()))),
        Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn remove_entry(dir: &Path, id: &str) -> Result<(), Error> {
    for ext in ["json", "data"] {
        let path = dir.join(format!("{id}.{ext}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Write { path, source }),
        }
    }
    crate::fs::sync_dir(dir);
    Ok(())
}

fn entries_in(dir: &Path) -> Result<Vec<SpoolEntry>, Error> {
    let rerr = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(rerr)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".json").filter(|id| !id.starts_with('.')) else {
            continue;
        };
        let Ok(Some(meta)) = read_meta(dir, id) else {
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
                store: meta.store,
                id: id.to_owned(),
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
    Ok(out.into_iter().map(|(_, e)| e).collect())
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
    /// One line per entry that failed this pass (damaged entries are moved
    /// aside and counted here, not in `remaining`).
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

    /// Stores `bytes` under `key`; when the store keeps failing transiently,
    /// spools them.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] for a failure waiting cannot cure (denied, read-only,
    /// invalid key, too large, no such bucket); an error naming both
    /// failures when the spool could not keep the object either. The object
    /// is then neither stored nor kept.
    pub async fn upload(&self, key: &str, bytes: &[u8]) -> Result<Upload, Error> {
        super::check_key(key).map_err(Error::Store)?;
        match put_bytes(self.store.as_ref(), key, bytes).await {
            Ok(()) => {
                // An older spooled object of this key must not overwrite it later.
                if let Err(e) = self.spool.discard(key).await {
                    tracing::warn!(%e, key, "cannot drop a stale spool entry");
                }
                metrics().upload("stored");
                Ok(Upload::Stored)
            }
            Err(e) if matches!(e.kind(), ErrorKind::Transient | ErrorKind::Other) => {
                tracing::warn!(%e, key, "upload failed; spooling it for a later retry");
                self.spool
                    .push(key, &self.store.describe(), bytes)
                    .await
                    .map_err(|spool_err| {
                        Error::Content(format!("{e}; and it could not be spooled: {spool_err}"))
                    })?;
                metrics().upload("spooled");
                if let Ok(entries) = self.spool.entries() {
                    metrics().spool_depth(entries.len());
                }
                Ok(Upload::Spooled)
            }
            Err(e) => Err(Error::Store(e)),
        }
    }

    /// One pass over the spool: uploads each entry meant for this store
    /// (oldest first) and removes those that went up.
    ///
    /// # Errors
    ///
    /// When the spool directory cannot be read.
    pub async fn flush(&self) -> Result<FlushReport, Error> {
        let mut report = FlushReport::default();
        let here = self.store.describe();
        for entry in self.spool.entries()? {
            if entry.store != here {
                report.remaining += 1;
                report.errors.push(format!(
                    "{}: spooled for {}, not {here}",
                    entry.key, entry.store
                ));
                continue;
            }
            let (data, sha256) = match self.spool.read(&entry).await {
                Ok(v) => v,
                Err(e) => {
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            match put_bytes(self.store.as_ref(), &entry.key, &data).await {
                Ok(()) => {
                    self.spool.remove_if_unchanged(&entry, sha256).await?;
                    tracing::info!(key = entry.key, "spooled object uploaded");
                    metrics().upload("flushed");
                    report.uploaded.push(entry.key);
                }
                Err(e) => {
                    report.errors.push(e.to_string());
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
                        tracing::warn!(uploaded = r.uploaded.len(), remaining = r.remaining, first = %r.errors[0], "spool flush incomplete");
                        metrics().spool_depth(r.remaining);
                    }
                    Ok(r) => {
                        if !r.uploaded.is_empty() {
                            tracing::info!(uploaded = r.uploaded.len(), "spool flushed");
                        }
                        metrics().spool_depth(r.remaining);
                    }
                    Err(e) => tracing::warn!(%e, "cannot read the upload spool"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("veil-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_shared_directory_is_left_as_it_is() {
        let shared = scratch("shared");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let spool = Spool::open(&shared, 1 << 20).unwrap();
        assert_eq!(
            mode(&shared),
            0o1777,
            "--spool DIR itself is never chmod-ed"
        );
        assert_eq!(spool.dir(), shared.join(SPOOL_SUBDIR));
        assert_eq!(mode(spool.dir()) & 0o077, 0);
        // Opened again: the same private subdirectory.
        Spool::open(&shared, 1 << 20).unwrap();
        std::fs::remove_dir_all(&shared).unwrap();
    }

    #[test]
    fn a_loose_or_linked_subdirectory_is_refused() {
        let parent = scratch("loose");
        let sub = parent.join(SPOOL_SUBDIR);
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = Spool::open(&parent, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("may be read by others"), "{e}");
        assert_eq!(mode(&sub), 0o755, "not chmod-ed either");
        std::fs::remove_dir(&sub).unwrap();
        let elsewhere = scratch("elsewhere");
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &sub).unwrap();
        let e = Spool::open(&parent, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        std::fs::remove_dir_all(&parent).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }

    #[tokio::test]
    async fn entries_of_an_older_layout_are_adopted() {
        let parent = scratch("older");
        // What an earlier veil left: entries directly in --spool DIR.
        let old = Spool {
            dir: parent.clone(),
            cap: 1 << 20,
        };
        old.push("k/waiting", "somewhere", b"sealed").await.unwrap();
        let spool = Spool::open(&parent, 1 << 20).unwrap();
        let keys: Vec<String> = spool
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, vec!["k/waiting".to_owned()]);
        std::fs::remove_dir_all(&parent).unwrap();
    }
}
