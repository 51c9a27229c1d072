//! Hotkeys and signatures against the real bittensor-wallet 4.1.1 (PyPI) and
//! an independent sr25519 engine (py-sr25519-bindings), both directions;
//! hotkey files written by bittensor-wallet read by veil; MIID records
//! accepted by pydantic models of MIID's wire shapes.

use std::process::Output;

use veil_core::miid::{ImageRequestMeta, S3Submission};
use veil_tests::{
    Scratch, btwallet, hex_of, miid_models, run_with_stdin, success, veil, veil_failure,
};

// The substrate dev mini secret (reference notes §4.4) and a random-looking one.
const SEEDS: [&str; 2] = [
    "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e",
    "3c9f1e0a5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4",
];

fn text(out: Output, what: &str) -> String {
    String::from_utf8(success(out, what))
        .unwrap()
        .trim_end()
        .to_owned()
}

fn peer(args: &[&str]) -> Output {
    btwallet().unwrap().args(args).output().unwrap()
}

const MESSAGES: [&[u8]; 4] = [
    b"challenge:c1:hash:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    b"",
    b"0x00",
    "héllo \u{1F600}".as_bytes(),
];

#[test]
fn addresses_agree() {
    let Some(_) = btwallet() else { return };
    for seed in SEEDS {
        assert_eq!(
            text(veil(&["address", "--seed", seed]), "veil address"),
            text(peer(&["address", seed]), "btwallet address")
        );
    }
}

#[test]
fn veil_signatures_verify_in_both_python_engines() {
    let Some(_) = btwallet() else { return };
    for seed in SEEDS {
        let addr = text(veil(&["address", "--seed", seed]), "address");
        for msg in MESSAGES {
            let msg_hex = hex_of(msg);
            let sig = text(
                veil(&["sign", "--seed", seed, "--message-hex", &msg_hex]),
                "veil sign",
            );
            assert_eq!(sig.len(), 128);
            success(
                peer(&["verify", &addr, &msg_hex, &sig]),
                "bittensor_wallet verify",
            );
            success(
                peer(&["verify-strict", &addr, &msg_hex, &sig]),
                "sr25519 verify",
            );
            // --message signs the UTF-8 bytes exactly, "0x00" included.
            if let Ok(s) = core::str::from_utf8(msg) {
                let sig = text(veil(&["sign", "--seed", seed, "--message", s]), "veil sign");
                success(
                    peer(&["verify-strict", &addr, &msg_hex, &sig]),
                    "sr25519 verify --message",
                );
            }
            // A signature of another message does not verify there.
            let other = text(
                veil(&["sign", "--seed", seed, "--message", "other"]),
                "sign",
            );
            assert!(!peer(&["verify", &addr, &msg_hex, &other]).status.success());
        }
    }
}

#[test]
fn bittensor_wallet_signatures_verify_in_veil_plain_and_wrapped() {
    let Some(_) = btwallet() else { return };
    for seed in SEEDS {
        let addr = text(peer(&["address", seed]), "address");
        for msg in MESSAGES {
            let msg_hex = hex_of(msg);
            for how in ["sign", "sign-wrapped"] {
                let sig = text(peer(&[how, seed, &msg_hex]), how);
                let out = veil(&[
                    "verify",
                    "--address",
                    &addr,
                    "--message-hex",
                    &msg_hex,
                    "--signature",
                    &sig,
                ]);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{how}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let with_0x = format!("0x{}", sig.to_uppercase());
                assert_eq!(
                    veil(&[
                        "verify",
                        "--address",
                        &addr,
                        "--message-hex",
                        &msg_hex,
                        "--signature",
                        &with_0x
                    ])
                    .status
                    .code(),
                    Some(0)
                );
                let mut flipped = sig.clone().into_bytes();
                flipped[5] = if flipped[5] == b'0' { b'1' } else { b'0' };
                let out = veil(&[
                    "verify",
                    "--address",
                    &addr,
                    "--message-hex",
                    &msg_hex,
                    "--signature",
                    core::str::from_utf8(&flipped).unwrap(),
                ]);
                veil_failure(&out, "flipped signature");
            }
        }
    }
}

