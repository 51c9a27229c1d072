//! A bounded soak of one MIID Phase 4 cycle: 256 miners, a faulty store, a
//! flapping drand relay, the real `veil validator` and `veil reveal`.
//!
//! On loopback only:
//!
//! - **beacon**: a devnet (`veil beacon serve`, a round a second) and, in
//!   front of it, a relay that flaps ([`veil_tests::faults::Flapping`]:
//!   seeded runs of refused requests — reset, 502, or a stall — between
//!   runs of forwarded ones). The reveal gets both relays, the flapping
//!   one first. (`veil validator` takes no relay: it only needs the
//!   chain's `/info`, given as `--chain FILE`.)
//! - **store**: moto behind a fault proxy ([`veil_tests::faults::S3Plan`]):
//!   seeded per object and attempt, it answers 503 `SlowDown` or 500
//!   `InternalError`, resets the connection, loses the answer after moto
//!   stored the object, or delays. A fixed share of the objects fails its
//!   first two PUTs: the honest miners try twice, so those objects go to
//!   their spools (unreported, as spooled objects must be) and their
//!   flushers upload them later. The validator (`--no-copies`) and the
//!   reveal read every object through the same proxy.
//! - **256 miners**, in this process: 196 honest `MinerService`s, 12 honest
//!   but slow ones (3 s per variation, within the 10 s timeout), 4 honest
//!   hand-written "stock MIID" miners sealing to the round before the
//!   target (so the reveal needs two beacons), and 44 that misbehave
//!   (`soak/rogue.rs`): forged signatures, objects sealed after
//!   the target round or before the answers close, a 16 MiB answer of
//!   millions of items, answers larger than the cap (chunked, or declared),
//!   slow-loris answers (the head, or the body, a byte at a time), answers
//!   after the timeout, other miners' keys, other miners' ciphertexts under
//!   their own keys, and closed ports. Roles are shuffled over the uids
//!   with a fixed seed.
//! - **one validator cycle** (`veil validator --metagraph … --cycles 1`,
//!   2 variations each), then the honest miners' spools must drain into
//!   moto, then **`veil reveal`** of the results.
//!
//! It checks that every submission an honest miner answered with is
//! accepted and verified, and is credited to that miner; that each honest
//! miner's variations are all accounted for (answered, or spooled and
//! uploaded later, exactly the objects the seeded plan failed); that every
//! misbehaving miner is refused with the reason for its kind of
//! misbehaviour; and it prints the peak RSS and wall time of the validator
//! and of the reveal ([`veil_tests::measure`]).
//!
//! Every RNG is seeded. Timing still varies (what the fault proxy decides
//! does not: it depends on the object and the attempt, not on arrival
//! order). Skipped (with a NOTE) when moto is not installed, unless
//! `VEIL_REQUIRE_PEERS=1`.

extern crate alloc;

#[path = "soak/checks.rs"]
mod checks;
#[path = "soak/crowd.rs"]
mod crowd;
#[path = "soak/rogue.rs"]
mod rogue;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Value, json};
use veil_tests::devnet::Server;
use veil_tests::faults::{FaultProxy, Flapping, S3Plan, S3Rates, object_id};
use veil_tests::moto::Moto;
use veil_tests::phase4::{dead_port, http_request};
use veil_tests::{Scratch, measure, veil_bin};

use self::crowd::Honest;
use self::rogue::{Kind, Rogue, RogueServer, World};

/// The seed of every RNG here (roles, keys, faults, flapping).
const SEED: u64 = 0x50a4_2026;
/// Miners in the metagraph.
const MINERS: usize = 256;
/// Honest miners whose generator pauses [`SLOW`] per variation.
const SLOW_MINERS: usize = 12;
/// The pause of a slow miner's generator.
const SLOW: Duration = Duration::from_secs(3);
/// How many misbehave, and how.
const ROGUES: [(Kind, usize); 13] = [
    (Kind::Stock, 4),
    (Kind::BadSignature, 6),
    (Kind::LateRound, 5),
    (Kind::EarlyRound, 5),
    (Kind::Huge16MiB, 2),
    (Kind::HugeChunked, 1),
    (Kind::HugeDeclared, 1),
    (Kind::SlowLorisHead, 2),
    (Kind::SlowLorisBody, 2),
    (Kind::Late, 6),
    (Kind::KeyThief, 4),
    (Kind::CipherThief, 4),
    (Kind::Dead, 6),
];
/// Variations asked of each miner.
const VARIATIONS: usize = 2;
/// The validator's per-miner timeout, seconds.
const TIMEOUT_S: u64 = 10;
/// The bucket.
const BUCKET: &str = "veil-soak";
/// Longest either subprocess may run.
const LIMIT: Duration = Duration::from_secs(120);
/// Longest the spools may take to drain after the cycle.
const DRAIN: Duration = Duration::from_secs(30);
/// The validator's memory budget. Without the two 16 MiB answers this
/// cycle peaks at about 55 MiB; an answer is capped at 16 MiB on the wire
/// (`ANSWER_MARGIN`), and reading one may cost its size a few times over
/// (the buffer, the items it keeps), not an order of magnitude.
const VALIDATOR_RSS_BUDGET_KIB: u64 = 160 * 1024;
/// The reveal's memory budget (382 small objects, two at a time).
const REVEAL_RSS_BUDGET_KIB: u64 = 128 * 1024;

