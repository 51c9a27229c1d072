//! `veil sandbox`: the whole MIID Phase 4 flow on one machine, with
//! nothing to set up.
//!
//! 1. A drand beacon: a devnet on loopback (period 1 s; its key is kept in
//!    `{out}/devnet-key.json`, 0600, so `veil beacon serve --key` can serve
//!    the same chain later), or real relays (`--relay`).
//! 2. An object store: a folder (`{out}/store`), or `--store`.
//! 3. N `veil` miners in this process, each with its own random hotkey,
//!    the built-in generator and an upload spool, serving the axon
//!    protocol on loopback ports; plus any `--remote-miner`.
//! 4. A validator (random hotkey) running C cycles over loopback, then,
//!    for each cycle, the reveal: wait for the round, open everything,
//!    check it, write the reveal file, the HTML report and the reputation
//!    the next cycle weighs miners by.
//!
//! Timings are short so that a cycle takes seconds: each miner gets
//! `timeout` (5 s) to answer, no retry, and the target round is the first
//! one emitted a second after that.

use alloc::sync::Arc;
use core::time::Duration;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use veil_core::Chain;
use veil_core::format::Format;
use veil_core::sign::Keypair;

use crate::Error;
use crate::axon::{self, Allow, AxonConfig, AxonTarget};
use crate::drand::client::ClientOptions;
use crate::drand::devnet::Devnet;
use crate::drand::{Clock, DrandClient, Relay, SystemClock};
use crate::generator::Builtin;
use crate::images::{self, ImageLimits};
use crate::miner::{Miner, MinerConfig};
use crate::reveal::{self, BeaconSource, Progress, RevealConfig, RevealReport, Stores};
use crate::store::spool::{self, Spool, Uploader};
use crate::store::{ObjectStore, local::LocalStore};
use crate::validator::{self, MinerEntry, Validator, ValidatorConfig};
use crate::weights::FileSink;

/// The devnet's period in the sandbox, seconds.
pub const DEVNET_PERIOD: u32 = 1;

/// How the sandbox runs.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Miners run in this process.
    pub miners: usize,
    /// Variations asked of each miner.
    pub variations: usize,
    /// Cycles to run.
    pub cycles: u64,
    /// Seconds from the start of one cycle to the start of the next.
    pub period: Duration,
    /// Where everything goes.
    pub out_dir: PathBuf,
    /// Other miners to query (they must allow any validator, and seal to
    /// the sandbox's chain).
    pub remote_miners: Vec<AxonTarget>,
    /// Real drand relays and their chain, instead of the devnet.
    pub relay: Option<(Chain, Vec<String>)>,
    /// A store spec (and the store) instead of `{out}/store`.
    pub store: Option<(String, Arc<dyn ObjectStore>)>,
    /// Time each miner has to answer.
    pub timeout: Duration,
    /// Objects opened at once in the reveal.
    pub jobs: usize,
}

/// What a cycle came to.
#[derive(Clone, Debug)]
pub struct CycleSummary {
    /// The results file.
    pub results: PathBuf,
    /// The reveal.
    pub reveal: RevealReport,
    /// Uids of the miners run in this process.
    pub local_uids: Vec<u32>,
}

/// Where the sandbox's lines go.
pub trait Say: Send + Sync {
    /// One line of the story.
    fn line(&self, text: &str);
}

struct Notes<'a>(&'a dyn Say);

impl Progress for Notes<'_> {
    fn note(&self, line: &str) {
        self.0.line(&format!("  {line}"));
    }
}

fn random_keypair() -> Result<Keypair, Error> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut *seed);
    Keypair::from_mini_secret(&seed).map_err(|e| Error::Content(format!("keypair: {e}")))
}

