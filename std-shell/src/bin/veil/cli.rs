//! The command line: the top-level [`Cli`], its [`Command`]s, and the
//! argument groups several commands share (`--chain`, `--store`, the
//! hotkey, the message). Each command's own arguments are in its file
//! under `commands/`.

use std::path::PathBuf;

use alloc::sync::Arc;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use veil::drand::chains;
use veil::store::{self, ObjectStore, RetryPolicy};
use veil::{Error, keys};
use veil_core::Chain;
use veil_core::sign::Keypair;
use zeroize::Zeroizing;

use crate::commands::{
    self, Ctx, beacon, commitment, decrypt, encrypt, inspect, metagraph, miner, reveal, round,
    sandbox, signing, validator,
};

#[derive(Parser)]
#[command(
    name = "veil",
    version,
    about = "Seal data until a drand round; carry it between Bittensor miners and validators"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) logging: LoggingArgs,
    /// Read settings from this .env file (NAME=value lines) for variables
    /// not already set; without it, ./.env when present. Read only when it
    /// is yours and nobody else may write it.
    #[arg(long = "env-file", global = true, value_name = "FILE")]
    pub(crate) env_file: Option<PathBuf>,
    /// Read settings from this TOML file (keys are the long flags' names:
    /// netuid, store, allow, metrics.port, wallet.name, subtensor.network,
    /// ...) for what flags, the environment and the .env file leave unset.
    #[arg(long = "config", global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// Logs (stderr): bittensor's `--logging.*` flags, `--log-format`; without
/// a flag, `VEIL_LOG` or `RUST_LOG` (an env filter), else the command's
/// default (`info` for miner, validator and beacon serve, `warn` for
/// reveal and sandbox, nothing but the error for the rest).
#[derive(Args)]
pub(crate) struct LoggingArgs {
    /// Log veil's events at info and above.
    #[arg(long = "logging.info", global = true)]
    logging_info: bool,
    /// Log veil's events at debug and above.
    #[arg(long = "logging.debug", global = true)]
    logging_debug: bool,
    /// Log veil's events at every level.
    #[arg(long = "logging.trace", global = true)]
    logging_trace: bool,
    /// Log lines as text or json (one object per line).
    #[arg(
        long = "log-format",
        global = true,
        value_name = "FORMAT",
        env = "VEIL_LOG_FORMAT",
        default_value = "text",
        value_parser = ["text", "json"]
    )]
    log_format: String,
}

impl LoggingArgs {
    pub(crate) fn resolve(&self) -> Result<veil::ops::logs::LogArgs> {
        use tracing_subscriber::filter::LevelFilter;
        let level = if self.logging_trace {
            Some(LevelFilter::TRACE)
        } else if self.logging_debug {
            Some(LevelFilter::DEBUG)
        } else if self.logging_info {
            Some(LevelFilter::INFO)
        } else {
            None
        };
        Ok(veil::ops::logs::LogArgs {
            level,
            format: self.log_format.parse()?,
        })
    }
}

/// `--metrics.port`, `--metrics.host`: the metrics page of a long-running
/// command.
#[derive(Args, Clone)]
pub(crate) struct MetricsArgs {
    /// Serve /metrics (OpenMetrics text, for Prometheus) on this port; off
    /// unless given.
    #[arg(long = "metrics.port", value_name = "PORT", env = "VEIL_METRICS_PORT")]
    metrics_port: Option<u16>,
    /// The address the metrics port listens on (loopback by default: the
    /// page is for the operator).
    #[arg(
        long = "metrics.host",
        value_name = "IP",
        env = "VEIL_METRICS_HOST",
        default_value = "127.0.0.1"
    )]
    metrics_host: String,
}

impl MetricsArgs {
    /// Serves the page, when asked, for as long as the process runs.
    pub(crate) async fn spawn(&self) -> Result<(), Error> {
        let Some(port) = self.metrics_port else {
            return Ok(());
        };
        let ip: core::net::IpAddr = self
            .metrics_host
            .trim()
            .parse()
            .map_err(|_| Error::value("--metrics.host", "an IPv4 or IPv6 address"))?;
        let listener =
            veil::ops::endpoint::bind_metrics(core::net::SocketAddr::new(ip, port)).await?;
        tokio::spawn(veil::ops::endpoint::serve_metrics(
            listener,
            core::future::pending(),
        ));
        Ok(())
    }
}

