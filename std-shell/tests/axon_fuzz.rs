//! A bounded, seeded, in-process fuzz of the axon's request handling.
//!
//! A real miner (the built-in generator, a local store) is served through
//! veil's own listener on loopback. Each case starts from a valid signed
//! `IdentitySynapse` request — bittensor 10's `bt_header_dendrite_*`
//! headers or bittensor 11's btauth/1 — and most are then mutated: headers
//! dropped, duplicated, cut, filled with junk or made huge; nonces and
//! receivers wrong; the request line's method, path and version; the body's
//! framing (`Content-Length` too large, too small, negative or twice,
//! `Transfer-Encoding: chunked` right and wrong, a body cut off, a second
//! request pipelined); the JSON (cut, wrong types, deep nesting, huge
//! numbers, invalid UTF-8, repeated keys, long strings). The bytes go over
//! a fresh connection.
//!
//! Every case must end within a bound with either no answer or one
//! well-formed HTTP/1.1 answer whose status is one a peer can act on —
//! never a 5xx other than 503/505 (a 500 would be a crashed handler);
//! unmutated cases must get 200. No panic may happen in the process. After
//! the run, a fresh valid request of each transport still gets 200, and its
//! exact replay gets 401.
//!
//! Deterministic: the seed is fixed ([`SEED`], or `VEIL_FUZZ_SEED`), the
//! clock is the test's, and `VEIL_FUZZ_ITERS` raises the case count
//! locally (default [`ITERS`]).

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use veil::axon::{Allow, AxonConfig};
use veil::clock::Clock;
use veil::keys::address_of;
use veil::phase4::generator::Builtin;
use veil::phase4::images::{self, ImageLimits};
use veil::phase4::miner::{MinerConfig, MinerService, ServeConfig};
use veil::store::local::LocalStore;
use veil_core::axon::{EMPTY_BODY_HASH, header, sign_request, signing_message};
use veil_core::bittensor::btauth;
use veil_core::format::Format;
use veil_core::sign::Keypair;
use veil_core::{BuiltinChain, Chain};

const SEED: u64 = 0x5eed_a40e;
const ITERS: usize = 1000;
/// How long one case may take, answer included.
const CASE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 256 * 1024;

/// A clock the test moves: the axon's nonces are judged by it.
struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.now_ns() / 1_000_000_000
    }
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One request to send: the head's lines and the body.
#[derive(Clone)]
struct Case {
    method: String,
    path: String,
    version: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// Shut our side once written (a cut-off body ends there).
    close_after: bool,
    /// Bytes appended after the request (a pipelined one).
    trailing: Vec<u8>,
}

impl Case {
    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.path, self.version).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&self.trailing);
        out
    }
}

struct Fuzz {
    chain: Chain,
    callers: Vec<Keypair>,
    axon: String,
    clock: Arc<TestClock>,
    image_b64: String,
    challenge: AtomicUsize,
}

impl Fuzz {
    fn body(&self, name: &str) -> Vec<u8> {
        let n = self.challenge.fetch_add(1, Ordering::SeqCst);
        let round = 1000u64;
        json!({
            "name": name,
            "timeout": 12.0,
            "image_request": {
                "base_image": self.image_b64,
                "image_filename": "face.png",
                "variation_requests": [
                    {"type": "pose_edit", "intensity": "light", "description": "d", "detail": "d"}
                ],
                "target_drand_round": round,
                "reveal_timestamp": self.chain.time().time_of(veil_core::Round::new(round).unwrap()).unwrap(),
                "challenge_id": format!("fuzz_{n}"),
            },
        })
        .to_string()
        .into_bytes()
    }

    /// The next nonce: the clock moves on by a millisecond per request.
    fn nonce(&self) -> u64 {
        self.clock.0.fetch_add(1_000_000, Ordering::SeqCst) + 1_000_000
    }

