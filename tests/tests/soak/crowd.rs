//! The soak's honest miners: veil's own [`MinerService`] (the one `veil
//! miner` and the sandbox serve), many in this process, each on its own
//! loopback port with its own spool, all uploading through the faulty
//! store proxy with a short retry budget (so some uploads spool and go up
//! later).

use alloc::sync::Arc;
use core::time::Duration;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use veil::axon::{Allow, AxonConfig};
use veil::clock::SystemClock;
use veil::phase4::generator::{Builtin, Generator, Job};
use veil::phase4::images::ImageLimits;
use veil::phase4::miner::{MinerConfig, MinerService, ServeConfig};
use veil::store::ObjectStore;
use veil::store::RetryPolicy;
use veil::store::s3::{S3Config, S3Options, S3Store};
use veil::store::spool::{DEFAULT_SPOOL_CAP, Spool};
use veil_core::Chain;
use veil_core::format::Format;
use veil_core::sign::Keypair;

/// Tries per upload before a miner spools the object.
pub(crate) const PUT_ATTEMPTS: u32 = 2;
/// How often a miner's spool is flushed.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The built-in generator after a pause (an honest miner that is slow but
/// answers within the timeout).
struct Slow(Duration);

impl Generator for Slow {
    fn describe(&self) -> String {
        format!("built-in after {:?}", self.0)
    }

    fn generate(&self, job: &Job<'_>) -> Vec<Result<Vec<u8>, veil::Error>> {
        std::thread::sleep(self.0);
        Builtin.generate(job)
    }
}

/// One honest miner, serving.
pub(crate) struct Honest {
    pub(crate) hotkey: String,
    pub(crate) port: u16,
    pub(crate) spool: PathBuf,
    /// The pause of its generator, if it is a slow one.
    pub(crate) slow: Option<Duration>,
}

impl Honest {
    /// Objects still waiting in its spool.
    pub(crate) fn spooled(&self) -> Vec<String> {
        Spool::open(&self.spool, DEFAULT_SPOOL_CAP)
            .and_then(|s| s.entries())
            .unwrap_or_else(|e| panic!("spool {}: {e}", self.spool.display()))
            .into_iter()
            .map(|e| e.key)
            .collect()
    }
}

/// The `R2_*` environment of a store at `endpoint` (moto checks no
/// credentials; the SDK signs with these anyway).
pub(crate) fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("R2_ENDPOINT_URL", endpoint.to_owned()),
        ("R2_FORCE_PATH_STYLE", "true".to_owned()),
        ("R2_REGION", "us-east-1".to_owned()),
        ("R2_READ_ACCESS_KEY_ID", "AKIASOAKREADER000000".to_owned()),
        ("R2_READ_SECRET_ACCESS_KEY", "soak-reader-secret".to_owned()),
        ("R2_WRITE_ACCESS_KEY_ID", "AKIASOAKWRITER000000".to_owned()),
        (
            "R2_WRITE_SECRET_ACCESS_KEY",
            "soak-writer-secret".to_owned(),
        ),
    ]
}

/// The store the honest miners share: `bucket` behind `endpoint`, with
/// [`PUT_ATTEMPTS`] tries per upload.
pub(crate) fn store(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    let env = s3_env(endpoint);
    let lookup = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let config = S3Config::from_env(&lookup, Some(bucket)).expect("S3 config");
    Arc::new(
        S3Store::new(
            &config,
            S3Options {
                retry: RetryPolicy {
                    attempts: PUT_ATTEMPTS,
                    base: Duration::from_millis(100),
                    max: Duration::from_millis(200),
                },
                attempt_timeout: Duration::from_secs(20),
                read_timeout: Duration::from_secs(10),
                ..S3Options::default()
            },
        )
        .expect("S3 store"),
    )
}

/// Starts a miner with `seed`, allowing only `validator`, on a loopback
/// port. Call within the runtime.
pub(crate) async fn start(
    seed: [u8; 32],
    validator: &[u8; 32],
    chain: &Chain,
    store: &Arc<dyn ObjectStore>,
    spool: &Path,
    slow: Option<Duration>,
) -> Honest {
    let keypair = Arc::new(Keypair::from_mini_secret(&seed).expect("keypair"));
    let generator: Arc<dyn Generator> = match slow {
        Some(pause) => Arc::new(Slow(pause)),
        None => Arc::new(Builtin),
    };
    let mut allowed = HashSet::new();
    allowed.insert(*validator);
    let service = MinerService::start(ServeConfig {
        keypair,
        miner: MinerConfig {
            chain: chain.clone(),
            format: Format::Bittensor,
            limits: ImageLimits::default(),
            // Both variations at once.
            concurrency: 2,
            per_caller: 2,
            allow_emitted_rounds: false,
            min_lead: Duration::from_secs(2),
            captures: None,
        },
        axon: AxonConfig {
            allow: Allow::Hotkeys(allowed),
            ..AxonConfig::default()
        },
        store: Arc::clone(store),
        spool: spool.to_owned(),
        flush_every: FLUSH_EVERY,
        generator,
        clock: Arc::new(SystemClock),
    })
    .expect("miner service");
    let hotkey = service.hotkey().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a miner port");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(service.serve(listener, core::future::pending()));
    Honest {
        hotkey,
        port,
        spool: spool.to_owned(),
        slow,
    }
}
