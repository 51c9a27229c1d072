//! The whole MIID Phase 4 query-and-check cycle on loopback: `veil
//! validator` against honest `veil miner`s, the real bittensor 10.5 Python
//! axon miner, and "miners" that misbehave in every way the validator must
//! catch — slow, silent, unreachable, answering garbage, or forging
//! submissions (wrong signatures, wrong rounds, missing objects, someone
//! else's keys, unrequested types, duplicates, non-records).
//!
//! Everything runs on quicknet with target rounds in the future: nothing
//! is decrypted here (the reveal has its own tests). The misbehaving miners
//! are hand-written HTTP servers in this process
//! ([`veil_tests::phase4::RawServer`]) that fabricate their answers with
//! veil-core (sr25519 signatures, MIID keys) and veil (timelock sealing),
//! writing objects straight into the shared store directory.
//!
//! The Python miner is skipped (with a NOTE) when bittensor is not
//! installed, unless `VEIL_REQUIRE_PEERS=1`.

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use veil_core::Chain;
use veil_core::axon::{EMPTY_BODY_HASH, header, sign_request, signing_message};
use veil_core::format::Format;
use veil_core::ibe::PreparedRound;
use veil_core::miid::{self, KeyParts};
use veil_core::sign::Keypair;
use veil_tests::bittensor::{PyAxonMiner, QUICKNET_GENESIS, VeilMiner, run_limited};
use veil_tests::phase4::{HttpRequest, RawServer, Reply, dead_port, files_under, http_request};
use veil_tests::{Scratch, hex_of};

const VALIDATOR_SEED: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const HONEST_SEEDS: [&str; 3] = [
    "1111111111111111111111111111111111111111111111111111111111111111",
    "1212121212121212121212121212121212121212121212121212121212121212",
    "1313131313131313131313131313131313131313131313131313131313131313",
];
const SLOW_SEED: &str = "1414141414141414141414141414141414141414141414141414141414141414";
const PY_SEED: &str = "1515151515151515151515151515151515151515151515151515151515151515";
const HANG_SEED: &str = "2121212121212121212121212121212121212121212121212121212121212121";
const GARBAGE_SEED: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const DEAD_SEED: &str = "2323232323232323232323232323232323232323232323232323232323232323";
const FORGER_SEEDS: [&str; 5] = [
    "3131313131313131313131313131313131313131313131313131313131313131",
    "3232323232323232323232323232323232323232323232323232323232323232",
    "3333333333333333333333333333333333333333333333333333333333333333",
    "3434343434343434343434343434343434343434343434343434343434343434",
    "3535353535353535353535353535353535353535353535353535353535353535",
];
const STRANGER_SEED: &str = "4141414141414141414141414141414141414141414141414141414141414141";

/// quicknet's chain hash.
const QUICKNET_HASH: &str = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";
/// The base image every validator here uses (copied from veil's samples).
const BASE_IMAGE: &str = "face-01.png";
/// Longest a `veil validator` run may take before the test fails.
const VALIDATOR_LIMIT: Duration = Duration::from_secs(120);
/// What the external generator of the slow miner sleeps per variation.
const SLOW_SECS: f64 = 2.0;

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn seed_bytes(seed_hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&seed_hex[2 * i..2 * i + 2], 16).expect("hex seed");
    }
    out
}

fn keypair(seed_hex: &str) -> Keypair {
    Keypair::from_mini_secret(&seed_bytes(seed_hex)).expect("keypair")
}

fn address(seed_hex: &str) -> String {
    veil::keys::address_of(&keypair(seed_hex).public())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// quicknet's latest round now.
fn quicknet_round_now() -> u64 {
    (now_secs() - QUICKNET_GENESIS) / 3 + 1
}

/// A deterministic RNG for signing (signatures only need it to be fresh
/// per use, not secret, in a test).
fn rng(tag: &str, n: u64) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    h.update(n.to_be_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {v}"))
}

/// veil's sample `face-01.png`, copied into `dir/images/`.
fn images_dir(dir: &Scratch) -> PathBuf {
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../std-shell/assets/base-images")
        .join(BASE_IMAGE);
    std::fs::copy(&sample, images.join(BASE_IMAGE))
        .unwrap_or_else(|e| panic!("copy {}: {e}", sample.display()));
    images
}

/// A `veil miner` with its own scratch directory (logs, spool); the miner is
/// killed before the directory is removed.
struct Miner {
    miner: VeilMiner,
    _dir: Scratch,
}

impl Miner {
    fn start(tag: &str, seed: &str, store: &Path, allow: &str, extra: &[&str]) -> Self {
        let dir = Scratch::new(tag);
        let spool = dir.path().join("spool");
        let spool = spool.to_str().expect("utf-8 path");
        let mut args = vec![
            "--chain",
            "quicknet",
            "--format",
            "bittensor",
            "--allow",
            allow,
            "--spool",
            spool,
            // The validator here seals to rounds under a minute away.
            "--min-lead",
            "5",
        ];
        args.extend_from_slice(extra);
        let miner = VeilMiner::start(&dir, seed, store, &args);
        assert_eq!(miner.hotkey(), address(seed), "{tag}: the printed hotkey");
        Self { miner, _dir: dir }
    }

    fn arg(&self) -> String {
        format!("127.0.0.1:{}:{}", self.miner.port(), self.miner.hotkey())
    }
}

/// Runs `veil validator` (`args` after the common ones) in `dir` and
/// returns the results files it printed, parsed, in order.
fn run_validator(
    dir: &Scratch,
    tag: &str,
    args: &[String],
    logs: &dyn Fn() -> String,
) -> Vec<Value> {
    let mut cmd = Command::new(veil_tests::veil_bin());
    cmd.current_dir(dir.path())
        .args(["validator", "--chain", "quicknet"])
        .env("VEIL_SEED", VALIDATOR_SEED)
        .args(args);
    let out = run_limited(&mut cmd, dir, tag, VALIDATOR_LIMIT);
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    assert!(
        out.status.success(),
        "veil validator failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    stdout
        .lines()
        .map(|l| {
            let p = PathBuf::from(l);
            let p = if p.is_absolute() {
                p
            } else {
                dir.path().join(p)
            };
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("results {} not written: {e}", p.display()));
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("results {} is not JSON: {e}", p.display()));
            assert_eq!(v["schema"], "veil/results/v2", "{}", p.display());
            let cid = str_of(&v["phase4_image_data"], "challenge_id");
            assert_eq!(
                p.file_name().and_then(|n| n.to_str()),
                Some(format!("results-{cid}.json").as_str()),
                "results file name"
            );
            v
        })
        .collect()
}

