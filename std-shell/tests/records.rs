//! The files of `docs/results.md` are the files the code writes and reads
//! (and `tests/data/results-v1.json`, a results file of the previous
//! schema, is still read):
//! every example there is read into the types the writer and the reader
//! share (`veil::phase4::records`, the reputation, the metagraph), written
//! back, and must come out as the same JSON. A field the code adds, drops
//! or renames without the page (or the other way round) fails here.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use veil::phase4::metagraph::Neuron;
use veil::phase4::records::{Results, ResultsFile, RevealFile, StoreRecord, Verdict};
use veil::phase4::reputation::Reputation;

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ```json blocks of the page, in order.
fn json_blocks(text: &str) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```json\n") {
        let body = &rest[start + "```json\n".len()..];
        let end = body.find("\n```").expect("an unclosed ```json block");
        blocks.push(
            serde_json::from_str(&body[..end])
                .unwrap_or_else(|e| panic!("a ```json block of docs/results.md: {e}")),
        );
        rest = &body[end..];
    }
    blocks
}

/// Reads `v` into `T`, writes it back, and requires the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(what: &str, v: &Value) -> T {
    let typed: T =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what} example: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, v,
        "{what}: the types write another JSON than the page"
    );
    typed
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veil-records-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_example_of_the_page_round_trips_through_the_shared_types() {
    let blocks = json_blocks(&doc());
    assert_eq!(
        blocks.len(),
        4,
        "results, reveal, reputation and metagraph examples"
    );
    let results: ResultsFile = round_trip("results", &blocks[0]);
    assert_eq!(results.schema, veil::phase4::records::RESULTS_SCHEMA);
    let reveal: RevealFile = round_trip("reveal", &blocks[1]);
    assert_eq!(reveal.schema, veil::phase4::records::REVEAL_SCHEMA);
    assert_eq!(reveal.miners["0"].images[0].verdict, Verdict::Verified);
    let reputation: Reputation = round_trip("reputation", &blocks[2]);
    assert_eq!(reputation.schema, "veil/reputation/v1");
    let neurons: Vec<Neuron> = round_trip("metagraph neurons", &blocks[3]["neurons"]);
    assert_eq!(neurons[0].port, 8091);
}

#[test]
fn the_results_example_is_a_results_file_the_reveal_accepts() {
    let blocks = json_blocks(&doc());
    let dir = scratch("results");
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&blocks[0]).unwrap()).unwrap();
    let r = Results::load(&path).unwrap();
    assert_eq!(r.chain, veil_core::Chain::builtin("quicknet").unwrap());
    assert_eq!(r.round.get(), 34_168_467);
    assert_eq!(r.requested, 2);
    assert_eq!(r.miners.len(), 2);
    assert_eq!(
        r.miners[0].submissions.len(),
        2,
        "a submission and a capture"
    );
    assert_eq!(r.miners[0].submissions[0].drand_round, Some(34_168_466));
    assert!(
        r.miners[0].submissions[1]
            .submission
            .screen_replay_uav
            .is_some()
    );
    assert_eq!(r.miners[0].rejected, 2);
    assert!(matches!(r.miners[0].store, Some(StoreRecord::Store { .. })));
    assert!(matches!(
        r.miners[1].store,
        Some(StoreRecord::Commitment { .. })
    ));
    assert_eq!(
        r.base.as_ref().and_then(|b| b.path.clone()),
        Some(dir.join(blocks[0]["base_image"]["path"].as_str().unwrap()))
    );

    // The chain as veil writes it is the chain the page shows.
    let written: Value = serde_json::from_str(&r.chain.info_json().to_string()).unwrap();
    assert_eq!(written, blocks[0]["chain"]);

    // A file of another schema, or one whose chain hash was altered, is refused.
    let mut other = blocks[0].clone();
    other["schema"] = "veil/results/v0".into();
    std::fs::write(&path, other.to_string()).unwrap();
    assert!(
        Results::load(&path)
            .unwrap_err()
            .to_string()
            .contains("schema")
    );
    let mut forged = blocks[0].clone();
    forged["chain"]["period"] = 30.into();
    std::fs::write(&path, forged.to_string()).unwrap();
    assert!(
        Results::load(&path)
            .unwrap_err()
            .to_string()
            .contains("chain")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn results_v1_are_still_read() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/results-v1.json");
    let r = Results::load(&path).unwrap();
    assert_eq!(r.requested, 2, "v1 held the number of requests");
    assert_eq!(r.miners[0].submissions.len(), 1);
    assert_eq!(
        r.miners[0].submissions[0].drand_round, None,
        "v1: the target round"
    );
    assert_eq!(r.round.get(), 34_168_467);
}
