//! Memory bounded per process, measured on the real binary (peak resident
//! set from the kernel's accounting, `veil_tests::measure`):
//!
//! - a reveal of 64 objects of 60 MiB (16 distinct sealed objects, each
//!   under four keys of four miners, on a local-dir store) stays within its
//!   `--memory` budget plus the process's own baseline, where reading them
//!   as they came once took it past 1 GB;
//! - a validator cycle against eight miners answering 16 MiB bodies stays
//!   small: each answer is refused as it arrives, past the validator's
//!   answer cap, and never held as a JSON tree.
//!
//! The figures are printed (`--nocapture` shows them) for the closing notes.

use core::time::Duration;
use std::path::Path;
use std::process::Command;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use veil::keys::{address_of, keypair_from_seed_hex};
use veil::timelock;
use veil_core::format::Format;
use veil_core::ibe::PreparedRound;
use veil_core::{BuiltinChain, Round};
use veil_tests::phase4::{RawServer, Reply};
use veil_tests::{Scratch, measure, veil_bin};

// drand quicknet round 1000 (public beacon: drand/tlock, subtensor,
// ideal-lab tests).
const ROUND: u64 = 1000;
const SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

const MINER_SEEDS: [&str; 4] = [
    "2121212121212121212121212121212121212121212121212121212121212121",
    "2222222222222222222222222222222222222222222222222222222222222222",
    "2323232323232323232323232323232323232323232323232323232323232323",
    "2424242424242424242424242424242424242424242424242424242424242424",
];
const VALIDATOR_SEED: &str = "0101010101010101010101010101010101010101010101010101010101010101";

const OBJECT_MIB: usize = 60;
const DISTINCT: usize = 16;
/// The reveal's budget in the test, MiB.
const REVEAL_BUDGET_MIB: u64 = 256;
/// What the process holds beside the budget: its code, the runtime, the
/// journal, and one chunk of each read in flight.
const BASELINE_MIB: u64 = 96;
/// The longest either run may take.
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn a_reveal_of_64_objects_of_60_mib_stays_within_its_budget() {
    let scratch = Scratch::new("memory-reveal");
    let store = scratch.subdir("store");
    let chain = BuiltinChain::Quicknet.chain().unwrap();
    let prepared = PreparedRound::new(&chain, Round::new(ROUND).unwrap()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(64);
    let cid = "challenge_memory_0";
    let miners: Vec<_> = MINER_SEEDS
        .iter()
        .map(|s| keypair_from_seed_hex("seed", s).unwrap())
        .collect();
    let mut responses = serde_json::Map::new();
    let mut submissions: Vec<Vec<Value>> = vec![Vec::new(); miners.len()];
    for i in 0..DISTINCT {
        // Not an image: each opens, hashes and verifies, then fails as
        // one; what is measured is reading and opening.
        let mut plain = vec![0u8; OBJECT_MIB << 20];
        for (j, b) in plain.iter_mut().enumerate() {
            *b = u8::try_from((j * 31 + i * 7) % 251).unwrap();
        }
        let hash = veil_tests::hex_of(&Sha256::digest(&plain));
        let sealed = timelock::seal_bytes(&prepared, Format::Bittensor, &plain, &mut rng).unwrap();
        drop(plain);
        let first = store.join(format!("object-{i}.tlock"));
        std::fs::write(&first, &sealed).unwrap();
        for (m, kp) in miners.iter().enumerate() {
            let hotkey = address_of(&kp.public());
            let key = format!("submissions/{cid}/{hotkey}/p/face/pose_edit_1_{i}.png.tlock");
            let path = store.join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::hard_link(&first, &path).unwrap();
            let msg = veil_core::miid::image_message(cid, &hash).unwrap();
            let sig = kp.sign(msg.as_bytes(), &mut rng).to_hex();
            submissions[m].push(json!({
                "s3_key": key,
                "image_hash": hash,
                "signature": sig.to_string(),
                "variation_type": "pose_edit",
                "path_signature": "0123456789abcdef",
                "drand_round": ROUND,
                "object": {"size": sealed.len(), "etag": null},
            }));
        }
        std::fs::remove_file(&first).unwrap();
    }
    for (m, kp) in miners.iter().enumerate() {
        responses.insert(
            m.to_string(),
            json!({
                "uid": m,
                "hotkey": address_of(&kp.public()),
                "store": {"kind": "store", "spec": format!("dir:{}", store.display()), "describe": "local"},
                "s3_submissions": submissions[m],
                "submission_count": DISTINCT,
            }),
        );
    }
    let results = json!({
        "schema": "veil/results/v2",
        "validator": address_of(&keypair_from_seed_hex("seed", VALIDATOR_SEED).unwrap().public()),
        "chain": serde_json::from_str::<Value>(&chain.info_json().to_string()).unwrap(),
        "format": "bittensor",
        "phase4_image_data": {"challenge_id": cid, "target_drand_round": ROUND},
        "responses": responses,
    });
    let results_path = scratch.path().join(format!("results-{cid}.json"));
    std::fs::write(&results_path, results.to_string()).unwrap();

    let mut cmd = Command::new(veil_bin());
    cmd.current_dir(scratch.path())
        .args(["reveal", "--results"])
        .arg(&results_path)
        .args(["--signature", SIG, "--jobs", "2", "--memory"])
        .arg(REVEAL_BUDGET_MIB.to_string());
    let run = measure::run(&cmd, LIMIT);
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(run.output.status.success(), "veil reveal: {stderr}");
    eprintln!(
        "{} (budget {REVEAL_BUDGET_MIB} MiB)",
        run.summary(&format!(
            "reveal of {} objects of {OBJECT_MIB} MiB",
            DISTINCT * MINER_SEEDS.len()
        ))
    );
    let reveal = only_reveal(scratch.path(), cid);
    let mut opened = 0;
    for m in 0..miners.len() {
        for img in reveal["miners"][m.to_string()]["images"]
            .as_array()
            .unwrap()
        {
            assert_eq!(img["opened"], true, "{img}");
            assert_eq!(img["sha256"].as_str().map(str::len), Some(64), "{img}");
            opened += 1;
        }
    }
    assert_eq!(opened, DISTINCT * MINER_SEEDS.len());
    assert!(
        run.peak_rss_kib < (REVEAL_BUDGET_MIB + BASELINE_MIB) * 1024,
        "{}: over the budget of {REVEAL_BUDGET_MIB} MiB and {BASELINE_MIB} MiB of baseline",
        run.summary("veil reveal")
    );
}

fn only_reveal(dir: &Path, cid: &str) -> Value {
    let path = dir.join(format!("reveal-{cid}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}", path.display());
    }))
    .unwrap()
}

