//! The commitments registry: where each participant's read commitment (its
//! bucket and read-only key pair, [`veil_core::commitment`]) is found.
//!
//! Two sources behind one trait, [`CommitmentRegistry`]:
//!
//! * [`LocalRegistry`]: a JSON file, the default and the only one veil
//!   writes (on-chain writes are a non-goal for now). `veil commitment
//!   publish` writes our entry after [`check_publishable`] has verified it.
//! * [`subtensor::SubtensorRegistry`]: subtensor's `Commitments.CommitmentOf`
//!   read over JSON-RPC on WebSocket, what GRAIL reads.
//!
//! [`CommitmentBook`] keeps the last good set in memory, refreshes it
//! periodically (GRAIL: every 600 s), keeps the previous set when a refresh
//! fails, and drops entries of hotkeys outside the set it is given (the
//! metagraph): commitments of deregistered hotkeys stay in chain storage.

pub mod subtensor;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use subtle::ConstantTimeEq as _;
use veil_core::commitment::ReadCommitment;
use zeroize::Zeroizing;

use crate::Error;
use crate::store::ObjectStore as _;
use crate::store::s3::{S3Config, S3Options, S3Store};
use crate::store::{ErrorKind, RetryPolicy, put_bytes};

/// GRAIL's refresh interval.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);

/// The largest registry file read.
const MAX_REGISTRY_FILE: usize = 16 * 1024 * 1024;

/// A read commitment held in memory: the 128-character text, kept whole so
/// it can be re-parsed into a [`ReadCommitment`] without copies. Zeroized on
/// drop; `Debug` shows the bucket and key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Commitment {
    text: Zeroizing<String>,
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.read(), f)
    }
}

impl Commitment {
    /// Parses a 128-character commitment.
    ///
    /// # Errors
    ///
    /// The core's commitment error.
    pub fn parse(text: &str) -> Result<Self, Error> {
        ReadCommitment::parse(text)?;
        Ok(Self {
            text: Zeroizing::new(text.to_owned()),
        })
    }

    /// Encodes `c`.
    ///
    /// # Errors
    ///
    /// When a field is empty or longer than its width (never truncated).
    pub fn from_read(c: &ReadCommitment<'_>) -> Result<Self, Error> {
        let text = c.encode()?;
        Ok(Self {
            text: Zeroizing::new(text.as_str().to_owned()),
        })
    }

    /// The fields.
    #[must_use]
    pub fn read(&self) -> ReadCommitment<'_> {
        // Checked at construction.
        ReadCommitment::parse(&self.text).unwrap_or(ReadCommitment {
            bucket: "",
            read_access_key_id: "",
            read_secret_access_key: "",
        })
    }

    /// The 128-character text (it holds the read secret).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Equality in constant time (the text holds a secret).
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.text.as_bytes().ct_eq(other.text.as_bytes()).into()
    }
}

/// Commitments by hotkey (SS58), plus what could not be read.
#[derive(Clone, Debug, Default)]
pub struct Commitments {
    /// The readable commitments.
    pub entries: BTreeMap<String, Commitment>,
    /// One line per entry that was skipped, naming the hotkey (or key) and
    /// why; never a secret.
    pub skipped: Vec<String>,
}

/// A source of commitments.
#[async_trait::async_trait]
pub trait CommitmentRegistry: Send + Sync + fmt::Debug {
    /// Where the commitments come from, for messages.
    fn describe(&self) -> String;

    /// Every commitment the source holds now.
    ///
    /// # Errors
    ///
    /// When the source cannot be read at all (single bad entries are
    /// skipped and listed in [`Commitments::skipped`] instead).
    async fn fetch(&self) -> Result<Commitments, Error>;
}

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
        match crate::chains::read_capped(&self.path, MAX_REGISTRY_FILE) {
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
        crate::io::write_private_atomic(&self.path, &json).map_err(werr(&self.path))?;
        // Zeroize what serde_json's map held too.
        for v in file.commitments.values_mut() {
            zeroize::Zeroize::zeroize(v);
        }
        Ok(Published::Written)
    }
}

