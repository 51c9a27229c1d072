//! MIID as it runs today (yanez-compliance/MIID-subnet at d71f292bc) against
//! veil:
//!
//! - the fixtures `tests/data/miid/*.json`, made by running MIID's own
//!   `build_standard_challenge_variations`, `protocol.py` and miner code
//!   (`tests/peers/miid/make_fixtures.py`), parse in veil and come out again
//!   field for field, and veil's requests have MIID's shapes;
//! - a real bittensor 10.5 `bt.Dendrite` sends those requests, as MIID's
//!   validator builds them, to `veil miner`;
//! - a stock MIID miner — a real `bt.Axon` answering as MIID's miner does,
//!   sealing with `bittensor.timelock.encrypt(n_blocks=…, block_time=3.0)`,
//!   index-less keys, one real screen-replay capture per answer — is
//!   accepted by `veil validator` over several cycles.

extern crate alloc;

use alloc::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use veil::phase4::records::{RequestedVariation, Submission};
use veil::phase4::validator::{IMAGE_VARIATION_REQUIREMENTS, STANDARD_TYPES, standard_requests};
use veil_core::miid::{self, ImageRequestMeta, S3Submission};
use veil_core::sign::{PublicKey, Signature};
use veil_tests::bittensor::{
    self, PyAxonMiner, QUICKNET_ROUND_1000_SIGNATURE, Query, VeilMiner, dendrite_query,
    quicknet_round_time, ss58_of_seed, write_png,
};
use veil_tests::{Scratch, hex_of, success, veil_stdin};

const MINER_SEED: &str = "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7";
const DENDRITE_SEED: &str = "b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8";
const AXON_SEED: &str = "c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9";
const VALIDATOR_SEED: &str = "dadadadadadadadadadadadadadadadadadadadadadadadadadadadadadadada";

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/miid")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
    assert_eq!(
        v["source"], "yanez-compliance/MIID-subnet@d71f292bcdeee906e0471255ff111a0b7f78717a",
        "{name}: its provenance"
    );
    v
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {v}"))
}

/// The shape of a request, as MIID builds it: its type, how many
/// intensities (one per part), which text form its description and detail
/// take. Two requests of the same kind have the same shape whatever the
/// random draws and the texts.
fn shape(r: &RequestedVariation) -> (String, usize, &'static str, usize) {
    let parts = r.kind.split('+').count();
    let intensities: Vec<&str> = r.intensity.split('+').collect();
    assert!(
        intensities.iter().all(|i| miid::INTENSITIES.contains(i)),
        "{r:?}"
    );
    let form = if parts > 1 {
        let prefix =
            "Combined variation \u{2014} apply all of the following while preserving identity: ";
        let body = r
            .description
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("a combined description starts {prefix:?}: {r:?}"));
        // `{type} ({intensity}): …` per part, in order.
        for (part, i) in r.kind.split('+').zip(&intensities) {
            let head = format!("{part} ({i}): ");
            assert!(body.contains(&head), "{head:?} in {r:?}");
            assert!(r.detail.contains(&head), "{head:?} in the detail of {r:?}");
        }
        assert_eq!(r.detail.matches(" AND ").count(), parts - 1, "{r:?}");
        "combined"
    } else if r.kind == "background_edit" {
        let env = if r.description.contains(". Indoor background change. ") {
            "background indoor"
        } else if r.description.contains(". Outdoor background change. ") {
            "background outdoor"
        } else {
            panic!("a background description names Indoor or Outdoor: {r:?}")
        };
        assert!(r.detail.contains(". Additionally, include: "), "{r:?}");
        env
    } else {
        "single"
    };
    (r.kind.clone(), intensities.len(), form, parts)
}