/// No temporary or hidden file is left in the validator's out dir: only
/// results files, `weights.json`, base-image copies and the copies of the
/// accepted objects (`objects/{cid}/{sha256}.tlock`).
fn assert_out_dir_clean(out: &Path) {
    for f in files_under(out) {
        let text = f.to_string_lossy().into_owned();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            !name.starts_with('.') && !name.contains("tmp") && !name.contains("temp"),
            "temporary file left in the out dir: {text}"
        );
        assert!(
            (name.starts_with("results-") && name.ends_with(".json"))
                || text == "weights.json"
                || text.starts_with("base-images/")
                || (text.starts_with("objects/challenge_") && name.ends_with(".tlock")),
            "unexpected file in the out dir: {text}"
        );
    }
}

/// The checks every honest miner's entry must pass: three accepted
/// submissions of the requested types, each stored, nothing rejected.
fn assert_honest(results: &Value, uid: usize, hotkey: &str, store: &Path, what: &str) {
    let r = &results["responses"][uid.to_string()];
    let ctx = || format!("uid {uid} ({what}): {r:#}");
    assert_eq!(r["uid"], uid, "{}", ctx());
    assert_eq!(r["hotkey"], hotkey, "{}", ctx());
    assert!(r["error"].is_null(), "{}", ctx());
    assert_eq!(r["status_code"], 200, "{}", ctx());
    assert_eq!(r["attempts"], 1, "{}", ctx());
    assert_eq!(r["rejected"], json!([]), "{}", ctx());
    assert_eq!(r["submission_count"], 3, "{}", ctx());
    assert!(r["response_time"].as_f64().is_some(), "{}", ctx());
    let subs = r["s3_submissions"].as_array().expect("s3_submissions");
    assert_eq!(subs.len(), 3, "{}", ctx());
    let data = &results["phase4_image_data"];
    let cid = str_of(data, "challenge_id");
    let mut kinds: Vec<&str> = subs.iter().map(|s| str_of(s, "variation_type")).collect();
    kinds.sort_unstable();
    let mut want: Vec<&str> = data["variation_types"]
        .as_array()
        .expect("variation_types")
        .iter()
        .map(|t| t.as_str().expect("type"))
        .collect();
    want.sort_unstable();
    assert_eq!(kinds, want, "{}", ctx());
    for s in subs {
        let key = str_of(s, "s3_key");
        assert!(
            key.starts_with(&format!(
                "submissions/{cid}/{hotkey}/{}/face-01/",
                str_of(s, "path_signature")
            )),
            "{key}: {}",
            ctx()
        );
        assert!(
            store.join(key).is_file(),
            "{key} not in the store: {}",
            ctx()
        );
    }
    let by_miner = &data["s3_submissions_by_miner"][uid.to_string()];
    assert_eq!(by_miner["hotkey"], hotkey, "{}", ctx());
    assert_eq!(by_miner["submission_count"], 3, "{}", ctx());
    // MIID's grading payload: the same records, without what veil adds
    // (the round, the receipt order, the object accepted).
    let mut ours = r["s3_submissions"].clone();
    for s in ours.as_array_mut().expect("s3_submissions") {
        let s = s.as_object_mut().expect("a record");
        for added in ["drand_round", "received", "object"] {
            assert!(
                s.remove(added).is_some_and(|v| !v.is_null()),
                "{added}: {}",
                ctx()
            );
        }
        s.remove("drand_round_angle2");
        s.remove("object_angle2");
    }
    assert_eq!(by_miner["submissions"], ours, "{}", ctx());
}

/// The weights record: every uid in order, the formula's numbers (a
/// reputation of 0.5 for everyone here), summing to 1.
fn assert_weights(results: &Value, hotkeys: &[String], accepted: &[usize], reputation: &[f64]) {
    let w = &results["weights"];
    let n = hotkeys.len();
    assert_eq!(w["uids"], json!((0..n).collect::<Vec<_>>()), "{w:#}");
    assert_eq!(w["hotkeys"], json!(hotkeys), "{w:#}");
    assert_eq!(w["reputation"], json!(reputation), "{w:#}");
    assert_eq!(w["recorded"], true, "{w:#}");
    let requested = results["phase4_image_data"]["variation_count"]
        .as_u64()
        .expect("variation_count") as f64;
    let raw: Vec<f64> = accepted
        .iter()
        .zip(reputation)
        .map(|(&a, &r)| r * (a as f64 / requested).min(1.0))
        .collect();
    let sum: f64 = raw.iter().sum();
    let got: Vec<f64> = w["weights"]
        .as_array()
        .expect("weights")
        .iter()
        .map(|x| x.as_f64().expect("weight"))
        .collect();
    assert_eq!(got.len(), n, "{w:#}");
    let total: f64 = got.iter().sum();
    assert!((total - 1.0).abs() < 1e-9, "weights sum to {total}: {w:#}");
    for (uid, (g, r)) in got.iter().zip(&raw).enumerate() {
        let want = r / sum;
        assert!(
            (g - want).abs() < 1e-9,
            "uid {uid}: weight {g}, want {want}: {w:#}"
        );
        if accepted[uid] == 0 {
            assert_eq!(*g, 0.0, "uid {uid} delivered nothing: {w:#}");
        }
    }
}

// ---------------------------------------------------------------------------
// Forged answers
// ---------------------------------------------------------------------------

/// What one item of a forged answer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    /// A correct submission: signed, sealed to the target round, stored.
    Good,
    /// Correct but beyond the K requested.
    Extra,
    /// Signed over another hash.
    BadSignature,
    /// Sealed to the target round + 100.
    WrongRound,
    /// Correct, but the object was never stored.
    Missing,
    /// A key under another miner's hotkey (object stored there).
    OtherMinerKey,
    /// A type the validator did not ask for (`pose_edit`).
    Unrequested,
    /// The first good item again.
    DuplicateKey,
    /// Another key with the first good item's image (and hash).
    DuplicateHash,
    /// Stored bytes that are no ciphertext.
    NotTimelock,
    /// A 3-hex-character signature.
    Malformed,
    /// The right prefix, but the file name is `selfie.png.tlock`.
    WrongFileName,
    /// Not a record at all: this JSON.
    NotARecord(&'static str),
}

impl Item {
    /// The rejection reason the validator must give (a substring), or
    /// `None` when the item is to be accepted.
    fn reason(self, cid: &str, miner: &str, target: u64, requested: usize) -> Option<String> {
        Some(match self {
            Self::Good => return None,
            Self::Extra => format!("more submissions than the {requested} requested"),
            Self::BadSignature => "the signature does not verify under the miner's hotkey".into(),
            Self::WrongRound => format!(
                "sealed to round {}, after the target round {target}: the reveal cannot open it",
                target + 100
            ),
            Self::Missing => "the object is not in".into(),
            Self::OtherMinerKey => format!("the key is not under submissions/{cid}/{miner}/"),
            Self::Unrequested => "variation_type pose_edit was not requested".into(),
            Self::DuplicateKey => "the same s3_key appears twice".into(),
            Self::DuplicateHash => "the same image_hash appears twice".into(),
            Self::NotTimelock => "not a timelock ciphertext veil reads".into(),
            Self::Malformed => "malformed:".into(),
            Self::WrongFileName => "the key's file name must be".into(),
            Self::NotARecord(_) => "not an S3Submission:".into(),
        })
    }
}

