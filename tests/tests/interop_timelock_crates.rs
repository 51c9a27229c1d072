//! `tle` and `tle-v03` interop with the real ideal-lab `timelock` crate —
//! 0.0.1 (the `tle` layout bittensor-drand and subtensor use) and 0.3.0
//! (the `tle-v03` layout) — both directions, on a devnet key veil generates
//! (the crates accept any BLS12-381 public key) and on quicknet round 1000.

mod support {
    pub(crate) mod timelock_peers;
}

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use support::timelock_peers::{v001_decrypt, v001_encrypt, v030_decrypt, v030_encrypt};
use veil_core::devnet::DevnetKey;
use veil_core::encoding::Hex;
use veil_core::{ChainTime, Round};
use veil_tests::{Scratch, success, veil_failure, veil_stdin};

struct Devnet {
    pk: [u8; 96],
    info: String,
    round: u64,
    sig: [u8; 48],
}

fn devnet(dir: &Scratch) -> Devnet {
    let key = DevnetKey::generate(&mut ChaCha20Rng::seed_from_u64(11));
    let chain = key
        .chain(
            ChainTime::new(1_700_000_000, 3.try_into().unwrap()),
            [3; 32],
            "veil-devnet",
        )
        .unwrap();
    let info = serde_json::json!({
        "public_key": Hex(&key.public_key()).to_string(),
        "period": 3,
        "genesis_time": 1_700_000_000u64,
        "hash": Hex(chain.hash()).to_string(),
        "groupHash": Hex(&[3; 32]).to_string(),
        "schemeID": "bls-unchained-g1-rfc9380",
        "metadata": {"beaconID": "veil-devnet"},
    });
    let path = dir.path().join("devnet.json");
    std::fs::write(&path, info.to_string()).unwrap();
    let round = 123_456;
    Devnet {
        pk: key.public_key(),
        info: path.to_str().unwrap().to_owned(),
        round,
        sig: key.sign_round(Round::new(round).unwrap()),
    }
}

fn payloads() -> Vec<Vec<u8>> {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    [0usize, 1, 32, 1000, 70_000]
        .iter()
        .map(|&n| {
            let mut v = vec![0u8; n];
            rng.fill_bytes(&mut v);
            v
        })
        .collect()
}

type Encrypt = fn(&[u8; 96], u64, &[u8], [u8; 32], u64) -> Vec<u8>;
type Decrypt = fn(&[u8], &[u8; 48]) -> Option<Vec<u8>>;

fn both_directions(format: &str, overhead: usize, encrypt: Encrypt, decrypt: Decrypt) {
    let dir = Scratch::new(format);
    let net = devnet(&dir);
    let sig = Hex(&net.sig).to_string();
    let round = net.round.to_string();
    for (i, pt) in payloads().iter().enumerate() {
        let n = pt.len();
        // The crate → veil, with the round (beacon verified first) and without.
        let esk = [u8::try_from(i).unwrap() + 1; 32];
        let sealed = encrypt(&net.pk, net.round, pt, esk, i as u64);
        assert_eq!(sealed.len(), n + overhead);
        let info: serde_json::Value =
            serde_json::from_slice(&success(veil_stdin(&["inspect"], &sealed), "inspect")).unwrap();
        assert_eq!(info["format"], format);
        for extra in [&["--round", round.as_str()][..], &[]] {
            let mut args = vec!["decrypt", "--chain", &net.info, "--signature", &sig];
            args.extend_from_slice(extra);
            assert_eq!(
                success(veil_stdin(&args, &sealed), "veil decrypt"),
                *pt,
                "{format} n={n} {extra:?}"
            );
        }
        // veil → the crate.
        let sealed = success(
            veil_stdin(
                &[
                    "encrypt", "--chain", &net.info, "--round", &round, "--format", format,
                ],
                pt,
            ),
            "veil encrypt",
        );
        assert_eq!(
            decrypt(&sealed, &net.sig).as_ref(),
            Some(pt),
            "veil→{format} n={n}"
        );
    }
    // A round's signature opens nothing sealed to another round, either way.
    let other =
        DevnetKey::generate(&mut ChaCha20Rng::seed_from_u64(13)).sign_round(Round::new(5).unwrap());
    let sealed = encrypt(&net.pk, net.round, b"x", [9; 32], 0);
    let out = veil_stdin(
        &[
            "decrypt",
            "--chain",
            &net.info,
            "--signature",
            &Hex(&other).to_string(),
        ],
        &sealed,
    );
    veil_failure(&out, "wrong key");
    let sealed = success(
        veil_stdin(
            &[
                "encrypt", "--chain", &net.info, "--round", &round, "--format", format,
            ],
            b"x",
        ),
        "encrypt",
    );
    assert_eq!(decrypt(&sealed, &other), None);
}

#[test]
fn timelock_0_0_1_tle_layout_both_directions() {
    both_directions("tle", 244, v001_encrypt, v001_decrypt);
}

#[test]
fn timelock_0_3_0_tle_v03_layout_both_directions() {
    both_directions("tle-v03", 228, v030_encrypt, v030_decrypt);
}

#[test]
fn layouts_are_not_confused() {
    // Each crate refuses the other layout, and veil tells them apart.
    let dir = Scratch::new("layouts");
    let net = devnet(&dir);
    let round = net.round.to_string();
    let tle = success(
        veil_stdin(
            &[
                "encrypt", "--chain", &net.info, "--round", &round, "--format", "tle",
            ],
            b"abc",
        ),
        "encrypt",
    );
    let v03 = success(
        veil_stdin(
            &[
                "encrypt", "--chain", &net.info, "--round", &round, "--format", "tle-v03",
            ],
            b"abc",
        ),
        "encrypt",
    );
    assert_eq!(v030_decrypt(&tle, &net.sig), None);
    assert_eq!(v001_decrypt(&v03, &net.sig), None);
    assert_eq!(v001_decrypt(&tle, &net.sig).as_deref(), Some(&b"abc"[..]));
    assert_eq!(v030_decrypt(&v03, &net.sig).as_deref(), Some(&b"abc"[..]));
}
