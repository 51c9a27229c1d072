//! `veil validator`: run MIID Phase 4 validator cycles.

use std::path::PathBuf;

use alloc::sync::Arc;
use anyhow::Result;
use veil::axon::{AxonTarget, Transport};
use veil::chain::metagraph::ChainTargets;
use veil::chain::upkeep::Upkeep;
use veil::chain::weights::ChainSink;
use veil::clock::SystemClock;
use veil::phase4::images::{self, BaseImage, ImageLimits};
use veil::phase4::metagraph::Metagraph;
use veil::phase4::stores::MinerStores;
use veil::phase4::validator::{self, Schedule, TargetSource, Validator, ValidatorConfig};
use veil::phase4::weights::{FileSink, WeightSink};
use veil::registry::CommitmentBook;
use veil::{Error, args, store};
use veil_core::format::Format;

use super::{Ctx, runtime, say_now, shutdown_signal};
use crate::cli::{ChainArg, KeyArgs, MetricsArgs, RegistryArgs, StoreArg};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// A folder of base images (png, jpg, jpeg). Default: the samples
    /// shipped with veil.
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
    /// A miner to query, HOST:PORT:SS58; repeatable (uids 0, 1, ... in order).
    #[arg(
        long = "miner",
        value_name = "HOST:PORT:SS58",
        required_unless_present_any = ["metagraph", "netuid"]
    )]
    miners: Vec<String>,
    /// Query the serving neurons of this metagraph file instead (without
    /// it or --miner, the metagraph of --netuid on chain, read before each
    /// cycle).
    #[arg(long, value_name = "FILE", conflicts_with = "miners")]
    metagraph: Option<PathBuf>,
    /// Where the miners' objects are (used for miners without a commitment).
    #[command(flatten)]
    store: StoreArg,
    /// Where each miner's bucket is read from (its commitment).
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    chain: ChainArg,
    /// The timelock format miners are expected to use (recorded).
    #[arg(long, value_name = "FORMAT", default_value = "bittensor")]
    format: String,
    /// Where results go.
    #[arg(long, value_name = "DIR", default_value = "veil-results")]
    out: PathBuf,
    /// The reputation file of the previous reveal (weights come from it).
    #[arg(long, value_name = "FILE")]
    reputation: Option<PathBuf>,
    /// Where the weights are written (default: OUT/weights.json). With a
    /// subtensor and --netuid they are also set on chain.
    #[arg(long, value_name = "FILE")]
    weights_out: Option<PathBuf>,
    /// The version key sent with weights (default: the subnet's
    /// WeightsVersionKey).
    #[arg(long, value_name = "N")]
    version_key: Option<String>,
    /// Keep the read commitment of the R2_* environment posted on chain
    /// (checked every --chain-period; needs a subtensor and --netuid).
    #[arg(long, requires = "netuid")]
    publish_commitment: bool,
    /// Seconds between the checks of the commitment on chain.
    #[arg(long, value_name = "S", default_value = "300")]
    chain_period: String,
    /// Seconds to wait for each miner's answer.
    #[arg(long, value_name = "S", default_value = "120")]
    timeout: String,
    /// Seconds between the last possible answer and the target round.
    #[arg(long, value_name = "S", default_value = "60")]
    reveal_buffer: String,
    /// Extra attempts on timeouts, connection errors and 5xx.
    #[arg(long, value_name = "N", default_value = "2")]
    retries: String,
    /// Variations asked of each miner (1 to 16).
    #[arg(long, value_name = "K", default_value = "5")]
    variations: String,
    /// Cycles to run (0: until stopped).
    #[arg(long, value_name = "N", default_value = "1")]
    cycles: String,
    /// Seconds from the start of one cycle to the start of the next.
    #[arg(long, value_name = "S", default_value = "0")]
    period: String,
    /// Miners queried at once.
    #[arg(long, value_name = "N", default_value = "64")]
    concurrency: String,
    /// How miners are queried: `axon` (bittensor 10.x signed headers) or
    /// `btauth` (bittensor 11's http_auth, as MIID's bittensor-11 branch).
    #[arg(long, value_name = "T", default_value = "axon")]
    transport: String,
    /// Send this image as MIID's daily seed (`daily_seed_image`,
    /// `daily_seed_filename`) with every request.
    #[arg(long, value_name = "FILE")]
    daily_seed: Option<PathBuf>,
    /// Keep no copy of the accepted objects (`OUT/objects/`): the reveal
    /// then reads them from the miners' stores, where anyone with write
    /// access could have replaced them after acceptance.
    #[arg(long)]
    no_copies: bool,
}

/// `--transport`.
fn transport(text: &str) -> Result<Transport> {
    match text {
        "axon" => Ok(Transport::Axon),
        "btauth" => Ok(Transport::Btauth),
        _ => Err(Error::value("--transport", "axon or btauth").into()),
    }
}

/// `--daily-seed FILE`: an image within the limits, named by its file name.
fn daily_seed(path: &std::path::Path, limits: &ImageLimits) -> Result<BaseImage> {
    let bytes = veil::fs::read_file_capped(path, limits.max_bytes)?;
    images::decode(&bytes, limits)
        .map_err(|e| Error::Content(format!("{}: {e}", path.display())))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::value("--daily-seed", "a file name in UTF-8"))?
        .to_owned();
    veil_core::miid::check_key_part(&name, "daily seed file name")
        .map_err(|e| Error::value("--daily-seed", e))?;
    Ok(BaseImage { name, bytes })
}

