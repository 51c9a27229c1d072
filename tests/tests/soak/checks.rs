//! The soak's verdicts on the results file and the reveal file.

use alloc::collections::{BTreeMap, BTreeSet};

use super::rogue::Kind;
use super::{Ctx, MINERS, Role, SLOW, VARIATIONS, str_of};

/// The reason substring every rejected item of a rogue of `kind` must
/// carry, for kinds whose items are all rejected.
fn item_reason(kind: Kind, cid: &str, hotkey: &str, target: u64) -> Option<String> {
    Some(match kind {
        Kind::BadSignature => "the signature does not verify under the miner's hotkey".into(),
        Kind::LateRound => format!("after the target round {target}: the reveal cannot open it"),
        Kind::EarlyRound => "could open before the answers closed".into(),
        Kind::KeyThief => format!("the key is not under submissions/{cid}/{hotkey}/"),
        _ => return None,
    })
}

/// The error (and status) of a rogue of `kind` that got no usable answer.
fn answer_error(kind: Kind) -> Option<(&'static str, u16)> {
    Some(match kind {
        // A 16 MiB answer is past the validator's cap (the echoed request
        // plus 1 MiB): refused as it arrives, never parsed.
        Kind::Huge16MiB | Kind::HugeChunked | Kind::HugeDeclared => {
            ("unusable answer: answer larger than", 422)
        }
        Kind::SlowLorisHead | Kind::SlowLorisBody | Kind::Late => ("no answer within", 408),
        Kind::Dead => ("cannot connect", 503),
        _ => return None,
    })
}

