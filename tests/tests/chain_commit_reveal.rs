//! Timelocked weights, byte for byte against bittensor-drand 2.0 (PyPI):
//! its `get_encrypted_commit_v2` commit opens with veil to the payload veil
//! builds, veil computes the same reveal round from the same inputs, and
//! veil's own commit for those inputs opens to the same payload.
//!
//! The wheel seals to a quicknet round chosen from the wall clock and a
//! block time; the harness picks the block time so that the round is 1000,
//! whose beacon `../shared/vectors/drand_beacons.json` holds (from
//! subtensor's own tests), so both commits can be opened here.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::{Value, json};
use veil::chain::commit_reveal::{self, EpochState};
use veil_core::beacon::Beacon;
use veil_core::ibe::RoundKey;
use veil_core::{BuiltinChain, Round};
use veil_tests::{bittensor_drand, hex_of, shared_vector};

const HOTKEY: [u8; 32] = [7; 32];

fn unhex(s: &str) -> Vec<u8> {
    veil::args::parse_hex("hex", s).unwrap()
}

fn round_1000_key() -> Option<RoundKey> {
    let file = shared_vector("drand_beacons.json")?;
    let b = file["beacons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["chain"] == "quicknet" && b["round"] == 1000)
        .expect("quicknet round 1000 in drand_beacons.json");
    let signature = unhex(b["signature"].as_str().unwrap());
    let chain = BuiltinChain::Quicknet.chain().unwrap();
    let verified = chain
        .verify_beacon(&Beacon {
            round: Round::new(1000).unwrap(),
            signature: &signature,
            previous_signature: None,
        })
        .unwrap();
    Some(RoundKey::from_verified(&verified))
}

fn open(commit: &[u8], key: &RoundKey) -> Vec<u8> {
    let chain = BuiltinChain::Quicknet.chain().unwrap();
    let mut out = Vec::new();
    let format =
        veil::timelock::open_with(&chain, Round::new(1000).unwrap(), key, commit, &mut out)
            .unwrap();
    assert_eq!(format.name(), "tle");
    out
}

fn wheel(args: &Value) -> Option<Value> {
    let mut cmd = bittensor_drand()?;
    let mut child = cmd
        .args(["commit-v2", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(args.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "btdrand.py commit-v2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn bittensor_drand_commits_open_with_veil_and_veil_commits_alike() {
    let Some(key) = round_1000_key() else { return };
    let cases = [
        (
            EpochState {
                last_epoch_block: 1000,
                pending_epoch_at: 0,
                subnet_epoch_index: 42,
                tempo: 360,
                blocks_since_last_step: 10,
                current_block: 1010,
            },
            1u64,
            vec![1u16, 2, 3],
            vec![65535u16, 32768, 100],
        ),
        (
            EpochState {
                last_epoch_block: 5000,
                pending_epoch_at: 5050,
                subnet_epoch_index: 7,
                tempo: 100,
                blocks_since_last_step: 20,
                current_block: 5020,
            },
            3,
            vec![0, 9],
            vec![1, 65535],
        ),
        (
            EpochState {
                last_epoch_block: 0,
                pending_epoch_at: 0,
                subnet_epoch_index: 0,
                tempo: 10,
                blocks_since_last_step: 60_000,
                current_block: 70_000,
            },
            2,
            vec![],
            vec![],
        ),
    ];
    for (state, period, uids, values) in cases {
        let version_key = 10_005_000u64;
        let first = commit_reveal::first_reveal_block(&state, period).unwrap();
        let until = first + commit_reveal::SECURITY_BLOCK_OFFSET - state.current_block;
        let args = json!({
            "uids": uids, "weights": values, "version_key": version_key,
            "last_epoch_block": state.last_epoch_block, "pending_epoch_at": state.pending_epoch_at,
            "subnet_epoch_index": state.subnet_epoch_index, "tempo": state.tempo,
            "blocks_since_last_step": state.blocks_since_last_step, "current_block": state.current_block,
            "subnet_reveal_period_epochs": period, "hotkey_hex": hex_of(&HOTKEY),
            "target_round": 1000, "blocks_until_ingest": until,
        });
        let Some(w) = wheel(&args) else { return };
        // The same round from the same inputs (veil's reveal block is what
        // put the wheel's round on 1000; the clock brackets the call).
        assert_eq!(w["round"], 1000, "{state:?}: {w}");
        let bt = w["block_time"].as_f64().unwrap();
        let before =
            commit_reveal::reveal_round(&state, period, bt, w["now_before"].as_f64().unwrap())
                .unwrap();
        let after =
            commit_reveal::reveal_round(&state, period, bt, w["now_after"].as_f64().unwrap())
                .unwrap();
        assert_eq!((before, after), (1000, 1000), "{state:?}");
        // The wheel's commit opens with veil to veil's payload.
        let expected = commit_reveal::payload(&HOTKEY, &uids, &values, version_key);
        let theirs = unhex(w["commit"].as_str().unwrap());
        assert_eq!(open(&theirs, &key), expected, "{state:?}");
        // veil's commit: the same size and the same payload once opened.
        let ours = commit_reveal::seal(&expected, 1000, &mut rand_core::OsRng).unwrap();
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours.len(), expected.len() + 244);
        assert_eq!(open(&ours, &key), expected);
        assert_ne!(ours, theirs, "fresh randomness each time");
        eprintln!(
            "{state:?}: reveal block {first}, commit {} bytes, both open to the same payload",
            ours.len()
        );
    }
}
