//! `veil sandbox`: the whole MIID Phase 4 flow on one machine, with
//! nothing to set up.
//!
//! 1. A drand beacon: a devnet on loopback (period 1 s; its key is kept in
//!    `{out}/devnet-key.json`, 0600, so `veil beacon serve --key` can serve
//!    the same chain later), or real relays (`--relay`).
//! 2. An object store: a folder (`{out}/store`), or `--store`.
//! 3. N `veil` miners in this process, each with its own random hotkey,
//!    the built-in generator and an upload spool, serving the axon
//!    protocol on loopback ports; plus any `--remote-miner`.
//! 4. A validator (random hotkey) running C cycles over loopback, then,
//!    for each cycle, the reveal: wait for the round, open everything,
//!    check it, write the reveal file, the HTML report and the reputation
//!    the next cycle weighs miners by.
//!
//! Timings are short so that a cycle takes seconds: each miner gets
//! `timeout` (5 s) to answer, no retry, and the target round is the first
//! one emitted a second after that.

use alloc::sync::Arc;
use core::time::Duration;
use std::collections::HashSet;
use std::path::PathBuf;

use veil_core::Chain;
use veil_core::format::Format;

use super::generator::Builtin;
use super::images::{self, ImageLimits};
use super::miner::{MinerConfig, MinerService, ServeConfig};
use super::reveal::{self, Progress, RevealConfig, RevealReport};
use super::stores::{MinerStores, Stores};
use super::validator::{self, Schedule, Validator, ValidatorConfig};
use super::weights::FileSink;
use crate::Error;
use crate::axon::{Allow, AxonConfig, AxonTarget};
use crate::clock::{Clock, SystemClock};
use crate::drand::devnet::Devnet;
use crate::keys::random_keypair;
use crate::store::{ObjectStore, local::LocalStore};

/// The devnet's period in the sandbox, seconds.
pub const DEVNET_PERIOD: u32 = 1;

/// The miners' `min_lead` in the sandbox: its target rounds come a few
/// seconds after its requests.
pub const SANDBOX_MIN_LEAD: Duration = Duration::from_secs(2);

/// How the sandbox runs.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Miners run in this process.
    pub miners: usize,
    /// Variations asked of each miner.
    pub variations: usize,
    /// Cycles to run.
    pub cycles: u64,
    /// Seconds from the start of one cycle to the start of the next.
    pub period: Duration,
    /// Where everything goes.
    pub out_dir: PathBuf,
    /// Other miners to query (they must allow any validator, and seal to
    /// the sandbox's chain).
    pub remote_miners: Vec<AxonTarget>,
    /// Real drand relays and their chain, instead of the devnet.
    pub relay: Option<(Chain, Vec<String>)>,
    /// A store spec (and the store) instead of `{out}/store`.
    pub store: Option<(String, Arc<dyn ObjectStore>)>,
    /// Time each miner has to answer.
    pub timeout: Duration,
    /// Objects opened at once in the reveal.
    pub jobs: usize,
}

/// What a cycle came to.
#[derive(Clone, Debug)]
pub struct CycleSummary {
    /// The results file.
    pub results: PathBuf,
    /// The reveal.
    pub reveal: RevealReport,
    /// Uids of the miners run in this process.
    pub local_uids: Vec<u32>,
}

/// Where the sandbox's lines go.
pub trait Say: Send + Sync {
    /// One line of the story.
    fn line(&self, text: &str);
}

struct Notes<'a>(&'a dyn Say);

impl Progress for Notes<'_> {
    fn note(&self, line: &str) {
        self.0.line(&format!("  {line}"));
    }
}