impl Command {
    /// Which logs the command writes when nothing is asked.
    pub(crate) fn log_defaults(&self) -> veil::ops::logs::Defaults {
        use veil::ops::logs::Defaults;
        match self {
            Self::Miner(_) | Self::Validator(_) | Self::Beacon(beacon::Command::Serve { .. }) => {
                Defaults::Daemon
            }
            Self::Reveal(_) | Self::Sandbox(_) => Defaults::Batch,
            _ => Defaults::OneShot,
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// drand round math.
    #[command(subcommand)]
    Round(round::Command),
    /// drand beacons.
    #[command(subcommand)]
    Beacon(beacon::Command),
    /// Seal IN (default stdin) until a drand round.
    Encrypt(encrypt::Args),
    /// Open a sealed IN (default stdin); the format is detected.
    Decrypt(decrypt::Args),
    /// Print the SS58 address of a hotkey.
    Address(signing::AddressArgs),
    /// Sign a message with a hotkey (sr25519, context "substrate"); prints
    /// 128 lowercase hex characters.
    Sign(signing::SignArgs),
    /// Verify a signature: exit 0 when valid, 1 when invalid or malformed.
    /// A signature over <Bytes>MESSAGE</Bytes> is accepted too.
    Verify(signing::VerifyArgs),
    /// GRAIL read commitments.
    #[command(subcommand)]
    Commitment(commitment::Command),
    /// Object stores: a directory (default), S3/R2 from the R2_* environment,
    /// or a public bucket URL.
    #[command(subcommand)]
    Store(commands::store::Command),
    /// Run a MIID Phase 4 miner: serve IdentitySynapse over the bittensor
    /// axon protocol; prints `listening http://ADDR hotkey SS58` once bound.
    Miner(Box<miner::Args>),
    /// Run MIID Phase 4 validator cycles: query the miners, check every
    /// submission, write results JSON; prints each results file's path.
    Validator(Box<validator::Args>),
    /// Post-validation: once the target round of a results file is
    /// emitted, open every accepted submission and check it; writes the
    /// reveal JSON, the HTML report and the reputation file. Resumable.
    Reveal(Box<reveal::Args>),
    /// The whole Phase 4 flow on this machine, nothing to set up: a devnet
    /// beacon, a local store, N miners and a validator over loopback, then
    /// the reveal; prints a summary and where the report is.
    Sandbox(Box<sandbox::Args>),
    /// Describe a sealed IN as JSON without decrypting it.
    Inspect(inspect::Args),
    /// Print a subnet's metagraph read from subtensor, as JSON in the shape
    /// of a metagraph file (uid, hotkey, coldkey, ip, port, stake in TAO,
    /// validator_permit).
    Metagraph(metagraph::Args),
}

/// `--chain`.
#[derive(Args)]
pub(crate) struct ChainArg {
    /// A built-in chain (quicknet, quicknet-t, default/mainnet, fastnet,
    /// testnet-unchained) by name or chain hash, or the path of a drand
    /// /info JSON file.
    #[arg(
        short = 'c',
        long,
        value_name = "C",
        env = "VEIL_CHAIN",
        default_value = chains::DEFAULT_CHAIN.name()
    )]
    pub(crate) chain: String,
}

impl ChainArg {
    pub(crate) fn resolve(&self) -> Result<Chain> {
        Ok(chains::resolve(&self.chain)?)
    }
}

/// `--store`.
#[derive(Args)]
pub(crate) struct StoreArg {
    /// dir:PATH or a path (local directory), s3://BUCKET or s3/r2 (S3/R2
    /// with the R2_* environment; s3://BUCKET without an R2 key pair: plain
    /// S3 with the AWS credential chain), or public:URL (anonymous; anyone
    /// can overwrite such objects).
    #[arg(
        long,
        value_name = "STORE",
        env = "VEIL_STORE",
        default_value = "veil-store"
    )]
    pub(crate) store: String,
}

impl StoreArg {
    /// Opens the store; a public bucket adds its warning to what the
    /// command says once it succeeds.
    pub(crate) fn open(&self, ctx: &mut Ctx) -> Result<Arc<dyn ObjectStore>> {
        open_store(&self.store, ctx)
    }

    /// The miner's store: `--store`/`VEIL_STORE` when given, else MIID's
    /// public bucket when `MIID_S3_BUCKET` is set (and `MIID_USE_S3` is
    /// not false), as a stock MIID miner uploads.
    pub(crate) fn miner_spec(&self, env: &dyn Fn(&str) -> Option<String>) -> String {
        let given = self.store != "veil-store" || env("VEIL_STORE").is_some();
        let use_s3 = env("MIID_USE_S3").is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
        match env("MIID_S3_BUCKET").filter(|b| !b.trim().is_empty()) {
            Some(bucket) if !given && use_s3 => {
                let region = env("MIID_S3_REGION")
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "us-east-1".to_owned());
                format!(
                    "public:https://{}.s3.{}.amazonaws.com",
                    bucket.trim(),
                    region.trim()
                )
            }
            _ => self.store.clone(),
        }
    }
}