#[test]
fn hotkey_files_written_by_bittensor_wallet_are_read() {
    let Some(_) = btwallet() else { return };
    let dir = Scratch::new("wallet");
    let wallets = dir.path().join("wallets");
    let wallets = wallets.to_str().unwrap();
    let file = text(
        peer(&["make-hotkey", wallets, "miner", "hk1", SEEDS[1]]),
        "make-hotkey",
    );
    let expected = text(peer(&["address", SEEDS[1]]), "address");
    let args = [
        "address",
        "--wallet.name",
        "miner",
        "--wallet.hotkey",
        "hk1",
        "--wallet.path",
        wallets,
    ];
    assert_eq!(text(veil(&args), "veil address --wallet"), expected);
    // The BT_WALLET_* environment works the same way.
    let out = std::process::Command::new(veil_tests::veil_bin())
        .arg("address")
        .env("BT_WALLET_NAME", "miner")
        .env("BT_WALLET_HOTKEY", "hk1")
        .env("BT_WALLET_PATH", wallets)
        .output()
        .unwrap();
    assert_eq!(text(out, "veil address with BT_WALLET_*"), expected);
    // A signature made from the wallet verifies in bittensor-wallet.
    let sig = text(
        veil(&[
            "sign",
            "--wallet.name",
            "miner",
            "--wallet.hotkey",
            "hk1",
            "--wallet.path",
            wallets,
            "--message",
            "m",
        ]),
        "sign",
    );
    success(peer(&["verify", &expected, &hex_of(b"m"), &sig]), "verify");
    // Only privateKey (the 64-byte secret key form) left: the same key.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("secretSeed");
    assert!(json["privateKey"].as_str().unwrap().len() == 130);
    std::fs::write(&file, json.to_string()).unwrap();
    assert_eq!(text(veil(&args), "veil address from privateKey"), expected);
    // A publicKey that does not match the secret is refused.
    json["publicKey"] = format!("0x{}", "11".repeat(32)).into();
    std::fs::write(&file, json.to_string()).unwrap();
    assert!(veil_failure(&veil(&args), "mismatched publicKey").contains("does not match"));
    // A hotkey file readable by others is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = veil_failure(&veil(&args), "world-readable hotkey");
    assert!(e.contains("chmod 600"), "{e}");
    assert!(!e.contains(&SEEDS[1][..16]), "no secret in the error");
}

#[test]
fn miid_records_agree_with_pydantic() {
    let Some(_) = miid_models() else { return };
    // pydantic's example ImageRequest (with escapes, unicode, emoji) decodes in veil.
    let example = success(
        miid_models()
            .unwrap()
            .args(["example", "ImageRequest"])
            .output()
            .unwrap(),
        "example",
    );
    let meta = ImageRequestMeta::decode(&example).unwrap();
    assert!(!meta.variation_requests.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&example).unwrap();
    let mut buf = vec![0u8; 4096];
    for (ours, theirs) in meta
        .variation_requests
        .iter()
        .zip(v["variation_requests"].as_array().unwrap())
    {
        assert_eq!(ours.kind, theirs["type"].as_str().unwrap());
        assert_eq!(
            ours.detail_raw().unescape_into(&mut buf).unwrap(),
            theirs["detail"].as_str().unwrap()
        );
    }
    // pydantic's example S3Submission decodes, and what veil encodes validates
    // in pydantic unchanged.
    let example = success(
        miid_models()
            .unwrap()
            .args(["example", "S3Submission"])
            .output()
            .unwrap(),
        "example",
    );
    let s = S3Submission::decode(&example).unwrap();
    let mut out = [0u8; 2048];
    let ours = s.encode(&mut out).unwrap();
    let validated = success(
        run_with_stdin(
            miid_models().unwrap().args(["validate", "S3Submission"]),
            ours,
        ),
        "validate",
    );
    let a: serde_json::Value = serde_json::from_slice(ours).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&validated).unwrap();
    for k in [
        "s3_key",
        "image_hash",
        "signature",
        "variation_type",
        "path_signature",
    ] {
        assert_eq!(a[k], b[k], "{k}");
    }
    // Both refuse a submission without path_signature.
    let mut missing = a.clone();
    missing.as_object_mut().unwrap().remove("path_signature");
    let missing = missing.to_string();
    assert!(
        !run_with_stdin(
            miid_models().unwrap().args(["validate", "S3Submission"]),
            missing.as_bytes()
        )
        .status
        .success()
    );
    assert!(S3Submission::decode(missing.as_bytes()).is_err());
}
