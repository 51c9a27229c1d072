//! `veil encrypt|decrypt|inspect` under the CLI contract: every format round
//! trips, hostile inputs (truncations, flipped bits, giant length prefixes,
//! junk) give exit 1 with one line on stderr, and `-o` is all-or-nothing.

use std::process::Output;

use veil_test_support::Veil;

// drand quicknet round 1000 (public beacon: drand/tlock, subtensor, ideal-lab tests).
const SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";
// drand quicknet round 1001 (ideal-lab IDN pallet tests).
const SIG_1001: &str = "b33bf3667cbd5a82de3a24b4e0e9fe5513cc1a0e840368c6e31f5fcfa79bea03f73896b25883abf2853d10337fb8fa41";

fn veil(args: &[&str], stdin: &[u8]) -> Output {
    Veil::at(env!("CARGO_BIN_EXE_veil")).run(args, stdin)
}

#[track_caller]
fn ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    Veil::at(env!("CARGO_BIN_EXE_veil")).ok(args, stdin)
}

#[track_caller]
fn fails(args: &[&str], stdin: &[u8]) -> String {
    Veil::at(env!("CARGO_BIN_EXE_veil")).fails(args, stdin)
}

/// As [`fails`], for an age file whose damage may lie after its first
/// chunk: stdout then holds only authenticated plaintext, whole chunks of it.
#[track_caller]
fn fails_age(args: &[&str], stdin: &[u8], plaintext: &[u8]) {
    let out = veil(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.matches('\n').count(), 1, "{stderr:?}");
    assert!(out.stdout.len().is_multiple_of(65_536) && plaintext.starts_with(&out.stdout));
}

const FORMATS: [&str; 4] = ["age", "tle", "tle-v03", "bittensor"];