/// The forged answers, one plan per forging miner. The validator checks at
/// most K = 3 items of an answer (items past K are rejected as "more
/// submissions than the 3 requested" before any other check), so each plan
/// puts at most three checked items first, then non-records (rejected
/// whatever their position) and, in the first plan, one item past K.
const PLANS: [&[Item]; 5] = [
    &[
        Item::Good,
        Item::BadSignature,
        Item::WrongRound,
        Item::NotARecord("42"),
        Item::Extra,
    ],
    &[
        Item::Good,
        Item::Missing,
        Item::OtherMinerKey,
        Item::NotARecord("\"a string\""),
    ],
    &[
        Item::Good,
        Item::Unrequested,
        Item::DuplicateKey,
        Item::NotARecord("null"),
    ],
    &[
        Item::Good,
        Item::DuplicateHash,
        Item::NotTimelock,
        Item::NotARecord(r#"{"s3_key":"submissions/x"}"#),
    ],
    &[Item::Malformed, Item::WrongFileName, Item::Good],
];

/// What the validator asked, read from a request body.
struct Asked {
    cid: String,
    round: u64,
    filename: String,
    types: Vec<String>,
}

impl Asked {
    fn parse(req: &HttpRequest) -> Self {
        let body: Value = serde_json::from_slice(&req.body).expect("request body is JSON");
        let ir = &body["image_request"];
        Self {
            cid: str_of(ir, "challenge_id").to_owned(),
            round: ir["target_drand_round"]
                .as_u64()
                .expect("target_drand_round"),
            filename: str_of(ir, "image_filename").to_owned(),
            types: ir["variation_requests"]
                .as_array()
                .expect("variation_requests")
                .iter()
                .map(|v| str_of(v, "type").to_owned())
                .collect(),
        }
    }
}

/// A miner that fabricates its answers with veil-core.
struct Forger {
    keypair: Keypair,
    hotkey: String,
    store: PathBuf,
    chain: Chain,
    uses: AtomicU64,
}

impl Forger {
    fn new(seed: &str, store: &Path) -> Self {
        Self {
            keypair: keypair(seed),
            hotkey: address(seed),
            store: store.to_owned(),
            chain: Chain::builtin("quicknet").expect("quicknet"),
            uses: AtomicU64::new(0),
        }
    }

    fn sign_hex(&self, msg: &[u8]) -> String {
        let n = self.uses.fetch_add(1, Ordering::Relaxed);
        self.keypair
            .sign(msg, &mut rng(&self.hotkey, n))
            .to_hex()
            .to_string()
    }

    fn seal(&self, round: u64, plaintext: &[u8]) -> Vec<u8> {
        let round = veil_core::Round::new(round).expect("round");
        let prepared = PreparedRound::new(&self.chain, round).expect("prepared round");
        let n = self.uses.fetch_add(1, Ordering::Relaxed);
        veil::timelock::seal_bytes(
            &prepared,
            Format::Bittensor,
            plaintext,
            &mut rng(&self.hotkey, n),
        )
        .expect("seal")
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        let path = self.store.join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir in the store");
        std::fs::write(&path, bytes).expect("write into the store");
    }

    /// A submission of `plaintext` as `kind` number `index`, its key under
    /// `owner`'s hotkey, sealed to `round` and stored (unless `round` is
    /// `None`), signed by this miner.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        a: &Asked,
        path_sig: &str,
        owner: &str,
        kind: &str,
        index: u32,
        plaintext: &[u8],
        round: Option<u64>,
    ) -> Value {
        let key = miid::object_key(&KeyParts {
            challenge_id: &a.cid,
            miner_ss58: owner,
            path_signature: path_sig,
            image_filename: &a.filename,
            variation_type: kind,
            unix_ts: now_secs(),
            index,
        })
        .expect("object key")
        .to_string();
        let hash = hex_of(&Sha256::digest(plaintext));
        let msg = miid::image_message(&a.cid, &hash).expect("image message");
        let signature = self.sign_hex(msg.as_bytes());
        if let Some(round) = round {
            self.put(&key, &self.seal(round, plaintext));
        }
        json!({
            "s3_key": key,
            "image_hash": hash,
            "signature": signature,
            "variation_type": kind,
            "path_signature": path_sig,
        })
    }

    /// The items of `plan` for the request `a`.
    fn answer(&self, a: &Asked, plan: &[Item], other_miner: &str) -> Vec<Value> {
        let path_msg = miid::path_message(&a.cid, &self.hotkey).expect("path message");
        let path_sig = self.sign_hex(path_msg.as_bytes())[..16].to_owned();
        let mut first_good: Option<(Value, Vec<u8>)> = None;
        let mut items = Vec::new();
        for (p, item) in plan.iter().enumerate() {
            let index = u32::try_from(p).expect("index");
            let kind = a.types[p % a.types.len()].as_str();
            let plaintext =
                format!("forged image {p} of {} for {}", self.hotkey, a.cid).into_bytes();
            let me = self.hotkey.as_str();
            let good = |kind: &str, pt: &[u8]| {
                self.record(a, &path_sig, me, kind, index, pt, Some(a.round))
            };
            let v = match *item {
                Item::Good | Item::Extra => good(kind, &plaintext),
                Item::BadSignature => {
                    let mut v = good(kind, &plaintext);
                    let other_hash = hex_of(&Sha256::digest(b"some other image"));
                    let msg = miid::image_message(&a.cid, &other_hash).expect("message");
                    v["signature"] = json!(self.sign_hex(msg.as_bytes()));
                    v
                }
                Item::WrongRound => self.record(
                    a,
                    &path_sig,
                    me,
                    kind,
                    index,
                    &plaintext,
                    Some(a.round + 100),
                ),
                Item::Missing => self.record(a, &path_sig, me, kind, index, &plaintext, None),
                Item::OtherMinerKey => self.record(
                    a,
                    &path_sig,
                    other_miner,
                    kind,
                    index,
                    &plaintext,
                    Some(a.round),
                ),
                Item::Unrequested => good("pose_edit", &plaintext),
                Item::DuplicateKey => first_good.as_ref().expect("a good item first").0.clone(),
                Item::DuplicateHash => {
                    good(kind, &first_good.as_ref().expect("a good item first").1)
                }
                Item::NotTimelock => {
                    let v = good(kind, &plaintext);
                    self.put(str_of(&v, "s3_key"), b"this is not a timelock ciphertext");
                    v
                }
                Item::Malformed => {
                    let mut v = good(kind, &plaintext);
                    v["signature"] = json!("abc");
                    v
                }
                Item::WrongFileName => {
                    let mut v = good(kind, &plaintext);
                    let key = str_of(&v, "s3_key").to_owned();
                    let (dir, _) = key.rsplit_once('/').expect("key has a /");
                    let renamed = format!("{dir}/selfie.png.tlock");
                    self.put(&renamed, &self.seal(a.round, &plaintext));
                    v["s3_key"] = json!(renamed);
                    v
                }
                Item::NotARecord(text) => serde_json::from_str(text).expect("plan JSON"),
            };
            if *item == Item::Good && first_good.is_none() {
                first_good = Some((v.clone(), plaintext));
            }
            items.push(v);
        }
        items
    }
}