#[test]
fn miid_requests_parse_and_veil_builds_the_same_shapes() {
    let v = fixture("variations.json");
    assert_eq!(
        v["image_variation_requirements"], IMAGE_VARIATION_REQUIREMENTS,
        "the composition requirements veil appends, as MIID's"
    );
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(18);
    for run in v["standard"].as_array().unwrap() {
        let theirs: Vec<RequestedVariation> =
            serde_json::from_value(run["variations"].clone()).expect("MIID's requests");
        let kinds: Vec<&str> = theirs.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, STANDARD_TYPES, "MIID's standard five, in order");
        let ours = standard_requests(5, &mut rng);
        let theirs_shapes: Vec<_> = theirs.iter().map(shape).collect();
        let ours_shapes: Vec<_> = ours.iter().map(shape).collect();
        assert_eq!(ours_shapes, theirs_shapes, "seed {}", run["random_seed"]);
        // Both parse in veil's core, as a miner receives them (the detail
        // followed by the requirements on the wire).
        for r in theirs.iter().chain(&ours) {
            let doc = json!({
                "image_filename": "face.png",
                "variation_requests": [{
                    "type": r.kind, "intensity": r.intensity,
                    "description": r.description, "detail": r.wire_detail(),
                }],
                "target_drand_round": 1000,
                "reveal_timestamp": quicknet_round_time(1000),
            });
            let bytes = serde_json::to_vec(&doc).unwrap();
            ImageRequestMeta::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        }
    }
    // Screen replay: intensity "standard".
    for sr in v["screen_replay"].as_array().unwrap() {
        assert_eq!(sr["intensity"], miid::SCREEN_REPLAY_INTENSITY);
        let doc = json!({
            "image_filename": "face.png",
            "variation_requests": [sr],
            "target_drand_round": 1000,
            "reveal_timestamp": quicknet_round_time(1000),
        });
        ImageRequestMeta::decode(&serde_json::to_vec(&doc).unwrap()).expect("screen_replay");
    }
    // What veil's core refuses in the same request, it names.
    let bad = json!({
        "image_filename": "face.png",
        "variation_requests": [{"type": "lighting_edit+pose_edit", "intensity": "far+light+far"}],
        "target_drand_round": 1000, "reveal_timestamp": 1,
    });
    let err = ImageRequestMeta::decode(&serde_json::to_vec(&bad).unwrap()).unwrap_err();
    assert!(err.to_string().contains("intensity"), "{err}");
}

