//! sr25519 hotkeys, SS58, GRAIL commitments and MIID records.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::commitment::{CommitmentError, ReadCommitment};
use veil_core::miid::{self, FrameError, ImageRequestMeta, JsonStr, KeyParts, S3Submission};
use veil_core::sign::{Keypair, PublicKey, SignError, Signature};
use veil_core::ss58::{self, Ss58Error};

// The substrate dev phrase "bottom drive obey lake curtain smoke basket hold
// race lonely fit walk": its mini secret, public key and SS58 address as
// bittensor_wallet 4.1.1 reports them (shared reference notes §4.3–4.4).
const DEV_SEED: [u8; 32] =
    hex_literal::hex!("fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e");
const DEV_PK: [u8; 32] =
    hex_literal::hex!("46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a");
const DEV_ADDRESS: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
// //Alice's well-known address (Substrate docs).
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(42)
}

#[test]
fn dev_seed_gives_the_known_key_and_address() {
    let kp = Keypair::from_mini_secret(&DEV_SEED).unwrap();
    assert_eq!(kp.public().to_bytes(), DEV_PK);
    assert_eq!(ss58::encode(42, &DEV_PK), DEV_ADDRESS);
    assert_eq!(ss58::decode(DEV_ADDRESS), Ok((42, DEV_PK)));
    // The 64-byte form of the same key gives the same public key.
    let again = Keypair::from_seed(&kp.secret_bytes()[..]).unwrap();
    assert_eq!(again.public(), kp.public());
    assert!(ss58::decode(ALICE).is_ok());
    assert!(
        format!("{kp:?}").starts_with("Keypair { public"),
        "no secret in Debug"
    );
}

#[test]
fn signatures_verify_plain_and_wrapped_and_nothing_else() {
    let kp = Keypair::from_mini_secret(&DEV_SEED).unwrap();
    let pk = kp.public();
    let msg = b"challenge:c1:hash:00ff";
    let sig = kp.sign(msg, &mut rng());
    assert_eq!(pk.verify(msg, &sig), Ok(()));
    // Randomized: a second signature differs and verifies too.
    let sig2 = kp.sign(msg, &mut ChaCha20Rng::seed_from_u64(7));
    assert_ne!(sig, sig2);
    assert_eq!(pk.verify(msg, &sig2), Ok(()));
    // A signature over <Bytes>msg</Bytes> verifies as msg (bittensor_wallet).
    let wrapped = kp.sign(b"<Bytes>challenge:c1:hash:00ff</Bytes>", &mut rng());
    assert_eq!(pk.verify(msg, &wrapped), Ok(()));
    // Anything else fails with the one opaque error.
    assert_eq!(pk.verify(b"other", &sig), Err(SignError::InvalidSignature));
    let mut bad = sig.to_bytes();
    bad[10] ^= 1;
    assert_eq!(
        pk.verify(msg, &Signature::from_bytes(bad)),
        Err(SignError::InvalidSignature)
    );
    let other = Keypair::from_mini_secret(&[1; 32]).unwrap().public();
    assert_eq!(other.verify(msg, &sig), Err(SignError::InvalidSignature));
    assert_eq!(
        pk.verify(msg, &Signature::from_bytes([0; 64])),
        Err(SignError::InvalidSignature)
    );
}

#[test]
fn signature_text_is_128_lowercase_hex() {
    let kp = Keypair::from_mini_secret(&DEV_SEED).unwrap();
    let sig = kp.sign(b"m", &mut rng());
    let hex = sig.to_hex();
    assert_eq!(hex.len(), 128);
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(Signature::from_hex(&hex), Ok(sig));
    assert_eq!(
        Signature::from_hex(&format!("0x{}", hex.to_uppercase())),
        Ok(sig)
    );
    assert!(Signature::from_hex(&hex[..126]).is_err());
    assert!(Signature::from_hex("zz").is_err());
}

#[test]
fn seeds_of_other_lengths_and_bad_keys_are_refused() {
    assert_eq!(
        Keypair::from_seed(&[0; 31]).err(),
        Some(SignError::SeedLength)
    );
    assert_eq!(
        Keypair::from_seed(&[0; 33]).err(),
        Some(SignError::SeedLength)
    );
    // A 64-byte secret whose scalar is not canonical.
    assert_eq!(
        Keypair::from_seed(&[0xff; 64]).err(),
        Some(SignError::InvalidSecretKey)
    );
    assert_eq!(
        PublicKey::from_bytes(&[0xff; 32]),
        Err(SignError::InvalidPublicKey)
    );
}