    /// A valid request of `caller` over bittensor 10's headers.
    fn v10(&self, caller: &Keypair, uuid: &str, rng: &mut ChaCha20Rng) -> Case {
        let body = self.body("IdentitySynapse");
        let nonce = self.nonce();
        let hotkey = address_of(&caller.public());
        let msg = signing_message(nonce, &hotkey, &self.axon, uuid, EMPTY_BODY_HASH).unwrap();
        let sig = sign_request(caller, &msg, rng);
        let headers = [
            ("Host", "127.0.0.1".to_owned()),
            ("Connection", "close".to_owned()),
            ("Content-Type", "application/json".to_owned()),
            ("Content-Length", body.len().to_string()),
            (header::NAME, "IdentitySynapse".to_owned()),
            (header::TIMEOUT, "12.0".to_owned()),
            (header::DENDRITE_HOTKEY, hotkey),
            (header::DENDRITE_NONCE, nonce.to_string()),
            (header::DENDRITE_UUID, uuid.to_owned()),
            (header::DENDRITE_SIGNATURE, sig.to_string()),
            (header::DENDRITE_VERSION, "10005000".to_owned()),
            (header::AXON_HOTKEY, self.axon.clone()),
            (header::COMPUTED_BODY_HASH, EMPTY_BODY_HASH.to_owned()),
        ];
        Case {
            method: "POST".into(),
            path: "/IdentitySynapse".into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.into_bytes()))
                .collect(),
            body,
            close_after: false,
            trailing: Vec::new(),
        }
    }

    /// A valid request of `caller` signed with btauth/1 over `body`.
    fn btauth(&self, caller: &Keypair, body: Vec<u8>, rng: &mut ChaCha20Rng) -> Case {
        let digest: [u8; 32] = Sha256::digest(&body).into();
        let signed = btauth::sign(
            caller,
            "POST",
            "/IdentitySynapse",
            &digest,
            self.nonce(),
            &self.axon,
            rng,
        )
        .unwrap();
        let mut headers = vec![
            ("Host".to_owned(), b"127.0.0.1".to_vec()),
            ("Connection".to_owned(), b"close".to_vec()),
            ("Content-Type".to_owned(), b"application/json".to_vec()),
            (
                "Content-Length".to_owned(),
                body.len().to_string().into_bytes(),
            ),
        ];
        for (n, v) in signed.pairs() {
            headers.push((n.to_owned(), v.as_bytes().to_vec()));
        }
        Case {
            method: "POST".into(),
            path: "/IdentitySynapse".into(),
            version: "HTTP/1.1".into(),
            headers,
            body,
            close_after: false,
            trailing: Vec::new(),
        }
    }
}

