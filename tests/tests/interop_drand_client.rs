//! `veil beacon serve` against drand's own JavaScript client, over real HTTP
//! on loopback: the npm `drand-client` that tlock-js 0.9.0 depends on (pinned
//! in tests/peers/js/package-lock.json, driven by `drand_http.mjs`) pins the
//! chain to the hash and public key of the /info file veil wrote, reads
//! veil's `/info` and `/public/{round}`, and verifies each beacon itself
//! (round, randomness, BLS signature). Proven here:
//!
//! * drand-client accepts veil's beacon for a past round, and it is the one
//!   `veil beacon fetch` returns from the same server;
//! * drand-client's "latest" (the round due now by the chain's clock) works;
//! * pinned to another chain hash or another public key, drand-client
//!   refuses veil's server;
//! * tlock-js opens a file `veil encrypt` sealed to a future round (70 000
//!   bytes, two age chunks; binary and armored) by fetching that round's
//!   beacon from veil's server once it is emitted.

use std::path::Path;
use std::process::{Command, Output};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use veil_tests::devnet::{Server, beacon, now};
use veil_tests::{Scratch, run_with_stdin, success, tlock_js, veil, veil_stdin};

// drand quicknet, a real chain that is not the one veil serves.
const QUICKNET_HASH: &str = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";
const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";

/// `node drand_http.mjs`, beside tlock.mjs (skipped or failed, per
/// `VEIL_REQUIRE_PEERS`, exactly when tlock-js is not installed).
fn drand_http() -> Option<Command> {
    let tlock = tlock_js()?;
    let tlock_script = Path::new(tlock.get_args().next().expect("tlock.mjs path"));
    let mut cmd = Command::new("node");
    cmd.arg(tlock_script.with_file_name("drand_http.mjs"));
    Some(cmd)
}

/// drand_http.mjs `command` against this server, pinned to `hash` and
/// `public_key`.
fn drand_js(
    server: &Server,
    hash: &str,
    public_key: &str,
    command: &[&str],
    stdin: &[u8],
) -> Output {
    let mut cmd = drand_http().expect("checked by the caller");
    cmd.arg(command[0])
        .args(["--url", &server.url, "--chain-hash", hash])
        .args(["--public-key", public_key])
        .args(&command[1..]);
    run_with_stdin(&mut cmd, stdin)
}

/// drand_http.mjs `command`, pinned to the chain veil published.
fn js_pinned(server: &Server, command: &[&str], stdin: &[u8]) -> Output {
    drand_js(
        server,
        &server.info.hash,
        &server.info.public_key,
        command,
        stdin,
    )
}

#[test]
fn drand_client_verifies_veil_beacons() {
    if drand_http().is_none() {
        return;
    }
    let dir = Scratch::new("drandjs-fetch");
    let server = Server::start(&dir);
    let info = &server.info;

    // A round that has been emitted, and not the first.
    let round = info.round_at(now().as_secs()).max(2);
    info.wait_for(round);
    let r = round.to_string();

    let js = js_pinned(&server, &["fetch", "--round", &r], &[]);
    let js = beacon(&server.ok(js, "drand-client fetch"), "drand-client");
    let ours = veil(&[
        "beacon",
        "fetch",
        "--round",
        &r,
        "--relay",
        &server.url,
        "--chain",
        &info.path,
    ]);
    let ours = beacon(&server.ok(ours, "veil beacon fetch"), "veil beacon fetch");
    assert_eq!(js.0, round, "drand-client returned another round");
    assert_eq!(js, ours, "drand-client and veil disagree on round {round}");

    let latest = js_pinned(&server, &["fetch", "--latest"], &[]);
    let latest = beacon(&server.ok(latest, "drand-client latest"), "latest");
    assert!(latest.0 >= round, "latest {} < {round}", latest.0);

    // Pinned to another chain, drand-client refuses veil's /info: it must
    // fail for that reason, not for some other.
    for (what, hash, key) in [
        (
            "another chain hash",
            QUICKNET_HASH,
            info.public_key.as_str(),
        ),
        (
            "another public key",
            info.hash.as_str(),
            QUICKNET_PUBLIC_KEY,
        ),
    ] {
        let out = drand_js(&server, hash, key, &["fetch", "--round", &r], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: drand-client accepted it");
        assert!(out.stdout.is_empty(), "{what}: stdout not empty");
        assert!(
            stderr.contains("did not match the verification params"),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn tlock_js_decrypts_through_veil_server() {
    if drand_http().is_none() {
        return;
    }
    let dir = Scratch::new("drandjs-decrypt");
    let server = Server::start(&dir);
    let info = &server.info;

    // Two rounds ahead: tlock-js must fetch a beacon that did not exist when
    // the file was sealed.
    let round = info.round_at(now().as_secs()) + 2;
    let r = round.to_string();
    let mut plaintext = vec![0u8; 70_000];
    ChaCha20Rng::seed_from_u64(6).fill_bytes(&mut plaintext);
    let sealed: Vec<(bool, Vec<u8>)> = [false, true]
        .into_iter()
        .map(|armor| {
            let mut args = vec!["encrypt", "--chain", &info.path, "--round", &r];
            if armor {
                args.push("--armor");
            }
            (
                armor,
                success(veil_stdin(&args, &plaintext), "veil encrypt"),
            )
        })
        .collect();
    info.wait_for(round);
    for (armor, file) in sealed {
        let out = js_pinned(&server, &["decrypt"], &file);
        let opened = server.ok(out, &format!("tlock-js decrypt (armor {armor})"));
        assert!(
            opened == plaintext,
            "tlock-js opened {} bytes, not the {} sealed (armor {armor})",
            opened.len(),
            plaintext.len()
        );
    }
}