#[async_trait::async_trait]
impl CommitmentRegistry for LocalRegistry {
    fn describe(&self) -> String {
        format!("registry file {}", self.path.display())
    }

    async fn fetch(&self) -> Result<Commitments, Error> {
        let mut file = self.read_file()?;
        let mut out = Commitments::default();
        for (hotkey, text) in &mut file.commitments {
            let parsed = check_hotkey(hotkey).and_then(|()| Commitment::parse(text));
            match parsed {
                Ok(c) => {
                    out.entries.insert(hotkey.clone(), c);
                }
                Err(e) => out.skipped.push(format!("{hotkey:?}: {e}")),
            }
            zeroize::Zeroize::zeroize(text);
        }
        Ok(out)
    }
}

/// Checks that our configuration may publish a read commitment, and builds
/// it: a read pair distinct from the write pair (not GRAIL's single-pair
/// fallback), the bucket named after the account id (GRAIL reads the bucket
/// from the account-id field), and, when `probe` is set, a read pair that
/// can list the bucket but cannot write to it (a commitment is public: a
/// read pair with write rights would let anyone overwrite our objects).
///
/// # Errors
///
/// A one-line [`Error`] naming the rule broken; never a credential.
pub async fn check_publishable(config: &S3Config, probe: bool) -> Result<Commitment, Error> {
    if config.is_single_pair() {
        return Err(Error::Content(
            "refusing to publish: only a write key pair is configured (GRAIL's single-pair fallback); set R2_READ_ACCESS_KEY_ID and R2_READ_SECRET_ACCESS_KEY to a read-only pair".to_owned(),
        ));
    }
    if let Some(w) = &config.write {
        let same: bool = w
            .access_key_id()
            .as_bytes()
            .ct_eq(config.read.access_key_id().as_bytes())
            .into();
        if same {
            return Err(Error::Content(
                "refusing to publish: the read key pair is the write key pair".to_owned(),
            ));
        }
    }
    let account = config.account_id.as_deref().ok_or_else(|| {
        Error::Content(
            "refusing to publish: R2_ACCOUNT_ID is not set (a commitment names the account)"
                .to_owned(),
        )
    })?;
    if config.bucket != account {
        return Err(Error::Content(format!(
            "refusing to publish: the bucket {:?} differs from the account id {account:?}; GRAIL requires the bucket to be named after the account id",
            config.bucket
        )));
    }
    let commitment = Commitment::from_read(&ReadCommitment {
        bucket: account,
        read_access_key_id: config.read.access_key_id(),
        read_secret_access_key: config.read.secret_access_key(),
    })?;
    if probe {
        probe_read_only(config).await?;
    }
    Ok(commitment)
}

/// Lists with the read pair (must work), then tries to write a probe object
/// with it (must be denied; if it is not, the probe is deleted and
/// publishing refused).
async fn probe_read_only(config: &S3Config) -> Result<(), Error> {
    use rand_core::RngCore as _;
    let options = S3Options {
        retry: RetryPolicy {
            attempts: 2,
            ..RetryPolicy::default()
        },
        ..S3Options::default()
    };
    let mut as_writer = config.clone();
    as_writer.write = Some(config.read.clone());
    let store = S3Store::new(&as_writer, options)?;
    store.list("veil-probe/").await.map_err(|e| {
        Error::Content(format!(
            "refusing to publish: the read key pair cannot list the bucket: {e}"
        ))
    })?;
    let mut nonce = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = format!("veil-probe/{}", hex::encode(nonce));
    match put_bytes(&store, &key, b"veil: read-only probe").await {
        Ok(()) => {
            let _ = store.delete(&key).await;
            Err(Error::Content(
                "refusing to publish: the read key pair can write to the bucket; publishing it would let anyone overwrite our objects".to_owned(),
            ))
        }
        Err(e) if e.kind() == ErrorKind::Denied => Ok(()),
        Err(e) => Err(Error::Content(format!(
            "refusing to publish: cannot tell whether the read key pair is read-only: {e}"
        ))),
    }
}

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
