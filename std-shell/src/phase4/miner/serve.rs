//! Serving a miner: its spool-backed uploader (with a background flusher),
//! the [`Miner`] synapse, and the axon in front of it, on a listener the
//! caller bound. `veil miner` and the sandbox both serve miners this way.

use alloc::sync::Arc;
use core::future::Future;
use core::time::Duration;
use std::path::PathBuf;

use veil_core::sign::Keypair;

use super::rounds::ChallengeRounds;
use super::{Miner, MinerConfig};
use crate::Error;
use crate::axon::{self, AxonConfig};
use crate::clock::Clock;
use crate::limits::DEFAULT_SPOOL_CAP;
use crate::listener::ListenerLimits;
use crate::phase4::generator::Generator;
use crate::store::ObjectStore;
use crate::store::spool::{Spool, Uploader};

/// What a served miner is made of.
pub struct ServeConfig {
    /// Its hotkey.
    pub keypair: Arc<Keypair>,
    /// How it works.
    pub miner: MinerConfig,
    /// Who may call, and the axon's bounds.
    pub axon: AxonConfig,
    /// Where its objects go.
    pub store: Arc<dyn ObjectStore>,
    /// Where objects wait while the store fails; also where the miner keeps
    /// its journal of rounds per (caller, challenge).
    pub spool: PathBuf,
    /// How often the spool is flushed.
    pub flush_every: Duration,
    /// Its variations' source.
    pub generator: Arc<dyn Generator>,
    /// Its clock.
    pub clock: Arc<dyn Clock>,
}

impl core::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("store", &self.store.describe())
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

/// A miner ready to serve: its spool is open and being flushed.
pub struct MinerService {
    router: axum::Router,
    hotkey: String,
    flusher: tokio::task::JoinHandle<()>,
}

impl core::fmt::Debug for MinerService {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MinerService")
            .field("hotkey", &self.hotkey)
            .finish_non_exhaustive()
    }
}

/// The file, in the spool's folder, where a miner journals the round each
/// (caller, challenge) was answered for.
const ROUNDS_JOURNAL: &str = "challenge-rounds.jsonl";

impl MinerService {
    /// Opens the spool, starts its flusher and builds the axon. Call from
    /// within a tokio runtime.
    ///
    /// # Errors
    ///
    /// The spool cannot be opened.
    pub fn start(config: ServeConfig) -> Result<Self, Error> {
        let spool = Spool::open(&config.spool, DEFAULT_SPOOL_CAP)?;
        // The rounds journal lives in the spool's private folder; an
        // earlier veil kept it beside the entries, in `--spool DIR`.
        let journal = spool.dir().join(ROUNDS_JOURNAL);
        let older = config.spool.join(ROUNDS_JOURNAL);
        if !journal.exists() && older.is_file() {
            let _ = std::fs::rename(&older, &journal);
        }
        let rounds = Arc::new(ChallengeRounds::open(&journal, config.clock.now())?);
        let uploader = Arc::new(Uploader::new(config.store, spool));
        let flusher = uploader.spawn_flusher(config.flush_every);
        let public = config.keypair.public();
        let miner = Arc::new(Miner::new(
            config.keypair,
            config.miner,
            uploader,
            config.generator,
            Arc::clone(&config.clock),
            rounds,
        ));
        let hotkey = miner.hotkey().to_owned();
        let router = axon::router(&public, config.axon, miner, config.clock);
        Ok(Self {
            router,
            hotkey,
            flusher,
        })
    }

    /// The miner's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// Serves on `listener` within [`ListenerLimits::default`] until
    /// `shutdown` resolves (in-flight answers finish first).
    ///
    /// # Errors
    ///
    /// The server fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let served =
            crate::listener::serve(listener, self.router, ListenerLimits::default(), shutdown)
                .await
                .map_err(Error::io("serving"));
        self.flusher.abort();
        served
    }
}
