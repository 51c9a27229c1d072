//! `bittensor` and `tle` interop with the real bittensor-drand 2.0.0 wheel
//! (PyPI), both directions, on drand quicknet round 1000 — the public key
//! bittensor-drand compiles in — with its public signature.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use veil_core::bittensor;
use veil_tests::{bittensor_drand, run_with_stdin, success, veil_failure, veil_stdin};

// drand quicknet round 1000 (public beacon).
const SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn payloads() -> Vec<Vec<u8>> {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    [0usize, 1, 15, 256, 100_000]
        .iter()
        .map(|&n| {
            let mut v = vec![0u8; n];
            rng.fill_bytes(&mut v);
            v
        })
        .collect()
}

/// The SCALE envelope around a raw TLE, as bittensor-drand writes it.
fn envelope(tle: &[u8], round: u64) -> Vec<u8> {
    let n = tle.len();
    let mut out = match bittensor::compact_len(n) {
        2 => ((u16::try_from(n).unwrap() << 2) | 1)
            .to_le_bytes()
            .to_vec(),
        4 => ((u32::try_from(n).unwrap() << 2) | 2)
            .to_le_bytes()
            .to_vec(),
        _ => vec![u8::try_from(n).unwrap() << 2],
    };
    out.extend_from_slice(tle);
    out.extend_from_slice(&round.to_le_bytes());
    out
}

#[test]
fn bittensor_envelopes_both_directions() {
    let Some(_) = bittensor_drand() else { return };
    for pt in payloads() {
        let n = pt.len();
        // bittensor-drand → veil (format detected).
        let sealed = success(
            run_with_stdin(
                bittensor_drand()
                    .unwrap()
                    .args(["encrypt-at-round", "1000"]),
                &pt,
            ),
            "bittensor-drand encrypt_at_round",
        );
        let inspect = success(veil_stdin(&["inspect"], &sealed), "veil inspect");
        let inspect: serde_json::Value = serde_json::from_slice(&inspect).unwrap();
        assert_eq!(inspect["format"], "bittensor");
        assert_eq!(inspect["round"], 1000);
        assert_eq!(inspect["payload_len"], n);
        let opened = success(
            veil_stdin(&["decrypt", "--signature", SIG], &sealed),
            "veil decrypt",
        );
        assert_eq!(opened, pt, "bittensor-drand→veil n={n}");

        // veil → bittensor-drand.
        let sealed = success(
            veil_stdin(
                &["encrypt", "--round", "1000", "--format", "bittensor"],
                &pt,
            ),
            "veil encrypt",
        );
        let opened = success(
            run_with_stdin(
                bittensor_drand()
                    .unwrap()
                    .args(["decrypt-with-signature", SIG]),
                &sealed,
            ),
            "bittensor-drand decrypt_with_signature",
        );
        assert_eq!(opened, pt, "veil→bittensor-drand n={n}");
    }
}

#[test]
fn raw_tle_both_directions() {
    let Some(_) = bittensor_drand() else { return };
    for pt in payloads() {
        let n = pt.len();
        // The TLE inside bittensor-drand's envelope, read by veil as `tle`,
        // with and without --round (the IBE check authenticates the key).
        let sealed = success(
            run_with_stdin(
                bittensor_drand()
                    .unwrap()
                    .args(["encrypt-at-round", "1000"]),
                &pt,
            ),
            "bittensor-drand encrypt_at_round",
        );
        let (_, inner) = bittensor::parse(&sealed).unwrap();
        let tle = &sealed[inner];
        assert_eq!(tle.len(), n + 244);
        for extra in [&["--round", "1000"][..], &[]] {
            let mut args = vec!["decrypt", "--signature", SIG];
            args.extend_from_slice(extra);
            assert_eq!(
                success(veil_stdin(&args, tle), "veil decrypt tle"),
                pt,
                "n={n} {extra:?}"
            );
        }

        // veil's raw TLE, wrapped as bittensor-drand expects, opened by it.
        let tle = success(
            veil_stdin(&["encrypt", "--round", "1000", "--format", "tle"], &pt),
            "veil encrypt",
        );
        assert_eq!(tle.len(), n + 244);
        let opened = success(
            run_with_stdin(
                bittensor_drand()
                    .unwrap()
                    .args(["decrypt-with-signature", SIG]),
                &envelope(&tle, 1000),
            ),
            "bittensor-drand decrypt",
        );
        assert_eq!(opened, pt, "veil tle→bittensor-drand n={n}");
    }
}

#[test]
fn wrong_round_or_signature_is_refused() {
    let Some(peer) = bittensor_drand() else {
        return;
    };
    let mut peer = peer;
    let sealed = success(
        run_with_stdin(peer.args(["encrypt-at-round", "1001"]), b"later"),
        "encrypt",
    );
    // Round 1000's signature for a round-1001 envelope: not that round's beacon.
    let out = veil_stdin(&["decrypt", "--signature", SIG], &sealed);
    assert!(veil_failure(&out, "wrong round").contains("round 1001"));
    let out = veil_stdin(&["decrypt", "--signature", SIG, "--round", "1000"], &sealed);
    assert!(veil_failure(&out, "round mismatch").contains("--round 1000"));
}