#[test]
fn miid_image_requests_and_answers_parse_and_come_out_again() {
    let r = fixture("requests.json");
    let fields = &r["fields"];
    for req in r["requests"].as_array().unwrap() {
        let doc = &req["image_request"];
        let bytes = serde_json::to_vec(doc).unwrap();
        let meta = ImageRequestMeta::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {doc}"));
        assert_eq!(meta.variation_requests.len(), 5);
        assert_eq!(
            meta.daily_seed_filename,
            doc["daily_seed_filename"].as_str()
        );
        assert!(meta.real_screen_replay_instructions.is_some());
        // The bittensor-11 body is the same request inside the synapse.
        assert_eq!(&req["v11_body"]["image_request"], doc);
        assert_eq!(req["v11_body"]["name"], "IdentitySynapse");
        assert!(req["v11_body"].get("dendrite").is_none());
        // veil's request fields are MIID's (unknown ones would be ignored,
        // missing ones would lose something).
        let names: BTreeSet<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let theirs: BTreeSet<&str> = fields["ImageRequest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(names, theirs);
    }

    let a = fixture("answer.json");
    let hotkey = str_of(&a, "hotkey");
    let cid = str_of(&a, "challenge_id");
    let (_, key) = veil_core::ss58::decode(hotkey).unwrap();
    let public = PublicKey::from_bytes(&key).unwrap();
    let subs = a["s3_submissions"].as_array().unwrap();
    assert_eq!(subs, a["v11_body"]["s3_submissions"].as_array().unwrap());
    for s in subs {
        // The core reads it (every field checked) ...
        let bytes = serde_json::to_vec(s).unwrap();
        let core = S3Submission::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {s}"));
        // ... the shell's record carries all nine fields, and writes them
        // out again exactly as MIID's model_dump() did.
        let ours: Submission = serde_json::from_value(s.clone()).unwrap();
        assert_eq!(&serde_json::to_value(&ours).unwrap(), s);
        let names: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        let theirs: BTreeSet<&str> = fields["S3Submission"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(names, theirs);
        // MIID's index-less key, under the miner's hotkey.
        let k = miid::parse_object_key(core.s3_key).unwrap();
        assert_eq!((k.challenge_id, k.miner_ss58, k.index), (cid, hotkey, None));
        // MIID's signatures verify with veil's sr25519.
        let mut hashes = vec![(core.image_hash, core.signature)];
        if let Some((key2, hash2, sig2)) = core.angle2() {
            let k2 = miid::parse_object_key(key2).unwrap();
            assert_eq!(k2.type_part, "screen_replay_angle2");
            hashes.push((hash2, sig2));
            let uav = core.screen_replay_uav.expect("a capture's UAV report");
            assert_eq!(uav.device_photographed, "laptop");
            let seed = miid::seed_image_name(uav.seed_image);
            assert_eq!(
                k.seed_name,
                seed.rsplit_once('.').map_or(seed, |(stem, _)| stem),
                "a capture is keyed under its seed image"
            );
        }
        for (hash, sig) in hashes {
            let msg = miid::image_message(cid, hash).unwrap();
            public
                .verify(msg.as_bytes(), &Signature::from_hex(sig).unwrap())
                .unwrap_or_else(|e| panic!("{e}: {s}"));
        }
    }
    assert_eq!(
        subs.iter()
            .filter(|s| s["screen_replay_uav"].is_object())
            .count(),
        1
    );
}

/// One of `requests.json`'s ImageRequest documents, written to a file.
fn request_file(dir: &Scratch, n: usize) -> PathBuf {
    let r = fixture("requests.json");
    let doc = &r["requests"][n]["image_request"];
    let path = dir.path().join(format!("request-{n}.json"));
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    path
}

#[test]
fn bittensor_dendrite_sends_miids_requests_to_veil_miner() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("miid-requests");
    let store = dir.subdir("store");
    let dendrite = ss58_of_seed(DENDRITE_SEED);
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
            "--allow-emitted-rounds",
        ],
    );
    let image = dir.path().join("seed.png");
    write_png(&image, "miid request seed");
    let variations = fixture("variations.json");
    for (n, mode) in [(0, "sandbox"), (1, "daily seed")] {
        let request = request_file(&dir, n);
        let cid = format!("challenge_1785000000_5FHneW46_{n}");
        let report = dendrite_query(
            &dir,
            &Query {
                seed_hex: DENDRITE_SEED,
                axon_host: "127.0.0.1",
                axon_port: miner.port(),
                axon_hotkey: miner.hotkey(),
                image: &image,
                filename: "0ad9417fe84e_m_doc.png",
                round: 1000,
                reveal_ts: quicknet_round_time(1000),
                challenge_id: &cid,
                timeout_s: 60.0,
                variations: &[],
                request: Some(&request),
                repeat: 1,
            },
        );
        let r = &report["results"][0];
        let ctx = || format!("{mode}: {r}\n{}", miner.log());
        assert_eq!(r["status_code"], 200, "{}", ctx());
        let subs = r["submissions"].as_array().unwrap();
        let kinds: Vec<&str> = subs.iter().map(|s| str_of(s, "variation_type")).collect();
        let want: Vec<&str> = variations["standard"][n]["variations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| str_of(v, "type"))
            .collect();
        assert_eq!(kinds, want, "{}", ctx());
        assert_eq!(
            r["signatures_valid"],
            json!([true, true, true, true, true]),
            "{}",
            ctx()
        );
        for s in subs {
            // MIID's optional fields come back, null, as MIID's miner sends them.
            assert!(s["s3_key_angle2"].is_null() && s["screen_replay_uav"].is_null());
            let key = str_of(s, "s3_key");
            let sealed = std::fs::read(store.join(key)).unwrap();
            let plain = success(
                veil_stdin(
                    &["decrypt", "--signature", QUICKNET_ROUND_1000_SIGNATURE],
                    &sealed,
                ),
                "veil decrypt",
            );
            assert_eq!(hex_of(&Sha256::digest(&plain)), str_of(s, "image_hash"));
        }
    }
    assert!(miner.is_running(), "{}", miner.log());
}

