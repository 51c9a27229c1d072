//! `veil encrypt`: seal IN until a drand round.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use veil::io::{Output, open_input};
use veil::{Error, args, timelock};
use veil_core::format::Format;

use crate::cli::ChainArg;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The round to seal to.
    #[arg(
        long,
        value_name = "R",
        allow_hyphen_values = true,
        required_unless_present = "at",
        conflicts_with = "at"
    )]
    round: Option<String>,
    /// Seal to the first round emitted at or after this unix time.
    #[arg(long, value_name = "UNIX_SECONDS", allow_hyphen_values = true)]
    at: Option<String>,
    /// age (drand tle, tlock-js), tle (PyPI timelock, bittensor-drand),
    /// tle-v03 (timelock crate 0.3.0) or bittensor (SCALE envelope).
    #[arg(long, value_name = "FORMAT", default_value = "age")]
    format: String,
    /// ASCII-armor the age output.
    #[arg(long)]
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
    let round = match (a.round, a.at) {
        (Some(r), _) => args::parse_round("--round", &r)?,
        (None, Some(t)) => {
            let t = args::parse_u64("--at", &t)?;
            chain
                .time()
                .reveal_round(t)
                .map_err(veil_core::Error::from)
                .with_context(|| format!("--at {t}"))?
        }
        (None, None) => return Err(Error::value("--round", "give --round or --at").into()),
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
