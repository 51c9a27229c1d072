//! The drand client against a live devnet (`veil beacon serve` on loopback)
//! and against relays that misbehave. Proven here:
//!
//! * `veil decrypt --relay` opens a file sealed a few rounds earlier;
//!   before its round it fails with "too early" (exit 1), and with `--wait`
//!   it sleeps until the round and opens it;
//! * relays serving a forged beacon, another chain's `/info`, garbage, or
//!   nothing at all are skipped and the next relay is used; with only bad
//!   relays the command fails with one line naming each;
//! * fetched beacons are cached: a cached round is served with every relay
//!   gone;
//! * a restarted server with the same key file serves the same chain, and a
//!   file sealed before the restart still opens.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;

use veil_tests::devnet::{Server, beacon, now};
use veil_tests::{Scratch, success, veil_failure, veil_stdin};

// drand quicknet's /info: a real chain, not the devnet's.
const QUICKNET_INFO: &str = r#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","groupHash":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","schemeID":"bls-unchained-g1-rfc9380","metadata":{"beaconID":"quicknet"}}"#;

/// A relay that answers every request with `respond(path)` (status, body),
/// on a thread, until the test ends.
fn fake_relay(respond: impl Fn(&str) -> (u16, String) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &respond);
        }
    });
    format!("http://{addr}")
}

fn answer(stream: TcpStream, respond: &impl Fn(&str) -> (u16, String)) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let (status, body) = respond(path);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// A URL where nothing listens (bound, then closed).
fn dead_relay() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

fn fetch(dir: &Path, info: &str, round: u64, relays: &[&str]) -> Output {
    let r = round.to_string();
    let mut args = vec!["beacon", "fetch", "--round", &r, "--chain", info];
    for relay in relays {
        args.extend(["--relay", relay]);
    }
    std::process::Command::new(veil_tests::veil_bin())
        .args(&args)
        .env("VEIL_CACHE_DIR", dir)
        .output()
        .unwrap()
}

