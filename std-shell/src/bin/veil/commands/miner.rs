//! `veil miner`: serve a MIID Phase 4 miner until stopped.

use std::collections::HashSet;
use std::path::PathBuf;

use alloc::sync::Arc;
use anyhow::{Context as _, Result};
use core::time::Duration;
use veil::axon::{Allow, AxonConfig};
use veil::clock::SystemClock;
use veil::phase4::generator::{Builtin, External, Generator};
use veil::phase4::images::ImageLimits;
use veil::phase4::metagraph::Metagraph;
use veil::phase4::miner::{CaptureQueue, MinerConfig, MinerService, ServeConfig};
use veil::{Error, args};
use veil_core::format::Format;

use super::{Ctx, runtime, say_now, shutdown_signal};
use crate::cli::{ChainArg, KeyArgs, MetricsArgs, StoreArg, SubtensorArgs, open_store};
use veil::chain::upkeep::Upkeep;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8091")]
    listen: String,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Where objects wait when the store keeps failing (uploaded later,
    /// never reported until stored): in a private folder, veil-spool, made
    /// inside DIR (DIR itself is left as it is).
    #[arg(long, value_name = "DIR", default_value = ".")]
    spool: PathBuf,
    #[command(flatten)]
    chain: ChainArg,
    /// Timelock format of the sealed images (MIID's graders read bittensor).
    #[arg(long, value_name = "FORMAT", default_value = "bittensor")]
    format: String,
    /// A validator hotkey allowed to query; repeatable (the variable:
    /// comma-separated).
    #[arg(
        long = "allow",
        value_name = "SS58",
        allow_hyphen_values = true,
        env = "VEIL_ALLOW",
        value_delimiter = ','
    )]
    allow: Vec<String>,
    /// Allow the hotkeys of this metagraph file with at least --min-stake.
    #[arg(long, value_name = "FILE")]
    metagraph: Option<PathBuf>,
    /// Stake (TAO) a metagraph hotkey needs to be allowed (the metagraph
    /// file's, or the chain's with --netuid: alpha plus root TAO weighted
    /// by TaoWeight).
    #[arg(long, value_name = "TAO", default_value = "1000")]
    min_stake: String,
    /// Allow any caller with a valid signature (testing only).
    #[arg(long, conflicts_with_all = ["allow", "metagraph"])]
    allow_any: bool,
    /// The subnet on chain: with a subtensor, the metagraph says who may
    /// call (unless --metagraph or --allow-any), the axon is announced
    /// (--axon.external_ip) and the read commitment kept
    /// (--publish-commitment).
    #[arg(long, value_name = "N", env = "NETUID")]
    netuid: Option<String>,
    #[command(flatten)]
    subtensor: SubtensorArgs,
    /// The IP to announce as this miner's axon (serve_axon).
    #[arg(long = "axon.external_ip", value_name = "IP", requires = "netuid")]
    external_ip: Option<String>,
    /// The port to announce (default: the port listened on).
    #[arg(
        long = "axon.external_port",
        value_name = "PORT",
        requires = "external_ip"
    )]
    external_port: Option<String>,
    /// Keep the read commitment of the R2_* environment posted on chain.
    #[arg(long, requires = "netuid")]
    publish_commitment: bool,
    /// Seconds between the checks of the axon, the commitment and the
    /// metagraph on chain.
    #[arg(long, value_name = "S", default_value = "300")]
    chain_period: String,
    /// An external generator (JSON on stdin, PNGs out; see the docs)
    /// instead of the built-in transforms.
    #[arg(long, value_name = "CMD")]
    generator_cmd: Option<String>,
    /// Seconds the external generator may take per variation.
    #[arg(long, value_name = "S", default_value = "600")]
    generator_timeout: String,
    /// A variable of veil's environment to pass to the external generator
    /// (repeatable), beside PATH, HOME, the locale and the GPU variables;
    /// veil's own secrets are never passed.
    #[arg(long, value_name = "NAME")]
    generator_env: Vec<String>,
    /// Largest request body accepted, bytes.
    #[arg(long, value_name = "N", default_value = "33554432")]
    max_body: String,
    /// Variations worked on at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    concurrency: Option<String>,
    /// Of those, the most one caller's requests hold at once (default:
    /// half, rounded up), so no caller can keep the others waiting.
    #[arg(long, value_name = "N")]
    per_caller: Option<String>,
    /// Seal to rounds already emitted instead of refusing the request
    /// (testing with public beacons only: anyone can open such images).
    #[arg(long)]
    allow_emitted_rounds: bool,
    /// Refuse a request whose target round is emitted sooner than this
    /// many seconds after it arrives (its images could be opened before the
    /// answers are in).
    #[arg(long, value_name = "S", default_value = "60")]
    min_lead: String,
    /// A folder of real screen-replay captures to attach, one per answer
    /// (`<id>/angle1.jpg`, `angle2.jpg`, `uav.json`; docs/cli.md).
    #[arg(long, value_name = "DIR")]
    captures: Option<PathBuf>,
    /// Remove the EXIF data (GPS coordinates included) from capture photos
    /// before they are hashed and sealed (they become public after the
    /// reveal). Without it a photo with GPS data is only reported.
    #[arg(long, requires = "captures")]
    strip_gps: bool,
}