/// A forging miner on a [`RawServer`], remembering what it last sent.
struct ForgingMiner {
    server: RawServer,
    hotkey: String,
    plan: &'static [Item],
    sent: Arc<Mutex<Vec<Value>>>,
}

impl ForgingMiner {
    fn start(seed: &str, store: &Path, plan: &'static [Item], other_miner: &str) -> Self {
        let forger = Forger::new(seed, store);
        let hotkey = forger.hotkey.clone();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let other_miner = other_miner.to_owned();
        let server = {
            let sent = Arc::clone(&sent);
            RawServer::start(move |req| {
                assert_eq!(req.path, "/IdentitySynapse");
                let asked = Asked::parse(req);
                let items = forger.answer(&asked, plan, &other_miner);
                *sent.lock().expect("lock") = items.clone();
                Reply::json(&json!({
                    "name": "IdentitySynapse",
                    "s3_submissions": items,
                    "axon": {"status_code": 200, "status_message": "Success"},
                }))
            })
        };
        Self {
            server,
            hotkey,
            plan,
            sent,
        }
    }

    fn arg(&self) -> String {
        format!("127.0.0.1:{}:{}", self.server.port(), self.hotkey)
    }
}

// ---------------------------------------------------------------------------
// 1. One cycle against everyone
// ---------------------------------------------------------------------------

enum Role {
    Honest { min_time: f64 },
    Hang,
    Garbage,
    Dead,
    Forging(usize),
}

