//! `veil encrypt`: seal IN until a drand round.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use veil::clock::{Clock as _, SystemClock};
use veil::io::{Output, open_input};
use veil::{Error, args, timelock};
use veil_core::format::Format;

use crate::cli::ChainArg;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The round to seal to.
    #[arg(
        short = 'r',
        long,
        value_name = "R",
        allow_hyphen_values = true,
        required_unless_present_any = ["at", "duration"],
        conflicts_with_all = ["at", "duration"]
    )]
    round: Option<String>,
    /// Seal to the first round emitted at or after this unix time.
    #[arg(
        long,
        value_name = "UNIX_SECONDS",
        allow_hyphen_values = true,
        conflicts_with = "duration"
    )]
    at: Option<String>,
    /// Seal to the first round emitted this long from now, as drand's tle
    /// takes it: a number with s, m, h, d, M (30 days) or y (365 days),
    /// e.g. 30s, 2h, 1d.
    #[arg(short = 'D', long, value_name = "DURATION", allow_hyphen_values = true)]
    duration: Option<String>,
    /// age (drand tle, tlock-js), tle (PyPI timelock, bittensor-drand),
    /// tle-v03 (timelock crate 0.3.0) or bittensor (SCALE envelope).
    #[arg(long, value_name = "FORMAT", default_value = "age")]
    format: String,
    /// ASCII-armor the age output.
    #[arg(short = 'a', long)]
    armor: bool,
    #[command(flatten)]
    chain: ChainArg,
    /// Write here (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// The plaintext (default stdin).
    #[arg(value_name = "IN")]
    input: Option<PathBuf>,
}

pub(crate) fn run(a: Args) -> Result<()> {
    let format = Format::from_name(&a.format).map_err(|e| Error::value("--format", e))?;
    let chain = a.chain.resolve()?;
    let at = match (a.at, a.duration) {
        (Some(t), _) => Some(args::parse_u64("--at", &t)?),
        (None, Some(d)) => {
            let d = args::parse_tle_duration("--duration", &d)?;
            Some(SystemClock.now().saturating_add(d))
        }
        (None, None) => None,
    };
    let round = match (a.round, at) {
        (Some(r), _) => args::parse_round("--round", &r)?,
        (None, Some(t)) => chain
            .time()
            .reveal_round(t)
            .map_err(veil_core::Error::from)
            .with_context(|| format!("--at {t}"))?,
        (None, None) => {
            return Err(Error::value("--round", "give --round, --at or --duration").into());
        }
    };
    let mut input = open_input(a.input.as_deref())?;
    let mut sink = Output::create(a.output.as_deref())?;
    timelock::encrypt(
        &chain,
        round,
        format,
        a.armor,
        &mut input,
        &mut sink,
        &mut rand_core::OsRng,
    )?;
    sink.commit()?;
    Ok(())
}