#[test]
fn every_format_round_trips_and_inspects() {
    let pt = b"a variation of a face, as PNG bytes".repeat(50);
    for f in FORMATS {
        let sealed = ok(&["encrypt", "--round", "1000", "--format", f], &pt);
        let info: serde_json::Value = serde_json::from_slice(&ok(&["inspect"], &sealed)).unwrap();
        assert_eq!(info["format"], f);
        assert_eq!(info["ciphertext_len"], sealed.len());
        assert_eq!(info["payload_len"], pt.len());
        let carries_round = f == "age" || f == "bittensor";
        assert_eq!(
            info["round"],
            if carries_round {
                1000.into()
            } else {
                serde_json::Value::Null
            }
        );
        assert_eq!(ok(&["decrypt", "--signature", SIG], &sealed), pt, "{f}");
        // Raw TLE has no round: --round makes veil verify the beacon first.
        assert_eq!(
            ok(&["decrypt", "--signature", SIG, "--round", "1000"], &sealed),
            pt
        );
        let e = fails(
            &["decrypt", "--signature", SIG_1001, "--round", "1001"],
            &sealed,
        );
        assert!(
            e.contains("round") || e.contains("decryption failed"),
            "{e}"
        );
    }
    let armored = ok(&["encrypt", "--round", "1000", "--armor"], &pt);
    assert!(armored.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----\n"));
    assert_eq!(ok(&["decrypt", "--signature", SIG], &armored), pt);
}

#[test]
fn at_uses_the_reveal_rule() {
    // 1692806363 is one second before round 1000: sealing "not before" it
    // gives round 1000, never 999.
    let sealed = ok(&["encrypt", "--at", "1692806363"], b"x");
    let info: serde_json::Value = serde_json::from_slice(&ok(&["inspect"], &sealed)).unwrap();
    assert_eq!(info["round"], 1000);
    fails(&["encrypt", "--at", "18446744073709551616"], b"x");
    let out = veil(&["encrypt", "--round", "5", "--at", "5"], b"x");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unusable_chains_and_options_are_refused() {
    assert!(fails(&["encrypt", "--round", "5", "--chain", "default"], b"x").contains("chained"));
    for f in ["tle", "tle-v03", "bittensor"] {
        assert!(
            fails(
                &[
                    "encrypt",
                    "--round",
                    "5",
                    "--format",
                    f,
                    "--chain",
                    "testnet-unchained"
                ],
                b"x"
            )
            .contains("G1")
        );
    }
    assert!(
        fails(
            &["encrypt", "--round", "5", "--format", "tle", "--armor"],
            b"x"
        )
        .contains("--armor")
    );
    assert!(
        fails(&["encrypt", "--round", "5", "--format", "zip"], b"x").contains("unknown format")
    );
    assert!(fails(&["encrypt", "--round", "0"], b"x").contains("round 0"));
    // Past rounds are allowed (round 1 of quicknet was in 2023).
    ok(&["encrypt", "--round", "1"], b"x");
}

#[test]
fn wrong_keys_chains_and_rounds_are_refused() {
    let sealed = ok(&["encrypt", "--round", "1000"], b"secret");
    assert!(fails(&["decrypt", "--signature", SIG_1001], &sealed).contains("round 1000"));
    assert!(
        fails(&["decrypt", "--signature", SIG, "--round", "1001"], &sealed)
            .contains("--round 1001")
    );
    let e = fails(
        &["decrypt", "--signature", SIG, "--chain", "fastnet"],
        &sealed,
    );
    assert!(e.contains("--chain quicknet"), "{e}");
    fails(&["decrypt", "--signature", "zz"], &sealed);
    fails(&["decrypt", "--signature", &"00".repeat(48)], &sealed);
    // A raw TLE with the wrong signature and no round: the IBE check refuses it.
    let tle = ok(
        &["encrypt", "--round", "1000", "--format", "tle"],
        b"secret",
    );
    assert!(fails(&["decrypt", "--signature", SIG_1001], &tle).contains("decryption failed"));
}

#[test]
fn hostile_inputs_give_one_line_and_exit_1() {
    let pt = vec![0x42u8; 70_000];
    for f in FORMATS {
        let sealed = ok(&["encrypt", "--round", "1000", "--format", f], &pt);
        let step = (sealed.len() / 40).max(1);
        let check = |bad: &[u8]| {
            if f == "age" {
                fails_age(&["decrypt", "--signature", SIG], bad, &pt);
            } else {
                fails(&["decrypt", "--signature", SIG], bad);
            }
        };
        for i in (0..sealed.len()).step_by(step) {
            let mut bad = sealed.clone();
            bad[i] ^= 0x10;
            check(&bad);
        }
        for cut in [0, 1, 63, 64, 65, sealed.len() / 2, sealed.len() - 1] {
            check(&sealed[..cut]);
        }
        let mut longer = sealed.clone();
        longer.push(0);
        check(&longer);
    }
    // Giant length prefixes in a TLE.
    let tle = ok(&["encrypt", "--round", "1000", "--format", "tle"], b"x");
    for off in [96, 136, 176, 184] {
        let mut bad = tle.clone();
        bad[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        fails(&["decrypt", "--signature", SIG], &bad);
        fails(&["inspect"], &bad);
    }
    // Junk of every flavour.
    for junk in [
        &b""[..],
        b"\0",
        b"age-encryption.org/v1\n",
        b"-----BEGIN AGE ENCRYPTED FILE-----\n",
        &[0xff; 5000],
        b"hello world",
    ] {
        fails(&["decrypt", "--signature", SIG], junk);
        fails(&["inspect"], junk);
    }
    // An armored file with an overlong line.
    let mut long = b"-----BEGIN AGE ENCRYPTED FILE-----\n".to_vec();
    long.extend(core::iter::repeat_n(b'A', 1 << 20));
    fails(&["decrypt", "--signature", SIG], &long);
}

#[test]
fn output_file_is_all_or_nothing() {
    let dir = std::env::temp_dir().join(format!("veil-tl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pt = vec![7u8; 200_000];
    let sealed_path = dir.join("sealed.age");
    let out_path = dir.join("plain.bin");
    let (s, o) = (sealed_path.to_str().unwrap(), out_path.to_str().unwrap());
    ok(&["encrypt", "--round", "1000", "-o", s], &pt);
    ok(&["decrypt", "--signature", SIG, "-o", o, s], b"");
    assert_eq!(std::fs::read(&out_path).unwrap(), pt);
    std::fs::remove_file(&out_path).unwrap();

    // Damage the last chunk: the earlier chunks authenticate, but with -o
    // nothing at all is written.
    let mut sealed = std::fs::read(&sealed_path).unwrap();
    let n = sealed.len();
    sealed[n - 5] ^= 1;
    std::fs::write(&sealed_path, &sealed).unwrap();
    fails(&["decrypt", "--signature", SIG, "-o", o, s], b"");
    assert!(!out_path.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");

    // To stdout, the authenticated chunks before the damage are written (as
    // age does), and the exit code still says failure.
    let out = veil(&["decrypt", "--signature", SIG, s], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout.len(), 3 * 65_536);
    assert_eq!(out.stdout, pt[..3 * 65_536]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_armored_file_is_refused_before_any_plaintext() {
    let pt = b"secret plaintext that must not leak".repeat(4000);
    let armored = ok(&["encrypt", "--round", "1000", "--armor"], &pt);
    let text = String::from_utf8(armored).unwrap();
    let cut = text
        .trim_end()
        .strip_suffix("-----END AGE ENCRYPTED FILE-----")
        .unwrap();
    let dir = std::env::temp_dir().join(format!("veil-armor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cut.age");
    std::fs::write(&file, cut).unwrap();
    let out = veil(
        &["decrypt", "--signature", SIG, file.to_str().unwrap()],
        b"",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "plaintext was written before the check"
    );
    assert!(stderr.contains("no END line"), "{stderr}");
    // Each cause said once.
    let e = fails(&["decrypt", "--signature", SIG, dir.to_str().unwrap()], b"");
    assert_eq!(e.matches("os error 21").count(), 1, "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
