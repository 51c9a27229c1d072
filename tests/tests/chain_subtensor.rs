//! veil on a real subtensor runtime: `../shared/chain/raonet.json` (spec
//! 218) executed by chopsticks on loopback, set up and read back with
//! polkadot.js (`tests/peers/chain/chain.mjs`), in a network namespace of
//! the test's own where 203.0.113.7 is a loopback address (the runtime
//! refuses 127.0.0.1 as an axon).
//!
//! One scenario, in order: the metagraph read from storage; the GRAIL
//! commitment posted, read back by polkadot.js and by veil, and refused
//! again within the rate limit; `veil miner` serving its axon; `veil
//! validator` finding it through the metagraph, querying it and setting
//! weights read back from `Weights`; then each failure a neuron meets, one
//! clear line each.

use core::time::Duration;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use veil::chain::serve::Served;
use veil::chain::{ChainOptions, Subtensor};
use veil_core::sign::Keypair;
use veil_tests::bittensor::{ss58_of_seed, validator_files};
use veil_tests::chopsticks::{AXON_IP, Chopsticks, in_netns};
use veil_tests::devnet::KillOnDrop;
use veil_tests::{Scratch, veil_bin};

const OWNER: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OWNER2: &str = "6666666666666666666666666666666666666666666666666666666666666666";
const VALIDATOR: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const MINER: &str = "3333333333333333333333333333333333333333333333333333333333333333";
const COMMITTER: &str = "4444444444444444444444444444444444444444444444444444444444444444";
const STRANGER: &str = "5555555555555555555555555555555555555555555555555555555555555555";

const ACCOUNT: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";

fn keypair(seed: &str) -> Keypair {
    veil::keys::keypair_from_seed_hex("seed", seed).unwrap()
}

fn r2_env(read_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("R2_ACCOUNT_ID", ACCOUNT.to_owned()),
        ("R2_READ_ACCESS_KEY_ID", read_key.to_owned()),
        ("R2_READ_SECRET_ACCESS_KEY", "r".repeat(64)),
        ("R2_WRITE_ACCESS_KEY_ID", "W".repeat(32)),
        ("R2_WRITE_SECRET_ACCESS_KEY", "w".repeat(64)),
    ]
}

fn veil_env(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = Command::new(veil_bin());
    cmd.args(args)
        .env_remove("BT_SUBTENSOR_NETWORK")
        .env_remove("BT_NETWORK");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run veil")
}