/// Prints results paths as each cycle ends (not at exit: the validator
/// may run for days).
pub(crate) fn run(a: Args, ctx: &mut Ctx) -> Result<()> {
    veil::process::harden()?;
    let keypair = Arc::new(a.key.daemon_keypair("validator")?);
    let chain = a.chain.resolve()?;
    let format = Format::from_name(&a.format).map_err(|e| Error::value("--format", e))?;
    let limits = ImageLimits::default();
    let base_images = match &a.images {
        Some(dir) => images::load_dir(dir, &limits)?,
        None => images::samples(),
    };
    let rt = runtime()?;
    let netuid = a.registry.netuid()?;
    let on_chain = match (netuid, a.registry.chain.url(netuid.is_some())?) {
        (Some(n), Some(url)) => Some((
            n,
            rt.block_on(veil::chain::Subtensor::connect(
                &url,
                veil::chain::ChainOptions::default(),
            ))?,
        )),
        _ => None,
    };
    let fixed: Option<Vec<(u32, AxonTarget)>> = match &a.metagraph {
        Some(path) => Some(Metagraph::load(path)?.targets()?),
        None if !a.miners.is_empty() => Some(
            a.miners
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    AxonTarget::parse(m)
                        .map(|t| (u32::try_from(i).unwrap_or(u32::MAX), t))
                        .map_err(|e| Error::value("--miner", e).into())
                })
                .collect::<Result<_>>()?,
        ),
        None => None,
    };
    let targets: Box<dyn TargetSource> = match (fixed, &on_chain) {
        (Some(t), _) if t.is_empty() => {
            anyhow::bail!("no miner to query: the metagraph lists no serving neuron")
        }
        (Some(t), _) => Box::new(t),
        (None, Some((n, chain))) => Box::new(ChainTargets::new(chain.clone(), *n)),
        (None, None) => anyhow::bail!(
            "no miner to query: give --miner, --metagraph FILE, or a subtensor and --netuid N"
        ),
    };
    let shared = a.store.open(ctx)?;
    let shared_spec = store::record_spec(&a.store.store);
    let registry = a.registry.open()?;
    veil::fs::create_dir_all(&a.out)?;
    let weights_out = a
        .weights_out
        .clone()
        .unwrap_or_else(|| a.out.join("weights.json"));
    let config = ValidatorConfig {
        chain,
        format,
        timeout: args::parse_secs("--timeout", &a.timeout)?,
        reveal_buffer: args::parse_secs("--reveal-buffer", &a.reveal_buffer)?,
        retries: u32::try_from(args::parse_u64("--retries", &a.retries)?)
            .map_err(|_| Error::value("--retries", "too large"))?,
        variations: args::parse_count("--variations", &a.variations)?,
        out_dir: a.out.clone(),
        max_object: validator::DEFAULT_MAX_OBJECT,
        concurrency: args::parse_count("--concurrency", &a.concurrency)?,
        reputation: a.reputation.clone(),
        daily_seed: a
            .daily_seed
            .as_deref()
            .map(|p| daily_seed(p, &limits))
            .transpose()?,
        transport: transport(&a.transport)?,
        keep_objects: !a.no_copies,
    };
    let schedule = Schedule {
        cycles: args::parse_u64("--cycles", &a.cycles)?,
        period: args::parse_secs("--period", &a.period)?,
    };
    let version_key = a
        .version_key
        .as_deref()
        .map(|v| args::parse_u64("--version-key", v))
        .transpose()?;
    let sink: Arc<dyn WeightSink> = match &on_chain {
        Some((n, chain)) => Arc::new(ChainSink::new(
            chain.clone(),
            *n,
            Arc::clone(&keypair),
            version_key,
            &weights_out,
        )),
        None => Arc::new(FileSink::new(&weights_out)),
    };
    let upkeep = match (&on_chain, a.publish_commitment) {
        (Some((n, chain)), true) => {
            let env = |name: &str| std::env::var(name).ok();
            let s3 = store::s3::S3Config::from_env(&env, None)?;
            Some(Upkeep {
                chain: chain.clone(),
                netuid: *n,
                key: Arc::clone(&keypair),
                axon: None,
                commitment: Some(rt.block_on(veil::registry::check_publishable(&s3, true))?),
                allow: None,
                every: args::parse_secs("--chain-period", &a.chain_period)?,
            })
        }
        _ => None,
    };
    let validator = Validator::new(keypair, config, base_images, sink, Arc::new(SystemClock))?;
    rt.block_on(async {
        a.metrics.spawn().await?;
        if let Some(upkeep) = upkeep {
            tokio::spawn(upkeep.run());
        }
        let book = registry.map(CommitmentBook::new);
        let stores = MinerStores::new(book, shared, shared_spec);
        validator::run_cycles(
            &validator,
            targets.as_ref(),
            &stores,
            schedule,
            shutdown_signal(),
            |report| async move {
                say_now(report.results.display()).map_err(|e| Error::Content(e.to_string()))
            },
        )
        .await
    })?;
    Ok(())
}
