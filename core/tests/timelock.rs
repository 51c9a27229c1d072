//! Timelock known-answer tests against every ciphertext vector in
//! `../shared/vectors/` (drand Go, tlock-js, tlock-rs, ideal-lab timelock
//! 0.3.0, bittensor-drand 2.0.0), round trips for every format, and hostile
//! inputs.

#[path = "support/formats.rs"]
mod formats;
#[path = "support/shared.rs"]
mod support;

use formats::{
    age_open, age_seal, armor_all, bittensor_open, bittensor_seal, dearmor, devnet, tle_open,
    tle_seal,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use serde_json::Value;
use support::{hex_bytes, shared_vector};
use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::devnet::DevnetKey;
use veil_core::format::{self, Format};
use veil_core::ibe::{self, FileKey, PreparedRound, RoundKey, TlockCiphertext};
use veil_core::limits::AGE_CHUNK_LEN;
use veil_core::tle::{self, Layout};
use veil_core::{Beacon, Chain, Round, bittensor, encoding::Hex};

const QUICKNET_1000_SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn round(n: u64) -> Round {
    Round::new(n).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// An "RNG" that replays fixed bytes: reproduces the deterministic vectors,
/// whose σ was chosen rather than drawn.
struct Replay(Vec<u8>);

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        unimplemented!()
    }
    fn next_u64(&mut self) -> u64 {
        unimplemented!()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Replay {}

fn quicknet() -> Chain {
    Chain::builtin("quicknet").unwrap()
}

fn quicknet_1000_key() -> RoundKey {
    let sig = hex_bytes(QUICKNET_1000_SIG);
    RoundKey::from_verified(
        &quicknet()
            .verify_beacon(&Beacon {
                round: round(1000),
                signature: &sig,
                previous_signature: None,
            })
            .unwrap(),
    )
}

// ---------------------------------------------------------------------------
// drand flavour
// ---------------------------------------------------------------------------

#[test]
fn deterministic_ibe_bodies_are_reproduced_bit_for_bit() {
    let Some(file) = shared_vector("tlock_ibe_deterministic_quicknet_r1000.json") else {
        return;
    };
    let prepared = PreparedRound::new(&quicknet(), round(1000)).unwrap();
    let key = quicknet_1000_key();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 3);
    for v in vectors {
        let fk: [u8; 16] = hex_bytes(s(&v["filekey"])).try_into().unwrap();
        let mut rng = Replay(hex_bytes(s(&v["sigma"])));
        let ct = ibe::tlock_encrypt(&prepared, &FileKey::from_bytes(fk), &mut rng).unwrap();
        let mut out = [0u8; TlockCiphertext::MAX_LEN];
        assert_eq!(
            Hex(ct.write_to(&mut out).unwrap()).to_string(),
            s(&v["body"]),
            "{v}"
        );
        let opened = ibe::tlock_decrypt(
            &key,
            &TlockCiphertext::from_bytes(&hex_bytes(s(&v["body"]))).unwrap(),
        )
        .unwrap();
        assert_eq!(opened.expose_secret(), &fk);
    }
}

#[test]
fn tlock_js_files_decrypt_including_h3_retries() {
    let Some(file) = shared_vector("tlock_js_generated_quicknet_r1000.json") else {
        return;
    };
    let sig = hex_bytes(s(&file["signature"]));
    let mut retries = 0;
    for v in file["vectors"].as_array().unwrap() {
        let pt = age_open(s(&v["armored"]).as_bytes(), &quicknet(), &sig).unwrap();
        assert_eq!(pt, s(&v["plaintext_utf8"]).as_bytes());
        if v["h3_accepted_iteration"].as_u64().unwrap() > 1 {
            retries += 1;
        }
    }
    assert!(
        retries >= 3,
        "the file must exercise H3 retries ({retries})"
    );
}

#[test]
fn drand_go_vectors() {
    let Some(file) = shared_vector("drand_tlock_go.json") else {
        return;
    };
    let mut decrypted = 0;
    for v in file["vectors"].as_array().unwrap() {
        let armored = s(&v["armored"]).as_bytes();
        let bin = dearmor(armored).unwrap();
        let hdr = Header::parse(&bin).unwrap();
        if let Some(r) = v.get("round") {
            assert_eq!(hdr.round().get(), r.as_u64().unwrap());
        }
        let chain_field = v.get("chain_hash").or(v.get("chain")).map(s).unwrap();
        assert!(
            chain_field.starts_with(&Hex(hdr.chain_hash()).to_string()),
            "{chain_field}"
        );
        if let Some(sig) = v.get("signature").and_then(Value::as_str) {
            let pt = age_open(armored, &quicknet(), &hex_bytes(sig)).unwrap();
            assert_eq!(pt, s(&v["plaintext_utf8"]).as_bytes());
            decrypted += 1;
        }
        // Without the round's signature the header still inspects, and a
        // wrong key (round 1000's) does not open it.
        if hdr.chain_hash() == quicknet().hash() && hdr.round().get() != 1000 {
            let wrong = age_open(armored, &quicknet(), &hex_bytes(QUICKNET_1000_SIG));
            assert!(wrong.is_err());
        }
    }
    assert_eq!(decrypted, 1);
}

#[test]
fn tlock_rs_vectors_and_the_rejected_one() {
    let Some(file) = shared_vector("tlock_rs_thibmeu.json") else {
        return;
    };
    let fastnet = Chain::builtin("fastnet").unwrap();
    let (mut ok, mut rejected) = (0, 0);
    for v in file["vectors"].as_array().unwrap() {
        let name = s(&v["name"]);
        let sig = hex_bytes(s(&v["signature"]));
        let r = round(v["round"].as_u64().unwrap());
        let chain = if name.contains("fastnet")
            || s(v.get("chain").unwrap_or(&v["chain_hash"])).starts_with("fastnet")
            || v.get("chain_hash").and_then(Value::as_str) == Some(&Hex(fastnet.hash()).to_string())
        {
            fastnet.clone()
        } else {
            quicknet()
        };
        let key = RoundKey::from_verified(
            &chain
                .verify_beacon(&Beacon {
                    round: r,
                    signature: &sig,
                    previous_signature: None,
                })
                .unwrap(),
        );
        let plaintext = hex_bytes(s(&v["plaintext_hex"]));
        if let Some(armored) = v.get("armored") {
            // rage-style grease stanza after the tlock one must be ignored.
            assert_eq!(
                age_open(s(armored).as_bytes(), &chain, &sig).unwrap(),
                plaintext,
                "{name}"
            );
            ok += 1;
            continue;
        }
        let body =
            TlockCiphertext::from_bytes(&hex_bytes(s(&v["raw_ibe_ciphertext_hex"]))).unwrap();
        let opened = ibe::tlock_decrypt(&key, &body);
        if name.contains("REJECTED") {
            // tlock-rs skipped H3's rejection sampling: kyber-faithful
            // decryption must refuse it, as tlock-js does.
            assert!(opened.is_err(), "{name}");
            rejected += 1;
        } else {
            assert_eq!(
                opened.unwrap().expose_secret().as_slice(),
                plaintext,
                "{name}"
            );
            ok += 1;
        }
    }
    assert_eq!((ok, rejected), (3, 1));
}

#[test]
fn tlock_js_go_produced_files_parse() {
    let Some(file) = shared_vector("tlock_js.json") else {
        return;
    };
    for v in file["ciphertexts"].as_array().unwrap() {
        let bin = dearmor(s(&v["armored"]).as_bytes()).unwrap();
        let hdr = Header::parse(&bin).unwrap();
        assert_eq!(hdr.round().get(), v["round"].as_u64().unwrap());
        assert_eq!(Hex(hdr.chain_hash()).to_string(), s(&v["chain_hash"]));
        let payload = (bin.len() - hdr.len() - PAYLOAD_NONCE_LEN) as u64;
        let expected = s(&v["plaintext_utf8"]).len() as u64;
        assert_eq!(age::plaintext_len(payload), Some(expected));
    }
}

// ---------------------------------------------------------------------------
// ideal-lab flavour
// ---------------------------------------------------------------------------

#[test]
fn timelock_0_3_0_ciphertext_decrypts() {
    let Some(file) = shared_vector("ideal_lab_timelock.json") else {
        return;
    };
    let v = &file["timelock_0_3_0_generated"];
    let ct = hex_bytes(s(&v["ciphertext_hex"]));
    assert_eq!(format::detect_whole(&ct), Some(Format::TleV03));
    let pt = tle_open(&ct, Layout::TleV03, &quicknet_1000_key()).unwrap();
    assert_eq!(pt, s(&v["plaintext_utf8"]).as_bytes());
    // Without the round, the unverified signature is authenticated by the IBE check.
    let unverified = RoundKey::from_unverified_signature(&hex_bytes(QUICKNET_1000_SIG)).unwrap();
    assert_eq!(tle_open(&ct, Layout::TleV03, &unverified).unwrap(), pt);
    // The other layout's parser refuses it.
    assert!(tle::parse(&ct, Layout::Tle).is_err());
}

#[test]
fn bittensor_drand_envelopes_decrypt() {
    let Some(file) = shared_vector("bittensor_drand.json") else {
        return;
    };
    let mut opened = 0;
    for v in file["vectors"].as_array().unwrap() {
        let ct = hex_bytes(s(&v["ciphertext_hex"]));
        let Some(sig) = v.get("signature").and_then(Value::as_str) else {
            // get_encrypted_commitment's raw TLE (a future round, no signature):
            // the `tle` layout around SCALE("hello commitment") = 1 + 16 bytes.
            assert_eq!(
                format::detect_whole(&ct),
                Some(Format::Tle),
                "{}",
                v["what"]
            );
            assert_eq!(tle::parse(&ct, Layout::Tle).unwrap().payload_len(), 17);
            continue;
        };
        assert_eq!(
            format::detect_whole(&ct),
            Some(Format::Bittensor),
            "{}",
            v["what"]
        );
        let (r, pt) = bittensor_open(&ct, &quicknet(), &hex_bytes(sig)).unwrap();
        assert_eq!(r.get(), v["round"].as_u64().unwrap());
        assert_eq!(pt, hex_bytes(s(&v["plaintext_hex"])));
        // The inner TLE alone is the `tle` format.
        let (_, inner) = bittensor::parse(&ct).unwrap();
        assert_eq!(format::detect_whole(&ct[inner]), Some(Format::Tle));
        opened += 1;
    }
    assert!(opened >= 4, "{opened}");
}

// ---------------------------------------------------------------------------
// Round trips on a devnet key, every format
// ---------------------------------------------------------------------------

#[test]
fn devnet_signatures_are_valid_beacons() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (key, chain) = devnet(&mut rng);
    for r in [1, 2, 1000, u64::MAX] {
        let sig = key.sign_round(round(r));
        assert!(
            chain
                .verify_beacon(&Beacon {
                    round: round(r),
                    signature: &sig,
                    previous_signature: None
                })
                .is_ok()
        );
    }
    let restored = DevnetKey::from_bytes(&key.to_bytes()).unwrap();
    assert_eq!(restored.public_key(), key.public_key());
    assert!(DevnetKey::from_bytes(&[0; 32]).is_err());
    assert!(DevnetKey::from_bytes(&[0xff; 32]).is_err());
    assert_eq!(format!("{key:?}"), "DevnetKey { .. }");
}