async fn bind(what: &str) -> Result<(tokio::net::TcpListener, u16), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::Content(format!("cannot listen on loopback for the {what}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::Content(format!("{what}: {e}")))?
        .port();
    Ok((listener, port))
}

/// Runs the sandbox, telling its story through `say`.
///
/// # Errors
///
/// Anything that stops the flow itself (ports, files, the beacon); a miner
/// failing is part of the story, not an error.
pub async fn run(config: SandboxConfig, say: &dyn Say) -> Result<Vec<CycleSummary>, Error> {
    crate::fs::create_dir_all(&config.out_dir)?;
    let out = std::fs::canonicalize(&config.out_dir).map_err(|source| Error::Read {
        path: config.out_dir.clone(),
        source,
    })?;
    let results_dir = out.join("results");
    crate::fs::create_dir_all(&results_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    // 1. The beacon.
    let (chain, relay_urls) = match &config.relay {
        Some((chain, urls)) => {
            say.line(&format!(
                "beacon    drand relays {} (chain {})",
                urls.join(", "),
                hex::encode(chain.hash())
            ));
            (chain.clone(), urls.clone())
        }
        None => {
            let devnet = Devnet::load_or_create(
                &out.join("devnet-key.json"),
                Some(DEVNET_PERIOD),
                clock.now(),
            )?;
            let chain = devnet.chain().clone();
            let (listener, port) = bind("devnet beacon").await?;
            let app = devnet.router(Arc::clone(&clock));
            tokio::spawn(crate::listener::serve(
                listener,
                app,
                crate::listener::ListenerLimits::default(),
                core::future::pending(),
            ));
            let url = format!("http://127.0.0.1:{port}");
            say.line(&format!(
                "beacon    devnet on {url}/{} (a round every {DEVNET_PERIOD} s)",
                hex::encode(chain.hash())
            ));
            (chain, vec![url])
        }
    };
    let beacons = crate::drand::relays(&chain, &relay_urls, Arc::clone(&clock), false)?;

    // 2. The store.
    let (store_spec, store): (String, Arc<dyn ObjectStore>) = match &config.store {
        Some((spec, store)) => (spec.clone(), Arc::clone(store)),
        None => {
            let dir = out.join("store");
            (
                format!("dir:{}", dir.display()),
                Arc::new(LocalStore::open(&dir)?),
            )
        }
    };
    say.line(&format!("store     {}", store.describe()));

    // 3. The miners.
    let validator_key = Arc::new(random_keypair()?);
    let mut targets = Vec::new();
    let mut local_uids = Vec::new();
    let cores = reveal::default_jobs();
    for i in 0..config.miners {
        let spool = out.join("spool").join(format!("miner-{i}"));
        crate::fs::create_dir_all(&spool)?;
        let mut allowed = HashSet::new();
        allowed.insert(validator_key.public().to_bytes());
        let service = MinerService::start(ServeConfig {
            keypair: Arc::new(random_keypair()?),
            miner: MinerConfig {
                chain: chain.clone(),
                format: Format::Bittensor,
                limits: ImageLimits::default(),
                concurrency: cores,
                // One validator: it may use every slot.
                per_caller: cores,
                allow_emitted_rounds: false,
                // The sandbox's rounds come seconds after its requests.
                min_lead: SANDBOX_MIN_LEAD,
                captures: None,
            },
            axon: AxonConfig {
                allow: Allow::Hotkeys(allowed),
                ..AxonConfig::default()
            },
            store: Arc::clone(&store),
            spool,
            flush_every: Duration::from_secs(5),
            generator: Arc::new(Builtin),
            clock: Arc::clone(&clock),
        })?;
        let hotkey = service.hotkey().to_owned();
        let (listener, port) = bind("miner").await?;
        tokio::spawn(service.serve(listener, core::future::pending()));
        let uid = u32::try_from(i).unwrap_or(u32::MAX);
        local_uids.push(uid);
        targets.push((
            uid,
            AxonTarget::new("127.0.0.1", port, &hotkey).map_err(Error::Content)?,
        ));
        say.line(&format!(
            "miner {uid:<3} {hotkey} on 127.0.0.1:{port} (built-in generator)"
        ));
    }
    for (j, t) in config.remote_miners.iter().enumerate() {
        let uid = u32::try_from(config.miners + j).unwrap_or(u32::MAX);
        say.line(&format!(
            "miner {uid:<3} {} on {}:{} (remote)",
            t.hotkey, t.host, t.port
        ));
        targets.push((uid, t.clone()));
    }

    // 4. The validator, then each cycle's reveal.
    let reputation = out.join("reputation.json");
    let validator = Validator::new(
        Arc::clone(&validator_key),
        ValidatorConfig {
            chain: chain.clone(),
            format: Format::Bittensor,
            timeout: config.timeout,
            reveal_buffer: Duration::from_secs(1),
            retries: 0,
            variations: config.variations,
            out_dir: results_dir.clone(),
            max_object: validator::DEFAULT_MAX_OBJECT,
            concurrency: 64,
            reputation: Some(reputation.clone()),
            daily_seed: None,
            transport: crate::axon::Transport::Axon,
            keep_objects: true,
        },
        images::samples(),
        Arc::new(FileSink::new(&out.join("weights.json"))),
        Arc::clone(&clock),
    )?;
    say.line(&format!("validator {}", validator.hotkey()));
    let miner_stores = MinerStores::new(None, Arc::clone(&store), store_spec);
    let stores = Stores::new(None, Some(Arc::clone(&store)));
    let cycles = config.cycles.max(1);
    let summaries = std::sync::Mutex::new(Vec::new());
    let reveal_config = RevealConfig {
        out_dir: results_dir.clone(),
        reputation,
        jobs: config.jobs.max(1),
        downloads: 16,
        limits: ImageLimits::default(),
        max_object: validator::DEFAULT_MAX_OBJECT,
        memory: crate::limits::REVEAL_MEMORY,
        progress: true,
    };
    let announce = |cycle: u64| {
        say.line("");
        say.line(&format!(
            "cycle {cycle}/{cycles}: querying {} miners for {} variations each",
            targets.len(),
            config.variations
        ));
    };
    announce(1);
    validator::run_cycles(
        &validator,
        &targets,
        &miner_stores,
        Schedule {
            cycles,
            period: config.period,
        },
        core::future::pending(),
        |report| {
            let accepted: usize = report.accepted.values().sum();
            say.line(&format!(
                "  challenge {} sealed to round {}: {accepted} submissions accepted",
                report.challenge_id, report.target_round
            ));
            let (summaries, reveal_config, beacons, stores, local_uids) =
                (&summaries, &reveal_config, &beacons, &stores, &local_uids);
            async move {
                let results = super::records::Results::load(&report.results)?;
                let revealed = reveal::reveal(
                    &results,
                    reveal_config,
                    beacons.as_ref(),
                    stores,
                    &SystemClock,
                    &Notes(say),
                )
                .await?;
                let mut done = summaries
                    .lock()
                    .map_err(|_| Error::Content("the sandbox's summaries are poisoned".into()))?;
                done.push(CycleSummary {
                    results: report.results,
                    reveal: revealed,
                    local_uids: local_uids.clone(),
                });
                let next = u64::try_from(done.len()).unwrap_or(u64::MAX) + 1;
                if next <= cycles {
                    announce(next);
                }
                Ok(())
            }
        },
    )
    .await?;
    summaries
        .into_inner()
        .map_err(|_| Error::Content("the sandbox's summaries are poisoned".into()))
}

/// How a sandbox run went for its own miners: every variation they were
/// asked for must be revealed and verified (anything less is a bug).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Images verified, over every cycle and miner.
    pub verified: usize,
    /// One line per own miner that fell short.
    pub short: Vec<String>,
    /// Whether every shortfall is of answers cut at the caller's deadline
    /// (fewer reported than requested, nothing reported refused or failed):
    /// the machine was too slow for `--timeout`, not a fault of veil's.
    pub only_late: bool,
}

impl Verdict {
    /// Judges `cycles`.
    pub fn of(cycles: &[CycleSummary]) -> Self {
        let mut short = Vec::new();
        let mut only_late = true;
        for c in cycles {
            for m in c
                .reveal
                .miners
                .iter()
                .filter(|m| c.local_uids.contains(&m.uid))
            {
                if m.verified < m.requested {
                    let late = m.reported < m.requested && m.verified == m.reported;
                    only_late &= late;
                    short.push(format!(
                        "uid {} verified {} of {} (reported {}, accepted {})",
                        m.uid, m.verified, m.requested, m.reported, m.accepted
                    ));
                }
            }
        }
        Self {
            verified: cycles
                .iter()
                .flat_map(|c| c.reveal.miners.iter())
                .map(|m| m.verified)
                .sum(),
            short,
            only_late,
        }
    }

    /// Whether every own miner delivered in full.
    pub fn passed(&self) -> bool {
        self.short.is_empty()
    }
}

/// The summary of each cycle, as lines.
pub fn summary_lines(cycles: &[CycleSummary]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, c) in cycles.iter().enumerate() {
        lines.push(String::new());
        lines.push(format!(
            "cycle {} summary: challenge {}, round {}",
            i + 1,
            c.reveal.challenge_id,
            c.reveal.round
        ));
        lines.extend(reveal::summary_lines(&c.reveal));
        lines.push(format!("  results    {}", c.results.display()));
        lines.push(format!("  reveal     {}", c.reveal.reveal.display()));
        lines.push(format!("  report     {}", c.reveal.report.display()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase4::records::MinerOutcome;

    fn miner(uid: u32, requested: usize, verified: usize) -> MinerOutcome {
        MinerOutcome {
            uid,
            hotkey: format!("m{uid}"),
            status_code: Some(200),
            error: None,
            requested,
            reported: verified,
            accepted: verified,
            revealed: verified,
            verified,
            failed: 0,
            unavailable: 0,
            images: Vec::new(),
        }
    }

    fn cycle(miners: Vec<MinerOutcome>, local: &[u32]) -> CycleSummary {
        CycleSummary {
            results: PathBuf::from("results.json"),
            reveal: RevealReport {
                reveal: PathBuf::from("reveal.json"),
                report: PathBuf::from("report.html"),
                reputation: PathBuf::from("reputation.json"),
                reputation_applied: true,
                challenge_id: "c".into(),
                round: 9,
                objects: 0,
                resumed: 0,
                miners,
            },
            local_uids: local.to_vec(),
        }
    }

    #[test]
    fn only_the_sandboxs_own_miners_must_deliver_in_full() {
        // uid 2 is a remote miner: its shortfall is its own business.
        let ok = [cycle(
            vec![miner(0, 5, 5), miner(1, 5, 5), miner(2, 5, 1)],
            &[0, 1],
        )];
        let v = Verdict::of(&ok);
        assert!(v.passed(), "{v:?}");
        assert_eq!(v.verified, 11);
        let short = [
            cycle(vec![miner(0, 5, 5)], &[0]),
            cycle(vec![miner(0, 5, 4)], &[0]),
        ];
        let v = Verdict::of(&short);
        assert!(!v.passed());
        assert_eq!(v.short, ["uid 0 verified 4 of 5 (reported 4, accepted 4)"]);
        assert!(
            v.only_late,
            "answered 4 of 5, all verified: cut at the deadline"
        );
        let mut refused = miner(0, 5, 4);
        refused.reported = 5;
        let v = Verdict::of(&[cycle(vec![refused], &[0])]);
        assert_eq!(v.short, ["uid 0 verified 4 of 5 (reported 5, accepted 4)"]);
        assert!(!v.only_late, "one reported image was not verified");
        assert_eq!(
            summary_lines(&short)
                .iter()
                .filter(|l| l.starts_with("cycle "))
                .count(),
            2
        );
    }
}