async fn bind(what: &str) -> Result<(tokio::net::TcpListener, u16), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::Content(format!("cannot listen on loopback for the {what}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::Content(format!("{what}: {e}")))?
        .port();
    Ok((listener, port))
}

fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// Runs the sandbox, telling its story through `say`.
///
/// # Errors
///
/// Anything that stops the flow itself (ports, files, the beacon); a miner
/// failing is part of the story, not an error.
pub async fn run(config: SandboxConfig, say: &dyn Say) -> Result<Vec<CycleSummary>, Error> {
    let out = &config.out_dir;
    create_dir(out)?;
    let out = std::fs::canonicalize(out).map_err(|source| Error::Read {
        path: out.clone(),
        source,
    })?;
    let results_dir = out.join("results");
    create_dir(&results_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    // 1. The beacon.
    let (chain, relay_urls) = match &config.relay {
        Some((chain, urls)) => {
            say.line(&format!(
                "beacon    drand relays {} (chain {})",
                urls.join(", "),
                hex::encode(chain.hash())
            ));
            (chain.clone(), urls.clone())
        }
        None => {
            let devnet = Devnet::load_or_create(
                &out.join("devnet-key.json"),
                Some(DEVNET_PERIOD),
                clock.now(),
            )?;
            let chain = devnet.chain().clone();
            let (listener, port) = bind("devnet beacon").await?;
            let app = devnet.router(Arc::clone(&clock));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let url = format!("http://127.0.0.1:{port}");
            say.line(&format!(
                "beacon    devnet on {url}/{} (a round every {DEVNET_PERIOD} s)",
                hex::encode(chain.hash())
            ));
            (chain, vec![url])
        }
    };
    let relays = relay_urls
        .iter()
        .map(|u| Relay::parse(u, chain.hash()))
        .collect::<Result<Vec<_>, _>>()?;
    let client = Arc::new(DrandClient::new(
        chain.clone(),
        relays,
        None,
        ClientOptions::default(),
    )?);

    // 2. The store.
    let (store_spec, store): (String, Arc<dyn ObjectStore>) = match &config.store {
        Some((spec, store)) => (spec.clone(), Arc::clone(store)),
        None => {
            let dir = out.join("store");
            (
                format!("dir:{}", dir.display()),
                Arc::new(LocalStore::open(&dir)?),
            )
        }
    };
    say.line(&format!("store     {}", store.describe()));

    // 3. The miners.
    let validator_key = Arc::new(random_keypair()?);
    let mut targets = Vec::new();
    let mut local_uids = Vec::new();
    let cores = reveal::default_jobs();
    for i in 0..config.miners {
        let keypair = Arc::new(random_keypair()?);
        let spool_dir = out.join("spool").join(format!("miner-{i}"));
        create_dir(&spool_dir)?;
        let uploader = Arc::new(Uploader::new(
            Arc::clone(&store),
            Spool::open(&spool_dir, spool::DEFAULT_SPOOL_CAP)?,
        ));
        let _flusher = uploader.spawn_flusher(Duration::from_secs(5));
        let miner = Arc::new(Miner::new(
            Arc::clone(&keypair),
            MinerConfig {
                chain: chain.clone(),
                format: Format::Bittensor,
                limits: ImageLimits::default(),
                concurrency: cores,
                allow_emitted_rounds: false,
            },
            uploader,
            Arc::new(Builtin),
            Arc::clone(&clock),
        ));
        let hotkey = miner.hotkey().to_owned();
        let mut allowed = HashSet::new();
        allowed.insert(validator_key.public().to_bytes());
        let app = axon::router(
            &keypair.public(),
            AxonConfig {
                allow: Allow::Hotkeys(allowed),
                ..AxonConfig::default()
            },
            miner,
        );
        let (listener, port) = bind("miner").await?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let uid = u32::try_from(i).unwrap_or(u32::MAX);
        local_uids.push(uid);
        targets.push((
            uid,
            AxonTarget::new("127.0.0.1", port, &hotkey).map_err(Error::Content)?,
        ));
        say.line(&format!(
            "miner {uid:<3} {hotkey} on 127.0.0.1:{port} (built-in generator)"
        ));
    }
    for (j, t) in config.remote_miners.iter().enumerate() {
        let uid = u32::try_from(config.miners + j).unwrap_or(u32::MAX);
        say.line(&format!(
            "miner {uid:<3} {} on {}:{} (remote)",
            t.hotkey, t.host, t.port
        ));
        targets.push((uid, t.clone()));
    }

    // 4. The validator, then each cycle's reveal.
    let reputation = out.join("reputation.json");
    let validator = Validator::new(
        Arc::clone(&validator_key),
        ValidatorConfig {
            chain: chain.clone(),
            format: Format::Bittensor,
            timeout: config.timeout,
            reveal_buffer: Duration::from_secs(1),
            retries: 0,
            variations: config.variations,
            out_dir: results_dir.clone(),
            max_object: validator::DEFAULT_MAX_OBJECT,
            concurrency: 64,
            reputation: Some(reputation.clone()),
        },
        images::samples(),
        Arc::new(FileSink::new(&out.join("weights.json"))),
        Arc::clone(&clock),
    )?;
    say.line(&format!("validator {}", validator.hotkey()));
    let stores = Stores::new(None, Some(Arc::clone(&store)));
    let record =
        serde_json::json!({"kind": "store", "spec": store_spec, "describe": store.describe()});
    let mut summaries = Vec::new();
    for cycle in 1..=config.cycles.max(1) {
        let started = tokio::time::Instant::now();
        let miners: Vec<MinerEntry> = targets
            .iter()
            .map(|(uid, target)| MinerEntry {
                uid: *uid,
                target: target.clone(),
                store: Ok(Arc::clone(&store)),
                store_record: record.clone(),
            })
            .collect();
        say.line("");
        say.line(&format!(
            "cycle {cycle}/{}: querying {} miners for {} variations each",
            config.cycles.max(1),
            miners.len(),
            config.variations
        ));
        let report = validator.run_cycle(&miners).await?;
        let accepted: usize = report.accepted.values().sum();
        say.line(&format!(
            "  challenge {} sealed to round {}: {accepted} submissions accepted",
            report.challenge_id, report.target_round
        ));
        let results = reveal::Results::load(&report.results)?;
        let revealed = reveal::reveal(
            &results,
            &RevealConfig {
                out_dir: results_dir.clone(),
                reputation: reputation.clone(),
                jobs: config.jobs.max(1),
                downloads: 16,
                limits: ImageLimits::default(),
                max_object: validator::DEFAULT_MAX_OBJECT,
                progress: true,
            },
            &BeaconSource::Relays(Arc::clone(&client)),
            &stores,
            clock.as_ref(),
            &Notes(say),
        )
        .await?;
        summaries.push(CycleSummary {
            results: report.results,
            reveal: revealed,
            local_uids: local_uids.clone(),
        });
        if cycle < config.cycles {
            tokio::time::sleep_until(started + config.period).await;
        }
    }
    Ok(summaries)
}