/// Opens the store `spec` names (a public bucket's warning goes to `ctx`).
pub(crate) fn open_store(spec: &str, ctx: &mut Ctx) -> Result<Arc<dyn ObjectStore>> {
    if spec.starts_with("public:") {
        ctx.warn(store::public::PublicStore::WARNING);
    }
    let env = |name: &str| std::env::var(name).ok();
    Ok(store::from_spec(spec, &env, RetryPolicy::default())?)
}

/// Where the hotkey comes from: --seed, --seed-file, --wallet.*, then the
/// VEIL_SEED variable, then the bittensor wallet named by BT_WALLET_NAME
/// (GRAIL: BT_WALLET_COLD) / BT_WALLET_HOTKEY (BT_WALLET_HOT) /
/// BT_WALLET_PATH (or "default").
#[derive(Args)]
pub(crate) struct KeyArgs {
    /// The secret as hex: a 32-byte mini secret or a 64-byte secret key
    /// (one-shot commands only: a command line is readable by every local
    /// user; long-running ones take --seed-file or VEIL_SEED).
    #[arg(long, value_name = "HEX", allow_hyphen_values = true, conflicts_with_all = ["seed_file", "wallet_name", "wallet_hotkey", "wallet_path"])]
    seed: Option<String>,
    /// A file holding the hex seed (must not be readable by others).
    #[arg(long, value_name = "F", conflicts_with_all = ["wallet_name", "wallet_hotkey", "wallet_path"])]
    seed_file: Option<PathBuf>,
    /// Wallet name.
    #[arg(long = "wallet.name", value_name = "N")]
    wallet_name: Option<String>,
    /// Hotkey name.
    #[arg(long = "wallet.hotkey", value_name = "H")]
    wallet_hotkey: Option<String>,
    /// Wallets directory.
    #[arg(long = "wallet.path", value_name = "P")]
    wallet_path: Option<PathBuf>,
}

impl KeyArgs {
    /// The hotkey of a one-shot command.
    pub(crate) fn keypair(mut self) -> Result<Keypair> {
        if let Some(hex) = self.seed.take().map(Zeroizing::new) {
            return Ok(keys::keypair_from_seed_hex("--seed", &hex)?);
        }
        self.file_env_or_wallet()
    }

    /// The hotkey of a long-running command (`miner`, `validator`): its
    /// command line stays readable by every local user while it runs, so
    /// `--seed` is refused.
    pub(crate) fn daemon_keypair(mut self, command: &str) -> Result<Keypair> {
        if let Some(hex) = self.seed.take() {
            drop(Zeroizing::new(hex));
            return Err(Error::value(
                "--seed",
                format!(
                    "`veil {command}` runs for long and its command line is readable by every \
                     local user: give the seed in a file (--seed-file F, mode 0600) or in \
                     the {} variable",
                    keys::SEED_ENV
                ),
            )
            .into());
        }
        self.file_env_or_wallet()
    }

    fn file_env_or_wallet(self) -> Result<Keypair> {
        if let Some(path) = &self.seed_file {
            return Ok(keys::keypair_from_seed_file(path)?);
        }
        let named = self.wallet_name.is_some()
            || self.wallet_hotkey.is_some()
            || self.wallet_path.is_some();
        if !named && let Some(keypair) = keys::keypair_from_seed_env()? {
            return Ok(keypair);
        }
        Ok(keys::keypair_from_wallet(&keys::WalletRef::resolve(
            self.wallet_name,
            self.wallet_hotkey,
            self.wallet_path,
        ))?)
    }
}

/// The message: its UTF-8 bytes exactly (a leading 0x is not decoded), or hex.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub(crate) struct MessageArgs {
    /// The message text; its UTF-8 bytes are signed exactly.
    #[arg(long, value_name = "STR", allow_hyphen_values = true)]
    message: Option<String>,
    /// The message as hex bytes.
    #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
    message_hex: Option<String>,
}

impl MessageArgs {
    pub(crate) fn bytes(self) -> Result<Vec<u8>> {
        match (self.message, self.message_hex) {
            (Some(text), _) => Ok(text.into_bytes()),
            (None, Some(hex)) => Ok(veil::args::parse_hex("--message-hex", &hex)?),
            (None, None) => {
                Err(Error::value("--message", "give --message or --message-hex").into())
            }
        }
    }
}

