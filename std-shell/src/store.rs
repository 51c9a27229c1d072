//! Object stores: where miners put sealed submissions and validators find
//! them.
//!
//! One interface, [`ObjectStore`], three backends:
//!
//! * [`local::LocalStore`]: a directory (the default; nothing to set up).
//!   Writes go to a temporary file and are renamed into place, and keys are
//!   validated so nothing escapes the root.
//! * [`s3::S3Store`]: S3 or Cloudflare R2 through aws-sdk-s3, with GRAIL's
//!   dual credentials: uploads use the write pair, reads use a read pair
//!   (ours, or one taken from another participant's commitment).
//! * [`public::PublicStore`]: anonymous HTTP to a public bucket URL, what
//!   MIID miners do today. Opt-in: anyone can overwrite such objects.
//!
//! Every backend refuses keys that [`check_key`] refuses, caps what `get`
//! holds in memory, and retries transient failures with backoff
//! ([`RetryPolicy`]). A miner uploads through a [`spool::Uploader`], which
//! keeps an object on disk when its upload keeps failing and re-uploads it
//! later, so nothing is lost across a restart and no key is ever reported
//! for an object that is not stored.
//!
//! Errors are one line and never hold a credential: S3 messages are built
//! from the service's error code and text, then scrubbed of every secret the
//! store holds ([`Redactor`]).

pub mod local;
pub mod public;
mod redact;
mod retry;
pub mod s3;
mod spec;
pub mod spool;

pub use redact::Redactor;
pub use retry::RetryPolicy;
pub use spec::{for_commitment, from_spec, record_spec};

use core::fmt;
use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncReadExt};

pub use crate::limits::MAX_LIST_ENTRIES;
pub use veil_core::limits::MAX_OBJECT_KEY_LEN as MAX_KEY_LEN;

/// What kind of failure a [`StoreError`] is: callers decide on the kind
/// (retry, spool, report), never on the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object does not exist.
    NotFound,
    /// The credentials were refused or lack the permission.
    Denied,
    /// The object is larger than the caller's cap.
    TooLarge,
    /// The key is not acceptable.
    InvalidKey,
    /// The store only reads (a read pair, or a commitment's keys).
    ReadOnly,
    /// A failure that may pass: network, timeout, throttling, 5xx.
    Transient,
    /// Anything else.
    Other,
}

/// A store failure: its kind and a one-line message free of credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
}

impl StoreError {
    /// A failure of `kind`, described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The kind of failure.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying may help.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    pub(crate) fn io(what: impl fmt::Display, e: &std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = match e.kind() {
            Io::NotFound | Io::NotADirectory => ErrorKind::NotFound,
            Io::PermissionDenied => ErrorKind::Denied,
            // A key component longer than the file system allows.
            Io::InvalidFilename => ErrorKind::InvalidKey,
            _ => ErrorKind::Other,
        };
        Self::new(kind, format!("{what}: {e}"))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for StoreError {}

/// An object's size and age.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: SystemTime,
    /// The store's entity tag (S3's and HTTP's `ETag`; for a folder, the
    /// size and modification time), when it gives one: a different tag
    /// means a different object.
    pub etag: Option<String>,
}

/// A body to upload: any async reader. `&[u8]` is one.
pub type Body<'a> = &'a mut (dyn AsyncRead + Send + Unpin);

/// An object store. Keys are `/`-separated paths checked by [`check_key`].
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Where the objects go, for messages (never holds a credential).
    fn describe(&self) -> String;

    /// Stores `body` under `key`, replacing any object there; returns the
    /// size stored. Large bodies are streamed (S3: multipart above the
    /// threshold), so memory stays bounded by the part size.
    ///
    /// # Errors
    ///
    /// A [`StoreError`]; the object is then not stored (a failed multipart
    /// upload is aborted, a failed local write leaves no file).
    async fn put(&self, key: &str, body: Body<'_>) -> Result<u64, StoreError>;

    /// The object under `key`, refused with [`ErrorKind::TooLarge`] when it
    /// is larger than `max_bytes` (checked before the body is read).
    ///
    /// # Errors
    ///
    /// A [`StoreError`]: [`ErrorKind::NotFound`] when there is none.
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, StoreError>;

    /// At most `len` bytes of `key` from byte `start` on (fewer when the
    /// object ends first; none past its end): what a reader that needs
    /// the object's ends only fetches. The default reads the object whole
    /// (within `start + len` bytes, or fails as too large); the stores veil
    /// ships ask for the range alone.
    ///
    /// # Errors
    ///
    /// A [`StoreError`]: [`ErrorKind::NotFound`] when there is none.
    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let whole = self.get(key, start.saturating_add(len)).await?;
        Ok(range_of(&whole, start, len).to_vec())
    }

    /// Size and last-modified time of `key`, or `None` when absent.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] other than "not found".
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;

    /// Every object whose key starts with `prefix` (a plain string prefix,
    /// as in S3), sorted by key; at most [`MAX_LIST_ENTRIES`].
    ///
    /// # Errors
    ///
    /// A [`StoreError`], [`ErrorKind::TooLarge`] past the entry cap.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// Deletes `key`. Deleting an absent key succeeds (as in S3).
    ///
    /// # Errors
    ///
    /// A [`StoreError`].
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Bytes `start..start + len` of `bytes`, clamped to its end.
pub(crate) fn range_of(bytes: &[u8], start: u64, len: u64) -> &[u8] {
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = usize::try_from(len)
        .unwrap_or(usize::MAX)
        .saturating_add(start)
        .min(bytes.len());
    bytes.get(start..end).unwrap_or_default()
}