#[test]
fn one_cycle_three_veil_miners_one_python_miner_slow_and_malicious() {
    let dir = Scratch::new("p4-cycle");
    let store = dir.subdir("store");
    let images = images_dir(&dir);
    let out = dir.path().join("out");
    let validator = address(VALIDATOR_SEED);

    // The Python miner first: importing bittensor is the slowest start.
    let python = PyAxonMiner::start(&dir, PY_SEED, &store, &[&validator]);
    if python.is_none() {
        eprintln!("NOTE: running the cycle without the Python axon miner");
    }

    let honest: Vec<Miner> = HONEST_SEEDS
        .iter()
        .enumerate()
        .map(|(i, seed)| Miner::start(&format!("p4-honest-{i}"), seed, &store, &validator, &[]))
        .collect();
    // Sleeps, then hands back the base image with a per-index tail (so the
    // three images, and their hashes, differ; PNG decoders stop at IEND).
    let slow_cmd = format!(
        r#"j=$(cat); o=$(printf '%s' "$j" | sed 's/.*"out_dir":"\([^"]*\)".*/\1/'); b=$(printf '%s' "$j" | sed 's/.*"base_image":"\([^"]*\)".*/\1/'); i=$(printf '%s' "$j" | sed 's/.*"index":\([0-9]*\).*/\1/'); sleep {SLOW_SECS}; cp "$b" "$o/$i.png" && printf 'slow-%s' "$i" >> "$o/$i.png""#
    );
    let slow = Miner::start(
        "p4-slow",
        SLOW_SEED,
        &store,
        &validator,
        &[
            "--generator-cmd",
            &slow_cmd,
            "--generator-timeout",
            "30",
            "--concurrency",
            "3",
        ],
    );
    // Reads the request and never answers.
    let hang = RawServer::start(|_| Reply::Hang(Duration::from_secs(60)));
    // Answers 200 with something that is not JSON.
    let garbage = RawServer::start(|_| Reply::Answer {
        status: 200,
        content_type: "application/json".into(),
        body: b"<html>this is not JSON {".to_vec(),
        axon_header: false,
    });
    let dead = dead_port();
    let forgers: Vec<ForgingMiner> = PLANS
        .iter()
        .zip(FORGER_SEEDS)
        .map(|(plan, seed)| ForgingMiner::start(seed, &store, plan, honest[0].miner.hotkey()))
        .collect();

    // uid → (--miner argument, hotkey, role)
    let mut miners: Vec<(String, String, Role)> = Vec::new();
    for m in &honest {
        miners.push((
            m.arg(),
            m.miner.hotkey().to_owned(),
            Role::Honest { min_time: 0.0 },
        ));
    }
    miners.push((
        slow.arg(),
        slow.miner.hotkey().to_owned(),
        Role::Honest {
            min_time: SLOW_SECS,
        },
    ));
    miners.push((
        format!("127.0.0.1:{}:{}", hang.port(), address(HANG_SEED)),
        address(HANG_SEED),
        Role::Hang,
    ));
    for (i, f) in forgers.iter().enumerate() {
        miners.push((f.arg(), f.hotkey.clone(), Role::Forging(i)));
    }
    miners.push((
        format!("127.0.0.1:{}:{}", garbage.port(), address(GARBAGE_SEED)),
        address(GARBAGE_SEED),
        Role::Garbage,
    ));
    miners.push((
        format!("127.0.0.1:{dead}:{}", address(DEAD_SEED)),
        address(DEAD_SEED),
        Role::Dead,
    ));
    if let Some(py) = &python {
        miners.push((
            py.miner_arg(),
            py.hotkey().to_owned(),
            Role::Honest { min_time: 0.0 },
        ));
    }

    let mut args: Vec<String> = vec![
        "--images".into(),
        images.display().to_string(),
        "--store".into(),
        format!("dir:{}", store.display()),
        "--out".into(),
        out.display().to_string(),
    ];
    for (arg, _, _) in &miners {
        args.push("--miner".into());
        args.push(arg.clone());
    }
    args.extend(
        [
            "--cycles",
            "1",
            "--variations",
            "3",
            "--timeout",
            "8",
            "--retries",
            "1",
            "--reveal-buffer",
            "5",
        ]
        .map(String::from),
    );
    let round_before = quicknet_round_now();
    let logs = || {
        let mut s: String = honest.iter().map(|m| m.miner.log()).collect();
        s.push_str(&slow.miner.log());
        if let Some(py) = &python {
            s.push_str(&py.log());
        }
        s
    };
    let all = run_validator(&dir, "validator", &args, &logs);
    assert_eq!(all.len(), 1, "one cycle, one results file");
    let v = &all[0];
    let ctx = || format!("{v:#}\n{}", logs());

    // The cycle's own record.
    let data = &v["phase4_image_data"];
    let cid = str_of(data, "challenge_id").to_owned();
    let target = data["target_drand_round"].as_u64().expect("target round");
    assert!(
        target > round_before,
        "target {target} is not in the future"
    );
    assert_eq!(data["base_image_filename"], BASE_IMAGE, "{}", ctx());
    // The requests as sent (MIID HEAD's shape: the list of records).
    let requested = data["requested_variations"]
        .as_array()
        .expect("requested_variations");
    assert_eq!(requested.len(), 3, "{}", ctx());
    assert_eq!(data["variation_count"], 3, "{}", ctx());
    let types: Vec<String> = data["variation_types"]
        .as_array()
        .expect("variation_types")
        .iter()
        .map(|t| t.as_str().expect("type").to_owned())
        .collect();
    assert_eq!(types.len(), 3, "{}", ctx());
    let listed: Vec<&str> = requested.iter().map(|r| str_of(r, "type")).collect();
    assert_eq!(listed, types, "{}", ctx());
    assert!(
        !types.iter().any(|t| t == "pose_edit"),
        "the 'unrequested' forgery needs pose_edit not to be requested: {types:?}"
    );
    assert_eq!(
        data["variation_intensities"].as_array().map(Vec::len),
        Some(3),
        "{}",
        ctx()
    );
    assert_eq!(
        data["reveal_timestamp"].as_u64(),
        Some(QUICKNET_GENESIS + (target - 1) * 3),
        "{}",
        ctx()
    );
    assert_eq!(v["chain"]["hash"], QUICKNET_HASH, "{}", ctx());
    assert_eq!(v["format"], "bittensor", "{}", ctx());
    let base_bytes = std::fs::read(images.join(BASE_IMAGE)).unwrap();
    let base_sha = hex_of(&Sha256::digest(&base_bytes));
    assert_eq!(v["base_image"]["filename"], BASE_IMAGE, "{}", ctx());
    assert_eq!(v["base_image"]["sha256"], base_sha.as_str(), "{}", ctx());
    let copy = out.join(str_of(&v["base_image"], "path"));
    assert_eq!(std::fs::read(&copy).expect("base image copy"), base_bytes);
    assert_eq!(
        v["responses"].as_object().map(serde_json::Map::len),
        Some(miners.len()),
        "{}",
        ctx()
    );

    let mut accepted = Vec::new();
    for (uid, (_, hotkey, role)) in miners.iter().enumerate() {
        let r = &v["responses"][uid.to_string()];
        let ctx = || format!("uid {uid}: {r:#}\n{}", logs());
        assert_eq!(r["uid"], uid, "{}", ctx());
        assert_eq!(r["hotkey"], hotkey.as_str(), "{}", ctx());
        assert_eq!(r["axon"]["hotkey"], hotkey.as_str(), "{}", ctx());
        assert_eq!(r["axon"]["ip"], "127.0.0.1", "{}", ctx());
        let error = r["error"].as_str().unwrap_or("");
        match role {
            Role::Honest { min_time } => {
                assert_honest(v, uid, hotkey, &store, "honest");
                let t = r["response_time"].as_f64().expect("response_time");
                assert!(t >= *min_time, "response_time {t} < {min_time}: {}", ctx());
                assert!(t < 8.0, "response_time {t} over the timeout: {}", ctx());
                accepted.push(3);
            }
            Role::Hang => {
                assert!(error.contains("no answer within"), "{}", ctx());
                assert_eq!(r["status_code"], 408, "{}", ctx());
                assert_eq!(r["attempts"], 2, "{}", ctx());
                assert!(r["response_time"].is_null(), "{}", ctx());
                assert_eq!(hang.hits(), 2, "the silent miner was asked twice");
                accepted.push(0);
            }
            Role::Garbage => {
                assert!(error.starts_with("unusable answer"), "{}", ctx());
                assert_eq!(r["status_code"], 422, "{}", ctx());
                assert_eq!(r["attempts"], 1, "not retried: {}", ctx());
                assert_eq!(garbage.hits(), 1, "the garbage miner was asked once");
                accepted.push(0);
            }
            Role::Dead => {
                assert!(error.starts_with("cannot connect"), "{}", ctx());
                assert_eq!(r["status_code"], 503, "{}", ctx());
                assert_eq!(r["attempts"], 2, "{}", ctx());
                accepted.push(0);
            }
            Role::Forging(i) => {
                let f = &forgers[*i];
                assert_eq!(f.server.hits(), 1, "forger {i} asked once");
                assert!(r["error"].is_null(), "{}", ctx());
                assert_eq!(r["status_code"], 200, "{}", ctx());
                let sent = f.sent.lock().unwrap().clone();
                assert_eq!(sent.len(), f.plan.len());
                assert_eq!(r["submission_count"], sent.len(), "{}", ctx());
                let good: Vec<&Value> = f
                    .plan
                    .iter()
                    .zip(&sent)
                    .filter(|(item, _)| **item == Item::Good)
                    .map(|(_, v)| v)
                    .collect();
                assert_eq!(good.len(), 1);
                // Accepted as sent: the record (its absent optional fields
                // written null, as MIID's model_dump does) and the round.
                let mut as_sent = r["s3_submissions"].clone();
                for a in as_sent.as_array_mut().expect("s3_submissions") {
                    let a = a.as_object_mut().expect("a record");
                    assert_eq!(a.remove("drand_round"), Some(json!(target)), "{}", ctx());
                    assert!(a.remove("received").is_some_and(|v| v.is_u64()));
                    assert!(a.remove("object").is_some_and(|v| v["sha256"].is_string()));
                    a.retain(|_, v| !v.is_null());
                }
                assert_eq!(as_sent, json!(good), "{}", ctx());
                for s in &good {
                    assert!(store.join(str_of(s, "s3_key")).is_file());
                }
                let rejected = r["rejected"].as_array().expect("rejected");
                let bad: Vec<(Item, &Value)> = f
                    .plan
                    .iter()
                    .zip(&sent)
                    .filter(|(item, _)| **item != Item::Good)
                    .map(|(item, v)| (*item, v))
                    .collect();
                assert_eq!(rejected.len(), bad.len(), "{}", ctx());
                for ((item, sent_item), rej) in bad.iter().zip(rejected) {
                    let want = item.reason(&cid, &f.hotkey, target, 3).expect("a bad item");
                    let reason = str_of(rej, "reason");
                    assert!(
                        reason.contains(&want),
                        "{item:?}: reason {reason:?}, want {want:?}: {}",
                        ctx()
                    );
                    assert!(!reason.contains('\n'), "{reason:?}");
                    match item {
                        Item::NotARecord(_) => {
                            assert_eq!(rej["s3_key"], sent_item["s3_key"], "{item:?}");
                            assert!(rej["variation_type"].is_null(), "{item:?}");
                        }
                        _ => {
                            assert_eq!(rej["s3_key"], sent_item["s3_key"], "{item:?}");
                            assert_eq!(
                                rej["variation_type"], sent_item["variation_type"],
                                "{item:?}"
                            );
                        }
                    }
                }
                let by_miner = &data["s3_submissions_by_miner"][uid.to_string()];
                assert_eq!(by_miner["submission_count"], 1, "{}", ctx());
                accepted.push(1);
            }
        }
        if accepted[uid] == 0 {
            assert_eq!(r["s3_submissions"], json!([]), "{}", ctx());
            assert_eq!(
                data["s3_submissions_by_miner"][uid.to_string()]["submission_count"],
                0,
                "{}",
                ctx()
            );
        }
    }

    let hotkeys: Vec<String> = miners.iter().map(|(_, h, _)| h.clone()).collect();
    assert_weights(v, &hotkeys, &accepted, &vec![0.5; miners.len()]);
    // The weight sink's file holds the same numbers.
    let sink: Value =
        serde_json::from_slice(&std::fs::read(out.join("weights.json")).expect("weights.json"))
            .expect("weights.json is JSON");
    assert_eq!(sink["challenge_id"], cid.as_str());
    assert_eq!(sink["weights"]["weights"], v["weights"]["weights"]);
    assert_out_dir_clean(&out);
    assert_eq!(
        files_under(&out)
            .iter()
            .filter(|p| p.to_string_lossy().starts_with("results-"))
            .count(),
        1
    );
}