#[test]
fn veil_validator_accepts_a_stock_miid_miner_over_several_cycles() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("miid-stock-miner");
    let store = dir.subdir("store");
    let validator = ss58_of_seed(VALIDATOR_SEED);
    let Some(miner) = PyAxonMiner::start_with(
        &dir,
        AXON_SEED,
        &store,
        &[&validator],
        &["--seal", "miid", "--capture"],
    ) else {
        return;
    };
    let daily = dir.path().join("daily_seed_0007.png");
    write_png(&daily, "the day's seed");
    let daily_arg = daily.display().to_string();
    let results = bittensor::run_validator(
        &dir,
        VALIDATOR_SEED,
        &miner.miner_arg(),
        &store,
        &[
            "--cycles",
            "3",
            "--period",
            "1",
            "--timeout",
            "30",
            "--variations",
            "5",
            "--daily-seed",
            &daily_arg,
        ],
        &|| miner.log(),
    );
    assert_eq!(results.len(), 3);
    let mut below = 0;
    for (cycle, v) in results.iter().enumerate() {
        let ctx = || format!("cycle {cycle}: {v:#}\n{}", miner.log());
        assert_eq!(v["schema"], "veil/results/v2");
        let data = &v["phase4_image_data"];
        let target = data["target_drand_round"].as_u64().unwrap();
        // MIID's request shape, recorded as the list of request records.
        let requested = data["requested_variations"].as_array().unwrap();
        let kinds: Vec<&str> = requested.iter().map(|r| str_of(r, "type")).collect();
        assert_eq!(kinds, STANDARD_TYPES, "{}", ctx());
        let r = &v["responses"]["0"];
        assert_eq!(r["rejected"], json!([]), "{}", ctx());
        let subs = r["s3_submissions"].as_array().unwrap();
        assert_eq!(subs.len(), 6, "five variations and one capture: {}", ctx());
        for s in subs {
            let round = s["drand_round"].as_u64().unwrap();
            assert!(
                round == target || round + 1 == target,
                "sealed by the clock to {round}, target {target}: {}",
                ctx()
            );
            below += usize::from(round < target);
            let k = miid::parse_object_key(str_of(s, "s3_key")).unwrap();
            assert_eq!(k.index, None, "MIID's keys have no index");
        }
        let capture = subs
            .iter()
            .find(|s| s["variation_type"] == "screen_replay")
            .expect("the capture is accepted");
        assert_eq!(
            capture["screen_replay_uav"]["seed_image"],
            "daily_seed_0007.png"
        );
        assert!(
            capture["s3_key_angle2"]
                .as_str()
                .unwrap()
                .contains("/daily_seed_0007/")
        );
        assert!(capture["drand_round_angle2"].is_u64(), "{}", ctx());
        // The grading payload carries the capture through, all nine fields.
        let graded = data["s3_submissions_by_miner"]["0"]["submissions"]
            .as_array()
            .unwrap();
        let graded_capture = graded
            .iter()
            .find(|s| s["variation_type"] == "screen_replay")
            .unwrap();
        assert_eq!(
            graded_capture["image_hash_angle2"],
            capture["image_hash_angle2"]
        );
        assert_eq!(
            graded_capture["screen_replay_uav"],
            capture["screen_replay_uav"]
        );
    }
    eprintln!(
        "stock MIID sealing: {below} of 18 objects sealed to target − 1, the rest to the target"
    );
}

