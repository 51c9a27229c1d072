//! `veil decrypt`: open a sealed IN with the round's beacon, given or
//! fetched.

use std::path::PathBuf;

use alloc::sync::Arc;
use anyhow::Result;
use veil::args;
use veil::clock::SystemClock;
use veil::drand::{self, BeaconSource, FixedBeacon};
use veil::io::{Output, open_ciphertext};
use veil::timelock::{self, Opening};

use super::runtime;
use crate::cli::ChainArg;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The round's beacon signature, hex (nothing is fetched).
    #[arg(
        long,
        value_name = "HEX",
        allow_hyphen_values = true,
        conflicts_with = "relay"
    )]
    signature: Option<String>,
    /// Fetch the round's beacon from this drand relay (a base URL or a
    /// chain URL ending in the chain hash); repeat to fail over in order.
    /// Default (without --signature): drand's public relays.
    #[arg(short = 'u', long, value_name = "URL")]
    relay: Vec<String>,
    /// Sleep until the round is emitted instead of failing with "too
    /// early" (not with --signature).
    #[arg(long, conflicts_with = "signature")]
    wait: bool,
    /// The round sealed to: needed to verify the beacon of a raw TLE;
    /// must match the round an age or bittensor file carries.
    #[arg(long, value_name = "R", allow_hyphen_values = true)]
    round: Option<String>,
    #[command(flatten)]
    chain: ChainArg,
    /// Write here (all or nothing) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// The ciphertext (default stdin).
    #[arg(value_name = "IN")]
    input: Option<PathBuf>,
}

pub(crate) fn run(a: Args) -> Result<()> {
    let chain = a.chain.resolve()?;
    let beacons: Arc<dyn BeaconSource> = match &a.signature {
        Some(sig) => Arc::new(FixedBeacon::new(
            chain.clone(),
            args::parse_signature_hex("--signature", sig)?,
            "--signature",
        )),
        None => drand::relays(&chain, &a.relay, Arc::new(SystemClock), true)?,
    };
    let given = a
        .round
        .map(|r| args::parse_round("--round", &r))
        .transpose()?;
    let mut input = open_ciphertext(a.input.as_deref())?;
    let opening = Opening::read(&chain, &mut input)?;
    let key = runtime()?.block_on(timelock::round_key(
        beacons.as_ref(),
        opening.round(),
        given,
        a.wait,
    ))?;
    let mut sink = Output::create(a.output.as_deref())?;
    opening.open(&key, &mut sink)?;
    sink.commit()?;
    Ok(())
}