#[test]
fn bad_relays_are_skipped_and_good_beacons_cached() {
    let dir = Scratch::new("relays");
    let server = Server::start(&dir);
    let info = &server.info;
    let round = info.round_at(now().as_secs()).max(2);
    info.wait_for(round);
    let good = server.ok(
        fetch(&dir.path().join("c0"), &info.path, round, &[&server.url]),
        "fetch",
    );
    let (r, sig, _) = beacon(&good, "veil beacon fetch");
    assert_eq!(r, round);

    // A relay with the right /info but beacons of the wrong round's
    // signature: well-formed, and forged.
    let real_info = std::fs::read_to_string(&info.path).unwrap();
    let forged_sig = {
        let other = server.ok(
            fetch(
                &dir.path().join("c1"),
                &info.path,
                round - 1,
                &[&server.url],
            ),
            "fetch previous",
        );
        beacon(&other, "previous").1
    };
    let forged = fake_relay(move |path| {
        if path.ends_with("/info") {
            (200, real_info.clone())
        } else {
            (
                200,
                format!(r#"{{"round":{round},"signature":"{forged_sig}"}}"#),
            )
        }
    });
    let wrong_chain = fake_relay(|_| (200, QUICKNET_INFO.to_owned()));
    let garbage = fake_relay(|_| (200, "<html>not a beacon</html>".to_owned()));
    let failing = fake_relay(|_| (500, "internal error".to_owned()));
    let dead = dead_relay();
    let bad = [
        forged.as_str(),
        wrong_chain.as_str(),
        garbage.as_str(),
        failing.as_str(),
        dead.as_str(),
    ];

    // Every bad relay first, the good one last: the good beacon wins.
    let mut relays = bad.to_vec();
    relays.push(&server.url);
    let cache = dir.path().join("c2");
    let out = server.ok(fetch(&cache, &info.path, round, &relays), "failover");
    assert_eq!(beacon(&out, "failover"), beacon(&good, "direct"));
    assert_eq!(beacon(&out, "failover").1, sig);

    // Only bad relays: one line, naming each, exit 1 — nothing forged accepted.
    let out = fetch(&dir.path().join("c3"), &info.path, round, &bad);
    let err = veil_failure(&out, "only bad relays");
    assert!(err.contains("no relay served a valid beacon"), "{err}");
    for relay in bad {
        assert!(err.contains(relay), "{relay} not named: {err}");
    }
    assert!(
        err.contains("does not verify") || err.contains("invalid"),
        "{err}"
    );
    assert!(err.contains("not the pinned"), "{err}");

    // The cache of the failover run serves the round with every relay bad.
    let out = server.ok(fetch(&cache, &info.path, round, &bad), "cached");
    assert_eq!(beacon(&out, "cached").1, sig);
    let cached = cache.join(&info.hash).join(format!("{round}.json"));
    assert!(cached.exists(), "{} missing", cached.display());
    // A tampered cache entry is not trusted: dropped, then refetched.
    std::fs::write(
        &cached,
        std::fs::read_to_string(&cached)
            .unwrap()
            .replace(&sig[..8], "00000000"),
    )
    .unwrap();
    let out = fetch(&cache, &info.path, round, &bad);
    veil_failure(&out, "tampered cache with bad relays only");
    let out = server.ok(fetch(&cache, &info.path, round, &[&server.url]), "refetch");
    assert_eq!(beacon(&out, "refetch").1, sig);

    // A chain URL for another chain is refused before any request.
    let out = fetch(
        &cache,
        &info.path,
        round,
        &[&format!(
            "{}/{}",
            dead, "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
        )],
    );
    let err = veil_failure(&out, "relay of another chain");
    assert!(err.contains("--relay"), "{err}");
}

#[test]
fn decrypt_with_relay_waits_and_survives_a_restart() {
    let dir = Scratch::new("relay-decrypt");
    let plaintext = b"sealed to a devnet round a few seconds away".repeat(2000);
    let (sealed, target, hash) = {
        let server = Server::start(&dir);
        let info = &server.info;
        let target = info.round_at(now().as_secs()) + 3;
        let r = target.to_string();
        let sealed = success(
            veil_stdin(
                &["encrypt", "--chain", &info.path, "--round", &r],
                &plaintext,
            ),
            "encrypt",
        );
        let cache = dir.path().join("cache");
        let decrypt = |extra: &[&str]| {
            let mut cmd = std::process::Command::new(veil_tests::veil_bin());
            cmd.args(["decrypt", "--chain", &info.path, "--relay", &server.url])
                .args(extra)
                .env("VEIL_CACHE_DIR", &cache);
            veil_tests::run_with_stdin(&mut cmd, &sealed)
        };
        // Before its round: "too early", exit 1, nothing on stdout.
        let err = veil_failure(&decrypt(&[]), "decrypt before the round");
        assert!(err.contains("too early"), "{err}");
        // --wait sleeps until the round, then opens.
        let opened = server.ok(decrypt(&["--wait"]), "decrypt --wait");
        assert_eq!(opened, plaintext);
        assert!(
            now().as_secs() >= info.time_of(target),
            "opened before round {target} was emitted"
        );
        (sealed, target, info.hash.clone())
    };
    // The same key file: the same chain, and the old file still opens.
    let server = Server::start(&dir);
    assert_eq!(server.info.hash, hash, "a restart changed the chain");
    let fresh_cache = dir.path().join("fresh");
    let mut cmd = std::process::Command::new(veil_tests::veil_bin());
    cmd.args([
        "decrypt",
        "--chain",
        &server.info.path,
        "--relay",
        &server.url,
    ])
    .env("VEIL_CACHE_DIR", &fresh_cache);
    let opened = server.ok(
        veil_tests::run_with_stdin(&mut cmd, &sealed),
        "after restart",
    );
    assert_eq!(opened, plaintext);
    assert!(
        fresh_cache
            .join(&hash)
            .join(format!("{target}.json"))
            .exists()
    );
}