/// What a uid is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Honest,
    Slow,
    Rogue(Kind),
}

fn rng(tag: &str) -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&SEED.to_le_bytes());
    for (i, b) in tag.bytes().enumerate() {
        seed[8 + i % 24] ^= b;
    }
    ChaCha20Rng::from_seed(seed)
}

/// The roles of uids 0..MINERS, shuffled with the seed.
fn roles() -> Vec<Role> {
    let mut roles: Vec<Role> = ROGUES
        .iter()
        .flat_map(|&(k, n)| core::iter::repeat_n(Role::Rogue(k), n))
        .chain(core::iter::repeat_n(Role::Slow, SLOW_MINERS))
        .collect();
    assert!(roles.len() < MINERS);
    roles.resize(MINERS, Role::Honest);
    let mut r = rng("roles");
    for i in (1..roles.len()).rev() {
        let j = usize::try_from(r.next_u64() % (i as u64 + 1)).expect("index");
        roles.swap(i, j);
    }
    roles
}

fn key_seed(r: &mut ChaCha20Rng) -> [u8; 32] {
    let mut s = [0u8; 32];
    r.fill_bytes(&mut s);
    s
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// veil's sample `face-01.png` scaled to 128×128, as `dir/images/face-01.png`.
fn images_dir(dir: &Scratch) -> PathBuf {
    let images = dir.subdir("images");
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../std-shell/assets/base-images/face-01.png");
    image::open(&sample)
        .unwrap_or_else(|e| panic!("{}: {e}", sample.display()))
        .resize_exact(128, 128, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .save(images.join("face-01.png"))
        .expect("write the base image");
    images
}

/// A uid's hotkey and role, and what serves it.
struct Neuron {
    hotkey: String,
    port: u16,
    role: Role,
    rogue: Option<RogueServer>,
}

/// Counts by role, for the summary line.
fn census(neurons: &[Neuron]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for n in neurons {
        let name = match n.role {
            Role::Rogue(k) => format!("{k:?}"),
            r => format!("{r:?}"),
        };
        *by.entry(name).or_default() += 1;
    }
    by.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn soak_256_miners_faulty_store_flapping_relay() {
    let started = Instant::now();
    let scratch = Scratch::new("soak");
    let Some(moto) = Moto::start(&scratch, BUCKET, false) else {
        return;
    };
    let devnet = Server::start(&scratch);
    let devnet_port: u16 = devnet
        .url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("devnet port");
    let relay = FaultProxy::start(
        devnet_port,
        Flapping::new(SEED, 3, Duration::from_millis(800)),
    );
    let rates = S3Rates {
        seed: SEED,
        spool_fraction: 0.08,
        spool_failures: crowd::PUT_ATTEMPTS,
        first_failure: 0.2,
        second_failure: 0.25,
        delay: 0.1,
        max_delay: Duration::from_millis(300),
    };
    let store_proxy = FaultProxy::start(moto.port(), S3Plan::new(rates));
    let chain = veil::drand::chains::resolve(&devnet.info.path).expect("the devnet's chain");
    let images = images_dir(&scratch);

    let validator_seed = key_seed(&mut rng("validator"));
    let validator_key =
        veil_core::sign::Keypair::from_mini_secret(&validator_seed).expect("keypair");
    let validator_public = validator_key.public().to_bytes();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1024)
        .enable_all()
        .build()
        .expect("runtime");
    let roles = roles();
    let mut keys = rng("miner keys");
    let seeds: Vec<[u8; 32]> = (0..MINERS).map(|_| key_seed(&mut keys)).collect();

    // The honest miners first: the thieves copy from them.
    let shared_store = rt.block_on(async { crowd::store(&store_proxy.url(), BUCKET) });
    let honest: BTreeMap<usize, Honest> = rt.block_on(async {
        let mut out = BTreeMap::new();
        for (uid, role) in roles.iter().enumerate() {
            let slow = match role {
                Role::Honest => None,
                Role::Slow => Some(SLOW),
                Role::Rogue(_) => continue,
            };
            let spool = scratch.subdir(&format!("spool/{uid}"));
            let m = crowd::start(
                seeds[uid],
                &validator_public,
                &chain,
                &shared_store,
                &spool,
                slow,
            )
            .await;
            out.insert(uid, m);
        }
        out
    });
    let fast: Vec<String> = honest
        .values()
        .filter(|h| h.slow.is_none())
        .map(|h| h.hotkey.clone())
        .collect();
    let world = Arc::new(World {
        chain: chain.clone(),
        moto_port: moto.port(),
        bucket: BUCKET.to_owned(),
        timeout: Duration::from_secs(TIMEOUT_S),
    });
    let mut thief = 0usize;
    let neurons: Vec<Neuron> = roles
        .iter()
        .enumerate()
        .map(|(uid, &role)| match role {
            Role::Honest | Role::Slow => Neuron {
                hotkey: honest[&uid].hotkey.clone(),
                port: honest[&uid].port,
                role,
                rogue: None,
            },
            Role::Rogue(kind) => {
                let victims = if matches!(kind, Kind::KeyThief | Kind::CipherThief) {
                    thief += 1;
                    fast.iter().skip(thief * 7).take(6).cloned().collect()
                } else {
                    Vec::new()
                };
                let r = Rogue::new(kind, seeds[uid], victims, Arc::clone(&world));
                let hotkey = r.hotkey.clone();
                if kind == Kind::Dead {
                    Neuron {
                        hotkey,
                        port: dead_port(),
                        role,
                        rogue: None,
                    }
                } else {
                    let server = RogueServer::start(r);
                    Neuron {
                        hotkey,
                        port: server.port(),
                        role,
                        rogue: Some(server),
                    }
                }
            }
        })
        .collect();
    let metagraph = scratch.path().join("metagraph.json");
    let listed: Vec<Value> = neurons
        .iter()
        .enumerate()
        .map(|(uid, n)| {
            json!({"uid": uid, "hotkey": n.hotkey, "ip": "127.0.0.1", "port": n.port,
                   "stake": 1.0, "validator_permit": false})
        })
        .collect();
    std::fs::write(
        &metagraph,
        json!({"netuid": 1, "neurons": listed}).to_string(),
    )
    .expect("metagraph");
    eprintln!(
        "soak: {MINERS} miners ({}), set up in {:.1} s",
        census(&neurons),
        started.elapsed().as_secs_f64()
    );

    // One validator cycle.
    let out = scratch.subdir("results");
    let s3 = crowd::s3_env(&store_proxy.url());
    let mut cmd = Command::new(veil_bin());
    cmd.args(["validator"])
        .env("VEIL_SEED", veil_tests::hex_of(&validator_seed))
        .args(["--chain", &devnet.info.path])
        .arg("--metagraph")
        .arg(&metagraph)
        .args(["--store", &format!("s3://{BUCKET}")])
        .arg("--images")
        .arg(&images)
        .arg("--out")
        .arg(&out)
        .args(["--cycles", "1", "--variations", &VARIATIONS.to_string()])
        .args(["--timeout", &TIMEOUT_S.to_string(), "--retries", "0"])
        .args(["--reveal-buffer", "2", "--concurrency", &MINERS.to_string()])
        .arg("--no-copies")
        .envs(s3.iter().map(|(k, v)| (*k, v.as_str())));
    let validator = measure::run(&cmd, LIMIT);
    let said = |m: &measure::Measured| String::from_utf8_lossy(&m.output.stderr).into_owned();
    assert!(
        validator.output.status.success(),
        "{}\n{}",
        validator.summary("veil validator"),
        said(&validator)
    );
    let results_path = PathBuf::from(String::from_utf8_lossy(&validator.output.stdout).trim());
    let results = json_file(&results_path);

    // The spools drain into moto.
    let drained = Instant::now();
    let mut waiting: Vec<String> = Vec::new();
    while drained.elapsed() < DRAIN {
        waiting = honest.values().flat_map(Honest::spooled).collect();
        if waiting.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        waiting.is_empty(),
        "still spooled after {DRAIN:?}: {waiting:?}"
    );
    let drain_time = drained.elapsed();

    // The reveal, through the flapping relay first.
    let cache = scratch.subdir("beacon-cache");
    let mut cmd = Command::new(veil_bin());
    cmd.arg("reveal")
        .arg("--results")
        .arg(&results_path)
        .args(["--relay", &format!("{}/{}", relay.url(), devnet.info.hash)])
        .args(["--relay", &devnet.url])
        .env("VEIL_CACHE_DIR", &cache)
        .envs(s3.iter().map(|(k, v)| (*k, v.as_str())));
    let reveal = measure::run(&cmd, LIMIT);
    assert!(
        reveal.output.status.success(),
        "{}\n{}",
        reveal.summary("veil reveal"),
        said(&reveal)
    );
    let cid = results["phase4_image_data"]["challenge_id"]
        .as_str()
        .expect("cid");
    let revealed = json_file(&results_path.with_file_name(format!("reveal-{cid}.json")));

    // The figures, before any assertion can stop the test.
    eprintln!(
        "{}",
        validator.summary("soak: veil validator (256 miners, 1 cycle)")
    );
    eprintln!("{}", reveal.summary("soak: veil reveal"));
    let events = store_proxy.events();
    let flaps = relay.events();
    eprintln!(
        "soak: store proxy {} requests ({} failed by the plan), relay {} requests ({} refused); spools drained {:.1} s after the cycle; total {:.1} s",
        events.len(),
        events
            .iter()
            .filter(|e| !e.fault.forwards() || e.fault == veil_tests::faults::Fault::LostAnswer)
            .count(),
        flaps.len(),
        flaps.iter().filter(|e| !e.fault.forwards()).count(),
        drain_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let ctx = Ctx {
        neurons: &neurons,
        results: &results,
        revealed: &revealed,
        moto: &moto,
        events: &events,
        plan: S3Plan::new(rates),
    };
    let spooled = ctx.check_spools(&honest);
    ctx.check_results(&spooled);
    ctx.check_reveal();
    assert!(
        flaps.iter().any(|e| !e.fault.forwards()) && flaps.iter().any(|e| e.succeeded()),
        "the relay did not flap in front of the reveal: {flaps:?}"
    );
    // Last, so that every functional check above has spoken first.
    assert!(
        reveal.peak_rss_kib <= REVEAL_RSS_BUDGET_KIB,
        "{} is over its budget of {} MiB",
        reveal.summary("veil reveal"),
        REVEAL_RSS_BUDGET_KIB / 1024
    );
    assert!(
        validator.peak_rss_kib <= VALIDATOR_RSS_BUDGET_KIB,
        "{} is over its budget of {} MiB: two 16 MiB answers (`{{\"s3_submissions\":[0,0,…]}}`) \
         among 256 miners should not cost more than a few times their size",
        validator.summary("veil validator"),
        VALIDATOR_RSS_BUDGET_KIB / 1024
    );
    eprintln!("soak: passed in {:.1} s", started.elapsed().as_secs_f64());
    drop(rt);
}

/// What the checks read.
struct Ctx<'a> {
    neurons: &'a [Neuron],
    results: &'a Value,
    revealed: &'a Value,
    moto: &'a Moto,
    events: &'a [veil_tests::faults::Event],
    plan: S3Plan,
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {v}"))
}

impl Ctx<'_> {
    /// The objects whose first uploads all failed (so they were spooled):
    /// exactly those the plan failed, each uploaded later and in moto.
    /// Returns them by miner hotkey.
    fn check_spools(&self, honest: &BTreeMap<usize, Honest>) -> BTreeMap<String, Vec<String>> {
        let mut puts: BTreeMap<String, Vec<&veil_tests::faults::Event>> = BTreeMap::new();
        for e in self.events.iter().filter(|e| e.method == "PUT") {
            puts.entry(object_id(&e.target)).or_default().push(e);
        }
        let attempts = usize::try_from(crowd::PUT_ATTEMPTS).expect("attempts");
        let mut spooled: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, tries) in &puts {
            let failed_first =
                tries.len() >= attempts && tries[..attempts].iter().all(|e| !e.succeeded());
            let predicted = (0..crowd::PUT_ATTEMPTS).all(|n| {
                let f = self.plan.fault_of("PUT", id, n);
                !f.forwards() || f == veil_tests::faults::Fault::LostAnswer
            });
            assert_eq!(
                failed_first, predicted,
                "{id}: the plan and the proxy's log disagree: {tries:?}"
            );
            if !failed_first {
                continue;
            }
            let last = tries.last().expect("a try");
            assert!(
                last.succeeded(),
                "{id}: spooled but never uploaded: {tries:?}"
            );
            let path = last.target.split('?').next().unwrap_or(&last.target);
            let got = http_request(self.moto.port(), "GET", path, &[], b"");
            assert!(
                got.status == 200 && !got.body.is_empty(),
                "{path}: not in moto after the flush (HTTP {})",
                got.status
            );
            let key = path.trim_start_matches(&format!("/{BUCKET}/")).to_owned();
            let hotkey = id.split('/').next().unwrap_or_default().to_owned();
            spooled.entry(hotkey).or_default().push(key);
        }
        let spooled_total: usize = spooled.values().map(Vec::len).sum();
        assert!(
            spooled_total > 0,
            "no object was spooled: the plan exercised nothing"
        );
        for h in honest.values() {
            assert!(h.spooled().is_empty(), "{}: spool not empty", h.hotkey);
        }
        eprintln!(
            "soak: {spooled_total} objects of {} honest miners spooled, then uploaded",
            spooled.len()
        );
        spooled
    }
}