const SIZES: &[usize] = &[
    0,
    1,
    15,
    16,
    17,
    1000,
    AGE_CHUNK_LEN - 1,
    AGE_CHUNK_LEN,
    AGE_CHUNK_LEN + 1,
    2 * AGE_CHUNK_LEN,
    2 * AGE_CHUNK_LEN + 7,
];

#[test]
fn every_format_round_trips_at_chunk_boundaries() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let (key, chain) = devnet(&mut rng);
    let r = round(77);
    let sig = key.sign_round(r);
    let prepared = PreparedRound::new(&chain, r).unwrap();
    let rk = RoundKey::from_unverified_signature(&sig).unwrap();
    for &n in SIZES {
        let mut pt = vec![0u8; n];
        rng.fill_bytes(&mut pt);

        let a = age_seal(&prepared, &pt, &mut rng);
        assert_eq!(age_open(&a, &chain, &sig).unwrap(), pt, "age n={n}");
        let armored = armor_all(&a);
        assert_eq!(
            age_open(&armored, &chain, &sig).unwrap(),
            pt,
            "armored n={n}"
        );
        assert_eq!(
            age::plaintext_len((a.len() - Header::parse(&a).unwrap().len() - 16) as u64),
            Some(n as u64)
        );
        assert_eq!(format::detect_streaming(&a), Some((Format::Age, false)));
        assert_eq!(
            format::detect_streaming(&armored),
            Some((Format::Age, true))
        );

        for layout in [Layout::Tle, Layout::TleV03] {
            let t = tle_seal(&prepared, layout, &pt, &mut rng);
            assert_eq!(t.len(), n + layout.overhead());
            assert_eq!(tle_open(&t, layout, &rk).unwrap(), pt, "{layout:?} n={n}");
            let expected = if layout == Layout::Tle {
                Format::Tle
            } else {
                Format::TleV03
            };
            assert_eq!(format::detect_whole(&t), Some(expected));
        }

        let b = bittensor_seal(&prepared, &pt, &mut rng);
        assert_eq!(bittensor_open(&b, &chain, &sig).unwrap(), (r, pt.clone()));
        assert_eq!(format::detect_whole(&b), Some(Format::Bittensor));
    }
}

