//! bittensor 11.3's `bittensor.http_auth` ("btauth/1", PyPI
//! `bittensor==11.3.0` in its own virtualenv) against veil, both
//! directions, on MIID's bittensor-11 wire shape (`POST /IdentitySynapse`,
//! the synapse JSON without `dendrite`/`axon` as the body):
//!
//! - `http_auth.sign` → `veil miner`: answered (the fixture request as
//!   MIID's validator builds it), the objects open; the same bytes replayed
//!   to the same miner (nonce store) or to a second miner (receiver binding)
//!   are refused 401; a stale nonce is 401, an unknown caller 403, both
//!   header families at once 400; `GET /IdentitySynapse` answers 200;
//! - `veil validator --transport btauth` → a server verifying with
//!   `http_auth.verify`: accepted over two cycles, and refused (403) by one
//!   that does not know the validator.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use veil_tests::bittensor::{self as bittensor, QUICKNET_ROUND_1000_SIGNATURE, VeilMiner};
use veil_tests::btauth::{self, BtauthServer, Signed, btauth_query};
use veil_tests::{Scratch, hex_of, success, veil, veil_stdin};

const MINER_SEED: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_MINER_SEED: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const SENDER_SEED: &str = "3333333333333333333333333333333333333333333333333333333333333333";
const STRANGER_SEED: &str = "4444444444444444444444444444444444444444444444444444444444444444";
const SERVER_SEED: &str = "5555555555555555555555555555555555555555555555555555555555555555";
const VALIDATOR_SEED: &str = "6666666666666666666666666666666666666666666666666666666666666666";

fn address(seed: &str) -> String {
    let out = success(veil(&["address", "--seed", seed]), "veil address");
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// The bittensor-11 body of `tests/data/miid/requests.json`'s first request,
/// for round 1000 (long emitted: its beacon opens what the miner sealed)
/// and challenge `cid`, written to a file.
fn body_file(dir: &Scratch, cid: &str) -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/miid/requests.json");
    let requests: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut body = requests["requests"][0]["v11_body"].clone();
    body["image_request"]["target_drand_round"] = json!(1000);
    body["image_request"]["reveal_timestamp"] = json!(1_692_803_367 + 999 * 3);
    body["image_request"]["challenge_id"] = json!(cid);
    let file = dir.path().join(format!("body-{cid}.json"));
    std::fs::write(&file, serde_json::to_vec(&body).unwrap()).unwrap();
    file
}

fn miner(dir: &Scratch, seed: &str, store: &Path, allow: &str) -> VeilMiner {
    VeilMiner::start(
        dir,
        seed,
        store,
        &[
            "--chain",
            "quicknet",
            "--format",
            "bittensor",
            "--allow",
            allow,
            "--allow-emitted-rounds",
        ],
    )
}

