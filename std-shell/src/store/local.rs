//! A directory as an object store: key `a/b/c` is the file `ROOT/a/b/c`.
//!
//! * Writes stream into `ROOT/.veil-tmp/` and are renamed into place after
//!   an `fsync`, so a reader (or a crash) never sees a partial object.
//! * Keys are checked by [`check_key`], and no path component inside the
//!   root may be a symbolic link: nothing is read or written outside it.
//! * Empty directories left by `delete` are removed up to the root.

use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use super::{
    Body, ErrorKind, MAX_LIST_ENTRIES, ObjectMeta, ObjectStore, StoreError, check_key, check_prefix,
};

const TMP_DIR: &str = ".veil-tmp";

/// A local directory store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (creating when missing) the store at `root`. Temporary files a
    /// crash left behind over an hour ago are removed (younger ones may be
    /// another process's writes in flight: several miners can share a store).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Write`] when the directory cannot be created.
    pub fn open(root: &Path) -> Result<Self, crate::Error> {
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp).map_err(|source| crate::Error::Write {
            path: tmp.clone(),
            source,
        })?;
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                if is_stale(&e) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`, after checking the key and that no existing
    /// component below the root is a symbolic link. (The store's directory
    /// is trusted: this keeps keys from leading out of it, not a local
    /// attacker racing to plant links.)
    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        no_symlinks(&self.root, key)?;
        Ok(self.root.join(key))
    }

    /// The file of `key`, opened for reading, and its metadata; a key that
    /// is not a regular file is not an object.
    async fn open_object(
        &self,
        key: &str,
    ) -> Result<(tokio::fs::File, std::fs::Metadata), StoreError> {
        let path = self.path_of(key)?;
        let what = || self.what("get", key);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StoreError::io(what(), &e))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| StoreError::io(what(), &e))?;
        if !meta.is_file() {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("{}: not an object", what()),
            ));
        }
        Ok((file, meta))
    }

    fn what(&self, op: &str, key: &str) -> String {
        format!("{op} {key} in {}", self.root.display())
    }
}

/// Whether a leftover file is old enough that no live writer can own it.
pub(crate) fn is_stale(entry: &std::fs::DirEntry) -> bool {
    const STALE: core::time::Duration = core::time::Duration::from_secs(3600);
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE)
}

/// Refuses a relative path below `root` whose existing components include a
/// symbolic link.
fn no_symlinks(root: &Path, rel: &str) -> Result<(), StoreError> {
    let mut p = root.to_owned();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        p.push(part);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StoreError::new(
                    ErrorKind::InvalidKey,
                    format!("{rel:?} goes through a symbolic link in the store"),
                ));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// A folder's entity tag: the size and the modification time in
/// nanoseconds (rewriting a file changes it).
fn local_tag(m: &std::fs::Metadata) -> String {
    let ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}-{ns}", m.len())
}

fn modified(m: &std::fs::Metadata) -> std::time::SystemTime {
    m.modified().unwrap_or(std::time::UNIX_EPOCH)
}

fn tmp_name() -> String {
    use rand_core::RngCore as _;
    let mut r = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut r);
    format!("put-{}", hex::encode(r))
}

#[async_trait::async_trait]
impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    async fn put(&self, key: &str, body: Body<'_>) -> Result<u64, StoreError> {
        let path = self.path_of(key)?;
        let what = || self.what("put", key);
        let tmp = self.root.join(TMP_DIR).join(tmp_name());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| StoreError::io(what(), &e))?;
            let n = tokio::io::copy(body, &mut file)
                .await
                .map_err(|e| StoreError::io(what(), &e))?;
            file.sync_all()
                .await
                .map_err(|e| StoreError::io(what(), &e))?;
            drop(file);
            let parent = path.parent().unwrap_or(&self.root);
            // A concurrent delete may prune the parent between the two steps
            // (it was empty): create it again and retry.
            let mut tries = 0;
            loop {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| StoreError::io(what(), &e))?;
                // A directory in the way (key "a" when "a/b" exists) fails here.
                match tokio::fs::rename(&tmp, &path).await {
                    Ok(()) => break,
                    Err(e) if e.kind() == IoKind::NotFound && tries < 5 => tries += 1,
                    Err(e) => return Err(StoreError::io(what(), &e)),
                }
            }
            crate::fs::sync_dir(parent);
            Ok(n)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, StoreError> {
        use tokio::io::AsyncReadExt as _;
        let what = || self.what("get", key);
        let (file, meta) = self.open_object(key).await?;
        if meta.len() > max_bytes {
            return Err(too_large(&what(), meta.len(), max_bytes));
        }
        let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        // The file may grow while read: never read past the cap.
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut out)
            .await
            .map_err(|e| StoreError::io(what(), &e))?;
        if out.len() as u64 > max_bytes {
            return Err(too_large(&what(), out.len() as u64, max_bytes));
        }
        Ok(out)
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
        let what = || self.what("get", key);
        let (mut file, meta) = self.open_object(key).await?;
        let want = len.min(meta.len().saturating_sub(start));
        let mut out = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        if want > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| StoreError::io(what(), &e))?;
            file.take(want)
                .read_to_end(&mut out)
                .await
                .map_err(|e| StoreError::io(what(), &e))?;
        }
        Ok(out)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectMeta {
                key: key.to_owned(),
                size: m.len(),
                last_modified: modified(&m),
                etag: Some(local_tag(&m)),
            })),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => Ok(None),
            Err(e) => Err(StoreError::io(self.what("head", key), &e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        check_prefix(prefix)?;
        no_symlinks(&self.root, prefix.rfind('/').map_or("", |i| &prefix[..i]))?;
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let describe = self.describe();
        tokio::task::spawn_blocking(move || walk(&root, &prefix))
            .await
            .map_err(|e| StoreError::new(ErrorKind::Other, format!("list in {describe}: {e}")))?
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => return Ok(()),
            Err(e) => return Err(StoreError::io(self.what("delete", key), &e)),
        }
        // Prune directories the object leaves empty (fails, harmlessly, on
        // the first one that is not).
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}

fn too_large(what: &str, size: u64, max: u64) -> StoreError {
    StoreError::new(
        ErrorKind::TooLarge,
        format!("{what}: the object is {size} bytes, over the {max}-byte cap"),
    )
}

/// Every file under `root` whose key starts with `prefix`, sorted. Starts
/// from the deepest directory the prefix names, never follows links and
/// skips the temporary directory.
fn walk(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
    let start_dir = prefix.rfind('/').map_or("", |i| &prefix[..i]);
    let mut out = Vec::new();
    let mut stack = vec![(
        if start_dir.is_empty() {
            root.to_owned()
        } else {
            root.join(start_dir)
        },
        start_dir.to_owned(),
    )];
    while let Some((dir, key_dir)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => continue,
            Err(e) => return Err(StoreError::io(format!("list {}", dir.display()), &e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(format!("list {}", dir.display()), &e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not a key veil could have written
            };
            if key_dir.is_empty() && name == TMP_DIR {
                continue;
            }
            let key = if key_dir.is_empty() {
                name
            } else {
                format!("{key_dir}/{name}")
            };
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                // Descend only where keys under it can still match.
                let as_dir = format!("{key}/");
                if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                    stack.push((entry.path(), key));
                }
            } else if ft.is_file() && key.starts_with(prefix) && check_key(&key).is_ok() {
                let m = entry
                    .metadata()
                    .map_err(|e| StoreError::io(format!("list {key}"), &e))?;
                if out.len() == MAX_LIST_ENTRIES {
                    return Err(StoreError::new(
                        ErrorKind::TooLarge,
                        format!("more than {MAX_LIST_ENTRIES} objects under {prefix:?}"),
                    ));
                }
                out.push(ObjectMeta {
                    key,
                    size: m.len(),
                    last_modified: modified(&m),
                    etag: Some(local_tag(&m)),
                });
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}