/// An HTTP `Range` header value for `len` bytes from `start` (`len > 0`).
pub(crate) fn range_header(start: u64, len: u64) -> String {
    format!(
        "bytes={start}-{}",
        start.saturating_add(len.max(1)).saturating_sub(1)
    )
}

/// Stores `bytes` under `key` (a convenience over [`ObjectStore::put`]).
///
/// # Errors
///
/// As [`ObjectStore::put`].
pub async fn put_bytes(store: &dyn ObjectStore, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let mut body = bytes;
    store.put(key, &mut body).await.map(|_| ())
}

/// Checks a key: 1 to [`MAX_KEY_LEN`] bytes; `/`-separated components that
/// are neither empty, `.` nor `..`; no control characters or backslashes;
/// no component starting with `.veil-` (reserved for the local store's
/// temporary files).
///
/// # Errors
///
/// [`ErrorKind::InvalidKey`], naming what is wrong (the key is quoted with
/// escapes, so control characters cannot reach a terminal).
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = |why: &str| {
        Err(StoreError::new(
            ErrorKind::InvalidKey,
            format!("invalid object key {:?}: {why}", truncate_for_message(key)),
        ))
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return bad("control characters and backslashes are not allowed");
    }
    for part in key.split('/') {
        match part {
            "" => return bad("empty path component (leading, trailing or double '/')"),
            "." | ".." => return bad("'.' and '..' components are not allowed"),
            p if p.starts_with(".veil-") => {
                return bad("components starting with '.veil-' are reserved");
            }
            _ => {}
        }
    }
    Ok(())
}

/// A list prefix is a key prefix: empty, or anything [`check_key`] would
/// accept once completed (so it cannot walk out of the store).
pub(crate) fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.is_empty() {
        return Ok(());
    }
    // "a/b/" is fine as a prefix; check it as if completed with a name.
    let probe = if prefix.ends_with('/') {
        format!("{prefix}x")
    } else {
        prefix.to_owned()
    };
    check_key(&probe).map_err(|e| {
        StoreError::new(
            ErrorKind::InvalidKey,
            e.message.replace("object key", "list prefix"),
        )
    })
}

fn truncate_for_message(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads until `buf` holds `want` bytes or the body ends; returns how many
/// were read.
pub(crate) async fn fill(body: Body<'_>, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    buf.clear();
    let mut limited = body.take(u64::try_from(want).unwrap_or(u64::MAX));
    limited.read_to_end(buf).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_or_confuse_are_refused() {
        for good in [
            "a",
            "submissions/c1/5F/abcd/seed/lighting_1700000000_0.png.tlock",
            "a b/c+d=e",
            ".hidden/x",
        ] {
            check_key(good).unwrap();
        }
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/",
            "../x",
            "a/../b",
            "./a",
            "a\\b",
            "a\nb",
            "a\u{7f}b",
            ".veil-tmp/x",
            "a/.veil-spool",
        ] {
            assert_eq!(
                check_key(bad).unwrap_err().kind(),
                ErrorKind::InvalidKey,
                "{bad:?}"
            );
        }
        assert!(check_key(&"a".repeat(1025)).is_err());
        check_key(&"a".repeat(1024)).unwrap();
        check_prefix("").unwrap();
        check_prefix("submissions/").unwrap();
        check_prefix("submissions/c1/5F").unwrap();
        assert!(check_prefix("../").is_err());
        assert!(check_prefix("/").is_err());
    }
}