fn pick<'a, T: ?Sized>(rng: &mut ChaCha20Rng, items: &'a [&'a T]) -> &'a T {
    items[usize::try_from(rng.next_u32()).unwrap() % items.len()]
}

fn below(rng: &mut ChaCha20Rng, n: usize) -> usize {
    usize::try_from(rng.next_u32()).unwrap() % n.max(1)
}

/// Mutates `case` (its body re-signed where btauth covers it is not
/// attempted: a changed btauth body is a bad signature, which is a case
/// too). Returns what was done.
fn mutate(case: &mut Case, rng: &mut ChaCha20Rng, valid_next: &Case) -> &'static str {
    let h = below(rng, case.headers.len());
    match below(rng, 22) {
        0 => {
            case.headers.remove(h);
            "drop a header"
        }
        1 => {
            let (n, _) = case.headers[h].clone();
            case.headers.push((n, b"0".to_vec()));
            "repeat a header with another value"
        }
        2 => {
            let v = &mut case.headers[h].1;
            v.truncate(below(rng, v.len()));
            "cut a header's value"
        }
        3 => {
            let mut junk = vec![0u8; 1 + below(rng, 64)];
            rng.fill_bytes(&mut junk);
            junk.retain(|b| *b != b'\r' && *b != b'\n');
            case.headers[h].1 = junk;
            "junk in a header's value"
        }
        4 => {
            case.headers[h].1 = vec![b'a'; 40 * 1024];
            "a 40 KiB header"
        }
        5 => {
            set(case, header::DENDRITE_NONCE, b"1");
            set(case, "X-Bittensor-Nonce", b"1");
            "a nonce from long ago"
        }
        6 => {
            set(case, header::DENDRITE_NONCE, b"99999999999999999999");
            set(case, "X-Bittensor-Nonce", b"18446744073709551615");
            "a nonce far ahead or past u64"
        }
        7 => {
            set(
                case,
                header::AXON_HOTKEY,
                b"5GrwvaEF5zXb26Fz9rcQpDWS5KQ8Ue5ESXAXAAsCm9uFSEu6",
            );
            set(
                case,
                "X-Bittensor-Receiver",
                b"5GrwvaEF5zXb26Fz9rcQpDWS5KQ8Ue5ESXAXAAsCm9uFSEu6",
            );
            "another receiver"
        }
        8 => {
            case.method = (pick(rng, &["GET", "PUT", "DELETE", "OPTIONS", "P0ST", "", "X"])).into();
            "another method"
        }
        9 => {
            case.path = (pick(
                rng,
                &[
                    "/",
                    "/Other",
                    "/IdentitySynapse/x",
                    "*",
                    "/%00",
                    "/identitysynapse",
                ],
            ))
            .into();
            if below(rng, 4) == 0 {
                case.path = format!("/{}", "p".repeat(20_000));
            }
            "another path"
        }
        10 => {
            case.version = (pick(rng, &["HTTP/1.0", "HTTP/2.0", "HTTP/9", "HTTX/1.1", ""])).into();
            "another version"
        }
        11 => {
            set(
                case,
                "Content-Length",
                (case.body.len() + 1000).to_string().as_bytes(),
            );
            case.close_after = true;
            "Content-Length past the body, then end of input"
        }
        12 => {
            let short = case.body.len() / 2;
            set(case, "Content-Length", short.to_string().as_bytes());
            "Content-Length short of the body"
        }
        13 => {
            let no_length: [&[u8]; 5] = [b"-1", b"x", b"1e3", b"0x10", b""];
            set(case, "Content-Length", pick(rng, &no_length));
            "a Content-Length that is no length"
        }
        14 => {
            case.headers.push(("Content-Length".into(), b"7".to_vec()));
            "two Content-Lengths"
        }
        15 => {
            remove(case, "Content-Length");
            case.headers
                .push(("Transfer-Encoding".into(), b"chunked".to_vec()));
            let mut chunked = format!("{:x}\r\n", case.body.len()).into_bytes();
            chunked.extend_from_slice(&case.body);
            chunked.extend_from_slice(b"\r\n0\r\n\r\n");
            if below(rng, 2) == 0 {
                chunked[0] = b'z';
                "chunked, with a bad chunk size"
            } else {
                case.body = chunked;
                "chunked, well formed"
            }
        }
        16 => {
            case.headers
                .push(("Transfer-Encoding".into(), b"chunked".to_vec()));
            "Transfer-Encoding and Content-Length both"
        }
        17 => {
            case.body.truncate(below(rng, case.body.len()));
            case.close_after = true;
            "a body cut off"
        }
        18 => {
            case.trailing = valid_next.bytes();
            "a second request pipelined"
        }
        19 => {
            let cut = below(rng, case.body.len());
            case.body.truncate(cut);
            set(case, "Content-Length", cut.to_string().as_bytes());
            "JSON cut off"
        }
        20 => {
            let json: &[&[u8]] = &[
                br#"{"image_request": 5}"#,
                br#"{"image_request": {"base_image": 7, "variation_requests": "x"}}"#,
                br#"{"image_request": {"target_drand_round": 1e400}}"#,
                br#"{"a": 1, "a": 2, "image_request": null, "image_request": {}}"#,
                b"{\"image_request\": \"\xff\xfe\"}",
                b"[]",
                b"null",
            ];
            let mut body = pick(rng, json).to_vec();
            if below(rng, 3) == 0 {
                body = vec![b'['; 100_000];
            }
            set(case, "Content-Length", body.len().to_string().as_bytes());
            case.body = body;
            "JSON of the wrong shape"
        }
        _ => {
            let long = format!(
                r#"{{"pad": "{}", "image_request": null}}"#,
                "x".repeat(MAX_BODY)
            );
            set(case, "Content-Length", long.len().to_string().as_bytes());
            case.body = long.into_bytes();
            "a body past the cap"
        }
    }
}

fn set(case: &mut Case, name: &str, value: &[u8]) {
    for (n, v) in &mut case.headers {
        if n.eq_ignore_ascii_case(name) {
            *v = value.to_vec();
        }
    }
}

fn remove(case: &mut Case, name: &str) {
    case.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

/// Whether `bytes` hold a whole answer: its head and as many body bytes as
/// its `Content-Length` says.
fn whole_answer(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| bytes.len() >= end + 4 + len)
}

/// Sends `case` on a fresh connection; the answer's status, if any came
/// (an HTTP/1.0 request is answered in HTTP/1.0).
async fn send(port: u16, case: &Case) -> Result<Option<u16>, String> {
    let run = async {
        let mut conn = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        // The server may answer (and close) before reading everything.
        let _ = conn.write_all(&case.bytes()).await;
        if case.close_after {
            let _ = conn.shutdown().await;
        }
        // Until the connection ends or one whole answer is in (a request
        // that lost its `Connection: close` keeps the connection open).
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if whole_answer(&answer) {
                break;
            }
        }
        if answer.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| text.strip_prefix("HTTP/1.0 "))
            .and_then(|r| r.get(..3))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP/1.x answer: {text:?}"))?;
        Ok(Some(status))
    };
    tokio::time::timeout(CASE_TIMEOUT, run)
        .await
        .map_err(|_| format!("no end within {CASE_TIMEOUT:?}"))?
}