/// `--min-stake`.
fn parse_stake(text: &str) -> Result<f64> {
    Ok(text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| Error::value("--min-stake", "a number of TAO"))?)
}

/// Who may call: `--allow-any`, or the `--allow` hotkeys and the
/// metagraph's hotkeys with at least `--min-stake`.
fn allow(
    allow_any: bool,
    allow: &[String],
    metagraph: Option<&std::path::Path>,
    min_stake: &str,
) -> Result<Allow> {
    if allow_any {
        return Ok(Allow::Any);
    }
    let mut set = HashSet::new();
    for h in allow {
        set.insert(args::parse_hotkey("--allow", h)?.to_bytes());
    }
    if let Some(path) = metagraph {
        let min = parse_stake(min_stake)?;
        for h in Metagraph::load(path)?.staked(min) {
            set.insert(args::parse_hotkey("--metagraph hotkey", h)?.to_bytes());
        }
    }
    if set.is_empty() {
        anyhow::bail!(
            "no validator may query this miner: give --allow SS58, --metagraph FILE, or --allow-any"
        );
    }
    Ok(Allow::Hotkeys(set))
}

pub(crate) fn run(a: Args, ctx: &mut Ctx) -> Result<()> {
    // Nothing of this process (its seed, the bucket's keys) may be read by
    // another process of its user: the generator runs as that user.
    veil::process::harden()?;
    let keypair = Arc::new(a.key.daemon_keypair("miner")?);
    let chain = a.chain.resolve()?;
    let format = Format::from_name(&a.format).map_err(|e| Error::value("--format", e))?;
    let netuid = a
        .netuid
        .as_deref()
        .map(|n| args::parse_netuid("--netuid", n))
        .transpose()?;
    let rt = runtime()?;
    let subtensor = match netuid {
        Some(_) => match a.subtensor.url(true)? {
            Some(url) => Some(rt.block_on(veil::chain::Subtensor::connect(
                &url,
                veil::chain::ChainOptions::default(),
            ))?),
            None => anyhow::bail!(
                "--netuid needs a subtensor: give --subtensor.network NAME or --subtensor.chain_endpoint URL"
            ),
        },
        None => None,
    };
    let chain_allow = subtensor.is_some() && !a.allow_any && a.metagraph.is_none();
    // The --allow hotkeys, always allowed beside the metagraph's.
    let always: HashSet<[u8; 32]> = a
        .allow
        .iter()
        .map(|h| args::parse_hotkey("--allow", h).map(|k| k.to_bytes()))
        .collect::<Result<_, _>>()?;
    let allow = if chain_allow {
        Allow::Shared(Arc::new(std::sync::RwLock::new(always.clone())))
    } else {
        allow(a.allow_any, &a.allow, a.metagraph.as_deref(), &a.min_stake)?
    };
    let shared_allow = match &allow {
        Allow::Shared(set) => Some(Arc::clone(set)),
        _ => None,
    };
    let commitment = if a.publish_commitment {
        let env = |name: &str| std::env::var(name).ok();
        let config = veil::store::s3::S3Config::from_env(&env, None)?;
        Some(rt.block_on(veil::registry::check_publishable(&config, true))?)
    } else {
        None
    };
    let limits = ImageLimits::default();
    let generator: Arc<dyn Generator> = match &a.generator_cmd {
        Some(cmd) => Arc::new(
            External::new(
                cmd.clone(),
                args::parse_secs("--generator-timeout", &a.generator_timeout)?,
                limits,
            )
            .with_env(a.generator_env.clone())?,
        ),
        None => Arc::new(Builtin),
    };
    let concurrency = match &a.concurrency {
        Some(n) => args::parse_count("--concurrency", n)?.max(1),
        None => std::thread::available_parallelism().map_or(2, usize::from),
    };
    let axon = AxonConfig {
        allow,
        max_body: args::parse_count("--max-body", &a.max_body)?,
        ..AxonConfig::default()
    };
    let store = open_store(&a.store.miner_spec(&|k| std::env::var(k).ok()), ctx)?;
    let captures = a
        .captures
        .as_deref()
        .map(|dir| CaptureQueue::open(dir, a.strip_gps).map(Arc::new))
        .transpose()?;
    let external_ip = a
        .external_ip
        .as_deref()
        .map(|ip| {
            ip.trim()
                .parse::<core::net::IpAddr>()
                .map_err(|_| Error::value("--axon.external_ip", "an IPv4 or IPv6 address"))
        })
        .transpose()?;
    let external_port = a
        .external_port
        .as_deref()
        .map(|p| args::parse_port("--axon.external_port", p))
        .transpose()?;
    let chain_period = args::parse_secs("--chain-period", &a.chain_period)?;
    let min_stake = parse_stake(&a.min_stake)?;
    let upkeep_key = Arc::clone(&keypair);
    rt.block_on(async move {
        let service = MinerService::start(ServeConfig {
            keypair,
            miner: MinerConfig {
                chain,
                format,
                limits,
                concurrency,
                per_caller: a
                    .per_caller
                    .as_deref()
                    .map(|n| args::parse_count("--per-caller", n))
                    .transpose()?
                    .map_or(concurrency.div_ceil(2), |n| n.clamp(1, concurrency)),
                allow_emitted_rounds: a.allow_emitted_rounds,
                min_lead: args::parse_secs("--min-lead", &a.min_lead)?,
                captures,
            },
            axon,
            store,
            spool: a.spool,
            flush_every: Duration::from_secs(30),
            generator,
            clock: Arc::new(SystemClock),
        })?;
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        a.metrics.spawn().await?;
        let addr = listener.local_addr().context("listening address")?;
        if let (Some(chain), Some(netuid)) = (subtensor, netuid) {
            let upkeep = Upkeep {
                chain,
                netuid,
                key: upkeep_key,
                axon: external_ip.map(|ip| (ip, external_port.unwrap_or(addr.port()))),
                commitment,
                allow: shared_allow.map(|set| (set, min_stake, always)),
                every: chain_period,
            };
            // The first pass before serving: the allow-list is filled and the
            // axon announced before any validator can find it.
            let mut said = false;
            for line in upkeep.once(&mut said).await {
                tracing::info!(%line, "chain");
            }
            tokio::spawn(upkeep.run());
        }
        say_now(format_args!(
            "listening http://{addr} hotkey {}",
            service.hotkey()
        ))?;
        service.serve(listener, shutdown_signal()).await?;
        Ok(())
    })
}
