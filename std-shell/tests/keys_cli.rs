//! `veil address|sign|verify|commitment` under the CLI contract.

use veil_test_support::Veil;

const DEV_SEED: &str = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e";
const DEV_ADDRESS: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";

fn veil() -> Veil {
    Veil::at(env!("CARGO_BIN_EXE_veil"))
        .env_remove("VEIL_SEED")
        .env_remove("BT_WALLET_NAME")
        .env_remove("BT_WALLET_HOTKEY")
        .env("BT_WALLET_PATH", "/nonexistent-veil-wallets")
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    String::from_utf8(veil().ok(args, b"")).unwrap()
}

#[track_caller]
fn fails(code: i32, args: &[&str], needle: &str) {
    let stderr = veil().fails_with(code, args, b"");
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    assert!(!stderr.contains(&DEV_SEED[..12]), "a secret reached stderr");
}

#[test]
fn address_from_seed_text_and_seed_file() {
    assert_eq!(
        ok(&["address", "--seed", DEV_SEED]),
        format!("{DEV_ADDRESS}\n")
    );
    assert_eq!(
        ok(&[
            "address",
            "--seed",
            &format!("0x{}", DEV_SEED.to_uppercase())
        ]),
        format!("{DEV_ADDRESS}\n")
    );
    let dir = std::env::temp_dir().join(format!("veil-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("seed");
    std::fs::write(&f, format!("{DEV_SEED}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        ok(&["address", "--seed-file", f.to_str().unwrap()]),
        format!("{DEV_ADDRESS}\n")
    );
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    fails(
        1,
        &["address", "--seed-file", f.to_str().unwrap()],
        "readable by others",
    );
    std::fs::remove_dir_all(&dir).unwrap();

    fails(1, &["address", "--seed", "abcd"], "32 bytes");
    fails(1, &["address", "--seed", "zz"], "--seed");
    fails(1, &["address", "--seed", &"ff".repeat(64)], "secret key");
    fails(1, &["address"], "cannot read");
    fails(
        2,
        &["address", "--seed", DEV_SEED, "--seed-file", "x"],
        "cannot be used",
    );
}

#[test]
fn the_seed_may_come_from_veil_seed_and_long_running_commands_refuse_it_on_the_command_line() {
    let from_env = veil().env("VEIL_SEED", DEV_SEED);
    assert_eq!(
        String::from_utf8(from_env.ok(&["address"], b"")).unwrap(),
        format!("{DEV_ADDRESS}\n")
    );
    // A bad value names the variable, never the value.
    let bad = veil()
        .env("VEIL_SEED", "zz")
        .fails_with(1, &["address"], b"");
    assert!(bad.contains("VEIL_SEED"), "{bad}");
    let miner_target = format!("127.0.0.1:9:{DEV_ADDRESS}");
    for command in [
        vec!["miner"],
        vec!["validator", "--miner", miner_target.as_str()],
    ] {
        let args = [command.as_slice(), &["--seed", DEV_SEED]].concat();
        let stderr = veil().fails_with(1, &args, b"");
        assert!(
            stderr.contains("--seed-file") && stderr.contains("VEIL_SEED"),
            "{command:?}: {stderr}"
        );
        assert!(!stderr.contains(&DEV_SEED[..12]), "a secret reached stderr");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn sign_and_verify_round_trip() {
    let sig = ok(&[
        "sign",
        "--seed",
        DEV_SEED,
        "--message",
        "challenge:c1:hash:00",
    ]);
    let sig = sig.trim_end();
    assert_eq!(sig.len(), 128);
    assert!(
        sig.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(
        ok(&[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message",
            "challenge:c1:hash:00",
            "--signature",
            sig
        ]),
        ""
    );
    let hex_msg: String = "challenge:c1:hash:00"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        ok(&[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message-hex",
            &hex_msg,
            "--signature",
            &format!("0x{sig}")
        ]),
        ""
    );
    fails(
        1,
        &[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message",
            "challenge:c1:hash:01",
            "--signature",
            sig,
        ],
        "invalid signature",
    );
    // --message is never hex-decoded, unlike bittensor_wallet's sign(str).
    let s0x = ok(&["sign", "--seed", DEV_SEED, "--message", "0x00"]);
    fails(
        1,
        &[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message-hex",
            "00",
            "--signature",
            s0x.trim_end(),
        ],
        "invalid",
    );
    assert_eq!(
        ok(&[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message-hex",
            "30783030",
            "--signature",
            s0x.trim_end()
        ]),
        ""
    );
}

#[test]
fn malformed_addresses_and_signatures_are_clear_errors() {
    let sig = ok(&["sign", "--seed", DEV_SEED, "--message", "m"]);
    let sig = sig.trim_end();
    let mut typo = DEV_ADDRESS.to_string();
    typo.replace_range(3..4, "Z");
    fails(
        1,
        &[
            "verify",
            "--address",
            &typo,
            "--message",
            "m",
            "--signature",
            sig,
        ],
        "checksum",
    );
    fails(
        1,
        &[
            "verify",
            "--address",
            "not-an-address",
            "--message",
            "m",
            "--signature",
            sig,
        ],
        "--address",
    );
    fails(
        1,
        &[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message",
            "m",
            "--signature",
            &sig[..120],
        ],
        "--signature",
    );
    fails(
        1,
        &[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message",
            "m",
            "--signature",
            "xyz",
        ],
        "--signature",
    );
    fails(
        1,
        &[
            "verify",
            "--address",
            DEV_ADDRESS,
            "--message-hex",
            "zz",
            "--signature",
            sig,
        ],
        "--message-hex",
    );
    fails(
        2,
        &["verify", "--address", DEV_ADDRESS, "--signature", sig],
        "required",
    );
    fails(
        2,
        &[
            "sign",
            "--seed",
            DEV_SEED,
            "--message",
            "a",
            "--message-hex",
            "00",
        ],
        "cannot be used",
    );
}

#[test]
fn commitments_encode_and_decode() {
    let c = ok(&[
        "commitment",
        "encode",
        "--bucket",
        "0123456789abcdef0123456789abcdef",
        "--read-access-key-id",
        "ak",
        "--read-secret-access-key",
        "sk",
    ]);
    let c = c.strip_suffix('\n').unwrap();
    assert_eq!(c.len(), 128);
    let json: serde_json::Value = serde_json::from_str(&ok(&["commitment", "decode", c])).unwrap();
    assert_eq!(json["bucket"], "0123456789abcdef0123456789abcdef");
    assert_eq!(json["read_access_key_id"], "ak");
    assert_eq!(json["read_secret_access_key"], "sk");
    fails(
        1,
        &[
            "commitment",
            "encode",
            "--bucket",
            &"b".repeat(33),
            "--read-access-key-id",
            "k",
            "--read-secret-access-key",
            "s",
        ],
        "longer than 32",
    );
    fails(
        1,
        &[
            "commitment",
            "encode",
            "--bucket",
            "b",
            "--read-access-key-id",
            "k",
            "--read-secret-access-key",
            &"s".repeat(65),
        ],
        "longer than 64",
    );
    fails(1, &["commitment", "decode", "short"], "exactly 128");
    fails(
        1,
        &[
            "commitment",
            "decode",
            &format!("{}\u{e9}", "a".repeat(126)),
        ],
        "ASCII",
    );
}
