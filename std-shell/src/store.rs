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
pub mod s3;
pub mod spool;

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncReadExt};
use zeroize::Zeroizing;

/// The longest key accepted, in bytes (S3's limit).
pub const MAX_KEY_LEN: usize = 1024;

/// The most entries one `list` returns; a larger listing is an error rather
/// than an unbounded allocation.
pub const MAX_LIST_ENTRIES: usize = 100_000;

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

/// How to retry transient failures: `attempts` tries in all, waiting
/// `base · 2^i` (capped at `max`, with up to 50 % random jitter) between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all (1 means no retry).
    pub attempts: u32,
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// Four tries over about 3.5 s.
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            max: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try `i` (0-based), jittered.
    fn backoff(&self, i: u32) -> Duration {
        use rand_core::RngCore as _;
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(i.min(16)).unwrap_or(u32::MAX))
            .min(self.max);
        let jitter = f64::from(rand_core::OsRng.next_u32() % 1000) / 2000.0;
        exp.mul_f64(1.0 + jitter).min(self.max.max(self.base))
    }

    /// Runs `op` until it succeeds, fails with a non-transient error, or the
    /// tries run out (the last error is returned).
    ///
    /// # Errors
    ///
    /// The last [`StoreError`].
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let attempts = self.attempts.max(1);
        let mut i = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && i + 1 < attempts => {
                    let wait = self.backoff(i);
                    tracing::debug!(%e, ?wait, attempt = i + 1, "{what}: transient failure, retrying");
                    tokio::time::sleep(wait).await;
                    i += 1;
                }
                Err(e) if i > 0 => {
                    return Err(StoreError::new(
                        e.kind,
                        format!("{e} (after {} tries)", i + 1),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Scrubs secrets out of text that came from elsewhere (a service's error
/// message, a library's error chain) before it reaches an error or a log.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<Arc<Zeroizing<String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.needles.len())
    }
}

impl Redactor {
    /// Adds a secret to scrub (ignored when shorter than 4 characters, which
    /// could not be told apart from ordinary text).
    pub fn add(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.needles
                .push(Arc::new(Zeroizing::new(secret.to_owned())));
        }
    }

    /// `text` with every secret replaced by `<redacted>`, on one line.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(['\n', '\r'], " ");
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "<redacted>");
            }
        }
        out
    }
}

/// Reads until `buf` holds `want` bytes or the body ends; returns how many
/// were read.
pub(crate) async fn fill(body: Body<'_>, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    buf.clear();
    let mut limited = body.take(u64::try_from(want).unwrap_or(u64::MAX));
    limited.read_to_end(buf).await
}

/// Parses a store argument: `dir:PATH` or a plain path (a local directory),
/// `s3://BUCKET` (S3/R2 from the `R2_*` environment, this bucket), `s3` or
/// `r2` (S3/R2, bucket from the environment), `public:URL` (anonymous HTTP).
///
/// # Errors
///
/// [`crate::Error::Value`] naming `--store`, or a configuration error.
pub fn from_spec(
    spec: &str,
    env: &dyn Fn(&str) -> Option<String>,
    retry: RetryPolicy,
) -> Result<Arc<dyn ObjectStore>, crate::Error> {
    if let Some(url) = spec.strip_prefix("public:") {
        return Ok(Arc::new(public::PublicStore::new(url, retry)?));
    }
    let bucket = match spec {
        "s3" | "r2" => Some(None),
        _ => spec
            .strip_prefix("s3://")
            .map(|b| Some(b.trim_end_matches('/'))),
    };
    if let Some(bucket) = bucket {
        let config = s3::S3Config::from_env(env, bucket)?;
        return Ok(Arc::new(s3::S3Store::new(
            &config,
            s3::S3Options {
                retry,
                ..s3::S3Options::default()
            },
        )?));
    }
    if spec.contains("://") {
        return Err(crate::Error::value(
            "--store",
            "expected dir:PATH, a path, s3://BUCKET, s3, r2 or public:URL",
        ));
    }
    let path = spec.strip_prefix("dir:").unwrap_or(spec);
    Ok(Arc::new(local::LocalStore::open(std::path::Path::new(
        path,
    ))?))
}

/// How a store spec is recorded in results (never a secret): a directory
/// by its absolute path (so a reveal elsewhere can open it), a public URL
/// without userinfo or query (either could carry a token), anything else
/// as given.
pub fn record_spec(spec: &str) -> String {
    let dir = spec.strip_prefix("dir:");
    if dir.is_some() || !spec.contains(':') {
        let p = dir.unwrap_or(spec);
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| std::path::PathBuf::from(p));
        return format!("dir:{}", abs.display());
    }
    match spec.strip_prefix("public:").map(reqwest::Url::parse) {
        Some(Ok(mut url)) => {
            url.set_query(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            format!("public:{url}")
        }
        _ => spec.to_owned(),
    }
}

/// The read-only store of the bucket a GRAIL commitment names (its read
/// pair), with the endpoint overrides of the `R2_*` environment.
///
/// # Errors
///
/// A malformed override or commitment, or a client that cannot be built.
pub fn for_commitment(
    commitment: &veil_core::commitment::ReadCommitment<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ObjectStore>, crate::Error> {
    let overrides = s3::EndpointOverrides::from_env(env)?;
    let config = s3::S3Config::for_commitment(commitment, &overrides)?;
    Ok(Arc::new(s3::S3Store::new(
        &config,
        s3::S3Options::default(),
    )?))
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

    #[test]
    fn redaction_scrubs_every_secret_and_newline() {
        let mut r = Redactor::default();
        r.add("AKIAWRITE");
        r.add("s3cr3t/with+chars");
        r.add("ab");
        let s = r.scrub("denied for AKIAWRITE\nsig s3cr3t/with+chars; ab stays");
        assert_eq!(s, "denied for <redacted> sig <redacted>; ab stays");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_transient_failures() {
        let policy = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        };
        let mut calls = 0;
        let r: Result<(), _> = policy
            .run("op", || {
                calls += 1;
                async { Err(StoreError::new(ErrorKind::Transient, "flaky")) }
            })
            .await;
        assert_eq!(calls, 3);
        assert_eq!(r.unwrap_err().to_string(), "flaky (after 3 tries)");

        let mut calls = 0;
        let r: Result<(), _> = policy
            .run("op", || {
                calls += 1;
                async { Err(StoreError::new(ErrorKind::Denied, "no")) }
            })
            .await;
        assert_eq!((calls, r.unwrap_err().to_string()), (1, "no".to_owned()));

        let mut calls = 0;
        let r = policy
            .run("op", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 2 {
                        Err(StoreError::new(ErrorKind::Transient, "once"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r.unwrap(), 2);
        for i in 0..20 {
            let w = policy.backoff(i);
            assert!(w >= policy.base.min(policy.max) && w <= policy.max, "{w:?}");
        }
    }
}