#[test]
fn a_validator_cycle_against_16_mib_answers_stays_small() {
    let scratch = Scratch::new("memory-validator");
    let images = scratch.subdir("images");
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../std-shell/assets/base-images/face-01.png");
    std::fs::copy(&sample, images.join("face-01.png")).unwrap();
    let store = scratch.subdir("store");
    let out = scratch.path().join("out");
    let big = json!({
        "s3_submissions": [],
        "echo": "A".repeat(16 << 20),
    });
    let servers: Vec<RawServer> = (0..8)
        .map(|_| {
            let reply = Reply::json(&big);
            RawServer::start(move |_| reply.clone())
        })
        .collect();
    let mut args: Vec<String> = [
        "validator",
        "--chain",
        "quicknet",
        "--images",
        images.to_str().unwrap(),
        "--store",
        &format!("dir:{}", store.display()),
        "--out",
        out.to_str().unwrap(),
        "--cycles",
        "1",
        "--variations",
        "2",
        "--timeout",
        "20",
        "--retries",
        "0",
        "--reveal-buffer",
        "1",
    ]
    .map(String::from)
    .to_vec();
    for (i, s) in servers.iter().enumerate() {
        let kp = keypair_from_seed_hex("seed", &format!("{:02x}", 0x30 + i).repeat(32)).unwrap();
        args.push("--miner".into());
        args.push(format!(
            "127.0.0.1:{}:{}",
            s.port(),
            address_of(&kp.public())
        ));
    }
    let mut cmd = Command::new(veil_bin());
    cmd.current_dir(scratch.path())
        .args(&args)
        .env("VEIL_SEED", VALIDATOR_SEED);
    let run = measure::run(&cmd, LIMIT);
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(run.output.status.success(), "veil validator: {stderr}");
    eprintln!(
        "{}",
        run.summary("validator cycle against 8 miners answering 16 MiB")
    );
    let printed = String::from_utf8_lossy(&run.output.stdout);
    let results_path = scratch.path().join(printed.lines().next().unwrap());
    let results: Value = serde_json::from_slice(&std::fs::read(&results_path).unwrap()).unwrap();
    for uid in 0..servers.len() {
        let r = &results["responses"][uid.to_string()];
        let error = r["error"].as_str().unwrap_or_default();
        assert!(error.contains("answer larger than"), "{r}");
    }
    assert!(
        run.peak_rss_kib < 100 * 1024,
        "{} against 16 MiB answers",
        run.summary("veil validator")
    );
}
