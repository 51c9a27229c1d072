//! Grading no miner can game, end to end on a devnet beacon with real
//! `veil miner`, `veil validator` and `veil reveal` processes; in each
//! attack the honest miner keeps its credit:
//!
//! - **copy griefing by replay**: an allowed caller replays the real
//!   challenge to the victim with a round that opens at once (refused:
//!   `--min-lead`), or far enough ahead: it then gets *other* images than
//!   the validator got (the seed is keyed by the miner's secret over the
//!   caller and the round), so nothing it can copy is the victim's;
//! - **an overwritten public object**: anyone rewrites an accepted object
//!   in the public bucket after acceptance; the reveal opens the copy the
//!   validator kept and reports the change;
//! - **a reveal veto**: one miner's bucket fails at reveal time; that miner
//!   fails, everyone else is revealed, reported and counted, and a rerun
//!   retries it;
//! - **captures**: `veil miner --captures` attaches a real screen-replay
//!   capture (two photos and a UAV report; GPS stripped when asked), the
//!   validator accepts it, the reveal opens both photos and the report
//!   shows them.

extern crate alloc;

use alloc::sync::Arc;
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use veil::axon::{AxonTarget, CallError, Dendrite};
use veil::clock::SystemClock;
use veil::phase4::images::{self, Fingerprint, ImageLimits, NEAR_DUPLICATE_MAX, exif};
use veil_core::sign::Keypair;
use veil_tests::bittensor::{RUN_LIMIT, VeilMiner, run_limited, validator_files};
use veil_tests::devnet::Server;
use veil_tests::phase4::Bucket;
use veil_tests::{Scratch, hex_of, success, veil, veil_bin, veil_stdin};

const VALIDATOR_SEED: &str = "9191919191919191919191919191919191919191919191919191919191919191";
const VICTIM_SEED: &str = "9292929292929292929292929292929292929292929292929292929292929292";
const OTHER_SEED: &str = "9393939393939393939393939393939393939393939393939393939393939393";
const ATTACKER_SEED: [u8; 32] = [0x94; 32];