#[test]
fn bad_addresses_name_the_problem() {
    let mut typo = DEV_ADDRESS.to_string();
    typo.replace_range(10..11, "X");
    assert_eq!(ss58::decode(&typo), Err(Ss58Error::Checksum));
    assert_eq!(ss58::decode("0OIl"), Err(Ss58Error::Encoding));
    assert_eq!(ss58::decode(""), Err(Ss58Error::Length));
    assert_eq!(ss58::decode(&DEV_ADDRESS[..40]), Err(Ss58Error::Length));
    assert_eq!(ss58::decode(&"5".repeat(100)), Err(Ss58Error::Encoding));
    // Polkadot (prefix 0) addresses are readable, with their prefix.
    let polkadot = ss58::encode(0, &DEV_PK);
    assert_eq!(ss58::decode(&polkadot), Ok((0, DEV_PK)));
}

#[test]
fn commitments_round_trip_and_refuse_what_would_be_truncated() {
    // R2 ids: account and key id 32 hex chars, secret 64 (GRAIL, templar).
    let c = ReadCommitment {
        bucket: "0123456789abcdef0123456789abcdef",
        read_access_key_id: "fedcba9876543210fedcba9876543210",
        read_secret_access_key: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    };
    let text = c.encode().unwrap();
    assert_eq!(text.len(), 128);
    assert_eq!(ReadCommitment::parse(&text), Ok(c));
    let short = ReadCommitment {
        bucket: "acct",
        read_access_key_id: "k",
        read_secret_access_key: "s",
    };
    let text = short.encode().unwrap();
    assert!(text.starts_with("acct                            k "));
    assert_eq!(ReadCommitment::parse(&text), Ok(short));

    let long = ReadCommitment {
        bucket: &"a".repeat(33),
        ..c
    };
    assert_eq!(
        long.encode(),
        Err(CommitmentError::FieldTooLong {
            field: "bucket",
            max: 32
        })
    );
    let long = ReadCommitment {
        read_secret_access_key: &"a".repeat(65),
        ..c
    };
    assert_eq!(
        long.encode(),
        Err(CommitmentError::FieldTooLong {
            field: "read secret access key",
            max: 64
        })
    );
    assert!(ReadCommitment { bucket: "", ..c }.encode().is_err());
    assert!(ReadCommitment { bucket: " x", ..c }.encode().is_err());
    assert!(ReadCommitment { bucket: "é", ..c }.encode().is_err());

    assert_eq!(
        ReadCommitment::parse("short"),
        Err(CommitmentError::Length { found: 5 })
    );
    assert_eq!(
        ReadCommitment::parse(&"a".repeat(129)),
        Err(CommitmentError::Length { found: 129 })
    );
    let mut tab = "a".repeat(128);
    tab.replace_range(5..6, "\t");
    assert_eq!(
        ReadCommitment::parse(&tab),
        Err(CommitmentError::NotPrintableAscii)
    );
    let blank_bucket = format!("{}{}", " ".repeat(32), "k".repeat(96));
    assert_eq!(
        ReadCommitment::parse(&blank_bucket),
        Err(CommitmentError::EmptyField("bucket"))
    );
    // The secret never shows in Debug.
    assert!(!format!("{c:?}").contains("00112233"));
}

#[test]
fn messages_and_path_signature() {
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(
        miid::image_message("c1", hash).unwrap().as_str(),
        format!("challenge:c1:hash:{hash}")
    );
    assert_eq!(
        miid::path_message("c1", DEV_ADDRESS).unwrap().as_str(),
        format!("c1:{DEV_ADDRESS}")
    );
    let kp = Keypair::from_mini_secret(&DEV_SEED).unwrap();
    let sig = kp.sign(
        miid::path_message("c1", DEV_ADDRESS).unwrap().as_bytes(),
        &mut rng(),
    );
    assert_eq!(miid::path_signature(&sig), sig.to_hex()[..16]);
    assert!(miid::image_message("c/1", hash).is_err());
    assert!(miid::image_message("c1", "abc").is_err());
    let mut h = miid::ImageHasher::new();
    h.update(b"te");
    h.update(b"st");
    assert_eq!(h.finalize_hex(), hash);
}