/// The subtensor node: `--subtensor.network finney|test|archive|local`,
/// `--subtensor.chain_endpoint ws(s)://…`, or the older `--subtensor URL`;
/// without them, `BT_SUBTENSOR_CHAIN_ENDPOINT`/`BT_CHAIN_ENDPOINT` or
/// `BT_SUBTENSOR_NETWORK`/`BT_NETWORK` when a netuid is given.
#[derive(Args, Clone, Default)]
pub(crate) struct SubtensorArgs {
    /// A named network (its public endpoint), or a ws(s):// URL.
    #[arg(long = "subtensor.network", value_name = "NAME")]
    pub(crate) network: Option<String>,
    /// The node's WebSocket JSON-RPC URL.
    #[arg(long = "subtensor.chain_endpoint", value_name = "URL")]
    pub(crate) chain_endpoint: Option<String>,
    /// The node's URL (the older spelling of --subtensor.chain_endpoint).
    #[arg(long, value_name = "URL")]
    pub(crate) subtensor: Option<String>,
}

impl SubtensorArgs {
    /// The node's URL: the flags, else (only when `netuid_given`, so a
    /// command that reads no subnet never turns to the chain because of the
    /// environment) the environment.
    pub(crate) fn url(&self, netuid_given: bool) -> Result<Option<String>> {
        let args = veil::chain::EndpointArgs {
            network: self.network.clone(),
            chain_endpoint: self.chain_endpoint.clone(),
            subtensor: self.subtensor.clone(),
        };
        if !args.given() && !netuid_given {
            return Ok(None);
        }
        Ok(veil::chain::resolve(&args, &|k| std::env::var(k).ok())?)
    }

    /// Connects to the node, which must be named.
    pub(crate) async fn connect(&self) -> Result<veil::chain::Subtensor> {
        let Some(url) = self.url(true)? else {
            anyhow::bail!(
                "no subtensor node: give --subtensor.network NAME or --subtensor.chain_endpoint URL (or set BT_SUBTENSOR_NETWORK)"
            );
        };
        Ok(veil::chain::Subtensor::connect(&url, veil::chain::ChainOptions::default()).await?)
    }
}

/// `--registry FILE | --subtensor… --netuid N`, where a command reads
/// commitments.
#[derive(Args)]
pub(crate) struct RegistryArgs {
    /// Read commitments (the miners' buckets and read keys) from this
    /// registry file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["subtensor", "network", "chain_endpoint"])]
    pub(crate) registry: Option<PathBuf>,
    /// ... or from subtensor's Commitments.
    #[command(flatten)]
    pub(crate) chain: SubtensorArgs,
    /// The subnet (with a subtensor).
    #[arg(long, value_name = "N", env = "NETUID")]
    pub(crate) netuid: Option<String>,
}

impl RegistryArgs {
    pub(crate) fn netuid(&self) -> Result<Option<u16>> {
        Ok(self
            .netuid
            .as_deref()
            .map(|n| veil::args::parse_netuid("--netuid", n))
            .transpose()?)
    }

    pub(crate) fn open(&self) -> Result<Option<Arc<dyn veil::registry::CommitmentRegistry>>> {
        let netuid = self.netuid()?;
        let url = if self.registry.is_some() {
            None
        } else {
            self.chain.url(netuid.is_some())?
        };
        Ok(veil::registry::from_args(
            self.registry.as_deref(),
            url.as_deref(),
            netuid,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(given: &str) -> StoreArg {
        StoreArg {
            store: given.to_owned(),
        }
    }

    #[test]
    fn a_miner_without_store_uses_miids_bucket() {
        let miid = |k: &str| match k {
            "MIID_S3_BUCKET" => Some("miid-images".to_owned()),
            "MIID_S3_REGION" => Some("eu-west-2".to_owned()),
            _ => None,
        };
        assert_eq!(
            store("veil-store").miner_spec(&miid),
            "public:https://miid-images.s3.eu-west-2.amazonaws.com"
        );
        // The flag wins, and MIID_USE_S3=false turns the bucket off.
        assert_eq!(store("dir:/srv/x").miner_spec(&miid), "dir:/srv/x");
        let off = |k: &str| match k {
            "MIID_USE_S3" => Some("False".to_owned()),
            _ => miid(k),
        };
        assert_eq!(store("veil-store").miner_spec(&off), "veil-store");
        assert_eq!(store("veil-store").miner_spec(&|_| None), "veil-store");
    }
}
