//! The real bittensor 10.5 Python stack (PyPI `bittensor==10.5.0`, MIID's
//! pin) against veil, both directions, over the bittensor axon protocol on
//! loopback:
//!
//! - a real `bt.Dendrite` (`dendrite_query.py`) queries `veil miner` with
//!   MIID's `IdentitySynapse`; veil's image signatures are verified by
//!   bittensor-wallet, and the sealed objects open with quicknet round 1000's
//!   public signature through `veil decrypt`;
//! - `veil validator` queries a real `bt.Axon` (`axon_miner.py`, a MIID-style
//!   miner) and must pass its blacklist, signature and nonce checks;
//! - and, as the harness's own check, the Python dendrite against the Python
//!   axon, which needs no veil server.
//!
//! Skipped (with a NOTE) when the bittensor virtualenv is missing, unless
//! `VEIL_REQUIRE_PEERS=1`.

use std::path::Path;

use sha2::{Digest, Sha256};
use veil_tests::bittensor::{
    self, PyAxonMiner, QUICKNET_ROUND_1000_SIGNATURE, Query, VeilMiner, dendrite_query,
    quicknet_round_time, ss58_of_seed, write_png,
};
use veil_tests::{Scratch, hex_of, shared_vector, success, veil, veil_stdin};

const MINER_SEED: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const DENDRITE_SEED: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
const STRANGER_SEED: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";
const AXON_SEED: &str = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4";
const VALIDATOR_SEED: &str = "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5";

const ROUND: u64 = 1000;
const VARIATIONS: [(&str, &str); 3] = [
    ("pose_edit", "light"),
    ("lighting_edit+expression_edit", "medium"),
    ("background_edit", "far"),
];
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// quicknet round 1000's signature: from `../shared/vectors/drand_beacons.json`
/// when present (checked against the literal), else the literal.
fn round_1000_signature() -> String {
    let Some(file) = shared_vector("drand_beacons.json") else {
        return QUICKNET_ROUND_1000_SIGNATURE.to_owned();
    };
    let beacon = file["beacons"]
        .as_array()
        .expect("beacons")
        .iter()
        .find(|b| b["chain"] == "quicknet" && b["round"] == ROUND)
        .expect("drand_beacons.json has quicknet round 1000");
    let sig = beacon["signature"].as_str().expect("signature").to_owned();
    assert_eq!(sig, QUICKNET_ROUND_1000_SIGNATURE);
    sig
}

/// `veil address --seed SEED`, checked against bittensor-wallet.
fn address(seed: &str) -> String {
    let out = success(veil(&["address", "--seed", seed]), "veil address");
    let ss58 = String::from_utf8(out).expect("utf-8").trim().to_owned();
    assert_eq!(ss58, ss58_of_seed(seed), "veil address vs bittensor-wallet");
    ss58
}

fn str_of<'a>(v: &'a serde_json::Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {v}"))
}

/// MIID's `validate_s3_key` plus what the key must name: the challenge and
/// the miner's hotkey.
fn assert_key_shape(key: &str, challenge_id: &str, miner: &str) {
    assert!(
        key.starts_with(&format!("submissions/{challenge_id}/{miner}/"))
            && key.ends_with(".tlock")
            && key.split('/').count() >= 6
            && !key
                .split('/')
                .any(|p| p.is_empty() || p == ".." || p == "."),
        "s3_key {key:?}"
    );
}

/// Opens a stored object with `veil decrypt --signature SIG` and checks it is
/// the PNG whose sha256 the miner announced.
fn assert_opens_to(store: &Path, key: &str, image_hash: &str, sig: &str) {
    let path = store.join(key);
    let sealed =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{} not stored: {e}", path.display()));
    let plain = success(
        veil_stdin(&["decrypt", "--signature", sig], &sealed),
        &format!("veil decrypt {key}"),
    );
    assert!(plain.starts_with(PNG_MAGIC), "{key}: not a PNG");
    assert_eq!(
        hex_of(&Sha256::digest(&plain)),
        image_hash,
        "{key}: image_hash"
    );
}