#[test]
fn bittensor11_signs_veil_answers_and_replays_are_refused() {
    if btauth::python().is_none() {
        return;
    }
    let dir = Scratch::new("btauth-miner");
    let other_dir = Scratch::new("btauth-miner-2");
    let store = dir.subdir("store");
    let sender = address(SENDER_SEED);
    let mut m1 = miner(&dir, MINER_SEED, &store, &sender);
    let mut m2 = miner(&other_dir, OTHER_MINER_SEED, &store, &sender);
    let url1 = format!("http://127.0.0.1:{}/IdentitySynapse", m1.port());
    let url2 = format!("http://127.0.0.1:{}/IdentitySynapse", m2.port());
    let body = body_file(&dir, "btauth-0001");

    let report = btauth_query(
        &dir,
        &Signed {
            seed_hex: SENDER_SEED,
            url: &url1,
            receiver: m1.hotkey(),
            body: &body,
            replay: &[&url1, &url2],
            get: true,
            ..Signed::default()
        },
    );
    let ctx = || format!("{report:#}\n{}\n{}", m1.log(), m2.log());
    assert_eq!(report["sender"], sender.as_str());
    assert_eq!(report["liveness"]["status"], 200, "{}", ctx());
    assert_eq!(
        report["liveness"]["body"]["message"],
        "IdentitySynapse endpoint is alive",
        "{}",
        ctx()
    );
    let answers = report["answers"].as_array().unwrap();
    let first = &answers[0];
    assert_eq!(first["status"], 200, "{}", ctx());
    // The synapse JSON back, with MIID's five variations answered and
    // signed by the miner's hotkey (verified by bittensor_core).
    assert_eq!(first["body"]["name"], "IdentitySynapse", "{}", ctx());
    let subs = first["body"]["s3_submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 5, "{}", ctx());
    assert_eq!(
        first["signatures_valid"],
        json!([true, true, true, true, true]),
        "{}",
        ctx()
    );
    for s in subs {
        let key = s["s3_key"].as_str().unwrap();
        let sealed = std::fs::read(store.join(key)).unwrap();
        let plain = success(
            veil_stdin(
                &["decrypt", "--signature", QUICKNET_ROUND_1000_SIGNATURE],
                &sealed,
            ),
            "veil decrypt",
        );
        assert_eq!(hex_of(&Sha256::digest(&plain)), s["image_hash"]);
    }
    // The same bytes again: the nonce was seen.
    assert_eq!(answers[1]["status"], 401, "{}", ctx());
    assert!(
        answers[1]["body"]["message"]
            .as_str()
            .unwrap()
            .contains("nonce"),
        "{}",
        ctx()
    );
    // To another miner that allows the same sender: bound to the first.
    assert_eq!(answers[2]["status"], 401, "{}", ctx());
    assert!(
        answers[2]["body"]["message"]
            .as_str()
            .unwrap()
            .contains("receiver"),
        "{}",
        ctx()
    );

    // A nonce 11 s old.
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let stale = u64::try_from(now_ns).unwrap() - 11_000_000_000;
    let r = btauth_query(
        &dir,
        &Signed {
            seed_hex: SENDER_SEED,
            url: &url1,
            receiver: m1.hotkey(),
            body: &body,
            nonce_ns: Some(stale),
            ..Signed::default()
        },
    );
    assert_eq!(r["answers"][0]["status"], 401, "{r}");
    // A sender the miner does not know: signed fine, forbidden.
    let r = btauth_query(
        &dir,
        &Signed {
            seed_hex: STRANGER_SEED,
            url: &url1,
            receiver: m1.hotkey(),
            body: &body,
            ..Signed::default()
        },
    );
    assert_eq!(r["answers"][0]["status"], 403, "{r}");
    // Both header families on one request.
    let r = btauth_query(
        &dir,
        &Signed {
            seed_hex: SENDER_SEED,
            url: &url1,
            receiver: m1.hotkey(),
            body: &body,
            headers: &[&format!("bt_header_dendrite_hotkey:{sender}")],
            ..Signed::default()
        },
    );
    assert_eq!(r["answers"][0]["status"], 400, "{r}");
    assert!(m1.is_running() && m2.is_running());
}

/// `veil validator --transport btauth` for `cycles` cycles against
/// `server`; the parsed results files.
fn validate(dir: &Scratch, server: &BtauthServer, store: &Path, cycles: u32) -> Vec<Value> {
    let cycles = cycles.to_string();
    bittensor::run_validator(
        dir,
        VALIDATOR_SEED,
        &server.miner_arg(),
        store,
        &[
            "--transport",
            "btauth",
            "--cycles",
            &cycles,
            "--timeout",
            "30",
            "--variations",
            "3",
            "--period",
            "1",
        ],
        &|| server.log(),
    )
}

#[test]
fn veil_validator_signs_what_bittensor11_verifies() {
    if btauth::python().is_none() {
        return;
    }
    let dir = Scratch::new("btauth-validator");
    let store = dir.subdir("store");
    let validator = address(VALIDATOR_SEED);
    let Some(server) = BtauthServer::start(&dir, SERVER_SEED, &store, &[&validator]) else {
        return;
    };
    assert_eq!(server.hotkey(), address(SERVER_SEED));
    let results = validate(&dir, &server, &store, 2);
    assert_eq!(results.len(), 2);
    for (cycle, v) in results.iter().enumerate() {
        let r = &v["responses"]["0"];
        let ctx = || format!("cycle {cycle}: {v:#}\n{}", server.log());
        assert!(r["error"].is_null(), "{}", ctx());
        assert_eq!(r["status_code"], 200, "{}", ctx());
        assert_eq!(r["rejected"], json!([]), "{}", ctx());
        assert_eq!(
            r["s3_submissions"].as_array().unwrap().len(),
            3,
            "{}",
            ctx()
        );
    }
    // Both requests passed http_auth.verify, with increasing nonces.
    let records = server.records();
    assert_eq!(records.len(), 2, "{records:?}");
    for rec in &records {
        assert_eq!(rec["hotkey"], validator.as_str(), "{rec}");
        assert_eq!(rec["outcome"], "verified", "{rec}");
    }
    assert!(records[0]["nonce"].as_u64() < records[1]["nonce"].as_u64());

    // A server that does not know the validator: 403, recorded as such.
    let dir = Scratch::new("btauth-validator-refused");
    let Some(server) = BtauthServer::start(&dir, SERVER_SEED, &store, &[&address(STRANGER_SEED)])
    else {
        return;
    };
    let results = validate(&dir, &server, &store, 1);
    let r = &results[0]["responses"]["0"];
    assert!(
        r["error"].as_str().is_some_and(|e| e.contains("403")),
        "{r}\n{}",
        server.log()
    );
    assert!(
        server
            .records()
            .iter()
            .all(|rec| rec["outcome"] == "blacklisted")
    );
}