fn address(seed: &str) -> String {
    String::from_utf8(success(veil(&["address", "--seed", seed]), "veil address"))
        .unwrap()
        .trim()
        .to_owned()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// A devnet beacon (period 1 s) and a public bucket.
struct Net {
    scratch: Scratch,
    devnet: Server,
    bucket: Bucket,
}

impl Net {
    fn start(tag: &str) -> Self {
        let scratch = Scratch::new(tag);
        let devnet = Server::start(&scratch);
        Self {
            scratch,
            devnet,
            bucket: Bucket::start(),
        }
    }

    fn info(&self) -> String {
        self.scratch.path().join("info.json").display().to_string()
    }

    /// A miner on the devnet's chain, storing in the bucket, allowing
    /// `allow`, requiring a 3 s lead.
    fn miner(&self, seed: &str, allow: &[&str], extra: &[&str]) -> VeilMiner {
        let info = self.info();
        let mut args = vec!["--chain", info.as_str(), "--min-lead", "3"];
        for a in allow {
            args.extend(["--allow", a]);
        }
        args.extend_from_slice(extra);
        VeilMiner::start_with_store(&self.scratch, seed, &self.bucket.spec(), &args)
    }

    /// One validator cycle against `miners` (2 variations, answers within
    /// 2 s, the round a second after): its results file.
    fn cycle(&self, miners: &[&VeilMiner], extra: &[&str]) -> PathBuf {
        let targets: Vec<String> = miners
            .iter()
            .map(|m| format!("127.0.0.1:{}:{}", m.port(), m.hotkey()))
            .collect();
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let info = self.info();
        let mut args = vec![
            "--chain",
            info.as_str(),
            "--variations",
            "2",
            "--timeout",
            "2",
            "--retries",
            "0",
            "--reveal-buffer",
            "1",
        ];
        args.extend_from_slice(extra);
        let logs = || {
            miners
                .iter()
                .map(|m| m.log())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut files = validator_files(
            &self.scratch,
            VALIDATOR_SEED,
            &targets,
            &self.bucket.spec(),
            &args,
            &logs,
        );
        assert_eq!(files.len(), 1);
        files.remove(0)
    }

    /// `veil reveal` of `results` (waiting for its rounds): its reveal file.
    fn reveal(&self, results: &Path) -> Value {
        let mut cmd = Command::new(veil_bin());
        cmd.arg("reveal")
            .arg("--results")
            .arg(results)
            .args(["--relay", &self.devnet.url])
            .arg("--reputation")
            .arg(self.scratch.path().join("reputation.json"));
        let tag = format!("reveal-{}", veil_tests::bittensor::next_run());
        let out = run_limited(&mut cmd, &self.scratch, &tag, RUN_LIMIT);
        assert!(
            out.status.success(),
            "veil reveal failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = json_file(results);
        let cid = r["phase4_image_data"]["challenge_id"].as_str().unwrap();
        json_file(&results.parent().unwrap().join(format!("reveal-{cid}.json")))
    }

    /// Opens a sealed object with the devnet's beacon (waiting for it).
    fn open(&self, sealed: &[u8]) -> Vec<u8> {
        success(
            veil_stdin(
                &[
                    "decrypt",
                    "--chain",
                    &self.info(),
                    "--relay",
                    &self.devnet.url,
                    "--wait",
                ],
                sealed,
            ),
            "veil decrypt",
        )
    }
}

fn images_of(reveal: &Value, uid: &str) -> Vec<Value> {
    reveal["miners"][uid]["images"].as_array().unwrap().clone()
}

#[test]
fn a_replayed_challenge_gets_no_copy_of_the_victims_images() {
    let net = Net::start("grading-replay");
    let validator = address(VALIDATOR_SEED);
    let attacker_key = Arc::new(Keypair::from_mini_secret(&ATTACKER_SEED).unwrap());
    let attacker = veil::keys::address_of(&attacker_key.public());
    let victim = net.miner(VICTIM_SEED, &[&validator, &attacker], &[]);
    let results_path = net.cycle(&[&victim], &[]);
    let results = json_file(&results_path);
    let data = &results["phase4_image_data"];
    let cid = data["challenge_id"].as_str().unwrap().to_owned();

    // The attacker, an allowed caller, replays the very challenge.
    let base = results_path
        .parent()
        .unwrap()
        .join(results["base_image"]["path"].as_str().unwrap());
    let base64 = images::encode_base64(&std::fs::read(&base).unwrap());
    let info = veil_tests::devnet::Info::read(Path::new(&net.info()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dendrite =
        Dendrite::new(Arc::clone(&attacker_key), 64 << 20, Arc::new(SystemClock)).unwrap();
    let target = AxonTarget::new("127.0.0.1", victim.port(), victim.hotkey()).unwrap();
    // The round emitted `lead` seconds from now (or `round` itself).
    let replay = |round: u64| {
        let mut fields = Map::new();
        fields.insert(
            "image_request".into(),
            json!({
                "base_image": base64,
                "image_filename": data["base_image_filename"],
                "variation_requests": data["requested_variations"],
                "target_drand_round": round,
                "reveal_timestamp": info.time_of(round),
                "challenge_id": cid,
            }),
        );
        rt.block_on(dendrite.call(&target, "IdentitySynapse", &fields, Duration::from_secs(20)))
    };
    let soon = |lead: u64| info.round_at(veil_tests::devnet::now().as_secs() + lead);
    // A round that opens at once: refused.
    match replay(soon(1)) {
        Err(CallError::Status { status, message }) => {
            assert_eq!(status, 400, "{message}");
            assert!(message.contains("sooner than the 3 s"), "{message}");
        }
        other => panic!("a replay with a round a second away was answered: {other:?}"),
    }
    // Far enough ahead: answered, with the attacker's own images.
    let round = soon(6);
    let answer = replay(round).unwrap_or_else(|e| panic!("{e}\n{}", victim.log()));
    // The same caller cannot move the challenge to another round.
    match replay(round + 1) {
        Err(CallError::Status { status, message }) => {
            assert_eq!(status, 400);
            assert!(message.contains("one challenge, one round"), "{message}");
        }
        other => panic!("a second round for one challenge was answered: {other:?}"),
    }
    let answer: Value = serde_json::from_slice(&answer.body).unwrap();
    let stolen: Vec<Vec<u8>> = answer["s3_submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let key = s["s3_key"].as_str().unwrap();
            let get = format!("{}/{key}", net.bucket.spec().trim_start_matches("public:"));
            net.open(&fetch(&get))
        })
        .collect();
    assert_eq!(stolen.len(), 2);

    // The reveal: the victim keeps every image, and none of them is, or
    // is near, what the replay returned.
    let reveal = net.reveal(&results_path);
    let dir = results_path.parent().unwrap();
    for img in images_of(&reveal, "0") {
        assert_eq!(img["verdict"], "verified", "{img}");
        let plain = std::fs::read(dir.join(img["image"].as_str().unwrap())).unwrap();
        let mine = Fingerprint::of(&images::decode(&plain, &ImageLimits::default()).unwrap());
        for s in &stolen {
            assert_ne!(json!(hex_of(&Sha256::digest(s))), img["sha256"]);
            let theirs = Fingerprint::of(&images::decode(s, &ImageLimits::default()).unwrap());
            let d = mine.distance(&theirs);
            assert!(
                d > 2.0 * NEAR_DUPLICATE_MAX,
                "a replayed image is {d:.3} from the victim's"
            );
        }
    }
}

/// The bytes at `url` (a plain GET).
fn fetch(url: &str) -> Vec<u8> {
    let (host_port, path) = url.trim_start_matches("http://").split_once('/').unwrap();
    let port: u16 = host_port.rsplit_once(':').unwrap().1.parse().unwrap();
    let r = veil_tests::phase4::http_request(port, "GET", &format!("/{path}"), &[], b"");
    assert_eq!(r.status, 200, "GET {url}");
    r.body
}

#[test]
fn an_object_overwritten_after_acceptance_costs_its_miner_nothing() {
    let net = Net::start("grading-overwrite");
    let validator = address(VALIDATOR_SEED);
    let victim = net.miner(VICTIM_SEED, &[&validator], &[]);
    let results_path = net.cycle(&[&victim], &[]);
    let results = json_file(&results_path);
    let subs = results["responses"]["0"]["s3_submissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(subs.len(), 2, "{results}");
    for s in &subs {
        assert!(
            s["received"].is_u64() && s["object"]["sha256"].is_string(),
            "{s}"
        );
    }
    // Anyone may write to the public bucket: the first object becomes
    // the second's bytes (a valid ciphertext of another image).
    let key0 = subs[0]["s3_key"].as_str().unwrap();
    let key1 = subs[1]["s3_key"].as_str().unwrap();
    let other = fetch(&format!(
        "{}/{key1}",
        net.bucket.spec().trim_start_matches("public:")
    ));
    net.bucket.overwrite(key0, other);

    let reveal = net.reveal(&results_path);
    let imgs = images_of(&reveal, "0");
    assert_eq!(imgs[0]["verdict"], "verified", "{}", imgs[0]);
    assert_eq!(imgs[0]["source"], "copy");
    assert!(
        imgs[0]["changed_after_acceptance"]
            .as_str()
            .is_some_and(|n| n.contains("now holds another object")),
        "{}",
        imgs[0]
    );
    assert!(imgs[1]["changed_after_acceptance"].is_null());
    assert_eq!(reveal["miners"]["0"]["verified"], 2);

    // Without the copy, the change is named for what it is, not as a
    // hash mismatch of the miner's.
    let dir = results_path.parent().unwrap();
    let cid = results["phase4_image_data"]["challenge_id"]
        .as_str()
        .unwrap();
    // The first reveal, every verdict final, removed the copies.
    assert!(
        !dir.join("objects").join(cid).exists(),
        "copies left behind"
    );
    std::fs::remove_dir_all(dir.join(format!("reveal-{cid}"))).unwrap();
    let reveal = net.reveal(&results_path);
    let imgs = images_of(&reveal, "0");
    let reason = imgs[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("changed after acceptance"), "{reason}");
    assert_eq!(imgs[1]["verdict"], "verified");
}

#[test]
fn one_miners_failing_store_stops_nobody_elses_reveal() {
    let net = Net::start("grading-veto");
    let validator = address(VALIDATOR_SEED);
    let honest = net.miner(VICTIM_SEED, &[&validator], &[]);
    let faulty = net.miner(OTHER_SEED, &[&validator], &[]);
    // No copies: the reveal reads the bucket.
    let results_path = net.cycle(&[&honest, &faulty], &["--no-copies"]);
    let results = json_file(&results_path);
    let cid = results["phase4_image_data"]["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for uid in ["0", "1"] {
        assert_eq!(
            results["responses"][uid]["s3_submissions"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "{results}"
        );
    }
    *net.bucket.failing.lock().unwrap() = Some(format!("submissions/{cid}/{}/", faulty.hotkey()));
    let reveal = net.reveal(&results_path);
    assert_eq!(reveal["miners"]["0"]["verified"], 2, "{reveal}");
    assert_eq!(reveal["miners"]["1"]["verified"], 0);
    for img in images_of(&reveal, "1") {
        let reason = img["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("after 3 attempts"), "{reason}");
    }
    let dir = results_path.parent().unwrap();
    assert!(dir.join(format!("report-{cid}.html")).is_file());
    let rep = json_file(&net.scratch.path().join("reputation.json"));
    assert!(
        rep["miners"][honest.hotkey()]["score"].as_f64().unwrap() > 0.5,
        "{rep}"
    );
    // Its store back, a rerun retries what could not be read.
    *net.bucket.failing.lock().unwrap() = None;
    let reveal = net.reveal(&results_path);
    assert_eq!(reveal["miners"]["1"]["verified"], 2, "{reveal}");
}

/// A JPEG of `img` whose EXIF data holds a GPS directory.
fn jpeg_with_gps(img: &image::RgbImage) -> Vec<u8> {
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(img)
        .unwrap();
    // A little-endian TIFF whose first directory has one entry: GPSInfo.
    let mut tiff = b"Exif\0\0II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x8825u16.to_le_bytes());
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(tiff.len() + 2).unwrap().to_be_bytes());
    out.extend(tiff);
    out.extend_from_slice(&plain[2..]);
    out
}

fn photo(seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(120, 90, |x, y| {
        let v = u8::try_from((x * (2 + seed) + y * 3 + seed * 40) % 256).unwrap_or(0);
        image::Rgb([v, 255 - v, u8::try_from((x + y) % 256).unwrap_or(0)])
    })
}

fn put_capture(dir: &Path, id: &str, angle1: &[u8], angle2: &[u8], ext: &str) {
    let d = dir.join(id);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("angle1.{ext}")), angle1).unwrap();
    std::fs::write(d.join(format!("angle2.{ext}")), angle2).unwrap();
    std::fs::write(
        d.join("uav.json"),
        r#"{"seed_image": "fixed_03.png", "date": "2026-12-04", "camera_used": "Pixel 8 Pro",
            "device_photographed": "monitor", "moire_pixel_grid": true,
            "screen_glare_hotspots": true, "perspective_keystone_distortion": false,
            "gamma_contrast_shift": true, "edge_crop_cues": false}"#,
    )
    .unwrap();
}

#[test]
fn a_real_capture_goes_from_the_miners_queue_to_the_report() {
    let net = Net::start("grading-captures");
    let validator = address(VALIDATOR_SEED);
    let queue = net.scratch.path().join("captures");
    std::fs::create_dir_all(&queue).unwrap();
    let png = |i| images::encode_png(&photo(i)).unwrap();
    put_capture(&queue, "001", &png(1), &png(2), "png");
    put_capture(
        &queue,
        "002",
        &jpeg_with_gps(&photo(3)),
        &jpeg_with_gps(&photo(4)),
        "jpg",
    );
    let q = queue.display().to_string();
    let miner = net.miner(
        VICTIM_SEED,
        &[&validator],
        &["--captures", &q, "--strip-gps"],
    );
    for (n, id) in ["001", "002"].iter().enumerate() {
        let results_path = net.cycle(&[&miner], &[]);
        let results = json_file(&results_path);
        let r = &results["responses"]["0"];
        assert_eq!(r["rejected"], json!([]), "{r}\n{}", miner.log());
        let subs = r["s3_submissions"].as_array().unwrap();
        assert_eq!(subs.len(), 3, "two variations and the capture: {r}");
        let capture = subs
            .iter()
            .find(|s| s["variation_type"] == "screen_replay")
            .unwrap();
        assert_eq!(
            capture["screen_replay_uav"]["device_photographed"],
            "monitor"
        );
        assert!(capture["s3_key"].as_str().unwrap().contains("/fixed_03/"));
        assert!(capture["object_angle2"]["sha256"].is_string(), "{capture}");
        // Consumed once sent.
        assert!(
            queue.join(".sent").join(id).is_dir(),
            "capture {id} not consumed"
        );

        let reveal = net.reveal(&results_path);
        let imgs = images_of(&reveal, "0");
        let c = imgs
            .iter()
            .find(|i| i["variation_type"] == "screen_replay")
            .unwrap();
        assert_eq!(c["verdict"], "verified", "{c}");
        assert_eq!(c["angle2"]["verdict"], "verified", "{c}");
        assert_eq!(c["screen_replay_uav"]["camera_used"], "Pixel 8 Pro");
        let dir = results_path.parent().unwrap();
        for shot in [&c["image"], &c["angle2"]["image"]] {
            let plain = std::fs::read(dir.join(shot.as_str().unwrap())).unwrap();
            images::decode(&plain, &ImageLimits::capture()).unwrap();
            // Asked to, the miner sent the photos without their GPS data.
            assert!(
                !exif::has_gps(&plain),
                "capture {id} ({n}) kept its GPS data"
            );
        }
        let cid = results["phase4_image_data"]["challenge_id"]
            .as_str()
            .unwrap();
        let report = std::fs::read_to_string(dir.join(format!("report-{cid}.html"))).unwrap();
        assert!(
            report.contains("data-kind=\"angle2\""),
            "both photos in the report"
        );
        assert!(report.contains("data-kind=\"uav\""));
        assert!(report.contains("capture of <b>fixed_03.png</b> on a monitor"));
    }
    // The queue is empty: the next answer carries no capture.
    let results = json_file(&net.cycle(&[&miner], &[]));
    assert_eq!(
        results["responses"]["0"]["s3_submissions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
