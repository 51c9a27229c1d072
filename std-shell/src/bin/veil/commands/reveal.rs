//! `veil reveal`: open and check every accepted submission of a results
//! file once its round is out.

use std::path::PathBuf;

use alloc::sync::Arc;
use anyhow::Result;
use veil::args;
use veil::clock::SystemClock;
use veil::drand::{self, BeaconSource, FixedBeacon};
use veil::phase4::images::ImageLimits;
use veil::phase4::records::Results;
use veil::phase4::reveal::{self, Progress, Quiet, RevealConfig};
use veil::phase4::stores::Stores;
use veil::phase4::validator;
use veil::registry::CommitmentBook;

use super::{Ctx, jobs, runtime, stderr_is_terminal};
use crate::cli::{RegistryArgs, open_store};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The results file of a validator cycle.
    #[arg(long, value_name = "FILE")]
    results: PathBuf,
    /// Fetch the round's beacon from this drand relay (or a devnet);
    /// repeat to fail over in order. Default: the public drand relays.
    #[arg(long, value_name = "URL")]
    relay: Vec<String>,
    /// The round's beacon signature, hex, instead of fetching it (it is
    /// verified against the chain of the results).
    #[arg(
        long,
        value_name = "HEX",
        allow_hyphen_values = true,
        conflicts_with = "relay"
    )]
    signature: Option<String>,
    /// Read every miner's objects from this store instead of the one the
    /// results name (miners with a commitment are read from its bucket).
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
    /// Where the miners' buckets and read keys are read from.
    #[command(flatten)]
    registry: RegistryArgs,
    /// Where the reveal JSON, the report and the journal go (default: the
    /// results file's folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The reputation file to update (default: OUT/reputation.json); give
    /// the same to `veil validator --reputation`.
    #[arg(long, value_name = "FILE")]
    reputation: Option<PathBuf>,
    /// Objects opened at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    jobs: Option<String>,
    /// Objects downloaded at once.
    #[arg(long, value_name = "N", default_value = "16")]
    downloads: String,
    /// MiB the objects being read and opened may hold at once (sealed
    /// bytes, plaintext and decoded image); an object larger than this is
    /// read alone.
    #[arg(long, value_name = "MIB", default_value = "512")]
    memory: String,
}

/// Notes on stderr, when it is a terminal.
struct Stderr;

impl Progress for Stderr {
    fn note(&self, line: &str) {
        eprintln!("veil reveal: {line}");
    }
}

pub(crate) fn run(a: Args, ctx: &mut Ctx) -> Result<()> {
    let results = Results::load(&a.results)?;
    let out_dir = match &a.out {
        Some(dir) => dir.clone(),
        None => a
            .results
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf),
    };
    veil::fs::create_dir_all(&out_dir)?;
    let config = RevealConfig {
        reputation: a
            .reputation
            .clone()
            .unwrap_or_else(|| out_dir.join("reputation.json")),
        out_dir,
        jobs: jobs(a.jobs.as_deref())?,
        downloads: args::parse_count("--downloads", &a.downloads)?.max(1),
        limits: ImageLimits::default(),
        max_object: validator::DEFAULT_MAX_OBJECT,
        memory: u64::try_from(args::parse_count("--memory", &a.memory)?.max(64))
            .unwrap_or(u64::MAX)
            .saturating_mul(1 << 20),
        progress: stderr_is_terminal(),
    };
    let beacons: Arc<dyn BeaconSource> = match &a.signature {
        Some(sig) => Arc::new(FixedBeacon::new(
            results.chain.clone(),
            args::parse_signature_hex("--signature", sig)?,
            "--signature",
        )),
        None => drand::relays(&results.chain, &a.relay, Arc::new(SystemClock), true)?,
    };
    let fixed = a.store.as_deref().map(|s| open_store(s, ctx)).transpose()?;
    let registry = a.registry.open()?;
    let report = runtime()?.block_on(async {
        let book = match registry {
            Some(r) => {
                let book = CommitmentBook::new(r);
                book.set_hotkeys(Some(
                    results.miners.iter().map(|m| m.hotkey.clone()).collect(),
                ));
                book.refresh().await?;
                Some(book)
            }
            None => None,
        };
        let stores = Stores::new(book, fixed);
        let progress: &dyn Progress = if stderr_is_terminal() {
            &Stderr
        } else {
            &Quiet
        };
        reveal::reveal(
            &results,
            &config,
            beacons.as_ref(),
            &stores,
            &SystemClock,
            progress,
        )
        .await
    })?;
    if report.resumed > 0 {
        ctx.line(format_args!(
            "resumed: {} of {} objects were checked by an earlier run",
            report.resumed, report.objects
        ))?;
    }
    ctx.line(format_args!(
        "challenge {} (round {}): {} objects",
        report.challenge_id, report.round, report.objects
    ))?;
    for line in reveal::summary_lines(&report) {
        ctx.line(line)?;
    }
    ctx.line(format_args!("reveal     {}", report.reveal.display()))?;
    ctx.line(format_args!("report     {}", report.report.display()))?;
    ctx.line(format_args!(
        "reputation {} ({})",
        report.reputation.display(),
        if report.reputation_applied {
            "updated"
        } else {
            "this challenge was already counted"
        }
    ))
}