#[test]
fn two_seals_of_the_same_message_differ() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let prepared = PreparedRound::new(&quicknet(), round(1000)).unwrap();
    let pt = b"same message";
    assert_ne!(
        age_seal(&prepared, pt, &mut rng),
        age_seal(&prepared, pt, &mut rng)
    );
    assert_ne!(
        tle_seal(&prepared, Layout::Tle, pt, &mut rng),
        tle_seal(&prepared, Layout::Tle, pt, &mut rng)
    );
    assert_ne!(
        bittensor_seal(&prepared, pt, &mut rng),
        bittensor_seal(&prepared, pt, &mut rng)
    );
}

#[test]
fn pedersen_unchained_chains_work_for_age_only() {
    // testnet-unchained: signatures on G2; U lives in G1 and the body is 80 bytes.
    let chain = Chain::builtin("testnet-unchained").unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    // Round 1000000's public beacon (drand-rs beacon.rs, shared drand_beacons.json).
    let sig = hex_bytes(
        "86b265e10e060805d20dca88f70f6b5e62d5956e7790d32029dfb73fbcd1996bc7aebdea7aeaf74dac0ca2b3ce8f7a6a0399f224a05fe740c0bac9da638212082b0ed21b1a8c5e44a33123f28955ef0713e93e21f6af0cda4073d9a73387434d",
    );
    let prepared = PreparedRound::new(&chain, round(1_000_000)).unwrap();
    let sealed = age_seal(&prepared, b"on G2 signatures", &mut rng);
    let hdr = Header::parse(&sealed).unwrap();
    assert_eq!(hdr.round().get(), 1_000_000);
    assert_eq!(
        age_open(&sealed, &chain, &sig).unwrap(),
        b"on G2 signatures"
    );
    let mut buf = vec![0u8; Layout::Tle.sealed_len(3).unwrap()];
    assert!(tle::seal_in_place(&prepared, Layout::Tle, &mut buf, 3, &mut rng).is_err());
    assert!(PreparedRound::new(&Chain::builtin("default").unwrap(), round(5)).is_err());
}