#[test]
fn object_keys_follow_the_layout_and_never_escape() {
    let parts = KeyParts {
        challenge_id: "challenge_1767000000_5Dfh",
        miner_ss58: DEV_ADDRESS,
        path_signature: "0123456789abcdef",
        image_filename: "face01.JPEG",
        variation_type: "lighting_edit+pose_edit",
        unix_ts: 1_767_000_123,
        index: 3,
    };
    let key = miid::object_key(&parts).unwrap();
    assert_eq!(
        key.as_str(),
        format!(
            "submissions/challenge_1767000000_5Dfh/{DEV_ADDRESS}/0123456789abcdef/face01/lighting_edit_pose_edit_1767000123_3.png.tlock"
        )
    );
    assert_eq!(miid::validate_object_key(&key), Ok(()));
    for bad in [
        KeyParts {
            challenge_id: "../x",
            ..parts
        },
        KeyParts {
            challenge_id: "a/b",
            ..parts
        },
        KeyParts {
            image_filename: "..",
            ..parts
        },
        KeyParts {
            image_filename: "x\ny.png",
            ..parts
        },
        KeyParts {
            miner_ss58: "",
            ..parts
        },
        KeyParts {
            path_signature: "xyz",
            ..parts
        },
        KeyParts {
            variation_type: "dance",
            ..parts
        },
        KeyParts {
            variation_type: "pose_edit+pose_edit",
            ..parts
        },
    ] {
        assert!(miid::object_key(&bad).is_err(), "{bad:?}");
    }
    let long = "a".repeat(257);
    assert!(
        miid::object_key(&KeyParts {
            challenge_id: &long,
            ..parts
        })
        .is_err()
    );
    // The core takes apart what it builds.
    let parsed = miid::parse_object_key(&key).unwrap();
    assert_eq!(
        parsed,
        miid::ParsedKey {
            challenge_id: parts.challenge_id,
            miner_ss58: parts.miner_ss58,
            path_signature: parts.path_signature,
            seed_name: "face01",
            type_part: "lighting_edit_pose_edit",
            unix_ts: parts.unix_ts,
            index: Some(u64::from(parts.index)),
        }
    );
    assert!(
        parsed
            .type_part
            .chars()
            .eq(miid::key_type_part(parts.variation_type))
    );
    for bad in [
        // seven parts, or five
        "submissions/a/b/c/d/e/pose_edit_1_0.png.tlock",
        "submissions/a/b/c/pose_edit_1_0.png.tlock",
        // not {type}_{ts}[_{index}].png.tlock
        "submissions/a/b/c/d/pose_edit.png.tlock",
        "submissions/a/b/c/d/pose_edit_1_x.png.tlock",
        "submissions/a/b/c/d/pose_edit_1_-0.png.tlock",
        "submissions/a/b/c/d/_1_0.png.tlock",
        "submissions/a/b/c/d/pose_edit_1_0.jpg.tlock",
        "submissions/a/b/c/d/pose_edit_99999999999999999999_0.png.tlock",
        "submissions/a/b/c/d/1_2_3.png.tlock",
    ] {
        assert!(miid::parse_object_key(bad).is_err(), "{bad}");
    }
    // A stock MIID miner's key has no index (MIID neurons/miner.py at
    // d71f292bc: `{type}_{timestamp}.png.tlock`).
    let stock = miid::parse_object_key(
        "submissions/c1/5F/0123456789abcdef/face01/lighting_edit_pose_edit_1767000123.png.tlock",
    )
    .unwrap();
    assert_eq!(
        (stock.type_part, stock.unix_ts, stock.index),
        ("lighting_edit_pose_edit", 1_767_000_123, None)
    );
    for bad in [
        "x/a/b/c/d/e.png.tlock",
        "submissions/a/b/c.png.tlock",
        "submissions/a/b/c/d/e.png",
        "submissions/a//c/d/e/f.tlock",
        "submissions/../b/c/d/e/f.tlock",
    ] {
        assert!(miid::validate_object_key(bad).is_err(), "{bad}");
    }
}

