//! `veil round at|time`: drand round math.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use veil::args;

use super::Ctx;
use crate::cli::ChainArg;

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print the first round emitted at or after UNIX_SECONDS (seal to it and
    /// the data never opens before that time).
    At {
        /// Unix time, seconds.
        #[arg(value_name = "UNIX_SECONDS", allow_hyphen_values = true)]
        unix_seconds: String,
        #[command(flatten)]
        chain: ChainArg,
    },
    /// Print the emission time (unix seconds) of ROUND.
    Time {
        /// Round number (1 or more).
        #[arg(value_name = "ROUND", allow_hyphen_values = true)]
        round: String,
        #[command(flatten)]
        chain: ChainArg,
    },
}

pub(crate) fn run(command: Command, ctx: &mut Ctx) -> Result<()> {
    match command {
        Command::At {
            unix_seconds,
            chain,
        } => {
            let t = args::parse_u64("UNIX_SECONDS", &unix_seconds)?;
            let round = chain
                .resolve()?
                .time()
                .reveal_round(t)
                .map_err(veil_core::Error::from)
                .with_context(|| format!("no round is emitted at or after {t}"))?;
            ctx.line(round)
        }
        Command::Time { round, chain } => {
            let round = args::parse_round("ROUND", &round)?;
            let t = chain
                .resolve()?
                .time()
                .time_of(round)
                .map_err(veil_core::Error::from)
                .with_context(|| format!("emission time of round {round}"))?;
            ctx.line(t)
        }
    }
}
