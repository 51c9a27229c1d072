//! The CLI contract of SPEC.md, exercised on the real binary: exit codes,
//! one line on stderr and nothing on stdout on failure, garbage and extremes.

use std::process::Output;

use veil_test_support::Veil;

const QUICKNET_1000_SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn veil(args: &[&str]) -> Output {
    Veil::at(env!("CARGO_BIN_EXE_veil")).run(args, b"")
}

/// Success: exit 0, stdout as given, stderr empty.
#[track_caller]
fn ok(args: &[&str], stdout: &str) {
    let out = Veil::at(env!("CARGO_BIN_EXE_veil")).ok(args, b"");
    assert_eq!(String::from_utf8(out).unwrap(), stdout, "{args:?}");
}

/// Failure: the exit code, nothing on stdout, exactly one line on stderr that
/// contains `needle`. Returns that line.
#[track_caller]
fn fails(code: i32, args: &[&str], needle: &str) -> String {
    let stderr = Veil::at(env!("CARGO_BIN_EXE_veil")).fails_with(code, args, b"");
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    stderr
}

#[test]
fn round_at_prints_the_first_round_at_or_after() {
    // quicknet: genesis 1692803367, period 3; round 1000 at 1692806364.
    ok(&["round", "at", "1692806364"], "1000\n");
    ok(&["round", "at", "1692806363"], "1000\n");
    ok(&["round", "at", "1692806365"], "1001\n");
    ok(&["round", "at", "0"], "1\n");
    ok(
        &["round", "at", "18446744073709551615"],
        "6148914690672249417\n",
    );
    ok(
        &["round", "at", "1692806364", "--chain", "quicknet"],
        "1000\n",
    );
    // default: genesis 1595431050, period 30.
    ok(&["round", "at", "1595431051", "--chain", "mainnet"], "2\n");
    ok(&["round", "at", "1595431080", "--chain", "default"], "2\n");
}

#[test]
fn round_time_prints_the_emission_time() {
    ok(&["round", "time", "1000"], "1692806364\n");
    ok(&["round", "time", "1"], "1692803367\n");
    ok(
        &["round", "time", "1", "--chain", "testnet-unchained-3s"],
        "1651677099\n",
    );
    ok(
        &["round", "time", "6148914690672249417"],
        "18446744073709551615\n",
    );
    fails(1, &["round", "time", "6148914690672249418"], "overflows");
    fails(1, &["round", "time", "18446744073709551615"], "overflows");
    fails(1, &["round", "time", "0"], "round 0");
}

#[test]
fn numbers_that_are_not_u64_are_content_errors() {
    for bad in [
        "18446744073709551616",
        "99999999999999999999999999",
        "-1",
        "abc",
        "",
        "1.5",
        "0x10",
        " 1",
    ] {
        fails(1, &["round", "at", bad], "UNIX_SECONDS");
        fails(1, &["round", "time", bad], "ROUND");
        fails(
            1,
            &[
                "beacon",
                "verify",
                "--round",
                bad,
                "--signature",
                QUICKNET_1000_SIG,
            ],
            "--round",
        );
    }
}

#[test]
fn beacon_verify_accepts_real_beacons_only() {
    ok(
        &[
            "beacon",
            "verify",
            "--round",
            "1000",
            "--signature",
            QUICKNET_1000_SIG,
        ],
        "",
    );
    let upper = format!("0X{}", QUICKNET_1000_SIG.to_uppercase());
    ok(
        &[
            "beacon",
            "verify",
            "--round",
            "1000",
            "--signature",
            &upper,
            "--chain",
            "quicknet",
        ],
        "",
    );
    fails(
        1,
        &[
            "beacon",
            "verify",
            "--round",
            "1001",
            "--signature",
            QUICKNET_1000_SIG,
        ],
        "invalid beacon signature",
    );
    fails(
        1,
        &[
            "beacon",
            "verify",
            "--round",
            "1000",
            "--signature",
            QUICKNET_1000_SIG,
            "--chain",
            "fastnet",
        ],
        "invalid",
    );
    fails(
        1,
        &[
            "beacon",
            "verify",
            "--round",
            "0",
            "--signature",
            QUICKNET_1000_SIG,
        ],
        "round 0",
    );
    fails(
        1,
        &[
            "beacon",
            "verify",
            "--round",
            "18446744073709551615",
            "--signature",
            QUICKNET_1000_SIG,
        ],
        "invalid",
    );
    // drand mainnet `default` round 1, chained on the genesis seed (drand-client test/data.ts).
    let sig = "8d61d9100567de44682506aea1a7a6fa6e5491cd27a0a0ed349ef6910ac5ac20ff7bc3e09d7c046566c9f7f3c6f3b10104990e7cb424998203d8f7de586fb7fa5f60045417a432684f85093b06ca91c769f0e7ca19268375e659c2a2352b4655";
    let seed = "176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a";
    ok(
        &[
            "beacon",
            "verify",
            "--chain",
            "default",
            "--round",
            "1",
            "--signature",
            sig,
            "--previous-signature",
            seed,
        ],
        "",
    );
    fails(
        1,
        &[
            "beacon",
            "verify",
            "--chain",
            "default",
            "--round",
            "1",
            "--signature",
            sig,
        ],
        "previous signature is required",
    );
    fails(
        1,
        &[
            "beacon",
            "verify",
            "--round",
            "1000",
            "--signature",
            QUICKNET_1000_SIG,
            "--previous-signature",
            seed,
        ],
        "unchained",
    );
}