#[test]
fn s3_submissions_round_trip_and_require_every_field() {
    let kp = Keypair::from_mini_secret(&DEV_SEED).unwrap();
    let sig = kp.sign(b"m", &mut rng()).to_hex();
    let key = format!("submissions/c1/{DEV_ADDRESS}/0123456789abcdef/face/pose_edit_1_0.png.tlock");
    let s = S3Submission::new(
        &key,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        &sig,
        "pose_edit",
        "0123456789abcdef",
    );
    let mut buf = [0u8; 1024];
    let json = s.encode(&mut buf).unwrap().to_vec();
    assert_eq!(S3Submission::decode(&json), Ok(s));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["path_signature"], "0123456789abcdef");

    let mut missing = v.clone();
    missing.as_object_mut().unwrap().remove("path_signature");
    let text = missing.to_string();
    assert_eq!(
        S3Submission::decode(text.as_bytes()),
        Err(FrameError::Json("S3Submission"))
    );
    // Unknown fields are ignored (pydantic's default, MIID's models).
    let mut extra = v.clone();
    extra["comment"] = "ignored".into();
    extra["process_time"] = 1.5.into();
    let text = extra.to_string();
    assert_eq!(S3Submission::decode(text.as_bytes()), Ok(s));
    // A second angle belongs to a screen_replay submission only.
    let mut angle2 = v.clone();
    angle2["s3_key_angle2"] = key.replace("pose_edit_1_0", "pose_edit_2_0").into();
    let text = angle2.to_string();
    assert!(matches!(
        S3Submission::decode(text.as_bytes()),
        Err(FrameError::Field("s3_key_angle2", _))
    ));
    let mut wrong = v.clone();
    wrong["image_hash"] = "abc".into();
    let text = wrong.to_string();
    assert!(matches!(
        S3Submission::decode(text.as_bytes()),
        Err(FrameError::Field("image_hash", _))
    ));
    assert_eq!(s.encode(&mut [0u8; 10]), Err(FrameError::BufferFull));
    assert_eq!(
        S3Submission::decode(b"[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]"),
        Err(FrameError::TooDeep { max: 16 })
    );
}

#[test]
fn image_requests_today_and_in_the_first_cut() {
    let today = br#"{"base_image":"iVBORw0KGgo=","image_filename":"face.png","variation_requests":[{"type":"lighting_edit+expression_edit","intensity":"far","description":"warm \"golden\" hour","detail":"line1\nline2 \u00e9 \ud83d\ude00"},{"type":"pose_edit","intensity":"light"}],"target_drand_round":34169651,"reveal_timestamp":1795312317,"challenge_id":"challenge_1_5Dfh","daily_seed_image":null}"#;
    let m = ImageRequestMeta::decode(today).unwrap();
    assert_eq!(m.image_filename, "face.png");
    assert_eq!(m.target_drand_round.get(), 34_169_651);
    assert_eq!(m.challenge_id, Some("challenge_1_5Dfh"));
    assert_eq!(m.variation_requests.len(), 2);
    assert_eq!(m.variation_requests[1].description, "");
    let mut buf = [0u8; 256];
    assert_eq!(
        m.variation_requests[0]
            .description_raw()
            .unescape_into(&mut buf)
            .unwrap(),
        "warm \"golden\" hour"
    );
    assert_eq!(
        m.variation_requests[0]
            .detail_raw()
            .unescape_into(&mut buf)
            .unwrap(),
        "line1\nline2 é 😀"
    );

    let legacy = br#"{"base_image":"AAAA","image_filename":"face.jpg","variation_types":["pose_edit","lighting_edit"],"target_drand_round":5,"reveal_timestamp":6,"requested_variations":3,"challenge_id":null}"#;
    let m = ImageRequestMeta::decode(legacy).unwrap();
    let kinds: Vec<&str> = m.variation_requests.iter().map(|v| v.kind).collect();
    assert_eq!(kinds, ["pose_edit", "lighting_edit", "pose_edit"]);
    assert!(m.variation_requests.iter().all(|v| v.intensity == "medium"));
    assert_eq!(m.challenge_id, None);

    for bad in [
        &br#"{"image_filename":"f.png","target_drand_round":0,"reveal_timestamp":1}"#[..],
        br#"{"image_filename":"../f.png","target_drand_round":1,"reveal_timestamp":1}"#,
        br#"{"image_filename":"f.png","reveal_timestamp":1}"#,
        br#"{"image_filename":"f.png","target_drand_round":1,"reveal_timestamp":1,"variation_requests":[{"type":"dance","intensity":"far"}]}"#,
        br#"{"image_filename":"f.png","target_drand_round":1,"reveal_timestamp":1,"variation_requests":[{"type":"pose_edit","intensity":"extreme"}]}"#,
        br#"{"image_filename":"f.png","target_drand_round":1,"reveal_timestamp":1,"variation_types":["pose_edit"],"requested_variations":1000}"#,
    ] {
        assert!(ImageRequestMeta::decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let many = format!(
        r#"{{"image_filename":"f.png","target_drand_round":1,"reveal_timestamp":1,"variation_requests":[{}]}}"#,
        vec![r#"{"type":"pose_edit","intensity":"far"}"#; 17].join(",")
    );
    assert!(ImageRequestMeta::decode(many.as_bytes()).is_err());
    assert!(JsonStr("bad \\x escape").unescape_into(&mut buf).is_err());
    assert!(JsonStr("lone \\ud800").unescape_into(&mut buf).is_err());
    assert_eq!(
        JsonStr("abc").unescape_into(&mut [0u8; 2]),
        Err(FrameError::BufferFull)
    );
}