// ---------------------------------------------------------------------------
// Hostile inputs
// ---------------------------------------------------------------------------

#[test]
fn any_flipped_bit_or_truncation_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (key, chain) = devnet(&mut rng);
    let r = round(5);
    let sig = key.sign_round(r);
    let rk = RoundKey::from_unverified_signature(&sig).unwrap();
    let prepared = PreparedRound::new(&chain, r).unwrap();
    let pt = vec![0x5a; AGE_CHUNK_LEN + 100];

    let a = age_seal(&prepared, &pt, &mut rng);
    let t = tle_seal(&prepared, Layout::Tle, &pt[..300], &mut rng);
    let t3 = tle_seal(&prepared, Layout::TleV03, &pt[..300], &mut rng);
    let b = bittensor_seal(&prepared, &pt[..300], &mut rng);
    // Every byte position of the small ones, a stride of the large one.
    for i in (0..a.len()).step_by(97).chain(0..400) {
        let mut bad = a.clone();
        bad[i] ^= 0x01;
        assert!(age_open(&bad, &chain, &sig).is_err(), "age byte {i}");
    }
    for (ct, layout) in [(&t, Layout::Tle), (&t3, Layout::TleV03)] {
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x80;
            assert!(tle_open(&bad, layout, &rk).is_err(), "{layout:?} byte {i}");
        }
        for cut in 0..ct.len() {
            assert!(tle_open(&ct[..cut], layout, &rk).is_err());
        }
    }
    for i in 0..b.len() {
        let mut bad = b.clone();
        bad[i] ^= 0x04;
        assert!(
            bittensor_open(&bad, &chain, &sig).is_err(),
            "bittensor byte {i}"
        );
    }
    for cut in [0, 1, a.len() / 2, a.len() - 17, a.len() - 1] {
        assert!(age_open(&a[..cut], &chain, &sig).is_err(), "age cut {cut}");
    }
    // Truncating at a chunk boundary drops the last chunk: refused too.
    let hdr_len = Header::parse(&a).unwrap().len() + PAYLOAD_NONCE_LEN;
    assert!(age_open(&a[..hdr_len + MAX_CHUNK_CIPHERTEXT_LEN], &chain, &sig).is_err());
    // Appending a chunk is refused.
    let mut longer = a.clone();
    longer.extend_from_slice(&[0; 17]);
    assert!(age_open(&longer, &chain, &sig).is_err());
}

