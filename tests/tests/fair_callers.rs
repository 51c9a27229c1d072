//! A request's work ends with its caller: when the caller of a real `veil
//! miner` hangs up long before its stated timeout, the external generator
//! command it started (and that command's own child) is killed at once,
//! and its slot serves the next request. (Per-caller quotas on slots and
//! nonce tables are unit-tested beside their code.)

extern crate alloc;

use alloc::sync::Arc;
use core::time::Duration;
use std::time::Instant;

use serde_json::{Map, json};
use veil::axon::{AxonTarget, Dendrite};
use veil::clock::SystemClock;
use veil::keys::{address_of, keypair_from_seed_hex};
use veil::phase4::images;
use veil_core::BuiltinChain;
use veil_tests::bittensor::VeilMiner;
use veil_tests::{Scratch, devnet};

const MINER_SEED: &str = "5151515151515151515151515151515151515151515151515151515151515151";
const CALLER_SEED: &str = "5252525252525252525252525252525252525252525252525252525252525252";

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn a_caller_that_hangs_up_takes_its_generator_run_with_it() {
    let scratch = Scratch::new("fair-hangup");
    let store = scratch.subdir("store");
    let pids = scratch.path().join("pids");
    let caller = Arc::new(keypair_from_seed_hex("seed", CALLER_SEED).unwrap());
    let caller_address = address_of(&caller.public());
    // Records its own pid and its child's, then waits on the child.
    let cmd = format!(
        "echo $$ >> {p}; sleep 120 & echo $! >> {p}; wait",
        p = pids.display()
    );
    let miner = VeilMiner::start(
        &scratch,
        MINER_SEED,
        &store,
        &[
            "--chain",
            "quicknet",
            "--allow",
            &caller_address,
            "--generator-cmd",
            &cmd,
            "--generator-timeout",
            "300",
            "--min-lead",
            "5",
            "--concurrency",
            "1",
        ],
    );
    let chain = BuiltinChain::Quicknet.chain().unwrap();
    let round = chain
        .time()
        .round_at(devnet::now().as_secs() + 60)
        .unwrap()
        .get();
    let base = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../std-shell/assets/base-images/face-01.png"),
    )
    .unwrap();
    let mut fields = Map::new();
    fields.insert(
        "image_request".into(),
        json!({
            "base_image": images::encode_base64(&base),
            "image_filename": "face-01.png",
            "variation_requests": [{
                "type": "pose_edit",
                "intensity": "light",
                "description": "turn the head",
                "detail": "a little",
            }],
            "target_drand_round": round,
            "reveal_timestamp": chain.time().time_of(veil_core::Round::new(round).unwrap()).unwrap(),
            "challenge_id": "challenge_hangup_1",
        }),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dendrite = Dendrite::new(Arc::clone(&caller), 64 << 20, Arc::new(SystemClock)).unwrap();
    let target = AxonTarget::new("127.0.0.1", miner.port(), miner.hotkey()).unwrap();
    // The caller states 200 s, then hangs up once the command has started.
    let started = Instant::now();
    let hung_up = rt.block_on(async {
        let call = dendrite.call(
            &target,
            "IdentitySynapse",
            &fields,
            Duration::from_secs(200),
        );
        tokio::time::timeout(Duration::from_secs(4), call).await
    });
    assert!(hung_up.is_err(), "the miner answered: {hung_up:?}");
    // The caller goes away: its runtime, and with it its connection.
    drop(dendrite);
    drop(rt);
    let recorded = std::fs::read_to_string(&pids)
        .unwrap_or_else(|e| panic!("the generator never started ({e}): {}", miner.log()));
    let recorded: Vec<&str> = recorded.lines().collect();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let gone = (0..100).any(|_| {
        let any_alive = recorded.iter().any(|p| alive(p));
        if any_alive {
            std::thread::sleep(Duration::from_millis(100));
        }
        !any_alive
    });
    assert!(
        gone,
        "the generator outlived its caller by {:?}: {}",
        started.elapsed(),
        miner.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