#[track_caller]
fn ok_json(out: &std::process::Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// veil's failure contract: exit 1, nothing on stdout, one line.
#[track_caller]
fn one_line_failure(out: &std::process::Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err:?}");
    err
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario on one chain, in order
fn veil_on_a_real_subtensor_runtime() {
    if !in_netns("veil_on_a_real_subtensor_runtime") {
        return;
    }
    let started = Instant::now();
    let dir = Scratch::new("chain-e2e");
    let Some(mut node) = Chopsticks::start(dir.path()) else {
        return;
    };
    let url = node.url.clone();
    let (v, m, c) = (
        ss58_of_seed(VALIDATOR),
        ss58_of_seed(MINER),
        ss58_of_seed(COMMITTER),
    );
    let spec = json!({"subnets": [
        {"owner_seed": format!("0x{OWNER}"),
         "hotkeys": [format!("0x{VALIDATOR}"), format!("0x{MINER}"), format!("0x{COMMITTER}")],
         "commit_reveal": false,
         "knobs": {"sudoSetWeightsSetRateLimit": 0, "sudoSetMinAllowedWeights": 1,
                   "sudoSetMaxWeightLimit": 65535, "sudoSetTempo": 10000}},
        {"owner_seed": format!("0x{OWNER2}"), "hotkeys": [format!("0x{VALIDATOR}")], "commit_reveal": true}
    ]});
    let spec_path = dir.path().join("subnets.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let setup = node.harness("setup", &[spec_path.to_str().unwrap()]);
    let netuid = setup["subnets"][0]["netuid"].as_u64().unwrap();
    let netuid_cr = setup["subnets"][1]["netuid"].as_u64().unwrap();
    let uid = |who: &str| setup["subnets"][0]["uids"][who].as_u64().unwrap();
    let (uid_v, uid_m) = (uid(&v), uid(&m));
    // Stake and a validator permit, as an epoch would leave them: alpha on
    // the subnet and root stake (TaoWeight stays at its default, 0.18). The
    // tempo of 10000 keeps an epoch from recomputing the permits.
    node.harness(
        "set-storage",
        &[&json!({"SubtensorModule": {
            "ValidatorPermit": [[[netuid], [false, true, false, false]]],
            "TotalHotkeyAlpha": [[[v, netuid], 5_000_000_000_000u64], [[v, 0], 1_000_000_000_000u64]],
        }})
        .to_string()],
    );
    eprintln!(
        "set up netuid {netuid} (and {netuid_cr} with commit-reveal) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let chain_args = ["--subtensor.chain_endpoint", url.as_str()];
    let netuid_s = netuid.to_string();

    // --- the metagraph, from storage.
    let out = veil_env(
        &[
            "metagraph",
            "--netuid",
            &netuid_s,
            "--subtensor.chain_endpoint",
            &url,
        ],
        &[],
    );
    let graph = ok_json(&out, "veil metagraph");
    assert_eq!(graph["netuid"], netuid);
    let neurons = graph["neurons"].as_array().unwrap();
    assert_eq!(neurons.len(), 4, "{graph}");
    for n in neurons {
        let keys = node.read("subtensorModule", "keys", &json!([netuid, n["uid"]]));
        assert_eq!(
            n["hotkey"], keys,
            "uid {}: veil and polkadot.js disagree",
            n["uid"]
        );
        let owner = node.read("subtensorModule", "owner", &json!([n["hotkey"]]));
        assert_eq!(n["coldkey"], owner);
    }
    let nv = &neurons[usize::try_from(uid_v).unwrap()];
    assert_eq!(nv["hotkey"], v.as_str());
    assert_eq!(nv["validator_permit"], true);
    // 5000 alpha + 1000 root TAO × 0.18.
    let stake = nv["stake"].as_f64().unwrap();
    assert!((stake - 5180.0).abs() < 1e-6, "stake {stake}");
    let nm = &neurons[usize::try_from(uid_m).unwrap()];
    assert_eq!(
        (nm["validator_permit"].as_bool(), nm["stake"].as_f64()),
        (Some(false), Some(0.0))
    );
    assert_eq!(nm["ip"], "0.0.0.0");

    // --- the read commitment.
    let publish = |seed: &str, read_key: &str| {
        veil_env(
            &[
                "commitment",
                "publish",
                "--netuid",
                &netuid_s,
                "--subtensor.chain_endpoint",
                &url,
                "--seed",
                seed,
                "--no-probe",
            ],
            &r2_env(read_key),
        )
    };
    let key1 = "READKEY1".repeat(4);
    let posted = ok_json(&publish(COMMITTER, &key1), "commitment publish");
    assert_eq!(posted["status"], "written", "{posted}");
    assert_eq!(posted["hotkey"], c.as_str());
    let stored = node.read("commitments", "commitmentOf", &json!([netuid, c]));
    let raw = stored["info"]["fields"][0]["raw128"].as_str().unwrap();
    let expect_text = format!("{ACCOUNT}{key1}{}", "r".repeat(64));
    assert_eq!(
        raw,
        format!("0x{}", veil_tests::hex_of(expect_text.as_bytes())),
        "polkadot.js reads another commitment"
    );
    let listed = ok_json(
        &veil_env(
            &[
                "commitment",
                "list",
                "--netuid",
                &netuid_s,
                "--subtensor.chain_endpoint",
                &url,
            ],
            &[],
        ),
        "commitment list",
    );
    assert_eq!(listed["commitments"][&c]["bucket"], ACCOUNT, "{listed}");
    assert_eq!(
        listed["commitments"][&c]["read_access_key_id"],
        key1.as_str()
    );
    let again = ok_json(&publish(COMMITTER, &key1), "commitment publish again");
    assert_eq!(again["status"], "unchanged");
    let key2 = "READKEY2".repeat(4);
    let line = one_line_failure(
        &publish(COMMITTER, &key2),
        "a second commitment within the rate limit",
    );
    assert!(
        line.contains("rate limit") && line.contains("until block"),
        "{line}"
    );
    let line = one_line_failure(
        &publish(STRANGER, &key1),
        "an unregistered hotkey's commitment",
    );
    assert!(line.contains("AccountNotAllowedCommit"), "{line}");

    // --- the miner serves its axon, the validator finds it and sets weights.
    let store = dir.subdir("store");
    let spool = dir.subdir("spool");
    let miner_log = dir.path().join("miner.stderr");
    let mut miner = KillOnDrop(
        Command::new(veil_bin())
            .current_dir(dir.path())
            .args([
                "miner",
                "--listen",
                &format!("{AXON_IP}:0"),
                "--chain",
                "quicknet",
            ])
            .env("VEIL_SEED", MINER)
            .arg("--store")
            .arg(format!("dir:{}", store.display()))
            .arg("--spool")
            .arg(&spool)
            .args([
                "--netuid",
                &netuid_s,
                "--axon.external_ip",
                AXON_IP,
                "--min-stake",
                "1000",
                "--min-lead",
                "5",
            ])
            .args(chain_args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&miner_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(miner.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let log = || std::fs::read_to_string(&miner_log).unwrap_or_default();
    let port: u16 = first
        .trim()
        .strip_prefix(&format!("listening http://{AXON_IP}:"))
        .and_then(|r| r.split_once(' '))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("veil miner: {first:?}\n{}", log()));
    let axon = node.read("subtensorModule", "axons", &json!([netuid, m]));
    assert_eq!(axon["ip"].as_u64(), Some(0xCB00_7107), "{axon}");
    assert_eq!(axon["port"].as_u64(), Some(u64::from(port)), "{axon}");
    assert_eq!(axon["ipType"].as_u64(), Some(4), "{axon}");

    let files = validator_files(
        &dir,
        VALIDATOR,
        &[],
        &format!("dir:{}", store.display()),
        &[
            "--netuid",
            &netuid_s,
            "--subtensor.chain_endpoint",
            &url,
            "--variations",
            "2",
            "--timeout",
            "60",
            "--reveal-buffer",
            "5",
        ],
        &log,
    );
    assert_eq!(files.len(), 1);
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let text = results.to_string();
    assert!(
        text.contains(&m),
        "the validator did not query the served miner: {text}"
    );
    let weights = node.read("subtensorModule", "weights", &json!([netuid, uid_v]));
    assert_eq!(
        weights,
        json!([[uid_m, 65535]]),
        "Weights(netuid, validator)"
    );

    // --- failures, each one clear line, through the library.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options = ChainOptions {
        call: Duration::from_secs(10),
        extrinsic: Duration::from_secs(20),
        mortal_blocks: 64,
    };
    let chain = rt.block_on(Subtensor::connect(&url, options)).unwrap();
    let n16 = u16::try_from(netuid).unwrap();
    let check = |e: veil::Error, want: &str| {
        let s = e.to_string();
        assert!(s.contains(want) && !s.contains('\n'), "want {want}: {s}");
        eprintln!("refused as expected: {s}");
    };
    // The runtime recomputes permits on its own schedule (after the
    // validator's cycle every neuron held one): take the miner's away again.
    node.harness(
        "set-storage",
        &[&json!({"SubtensorModule": {"ValidatorPermit": [[[netuid], [false, true, false, false]]]}}).to_string()],
    );
    // No validator permit (weights on another neuron: a lone self-weight is
    // exempt).
    let e = rt
        .block_on(chain.set_weights(n16, &keypair(MINER), &[(v.clone(), 1.0)], None))
        .unwrap_err();
    check(e, "NeuronNoValidatorPermit");
    // set_weights where commit-reveal is on.
    let e = rt
        .block_on(chain.set_weights(
            u16::try_from(netuid_cr).unwrap(),
            &keypair(VALIDATOR),
            &[(v.clone(), 1.0)],
            None,
        ))
        .unwrap_err();
    check(e, "no commit_timelocked_weights");
    // The weights rate limit.
    node.harness(
        "sudo",
        &[
            "adminUtils",
            "sudoSetWeightsSetRateLimit",
            &json!([netuid, 100]).to_string(),
        ],
    );
    let e = rt
        .block_on(chain.set_weights(n16, &keypair(VALIDATOR), &[(m.clone(), 1.0)], None))
        .unwrap_err();
    check(e, "SettingWeightsTooFast");
    // The serving rate limit: a new port within 50 blocks is not sent.
    let served = rt
        .block_on(chain.serve_axon(
            n16,
            &keypair(MINER),
            AXON_IP.parse().unwrap(),
            port.wrapping_add(1).max(1),
        ))
        .unwrap();
    let axon_block = node.read("subtensorModule", "axons", &json!([netuid, m]))["block"]
        .as_u64()
        .unwrap();
    assert_eq!(served, Served::RateLimited(axon_block + 50));
    // A hotkey registered nowhere.
    let e = rt
        .block_on(chain.serve_axon(n16, &keypair(STRANGER), AXON_IP.parse().unwrap(), 9000))
        .unwrap_err();
    check(e, "HotKeyNotRegisteredInNetwork");
    // The node goes away: the next call ends within its deadline, in one line.
    node.stop();
    let t = Instant::now();
    let e = rt.block_on(chain.metagraph(n16)).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
    check(e, "subtensor ws://127.0.0.1");
    eprintln!("scenario done in {:.1} s", started.elapsed().as_secs_f64());
}