#[test]
fn bittensor_dendrite_receives_a_veil_miners_real_capture() {
    if bittensor::python().is_none() {
        return;
    }
    let dir = Scratch::new("miid-capture");
    let store = dir.subdir("store");
    let queue = dir.path().join("captures");
    let capture = queue.join("2026-12-04-a");
    std::fs::create_dir_all(&capture).unwrap();
    write_png(&capture.join("angle1.png"), "the screen, from the left");
    write_png(&capture.join("angle2.png"), "the screen, from the right");
    std::fs::write(
        capture.join("uav.json"),
        r#"{"seed_image": "daily_seed_0003.png", "date": "2026-12-04", "camera_used": "iPhone 15",
            "device_photographed": "tablet", "moire_pixel_grid": true, "screen_glare_hotspots": false,
            "perspective_keystone_distortion": true, "gamma_contrast_shift": false,
            "edge_crop_cues": true}"#,
    )
    .unwrap();
    let dendrite = ss58_of_seed(DENDRITE_SEED);
    let queue_arg = queue.display().to_string();
    let mut miner = VeilMiner::start(
        &dir,
        MINER_SEED,
        &store,
        &[
            "--chain",
            "quicknet",
            "--allow",
            &dendrite,
            "--allow-emitted-rounds",
            "--captures",
            &queue_arg,
        ],
    );
    let image = dir.path().join("seed.png");
    write_png(&image, "capture request seed");
    let query = Query {
        seed_hex: DENDRITE_SEED,
        axon_host: "127.0.0.1",
        axon_port: miner.port(),
        axon_hotkey: miner.hotkey(),
        image: &image,
        filename: "face.png",
        round: 1000,
        reveal_ts: quicknet_round_time(1000),
        challenge_id: "challenge_1796000000_veilcap",
        timeout_s: 60.0,
        variations: &[("pose_edit", "light")],
        request: None,
        repeat: 2,
    };
    let report = dendrite_query(&dir, &query);
    let first = &report["results"][0];
    assert_eq!(first["status_code"], 200, "{first}\n{}", miner.log());
    let subs = first["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "a variation and the capture: {first}");
    assert_eq!(first["signatures_valid"], json!([true, true]), "{first}");
    let c = subs
        .iter()
        .find(|s| s["variation_type"] == "screen_replay")
        .expect("the capture");
    assert_eq!(c["screen_replay_uav"]["device_photographed"], "tablet");
    // Both photos: the second's signature verifies too, and both open with
    // round 1000's beacon to the photos in the queue.
    let (_, key) = veil_core::ss58::decode(miner.hotkey()).unwrap();
    let public = PublicKey::from_bytes(&key).unwrap();
    let msg = miid::image_message(query.challenge_id, str_of(c, "image_hash_angle2")).unwrap();
    public
        .verify(
            msg.as_bytes(),
            &Signature::from_hex(str_of(c, "signature_angle2")).unwrap(),
        )
        .expect("the second photo's signature");
    for (key, hash, photo) in [
        ("s3_key", "image_hash", "angle1.png"),
        ("s3_key_angle2", "image_hash_angle2", "angle2.png"),
    ] {
        let sealed = std::fs::read(store.join(str_of(c, key))).unwrap();
        let plain = success(
            veil_stdin(
                &["decrypt", "--signature", QUICKNET_ROUND_1000_SIGNATURE],
                &sealed,
            ),
            "veil decrypt",
        );
        assert_eq!(hex_of(&Sha256::digest(&plain)), str_of(c, hash));
        assert_eq!(
            plain,
            std::fs::read(queue.join(".sent/2026-12-04-a").join(photo)).unwrap()
        );
    }
    // Sent once: the second answer carries none.
    let second = &report["results"][1];
    assert_eq!(
        second["submissions"].as_array().unwrap().len(),
        1,
        "{second}"
    );
    assert!(miner.is_running());
}
