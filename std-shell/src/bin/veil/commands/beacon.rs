//! `veil beacon fetch|serve|verify`: drand beacons, and the devnet.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use alloc::sync::Arc;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use veil::clock::{Clock, SystemClock};
use veil::drand;
use veil::drand::devnet::{self, Devnet};
use veil::io::Output;
use veil::{Error, args};
use veil_core::Beacon;

use super::{Ctx, runtime, say_now, shutdown_signal};
use crate::cli::{ChainArg, MetricsArgs};

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Fetch a beacon from drand relays, verified; prints its JSON.
    Fetch {
        /// The round to fetch.
        #[arg(
            long,
            value_name = "R",
            allow_hyphen_values = true,
            required_unless_present = "latest",
            conflicts_with = "latest"
        )]
        round: Option<String>,
        /// The latest round the relays serve.
        #[arg(long)]
        latest: bool,
        /// A drand relay (base URL or chain URL); repeat to fail over in
        /// order. Default: the public drand relays.
        #[arg(long, value_name = "URL")]
        relay: Vec<String>,
        #[command(flatten)]
        chain: ChainArg,
    },
    /// Serve a devnet drand chain (bls-unchained-g1-rfc9380) over drand's
    /// HTTP API; prints `listening http://ADDR/{chainhash}` once bound.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds between rounds (1 or more; default 3 for a new devnet).
        #[arg(long, value_name = "S", allow_hyphen_values = true)]
        period: Option<String>,
        /// Keep the devnet in this file (created 0600 when missing), so a
        /// restart serves the same chain. Without it the key is ephemeral.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Write the chain's drand /info JSON here once bound (for --chain).
        #[arg(long, value_name = "FILE")]
        info_out: Option<PathBuf>,
        #[command(flatten)]
        metrics: MetricsArgs,
    },
    /// Verify a beacon: exit 0 when valid, 1 when invalid or malformed.
    Verify {
        /// The beacon's round.
        #[arg(long, value_name = "R", allow_hyphen_values = true)]
        round: String,
        /// The beacon's signature, hex.
        #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
        signature: String,
        /// The previous round's signature, hex (chained chains only).
        #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
        previous_signature: Option<String>,
        #[command(flatten)]
        chain: ChainArg,
    },
}

pub(crate) fn run(command: Command, ctx: &mut Ctx) -> Result<()> {
    match command {
        Command::Fetch {
            round,
            latest,
            relay,
            chain,
        } => {
            let chain = chain.resolve()?;
            let round = round
                .map(|r| args::parse_round("--round", &r))
                .transpose()?;
            let beacons = drand::relays(&chain, &relay, Arc::new(SystemClock), true)?;
            let beacon = runtime()?.block_on(async {
                match round {
                    Some(r) => beacons.beacon(r).await,
                    None if latest => beacons.latest().await,
                    None => Err(Error::value("--round", "give --round or --latest")),
                }
            })?;
            ctx.line(beacon.to_json())
        }
        Command::Serve {
            listen,
            period,
            key,
            info_out,
            metrics,
        } => serve(
            &listen,
            period.as_deref(),
            key.as_deref(),
            info_out.as_deref(),
            &metrics,
        ),
        Command::Verify {
            round,
            signature,
            previous_signature,
            chain,
        } => {
            let round = args::parse_round("--round", &round)?;
            let signature = args::parse_signature_hex("--signature", &signature)?;
            let previous = previous_signature
                .as_deref()
                .map(|p| args::parse_signature_hex("--previous-signature", p))
                .transpose()?;
            chain
                .resolve()?
                .verify_beacon(&Beacon {
                    round,
                    signature: &signature,
                    previous_signature: previous.as_deref(),
                })
                .map_err(veil_core::Error::from)
                .with_context(|| format!("round {round}"))?;
            Ok(())
        }
    }
}

/// `veil beacon serve`: prints the chain URL once bound (straight to
/// stdout: this command runs until it is stopped) and serves until SIGINT
/// or SIGTERM.
fn serve(
    listen: &str,
    period: Option<&str>,
    key: Option<&Path>,
    info_out: Option<&Path>,
    metrics: &MetricsArgs,
) -> Result<()> {
    let period = period
        .map(|p| args::parse_u64("--period", p))
        .transpose()?
        .map(|p| u32::try_from(p).map_err(|_| Error::value("--period", "too large")))
        .transpose()?;
    let now = SystemClock.now();
    let devnet = match key {
        Some(path) => Devnet::load_or_create(path, period, now)?,
        None => Devnet::generate(now, period.unwrap_or(devnet::DEFAULT_PERIOD))?,
    };
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("listening address")?;
        metrics.spawn().await?;
        if let Some(path) = info_out {
            let mut sink = Output::create(Some(path))?;
            sink.write_all(devnet.info_json().as_bytes())
                .map_err(Error::io("writing --info-out"))?;
            sink.commit()?;
        }
        let hash = veil_core::encoding::Hex(devnet.chain().hash()).to_string();
        say_now(format_args!("listening http://{addr}/{hash}"))?;
        tracing::info!(%addr, chain = %hash, "serving the devnet beacon");
        let app = devnet.router(Arc::new(SystemClock));
        veil::listener::serve(
            listener,
            app,
            veil::listener::ListenerLimits::default(),
            shutdown_signal(),
        )
        .await
        .context("serving")
    })
}
