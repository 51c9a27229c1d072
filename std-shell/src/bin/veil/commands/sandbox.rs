//! `veil sandbox`: the whole Phase 4 flow on this machine.

use std::path::PathBuf;

use anyhow::Result;
use core::time::Duration;
use veil::axon::AxonTarget;
use veil::phase4::sandbox::{self, SandboxConfig, Say, Verdict};
use veil::{Error, args, store};

use super::{Ctx, jobs, runtime, say_now, shutdown_signal};
use crate::cli::{ChainArg, MetricsArgs, open_store};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Miners run in this process.
    #[arg(long, value_name = "N", default_value = "3")]
    miners: String,
    /// Variations asked of each miner (1 to 16).
    #[arg(long, value_name = "K", default_value = "5")]
    variations: String,
    /// Cycles to run.
    #[arg(long, value_name = "C", default_value = "1")]
    cycles: String,
    /// Where everything goes.
    #[arg(long, value_name = "DIR", default_value = "veil-sandbox")]
    out: PathBuf,
    /// Seconds from the start of one cycle to the start of the next.
    #[arg(long, value_name = "S", default_value = "0")]
    period: String,
    /// Also query this miner, HOST:PORT:SS58 (it must allow any validator
    /// and seal to the sandbox's chain); repeatable.
    #[arg(long = "remote-miner", value_name = "HOST:PORT:SS58")]
    remote_miners: Vec<String>,
    /// Use these drand relays (with --chain) instead of the devnet.
    #[arg(long, value_name = "URL")]
    relay: Vec<String>,
    #[command(flatten)]
    chain: ChainArg,
    /// Store the objects here (dir:PATH, s3://BUCKET, public:URL) instead
    /// of OUT/store.
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
    /// Seconds each miner has to answer.
    #[arg(long, value_name = "S", default_value = "5")]
    timeout: String,
    /// Objects opened at once in the reveal (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    jobs: Option<String>,
}

/// The sandbox's story, straight to stdout as it happens.
struct Stdout;

impl Say for Stdout {
    fn line(&self, text: &str) {
        let _ = say_now(text);
    }
}

pub(crate) fn run(a: Args, ctx: &mut Ctx) -> Result<()> {
    let started = std::time::Instant::now();
    let relay = if a.relay.is_empty() {
        None
    } else {
        Some((a.chain.resolve()?, a.relay.clone()))
    };
    let store = match &a.store {
        Some(spec) => Some((store::record_spec(spec), open_store(spec, ctx)?)),
        None => None,
    };
    let config = SandboxConfig {
        miners: args::parse_count("--miners", &a.miners)?,
        variations: args::parse_count("--variations", &a.variations)?,
        cycles: args::parse_u64("--cycles", &a.cycles)?.max(1),
        period: args::parse_secs("--period", &a.period)?,
        out_dir: a.out.clone(),
        remote_miners: a
            .remote_miners
            .iter()
            .map(|m| AxonTarget::parse(m).map_err(|e| Error::value("--remote-miner", e)))
            .collect::<Result<_, _>>()?,
        relay,
        store,
        timeout: args::parse_secs("--timeout", &a.timeout)?.max(Duration::from_secs(1)),
        jobs: jobs(a.jobs.as_deref())?,
    };
    if config.miners == 0 && config.remote_miners.is_empty() {
        anyhow::bail!("no miner: give --miners 1 or more, or --remote-miner");
    }
    if config.miners > 64 {
        return Err(Error::value("--miners", "at most 64").into());
    }
    let timeout = config.timeout;
    let say = Stdout;
    say.line(&format!(
        "veil sandbox: {} miners, {} variations each, {} cycle(s), in {}",
        config.miners + config.remote_miners.len(),
        config.variations,
        config.cycles,
        config.out_dir.display()
    ));
    let cycles = runtime()?.block_on(async {
        a.metrics.spawn().await?;
        tokio::select! {
            r = sandbox::run(config, &say) => r.map_err(anyhow::Error::from),
            () = shutdown_signal() => Err(anyhow::anyhow!("stopped")),
        }
    })?;
    for line in sandbox::summary_lines(&cycles) {
        say.line(&line);
    }
    let verdict = Verdict::of(&cycles);
    say.line("");
    if verdict.passed() {
        say.line(&format!(
            "done in {:.1} s: every variation of the sandbox's miners was revealed and verified ({} in all)",
            started.elapsed().as_secs_f64(),
            verdict.verified
        ));
        Ok(())
    } else if verdict.only_late {
        anyhow::bail!(
            "the sandbox's own miners fell short: their answers were cut at the deadline, \
             this machine is too slow for --timeout {} (raise it): {}",
            timeout.as_secs(),
            verdict.short.join("; ")
        )
    } else {
        anyhow::bail!(
            "the sandbox's own miners fell short (a bug): {}",
            verdict.short.join("; ")
        )
    }
}