#[test]
fn the_axon_holds_seeded_hostile_requests_of_both_transports() {
    let seed = std::env::var("VEIL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let iters = std::env::var("VEIL_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ITERS);
    eprintln!("axon fuzz: seed {seed}, {iters} cases");
    let panics = Arc::new(AtomicUsize::new(0));
    {
        let panics = Arc::clone(&panics);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panics.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let dir = std::env::temp_dir().join(format!("veil-axon-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let chain = BuiltinChain::Quicknet.chain().unwrap();
    let clock = Arc::new(TestClock(AtomicU64::new(1_800_000_000_000_000_000)));
    let miner_key = Keypair::from_mini_secret(&[0x61; 32]).unwrap();
    let callers: Vec<Keypair> = (0..4u8)
        .map(|i| Keypair::from_mini_secret(&[0x70 + i; 32]).unwrap())
        .collect();
    let tiny = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([
            u8::try_from(x * 8).unwrap(),
            u8::try_from(y * 8).unwrap(),
            90,
        ])
    });
    let fuzz = Fuzz {
        chain: chain.clone(),
        axon: address_of(&miner_key.public()),
        callers,
        clock: Arc::clone(&clock),
        image_b64: images::encode_base64(&images::encode_png(&tiny).unwrap()),
        challenge: AtomicUsize::new(0),
    };
    let (port, stop) = rt.block_on(async {
        let store = Arc::new(LocalStore::open(&dir.join("store")).unwrap());
        let service = MinerService::start(ServeConfig {
            keypair: Arc::new(Keypair::from_mini_secret(&[0x61; 32]).unwrap()),
            miner: MinerConfig {
                chain: chain.clone(),
                format: Format::Bittensor,
                limits: ImageLimits::default(),
                concurrency: 2,
                per_caller: 2,
                allow_emitted_rounds: true,
                min_lead: Duration::ZERO,
                captures: None,
            },
            axon: AxonConfig {
                allow: Allow::Any,
                max_body: MAX_BODY,
                ..AxonConfig::default()
            },
            store,
            spool: dir.join("spool"),
            flush_every: Duration::from_secs(60),
            generator: Arc::new(Builtin),
            clock: Arc::clone(&clock) as Arc<dyn Clock>,
        })
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(service.serve(listener, async {
            let _ = rx.await;
        }));
        (port, tx)
    });

    let allowed = [200u16, 400, 401, 403, 404, 408, 413, 431, 503, 505];
    let mut seen: alloc::collections::BTreeMap<u16, usize> = alloc::collections::BTreeMap::new();
    for i in 0..iters {
        let caller = &fuzz.callers[i % fuzz.callers.len()];
        let uuid = format!("uuid-{}", i % 3);
        let valid = if below(&mut rng, 2) == 0 {
            fuzz.v10(caller, &uuid, &mut rng)
        } else {
            let body = fuzz.body("IdentitySynapse");
            fuzz.btauth(caller, body, &mut rng)
        };
        let mut case = valid.clone();
        let what = if below(&mut rng, 7) == 0 {
            "none"
        } else {
            let next = fuzz.v10(caller, &uuid, &mut rng);
            mutate(&mut case, &mut rng, &next)
        };
        let got = rt.block_on(send(port, &case)).unwrap_or_else(|e| {
            panic!(
                "case {i} ({what}): {e}\n{}",
                String::from_utf8_lossy(&case.bytes()[..case.bytes().len().min(2000)])
            )
        });
        if let Some(status) = got {
            *seen.entry(status).or_default() += 1;
            assert!(
                allowed.contains(&status),
                "case {i} ({what}): status {status}\n{}",
                String::from_utf8_lossy(&case.bytes()[..case.bytes().len().min(2000)])
            );
        }
        if what == "none" {
            assert_eq!(
                got,
                Some(200),
                "case {i}: a valid request was not answered 200"
            );
        }
    }
    eprintln!("axon fuzz: statuses {seen:?}");
    assert_eq!(panics.load(Ordering::SeqCst), 0, "a panic happened");

    // Still healthy: a valid request of each transport is answered, and
    // its exact replay refused.
    let v10 = fuzz.v10(&fuzz.callers[0], "uuid-final", &mut rng);
    let body = fuzz.body("IdentitySynapse");
    let bt = fuzz.btauth(&fuzz.callers[1], body, &mut rng);
    for case in [v10, bt] {
        assert_eq!(rt.block_on(send(port, &case)).unwrap(), Some(200));
        assert_eq!(
            rt.block_on(send(port, &case)).unwrap(),
            Some(401),
            "a replay"
        );
    }
    let _ = stop.send(());
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