// ---------------------------------------------------------------------------
// 2. Several cycles, reputation
// ---------------------------------------------------------------------------

fn reputation_file(dir: &Scratch, name: &str, scores: &[(&str, f64)]) -> PathBuf {
    let miners: serde_json::Map<String, Value> = scores
        .iter()
        .map(|(k, s)| ((*k).to_owned(), json!({ "score": s })))
        .collect();
    let path = dir.path().join(name);
    std::fs::write(
        &path,
        json!({"schema": "veil/reputation/v1", "updated": 0, "miners": miners}).to_string(),
    )
    .unwrap();
    path
}

/// Reads every `results-*.json` in `out` over and over until `stop`: each
/// one seen must be complete JSON (a results file is never visible half
/// written). Returns how many reads it made.
fn watch_results(out: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut reads = 0;
        while !stop.load(Ordering::SeqCst) {
            if let Ok(entries) = std::fs::read_dir(&out) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with("results-")
                        && name.ends_with(".json")
                        && let Ok(bytes) = std::fs::read(e.path())
                    {
                        reads += 1;
                        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                            panic!("{name} seen incomplete ({err}): {} bytes", bytes.len())
                        });
                        assert!(v["weights"]["weights"].is_array(), "{name} incomplete");
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        reads
    })
}