/// Queries the miner at `port` (hotkey `miner_ss58`, storing into `store`,
/// allowing [`DENDRITE_SEED`]'s hotkey only) with a real `bt.Dendrite`: two
/// queries in a row from one dendrite must each get three signed, sealed and
/// stored variations; a dendrite it does not allow gets 403. `log` is the
/// miner's log, for failure messages. Returns the two allowed queries' nonces.
fn exercise_miner(
    dir: &Scratch,
    store: &Path,
    port: u16,
    miner_ss58: &str,
    cid: &str,
    log: &dyn Fn() -> String,
) -> Vec<u64> {
    let sig = round_1000_signature();
    let image = dir.path().join("seed.png");
    write_png(&image, "veil seed image");
    let query = Query {
        seed_hex: DENDRITE_SEED,
        axon_host: "127.0.0.1",
        axon_port: port,
        axon_hotkey: miner_ss58,
        image: &image,
        filename: "seed.png",
        round: ROUND,
        reveal_ts: quicknet_round_time(ROUND),
        challenge_id: cid,
        timeout_s: 60.0,
        variations: &VARIATIONS,
        request: None,
        repeat: 2,
    };
    let report = dendrite_query(dir, &query);
    assert_eq!(
        report["dendrite_hotkey"],
        ss58_of_seed(DENDRITE_SEED),
        "{report}"
    );
    let results = report["results"].as_array().unwrap();
    let mut nonces = Vec::new();
    for (n, r) in results.iter().enumerate() {
        let ctx = || format!("query {n}: {r}\n{}", log());
        assert_eq!(r["status_code"], 200, "{}", ctx());
        assert_eq!(r["is_success"], true, "{}", ctx());
        let subs = r["submissions"].as_array().unwrap();
        assert_eq!(subs.len(), VARIATIONS.len(), "{}", ctx());
        assert_eq!(
            r["signatures_valid"],
            serde_json::json!([true, true, true]),
            "bittensor-wallet rejected a signature: {}",
            ctx()
        );
        let mut kinds: Vec<&str> = subs.iter().map(|s| str_of(s, "variation_type")).collect();
        kinds.sort_unstable();
        let mut want: Vec<&str> = VARIATIONS.iter().map(|(k, _)| *k).collect();
        want.sort_unstable();
        assert_eq!(kinds, want, "{}", ctx());
        let path_signature = str_of(&subs[0], "path_signature");
        for s in subs {
            let key = str_of(s, "s3_key");
            assert_key_shape(key, cid, miner_ss58);
            assert_eq!(str_of(s, "path_signature"), path_signature, "{}", ctx());
            let hash = str_of(s, "image_hash");
            assert!(
                hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "image_hash {hash:?}"
            );
            assert_opens_to(store, key, hash, &sig);
        }
        nonces.push(r["nonce"].as_u64().expect("nonce"));
    }
    assert!(nonces[0] < nonces[1], "nonces {nonces:?}");

    // A dendrite the miner does not allow is refused before anything is made.
    let refused_cid = format!("{cid}-refused");
    let report = dendrite_query(
        dir,
        &Query {
            seed_hex: STRANGER_SEED,
            challenge_id: &refused_cid,
            repeat: 1,
            ..query
        },
    );
    let r = &report["results"][0];
    assert_eq!(r["status_code"], 403, "{r}\n{}", log());
    assert_eq!(r["is_success"], false, "{r}");
    assert_eq!(r["submissions"], serde_json::json!([]), "{r}");
    assert!(
        !store.join("submissions").join(&refused_cid).exists(),
        "a refused request stored something"
    );
    nonces
}

/// The harness itself, with no veil server: the Python dendrite against the
/// Python axon. Both are the real bittensor 10.5 stack, so this pins down
/// what veil's miner and validator are held to.
#[test]
fn python_dendrite_queries_python_axon() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("bt-py-py");
    let store = dir.subdir("store");
    let dendrite = ss58_of_seed(DENDRITE_SEED);
    let Some(mut miner) = PyAxonMiner::start(&dir, AXON_SEED, &store, &[&dendrite]) else {
        return;
    };
    let hotkey = miner.hotkey().to_owned();
    assert_eq!(hotkey, ss58_of_seed(AXON_SEED));
    let nonces = exercise_miner(&dir, &store, miner.port(), &hotkey, "py-py-0001", &|| {
        miner.log()
    });
    let records = miner.records();
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (str_of(r, "hotkey"), str_of(r, "outcome")))
        .collect();
    let stranger = ss58_of_seed(STRANGER_SEED);
    assert_eq!(
        outcomes,
        [
            (dendrite.as_str(), "verified"),
            (dendrite.as_str(), "verified"),
            (stranger.as_str(), "blacklisted"),
        ],
        "{records:?}"
    );
    assert_eq!(records[0]["uuid"], records[1]["uuid"]);
    let recorded: Vec<u64> = records[..2]
        .iter()
        .map(|r| r["nonce"].as_u64().unwrap())
        .collect();
    assert_eq!(recorded, nonces);
    assert!(miner.is_running(), "the axon exited\n{}", miner.log());
}