impl Ctx<'_> {
    /// Every honest answer accepted in full and credited to its miner,
    /// every variation accounted for; every rogue refused for its reason.
    pub(crate) fn check_results(&self, spooled: &BTreeMap<String, Vec<String>>) {
        let data = &self.results["phase4_image_data"];
        let cid = str_of(data, "challenge_id");
        let target = data["target_drand_round"].as_u64().expect("target round");
        let responses = self.results["responses"].as_object().expect("responses");
        assert_eq!(responses.len(), MINERS, "every neuron is recorded");
        let (mut honest_accepted, mut refused) = (0usize, BTreeMap::<String, usize>::new());
        let mut times: Vec<f64> = Vec::new();
        for (uid, n) in self.neurons.iter().enumerate() {
            let r = &responses[&uid.to_string()];
            let ctx = || format!("uid {uid} ({:?}): {r:#}", n.role);
            assert_eq!(r["uid"], uid, "{}", ctx());
            assert_eq!(r["hotkey"], n.hotkey.as_str(), "{}", ctx());
            let accepted = r["s3_submissions"].as_array().expect("s3_submissions");
            let rejected = r["rejected"].as_array().expect("rejected");
            let by = &data["s3_submissions_by_miner"][uid.to_string()];
            assert_eq!(by["hotkey"], n.hotkey.as_str(), "{}", ctx());
            assert_eq!(by["submission_count"], accepted.len(), "{}", ctx());
            let own = format!("submissions/{cid}/{}/", n.hotkey);
            for s in accepted {
                assert!(
                    str_of(s, "s3_key").starts_with(&own),
                    "credited to the wrong miner: {}",
                    ctx()
                );
            }
            let error = r["error"].as_str().unwrap_or("");
            let reasons: Vec<&str> = rejected.iter().map(|x| str_of(x, "reason")).collect();
            let kind = match n.role {
                Role::Honest | Role::Slow => {
                    assert!(r["error"].is_null(), "{}", ctx());
                    assert_eq!(r["status_code"], 200, "{}", ctx());
                    assert!(
                        rejected.is_empty(),
                        "an honest submission was refused: {}",
                        ctx()
                    );
                    assert_eq!(r["submission_count"], accepted.len(), "{}", ctx());
                    let keys: BTreeSet<&str> =
                        accepted.iter().map(|s| str_of(s, "s3_key")).collect();
                    let later = spooled.get(&n.hotkey).map_or(&[][..], Vec::as_slice);
                    for k in later {
                        assert!(
                            !keys.contains(k.as_str()),
                            "{k}: spooled yet reported: {}",
                            ctx()
                        );
                    }
                    assert_eq!(
                        accepted.len() + later.len(),
                        VARIATIONS,
                        "variations lost (accepted {}, spooled then uploaded {}): {}",
                        accepted.len(),
                        later.len(),
                        ctx()
                    );
                    let t = r["response_time"].as_f64().expect("response_time");
                    if n.role == Role::Slow {
                        assert!(
                            t >= SLOW.as_secs_f64(),
                            "a slow miner answered in {t} s: {}",
                            ctx()
                        );
                    } else {
                        times.push(t);
                    }
                    honest_accepted += accepted.len();
                    continue;
                }
                Role::Rogue(Kind::Stock) => {
                    // A stock MIID miner: every item accepted, sealed to
                    // the round before the target.
                    assert!(r["error"].is_null() && rejected.is_empty(), "{}", ctx());
                    assert_eq!(accepted.len(), VARIATIONS, "{}", ctx());
                    for s in accepted {
                        assert_eq!(s["drand_round"], target - 1, "{}", ctx());
                    }
                    honest_accepted += accepted.len();
                    continue;
                }
                Role::Rogue(kind) => kind,
            };
            if let Some(server) = &n.rogue {
                assert_eq!(server.hits(), 1, "asked once (--retries 0): {}", ctx());
            }
            if kind != Kind::CipherThief {
                assert!(
                    accepted.is_empty(),
                    "a rogue's submission was accepted: {}",
                    ctx()
                );
            }
            if let Some(want) = item_reason(kind, cid, &n.hotkey, target) {
                assert_eq!(r["status_code"], 200, "{}", ctx());
                assert!(!reasons.is_empty(), "{}", ctx());
                assert_eq!(r["submission_count"], reasons.len(), "{}", ctx());
                for reason in &reasons {
                    assert!(
                        reason.contains(&want),
                        "reason {reason:?}, want {want:?}: {}",
                        ctx()
                    );
                }
                if kind == Kind::KeyThief {
                    let sent = n
                        .rogue
                        .as_ref()
                        .expect("a server")
                        .rogue
                        .sent
                        .lock()
                        .expect("sent")
                        .clone();
                    let keys: Vec<&str> = rejected.iter().map(|x| str_of(x, "s3_key")).collect();
                    assert_eq!(keys, sent, "{}", ctx());
                    assert!(keys.iter().all(|k| !k.starts_with(&own)), "{}", ctx());
                }
            } else if let Some((want, status)) = answer_error(kind) {
                assert!(
                    error.starts_with(want),
                    "error {error:?}, want {want:?}: {}",
                    ctx()
                );
                assert_eq!(r["status_code"], status, "{}", ctx());
                assert!(
                    rejected.is_empty() && r["response_time"].is_null(),
                    "{}",
                    ctx()
                );
            } else {
                assert_eq!(kind, Kind::CipherThief);
                assert!(rejected.is_empty(), "{}", ctx());
                let sent = n
                    .rogue
                    .as_ref()
                    .expect("a server")
                    .rogue
                    .sent
                    .lock()
                    .expect("sent")
                    .clone();
                assert!(
                    !sent.is_empty(),
                    "the thief found nothing to copy: {}",
                    ctx()
                );
                assert_eq!(
                    accepted.len(),
                    sent.len(),
                    "the validator cannot tell a copied ciphertext: {}",
                    ctx()
                );
            }
            *refused.entry(format!("{kind:?}")).or_default() += 1;
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "soak: honest (not slow) answers in {:.2} s median, {:.2} s at most",
            times.get(times.len() / 2).copied().unwrap_or(0.0),
            times.last().copied().unwrap_or(0.0)
        );
        eprintln!(
            "soak: results: {honest_accepted} honest submissions accepted; refused or caught later: {}",
            refused
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    /// Every accepted honest submission verified, credited to its miner;
    /// the copied ciphertexts fail on their made-up hashes; nothing else
    /// of a rogue is revealed.
    pub(crate) fn check_reveal(&self) {
        let miners = self.revealed["miners"].as_object().expect("miners");
        assert_eq!(miners.len(), MINERS, "every neuron is in the reveal");
        let mut verified = 0usize;
        for (uid, n) in self.neurons.iter().enumerate() {
            let m = &miners[&uid.to_string()];
            let r = &self.results["responses"][uid.to_string()];
            let ctx = || format!("uid {uid} ({:?}): {m:#}", n.role);
            assert_eq!(m["hotkey"], n.hotkey.as_str(), "{}", ctx());
            let accepted = r["s3_submissions"].as_array().expect("s3_submissions");
            let images = m["images"].as_array().expect("images");
            assert_eq!(m["accepted"], accepted.len(), "{}", ctx());
            assert_eq!(images.len(), accepted.len(), "{}", ctx());
            match n.role {
                Role::Honest | Role::Slow | Role::Rogue(Kind::Stock) => {
                    for key in ["revealed", "verified"] {
                        assert_eq!(m[key], accepted.len(), "{key}: {}", ctx());
                    }
                    assert_eq!(m["failed"], 0, "{}", ctx());
                    for img in images {
                        assert_eq!(img["verdict"], "verified", "{}", ctx());
                        let sub = accepted
                            .iter()
                            .find(|s| s["s3_key"] == img["s3_key"])
                            .unwrap_or_else(|| panic!("an image no submission names: {}", ctx()));
                        assert_eq!(img["sha256"], sub["image_hash"], "{}", ctx());
                        assert_eq!(
                            img["source"],
                            "store",
                            "read through the store proxy: {}",
                            ctx()
                        );
                    }
                    verified += images.len();
                }
                Role::Rogue(Kind::CipherThief) => {
                    assert_eq!(
                        m["verified"],
                        0,
                        "a copied ciphertext was credited: {}",
                        ctx()
                    );
                    for img in images {
                        assert_eq!(img["verdict"], "failed", "{}", ctx());
                        let reason = img["reason"].as_str().unwrap_or("");
                        assert!(
                            reason.contains("sha256 of the image is"),
                            "{reason:?}: {}",
                            ctx()
                        );
                    }
                }
                Role::Rogue(_) => assert!(images.is_empty(), "{}", ctx()),
            }
        }
        let summary = &self.revealed["summary"];
        assert_eq!(summary["verified"], verified, "{summary}");
        eprintln!("soak: reveal: {verified} honest images verified; summary {summary}");
    }
}