#[test]
fn validator_results_written_atomically() {
    let dir = Scratch::new("p4-cycles");
    let store = dir.subdir("store");
    let images = images_dir(&dir);
    let validator = address(VALIDATOR_SEED);
    let a = Miner::start("p4-rep-a", HONEST_SEEDS[0], &store, &validator, &[]);
    let b = Miner::start("p4-rep-b", HONEST_SEEDS[1], &store, &validator, &[]);
    let logs = || format!("{}{}", a.miner.log(), b.miner.log());
    let common = |out: &Path, rep: &Path| -> Vec<String> {
        vec![
            "--images".into(),
            images.display().to_string(),
            "--store".into(),
            format!("dir:{}", store.display()),
            "--out".into(),
            out.display().to_string(),
            "--reputation".into(),
            rep.display().to_string(),
            "--variations".into(),
            "3".into(),
            "--timeout".into(),
            "30".into(),
            "--retries".into(),
            "0".into(),
        ]
    };

    // Two cycles against one miner of reputation 0.2, back to back
    // (`--period 0`: they may start within one second): each cycle its own
    // challenge and complete results file; the miner's weight is 1 (it is
    // alone).
    let out = dir.path().join("out-one");
    let rep = reputation_file(&dir, "rep-one.json", &[(a.miner.hotkey(), 0.2)]);
    let mut args = common(&out, &rep);
    args.extend(["--miner", &a.arg(), "--cycles", "2", "--period", "0"].map(|s| s.to_owned()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_results(out.clone(), Arc::clone(&stop));
    let results = run_validator(&dir, "validator-one", &args, &logs);
    stop.store(true, Ordering::SeqCst);
    let reads = watcher.join().expect("no results file was seen incomplete");
    eprintln!("results files read while the validator ran: {reads}");
    assert_eq!(results.len(), 2, "two cycles, two results files");
    let cids: Vec<&str> = results
        .iter()
        .map(|v| str_of(&v["phase4_image_data"], "challenge_id"))
        .collect();
    assert_ne!(cids[0], cids[1], "each cycle its own challenge");
    for v in &results {
        assert_honest(v, 0, a.miner.hotkey(), &store, "miner a");
        assert_eq!(v["weights"]["reputation_file"], rep.display().to_string());
        assert_weights(v, &[a.miner.hotkey().to_owned()], &[3], &[0.2]);
        assert_eq!(v["weights"]["weights"], json!([1.0]));
    }
    let files: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().starts_with("results-"))
        .collect();
    let mut want: Vec<PathBuf> = cids
        .iter()
        .map(|c| PathBuf::from(format!("results-{c}.json")))
        .collect();
    want.sort();
    assert_eq!(files, want);
    assert_out_dir_clean(&out);
    let sink: Value =
        serde_json::from_slice(&std::fs::read(out.join("weights.json")).unwrap()).unwrap();
    assert_eq!(
        sink["challenge_id"], cids[1],
        "the sink holds the last cycle"
    );

    // Two miners, both delivering fully, reputations 0.2 and 0.6: 1/4, 3/4.
    let out = dir.path().join("out-two");
    let rep = reputation_file(
        &dir,
        "rep-two.json",
        &[(a.miner.hotkey(), 0.2), (b.miner.hotkey(), 0.6)],
    );
    let mut args = common(&out, &rep);
    args.extend(["--miner", &a.arg(), "--miner", &b.arg()].map(|s| s.to_owned()));
    let results = run_validator(&dir, "validator-two", &args, &logs);
    assert_eq!(results.len(), 1);
    let v = &results[0];
    assert_honest(v, 0, a.miner.hotkey(), &store, "miner a");
    assert_honest(v, 1, b.miner.hotkey(), &store, "miner b");
    let hotkeys = [a.miner.hotkey().to_owned(), b.miner.hotkey().to_owned()];
    assert_weights(v, &hotkeys, &[3, 3], &[0.2, 0.6]);
    let w: Vec<f64> = v["weights"]["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(
        (w[0] - 0.25).abs() < 1e-9 && (w[1] - 0.75).abs() < 1e-9,
        "{w:?}"
    );
    assert_out_dir_clean(&out);
}

// ---------------------------------------------------------------------------
// 3. What the miner's axon refuses
// ---------------------------------------------------------------------------

/// Signed request headers for the axon `axon` (timeout 12 s).
fn signed_headers(kp: &Keypair, nonce: u64, uuid: &str, axon: &str) -> Vec<(String, String)> {
    let hotkey = veil::keys::address_of(&kp.public());
    let msg = signing_message(nonce, &hotkey, axon, uuid, EMPTY_BODY_HASH).expect("message");
    let sig = sign_request(kp, &msg, &mut rng(uuid, nonce));
    [
        ("content-type", "application/json".to_owned()),
        (header::NAME, "IdentitySynapse".to_owned()),
        (header::TIMEOUT, "12.0".to_owned()),
        (header::DENDRITE_HOTKEY, hotkey),
        (header::DENDRITE_NONCE, nonce.to_string()),
        (header::DENDRITE_UUID, uuid.to_owned()),
        (header::DENDRITE_SIGNATURE, sig.to_string()),
        (header::DENDRITE_VERSION, "10005000".to_owned()),
        (header::AXON_HOTKEY, axon.to_owned()),
        (header::COMPUTED_BODY_HASH, EMPTY_BODY_HASH.to_owned()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect()
}

/// An IdentitySynapse body asking for `variations` of `image` (base64).
fn synapse_body(image_b64: &str, variations: &[(&str, &str)], cid: &str) -> Vec<u8> {
    let round = quicknet_round_now() + 1000;
    json!({
        "name": "IdentitySynapse",
        "timeout": 12.0,
        "image_request": {
            "base_image": image_b64,
            "image_filename": BASE_IMAGE,
            "variation_requests": variations
                .iter()
                .map(|(t, i)| json!({"type": t, "intensity": i, "description": "", "detail": ""}))
                .collect::<Vec<_>>(),
            "target_drand_round": round,
            "reveal_timestamp": QUICKNET_GENESIS + (round - 1) * 3,
            "challenge_id": cid,
        },
    })
    .to_string()
    .into_bytes()
}

/// Asserts a refusal: `status`, JSON `{"message": ...}` on one line that
/// contains `says`, and the axon status header.
#[track_caller]
fn assert_refused(r: &veil_tests::phase4::HttpResponse, status: u16, says: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {} {}", r.status, r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{what}: content-type {:?}",
        r.header("content-type")
    );
    assert_eq!(
        r.header(header::AXON_STATUS_CODE),
        Some(status.to_string().as_str()),
        "{what}"
    );
    let v = r.json();
    let obj = v.as_object().expect("a JSON object");
    assert_eq!(obj.len(), 1, "{what}: only a message: {v}");
    let message = str_of(&v, "message");
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{what}: {message:?}"
    );
    assert!(
        message.to_lowercase().contains(&says.to_lowercase()),
        "{what}: message {message:?} does not say {says:?}"
    );
    assert!(!r.text().trim_end().contains('\n'), "{what}: not one line");
}

#[test]
fn miner_refuses_bad_requests() {
    let dir = Scratch::new("p4-refusals");
    let store = dir.subdir("store");
    let validator = keypair(VALIDATOR_SEED);
    let validator_ss58 = address(VALIDATOR_SEED);
    let stranger = keypair(STRANGER_SEED);
    let m = Miner::start(
        "p4-refusals-miner",
        HONEST_SEEDS[0],
        &store,
        &validator_ss58,
        &["--max-body", "100000"],
    );
    let port = m.miner.port();
    let axon = m.miner.hotkey().to_owned();
    let post = |headers: &[(String, String)], body: &[u8]| {
        http_request(port, "POST", "/IdentitySynapse", headers, body)
    };
    let now_ns = || veil::Clock::now_ns(&veil::SystemClock);
    let sample = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../std-shell/assets/base-images")
            .join(BASE_IMAGE),
    )
    .unwrap();
    let image = veil::phase4::images::encode_base64(&sample);
    let mut body: Value = serde_json::from_slice(&synapse_body(
        &image,
        &[("pose_edit", "light")],
        "p4-refusals-ok",
    ))
    .expect("json");
    // Fields this miner does not know are ignored, at every level (a newer
    // validator may send more).
    body["a_later_field"] = json!({"x": [1, 2]});
    body["image_request"]["a_later_field"] = json!("ignored");
    body["image_request"]["variation_requests"][0]["weight"] = json!(0.5);
    let body = body.to_string().into_bytes();
    assert!(body.len() < 100_000, "the valid body fits --max-body");

    // A valid request: 200, the axon's JSON and header, one stored image.
    let ok_headers = signed_headers(&validator, now_ns(), "uuid-ok", &axon);
    let r = post(&ok_headers, &body);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), m.miner.log());
    assert_eq!(r.header(header::AXON_STATUS_CODE), Some("200"));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let v = r.json();
    assert_eq!(v["axon"]["status_code"], 200, "{v}");
    assert_eq!(v["axon"]["hotkey"], axon.as_str(), "{v}");
    assert_eq!(v["dendrite"]["hotkey"], validator_ss58.as_str(), "{v}");
    let subs = v["s3_submissions"].as_array().expect("s3_submissions");
    assert_eq!(subs.len(), 1, "{v}");
    assert_eq!(subs[0]["variation_type"], "pose_edit");
    assert!(store.join(str_of(&subs[0], "s3_key")).is_file());

    // The same headers again: a replay.
    assert_refused(&post(&ok_headers, &body), 401, "nonce", "replay");

    // No signature.
    let mut unsigned = signed_headers(&validator, now_ns(), "uuid-unsigned", &axon);
    unsigned.retain(|(n, _)| n != header::DENDRITE_SIGNATURE);
    assert_refused(&post(&unsigned, &body), 401, "signature", "no signature");

    // A nonce an hour ahead, and one an hour old (each on a fresh uuid, so
    // only the clock rule can refuse it).
    let hour: u64 = 3_600 * 1_000_000_000;
    let future = signed_headers(&validator, now_ns() + hour, "uuid-future", &axon);
    assert_refused(&post(&future, &body), 401, "future", "future nonce");
    let stale = signed_headers(&validator, now_ns() - hour, "uuid-stale", &axon);
    assert_refused(&post(&stale, &body), 401, "too old", "stale nonce");

    // A hotkey that is not allowed: 403 with a good signature ...
    let strange = signed_headers(&stranger, now_ns(), "uuid-stranger", &axon);
    assert_refused(&post(&strange, &body), 403, "blacklisted", "not allowed");
    // ... but 401 with a bad one: the signature is checked first.
    let mut forged = signed_headers(&stranger, now_ns(), "uuid-stranger-forged", &axon);
    let other = signed_headers(&stranger, now_ns(), "uuid-other", &axon);
    let sig_of = |h: &[(String, String)]| {
        h.iter()
            .find(|(n, _)| n == header::DENDRITE_SIGNATURE)
            .unwrap()
            .1
            .clone()
    };
    let wrong = sig_of(&other);
    for (n, v) in &mut forged {
        if n == header::DENDRITE_SIGNATURE {
            *v = wrong.clone();
        }
    }
    assert_refused(
        &post(&forged, &body),
        401,
        "signature",
        "not allowed, bad signature",
    );
    // A request signed for another axon does not verify either.
    let mut elsewhere = signed_headers(&validator, now_ns(), "uuid-elsewhere", &validator_ss58);
    for (n, v) in &mut elsewhere {
        if n == header::AXON_HOTKEY {
            v.clone_from(&axon);
        }
    }
    assert_refused(
        &post(&elsewhere, &body),
        401,
        "signature",
        "signed for another axon",
    );

    // An unknown route.
    let r = http_request(
        port,
        "POST",
        "/Foo",
        &signed_headers(&validator, now_ns(), "uuid-foo", &axon),
        &body,
    );
    assert_refused(&r, 404, "not found", "/Foo");

    // A body over --max-body.
    let big = vec![b' '; 200_000];
    let r = post(
        &signed_headers(&validator, now_ns(), "uuid-big", &axon),
        &big,
    );
    assert_refused(&r, 413, "larger than 100000", "oversized body");

    // A base64 image that decodes to garbage.
    let garbage = veil::phase4::images::encode_base64(b"this is not an image, just some bytes");
    let bad_image = synapse_body(&garbage, &[("pose_edit", "light")], "p4-refusals-img");
    let r = post(
        &signed_headers(&validator, now_ns(), "uuid-img", &axon),
        &bad_image,
    );
    assert_refused(&r, 400, "base_image", "garbage image");

    // An unknown variation type.
    let bad_type = synapse_body(&image, &[("hair_edit", "light")], "p4-refusals-type");
    let r = post(
        &signed_headers(&validator, now_ns(), "uuid-type", &axon),
        &bad_type,
    );
    assert_refused(&r, 400, "image_request", "unknown variation type");

    // A combined type with the wrong number of per-part intensities: 400
    // naming the field.
    let bad_parts = synapse_body(
        &image,
        &[("lighting_edit+pose_edit", "far+light+far")],
        "p4-refusals-parts",
    );
    let r = post(
        &signed_headers(&validator, now_ns(), "uuid-parts", &axon),
        &bad_parts,
    );
    assert_refused(&r, 400, "intensity", "three intensities for two parts");

    // A daily seed that is no image: 400 naming it.
    let mut bad_daily: Value = serde_json::from_slice(&synapse_body(
        &image,
        &[("pose_edit", "light")],
        "p4-refusals-daily",
    ))
    .expect("json");
    bad_daily["image_request"]["daily_seed_image"] = json!(garbage);
    bad_daily["image_request"]["daily_seed_filename"] = json!("seed.png");
    let r = post(
        &signed_headers(&validator, now_ns(), "uuid-daily", &axon),
        bad_daily.to_string().as_bytes(),
    );
    assert_refused(&r, 400, "daily_seed_image", "garbage daily seed");

    // A target round already emitted: the images would be public at once.
    let mut past: Value = serde_json::from_slice(&synapse_body(
        &image,
        &[("pose_edit", "light")],
        "p4-refusals-past",
    ))
    .expect("json");
    past["image_request"]["target_drand_round"] = json!(1000);
    let r = post(
        &signed_headers(&validator, now_ns(), "uuid-past", &axon),
        past.to_string().as_bytes(),
    );
    assert_refused(&r, 400, "already emitted", "emitted target round");

    // None of the refused requests stored anything.
    for cid in [
        "p4-refusals-img",
        "p4-refusals-type",
        "p4-refusals-parts",
        "p4-refusals-daily",
        "p4-refusals-past",
    ] {
        assert!(
            !store.join("submissions").join(cid).exists(),
            "{cid} stored"
        );
    }
}