#[test]
fn python_dendrite_queries_veil_miner() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("bt-dendrite");
    let store = dir.subdir("store");
    let dendrite = address(DENDRITE_SEED);
    let miner_ss58 = address(MINER_SEED);
    assert_ne!(address(STRANGER_SEED), dendrite);
    let mut miner = VeilMiner::start(
        &dir,
        MINER_SEED,
        &store,
        &[
            "--chain",
            "quicknet",
            "--format",
            "bittensor",
            "--allow",
            &dendrite,
            // Round 1000 is long emitted: its public beacon lets the test
            // open what the miner sealed. A miner refuses such rounds unless told.
            "--allow-emitted-rounds",
        ],
    );
    assert_eq!(miner.hotkey(), miner_ss58, "the hotkey veil miner printed");
    exercise_miner(
        &dir,
        &store,
        miner.port(),
        &miner_ss58,
        "veil-interop-0001",
        &|| miner.log(),
    );
    assert!(miner.is_running(), "veil miner exited\n{}", miner.log());
}

/// `veil validator` against `miner` for `cycles` cycles: one results file
/// per cycle.
fn run_validator(
    dir: &Scratch,
    miner: &PyAxonMiner,
    store: &Path,
    cycles: u32,
) -> Vec<serde_json::Value> {
    let results = bittensor::run_validator(
        dir,
        VALIDATOR_SEED,
        &miner.miner_arg(),
        store,
        &[
            "--cycles",
            &cycles.to_string(),
            "--timeout",
            "30",
            "--variations",
            "3",
            "--period",
            "1",
        ],
        &|| miner.log(),
    );
    assert_eq!(
        Ok(results.len()),
        usize::try_from(cycles),
        "one results file per cycle"
    );
    results
}

#[test]
fn veil_validator_queries_python_axon() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("bt-axon");
    let store = dir.subdir("store");
    let validator = address(VALIDATOR_SEED);
    let Some(mut miner) = PyAxonMiner::start(&dir, AXON_SEED, &store, &[&validator]) else {
        return;
    };
    assert_eq!(miner.hotkey(), address(AXON_SEED), "the axon's hotkey");

    let results = run_validator(&dir, &miner, &store, 2);
    let mut challenges = Vec::new();
    for (cycle, v) in results.iter().enumerate() {
        let ctx = || format!("cycle {cycle}: {v}\n{}", miner.log());
        let r = &v["responses"]["0"];
        assert_eq!(r["uid"], 0, "{}", ctx());
        assert_eq!(r["hotkey"], miner.hotkey(), "{}", ctx());
        assert!(r["error"].is_null(), "{}", ctx());
        assert_eq!(r["status_code"], 200, "{}", ctx());
        assert_eq!(r["rejected"], serde_json::json!([]), "{}", ctx());
        let subs = r["s3_submissions"].as_array().expect("s3_submissions");
        assert_eq!(subs.len(), 3, "{}", ctx());
        let data = &v["phase4_image_data"];
        let cid = str_of(data, "challenge_id");
        for s in subs {
            let key = str_of(s, "s3_key");
            assert_key_shape(key, cid, miner.hotkey());
            assert!(store.join(key).is_file(), "{key} not in the store");
        }
        challenges.push(cid.to_owned());
    }

    // What reached the axon: two requests from the validator's hotkey, both
    // through default_verify, one uuid (one dendrite), increasing nonces.
    let records = miner.records();
    assert_eq!(records.len(), 2, "{records:?}\n{}", miner.log());
    for rec in &records {
        assert_eq!(rec["hotkey"], validator.as_str(), "{rec}");
        assert_eq!(rec["outcome"], "verified", "{rec}");
    }
    assert_eq!(records[0]["uuid"], records[1]["uuid"], "{records:?}");
    let nonce = |i: usize| records[i]["nonce"].as_u64().expect("nonce");
    assert!(nonce(0) < nonce(1), "{records:?}");
    assert!(miner.is_running(), "the axon exited\n{}", miner.log());
    eprintln!("challenges: {challenges:?}");
}

#[test]
fn veil_validator_rejected_by_python_axon_blacklist() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("bt-blacklist");
    let store = dir.subdir("store");
    let validator = address(VALIDATOR_SEED);
    let someone_else = address(STRANGER_SEED);
    let Some(miner) = PyAxonMiner::start(&dir, AXON_SEED, &store, &[&someone_else]) else {
        return;
    };

    let results = run_validator(&dir, &miner, &store, 1);
    let r = &results[0]["responses"]["0"];
    let ctx = || format!("{}\n{}", results[0], miner.log());
    assert_eq!(r["uid"], 0, "{}", ctx());
    let error = r["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {}", ctx()));
    assert!(error.contains("403"), "error {error:?}: {}", ctx());
    assert_eq!(
        r["s3_submissions"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{}",
        ctx()
    );
    let records = miner.records();
    assert!(
        !records.is_empty(),
        "nothing reached the axon\n{}",
        miner.log()
    );
    for rec in &records {
        assert_eq!(rec["hotkey"], validator.as_str(), "{rec}");
        assert_eq!(rec["outcome"], "blacklisted", "{rec}");
    }
}