#[test]
fn giant_length_prefixes_are_refused_without_allocating() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let prepared = PreparedRound::new(&quicknet(), round(1000)).unwrap();
    let t = tle_seal(&prepared, Layout::Tle, b"x", &mut rng);
    // Every u64 length prefix set to u64::MAX (and to just past the end).
    for off in [
        96,
        136,
        176,
        184,
        t.len() - 16 - 8 - 12 - 8 + 8,
        t.len() - 16,
    ] {
        for v in [u64::MAX, (t.len() as u64) + 1, 1 << 40] {
            let mut bad = t.clone();
            bad[off..off + 8].copy_from_slice(&v.to_le_bytes());
            assert!(tle::parse(&bad, Layout::Tle).is_err(), "offset {off}");
            assert!(tle::parse(&bad, Layout::TleV03).is_err());
            assert_eq!(format::detect_whole(&bad), None);
        }
    }
    // An old-layout TLE fed to the 0.3.0 layout (what aborts the timelock crate).
    assert!(tle::parse(&t, Layout::TleV03).is_err());
    // A bittensor envelope claiming 2^62 bytes.
    let mut env = vec![0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f];
    env.extend_from_slice(&t);
    assert!(bittensor::parse(&env).is_err());
}

#[test]
fn malformed_age_headers_name_the_problem() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let prepared = PreparedRound::new(&quicknet(), round(1000)).unwrap();
    let good = age_seal(&prepared, b"hi", &mut rng);
    let text = String::from_utf8_lossy(&good[..Header::parse(&good).unwrap().len()]).into_owned();
    let cases = [
        text.replace("age-encryption.org/v1", "age-encryption.org/v2"),
        text.replace("-> tlock 1000", "-> tlock 0"),
        text.replace("-> tlock 1000", "-> tlock 99999999999999999999"),
        text.replace("-> tlock 1000", "-> tlock -1"),
        text.replace("-> tlock 1000 ", "-> tlock 1000  "),
        text.replace("52db9ba7", "52db9bzz"),
        text.replace("--- ", "---  "),
        text.replace("\n---", "\n\n---"),
        text.replace("-> tlock", "-> X25519"),
        text[..text.len() - 10].to_string(),
    ];
    for bad in &cases {
        assert!(Header::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    // A header that never ends within the limit.
    let mut endless = b"age-encryption.org/v1\n-> grease\n".to_vec();
    endless.extend(core::iter::repeat_n(b'A', 64 * 1024));
    assert!(matches!(
        Header::parse(&endless),
        Err(age::AgeError::MalformedHeader(_) | age::AgeError::HeaderTooLong { .. })
    ));
}