/// The request bodies a miner holds at once are bounded (256 MiB): eight
/// signed requests declaring 32 MiB bodies that never come take all the
/// room; a ninth is refused at once with 503, not read; once they hang up,
/// a valid request is answered again.
#[test]
fn large_bodies_held_at_once_are_bounded() {
    use std::io::{Read as _, Write as _};
    let dir = Scratch::new("p4-body-room");
    let store = dir.subdir("store");
    let validator = keypair(VALIDATOR_SEED);
    let m = Miner::start(
        "p4-body-room-miner",
        HONEST_SEEDS[1],
        &store,
        &address(VALIDATOR_SEED),
        &[],
    );
    let port = m.miner.port();
    let axon = m.miner.hotkey().to_owned();
    let now_ns = || veil::Clock::now_ns(&veil::SystemClock);
    let declared = 32 << 20;
    let open = |i: usize| {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!(
            "POST /IdentitySynapse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n"
        );
        for (n, v) in signed_headers(&validator, now_ns(), &format!("uuid-room-{i}"), &axon) {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        conn
    };
    let held: Vec<_> = (0..8)
        .map(|i| {
            let c = open(i);
            std::thread::sleep(Duration::from_millis(150));
            c
        })
        .collect();
    let mut ninth = open(8);
    let mut answer = vec![0u8; 4096];
    let n = ninth.read(&mut answer).unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(
        text.starts_with("HTTP/1.1 503") && text.contains("too many large requests"),
        "{text}\n{}",
        m.miner.log()
    );
    drop(held);
    drop(ninth);
    std::thread::sleep(Duration::from_millis(500));
    let sample = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../std-shell/assets/base-images")
            .join(BASE_IMAGE),
    )
    .unwrap();
    let body = synapse_body(
        &veil::phase4::images::encode_base64(&sample),
        &[("pose_edit", "light")],
        "p4-body-room-ok",
    );
    let r = http_request(
        port,
        "POST",
        "/IdentitySynapse",
        &signed_headers(&validator, now_ns(), "uuid-room-ok", &axon),
        &body,
    );
    assert_eq!(r.status, 200, "{}\n{}", r.text(), m.miner.log());
}