#[test]
fn beacon_verify_refuses_garbage_signatures() {
    for (sig, needle) in [
        ("", "must be 48 bytes"),
        ("zz", "not a hex string"),
        ("abc", "odd number"),
        ("00", "must be 48 bytes"),
        (&"00".repeat(48), "invalid"),
        (&"ff".repeat(48), "invalid"),
        (&format!("c0{}", "00".repeat(47)), "invalid"), // the point at infinity
        (&"00".repeat(97), "longer than 96 bytes"),
        (&"ab".repeat(30_000), "longer than 96 bytes"),
        ("0x", "must be 48 bytes"),
        ("é", "hex"),
    ] {
        fails(
            1,
            &["beacon", "verify", "--round", "1000", "--signature", sig],
            needle,
        );
    }
}

#[test]
fn chain_argument_names_or_files() {
    let dir = std::env::temp_dir().join(format!("veil-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let info = dir.join("quicknet.json");
    std::fs::write(&info, r#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","groupHash":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","schemeID":"bls-unchained-g1-rfc9380","metadata":{"beaconID":"quicknet"}}"#).unwrap();
    let info = info.to_str().unwrap();
    ok(&["round", "time", "1000", "--chain", info], "1692806364\n");
    ok(
        &[
            "beacon",
            "verify",
            "--round",
            "1000",
            "--signature",
            QUICKNET_1000_SIG,
            "--chain",
            info,
        ],
        "",
    );

    let forged = dir.join("forged.json");
    let text = std::fs::read_to_string(info)
        .unwrap()
        .replace(r#""period":3"#, r#""period":4"#);
    std::fs::write(&forged, text).unwrap();
    fails(
        1,
        &["round", "time", "1", "--chain", forged.to_str().unwrap()],
        "does not match",
    );

    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, b"\x00\xff{\n\"public_key\": [[[[\n").unwrap();
    fails(
        1,
        &["round", "time", "1", "--chain", garbage.to_str().unwrap()],
        "not a valid drand /info",
    );

    let huge = dir.join("huge.json");
    std::fs::write(&huge, vec![b' '; 1 << 20]).unwrap();
    fails(
        1,
        &["round", "time", "1", "--chain", huge.to_str().unwrap()],
        "larger than 16384 bytes",
    );

    fails(
        1,
        &["round", "time", "1", "--chain", "nope"],
        "neither a built-in chain",
    );
    fails(
        1,
        &["round", "time", "1", "--chain", dir.to_str().unwrap()],
        "cannot read",
    );
    fails(
        1,
        &["round", "time", "1", "--chain", "Quicknet\nsecond line"],
        "neither a built-in chain",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_errors_exit_2_with_one_line() {
    fails(2, &[], "subcommand is required");
    fails(2, &["round"], "subcommand is required");
    fails(2, &["round", "at"], "UNIX_SECONDS");
    fails(2, &["round", "at", "1", "--bogus"], "--bogus");
    fails(2, &["round", "at", "1", "2"], "unexpected argument");
    fails(2, &["round", "at", "1", "--chain"], "--chain");
    fails(2, &["beacon", "verify", "--signature", "00"], "--round");
    fails(2, &["beacon", "verify", "--round", "1"], "--signature");
    fails(2, &["frobnicate"], "frobnicate");
}

#[test]
fn help_and_version_succeed() {
    let out = veil(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("round"));
    let out = veil(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("veil "));
}
