//! The soak's hand-written miners: HTTP/1.1 servers speaking just enough
//! of bittensor 10's axon protocol (the validator's signed
//! `IdentitySynapse` POST in, a synapse JSON with
//! `bt_header_axon_status_code` out) to misbehave in one way each — or,
//! for [`Kind::Stock`], to behave as a stock MIID miner does. What they
//! store goes straight into moto (no faults); what they answer is
//! fabricated with veil-core (sr25519, MIID keys) and veil (sealing).

use alloc::sync::Arc;
use core::net::{Ipv4Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use veil_core::Chain;
use veil_core::format::Format;
use veil_core::ibe::PreparedRound;
use veil_core::miid::{self, KeyParts};
use veil_core::sign::Keypair;
use veil_tests::hex_of;
use veil_tests::phase4::http_request;

/// How a rogue misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// Honest, as a stock MIID miner: real images, sealed to the round
    /// before the target (where `bittensor.timelock.encrypt` lands about
    /// 70 % of the time), which the validator accepts.
    Stock,
    /// Its records are signed over another image's hash.
    BadSignature,
    /// Its objects are sealed to a round after the target.
    LateRound,
    /// Its objects are sealed to a round emitted before the answers close.
    EarlyRound,
    /// A 16 MiB JSON answer: millions of items that are not records.
    Huge16MiB,
    /// A chunked answer that never ends within the validator's cap.
    HugeChunked,
    /// An answer declaring 64 MiB.
    HugeDeclared,
    /// Sends its answer's head a byte at a time, never finishing.
    SlowLorisHead,
    /// Sends a complete head, then the body a byte at a time.
    SlowLorisBody,
    /// Answers correctly-shaped JSON after the validator's timeout.
    Late,
    /// Answers with another miner's object keys (and records).
    KeyThief,
    /// Copies another miner's sealed object under its own key and signs a
    /// hash it made up (it cannot know the real one before the reveal).
    CipherThief,
    /// Nothing listens on its port.
    Dead,
}

/// What every rogue shares: the chain, the store, the timings.
pub(crate) struct World {
    /// The devnet's chain.
    pub(crate) chain: Chain,
    /// moto's port (written and read directly, without faults).
    pub(crate) moto_port: u16,
    /// The bucket.
    pub(crate) bucket: String,
    /// The validator's per-miner timeout.
    pub(crate) timeout: Duration,
}

/// What the validator asked, from the request body.
pub(crate) struct Asked {
    pub(crate) cid: String,
    pub(crate) round: u64,
    pub(crate) filename: String,
    pub(crate) types: Vec<String>,
}

impl Asked {
    fn parse(body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let ir = &v["image_request"];
        Some(Self {
            cid: ir["challenge_id"].as_str()?.to_owned(),
            round: ir["target_drand_round"].as_u64()?,
            filename: ir["image_filename"].as_str()?.to_owned(),
            types: ir["variation_requests"]
                .as_array()?
                .iter()
                .filter_map(|r| r["type"].as_str().map(str::to_owned))
                .collect(),
        })
    }
}

/// One rogue miner.
pub(crate) struct Rogue {
    pub(crate) kind: Kind,
    keypair: Keypair,
    pub(crate) hotkey: String,
    /// Victims to copy from (thieves only), in order of preference.
    pub(crate) victims: Vec<String>,
    world: Arc<World>,
    uses: AtomicU64,
    /// The s3_keys it answered with (its last answer).
    pub(crate) sent: std::sync::Mutex<Vec<String>>,
}

impl Rogue {
    pub(crate) fn new(kind: Kind, seed: [u8; 32], victims: Vec<String>, world: Arc<World>) -> Self {
        let keypair = Keypair::from_mini_secret(&seed).expect("keypair");
        Self {
            kind,
            hotkey: veil::keys::address_of(&keypair.public()),
            keypair,
            victims,
            world,
            uses: AtomicU64::new(0),
            sent: std::sync::Mutex::default(),
        }
    }

    fn rng(&self) -> ChaCha20Rng {
        let n = self.uses.fetch_add(1, Ordering::Relaxed);
        let mut h = Sha256::new();
        h.update(self.hotkey.as_bytes());
        h.update(n.to_be_bytes());
        ChaCha20Rng::from_seed(h.finalize().into())
    }

    fn sign_hex(&self, msg: &[u8]) -> String {
        self.keypair.sign(msg, &mut self.rng()).to_hex().to_string()
    }

    fn seal(&self, round: u64, plaintext: &[u8]) -> Vec<u8> {
        let round = veil_core::Round::new(round).expect("round");
        let prepared = PreparedRound::new(&self.world.chain, round).expect("prepared round");
        veil::timelock::seal_bytes(&prepared, Format::Bittensor, plaintext, &mut self.rng())
            .expect("seal")
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        let w = &self.world;
        let r = http_request(
            w.moto_port,
            "PUT",
            &format!("/{}/{key}", w.bucket),
            &[("Content-Type".into(), "application/octet-stream".into())],
            bytes,
        );
        assert_eq!(r.status, 200, "PUT {key} into moto: {}", r.text());
    }

    /// A record of `plaintext` for type `kind` number `index`, under this
    /// rogue's key, its object sealed to `round` and stored.
    fn record(
        &self,
        a: &Asked,
        path_sig: &str,
        kind: &str,
        index: u32,
        plaintext: &[u8],
        round: u64,
    ) -> Value {
        let key = miid::object_key(&KeyParts {
            challenge_id: &a.cid,
            miner_ss58: &self.hotkey,
            path_signature: path_sig,
            image_filename: &a.filename,
            variation_type: kind,
            unix_ts: veil_tests::devnet::now().as_secs(),
            index,
        })
        .expect("object key")
        .to_string();
        let hash = hex_of(&Sha256::digest(plaintext));
        let msg = miid::image_message(&a.cid, &hash).expect("image message");
        self.put(&key, &self.seal(round, plaintext));
        json!({
            "s3_key": key,
            "image_hash": hash,
            "signature": self.sign_hex(msg.as_bytes()),
            "variation_type": kind,
            "path_signature": path_sig,
        })
    }

    /// A 64×64 PNG of 4×4 blocks of colours drawn from this rogue's RNG:
    /// far from the base image and from every other such picture.
    fn picture(&self) -> Vec<u8> {
        use rand_core::RngCore as _;
        let mut rng = self.rng();
        let mut colours = [[0u8; 3]; 16];
        for c in &mut colours {
            rng.fill_bytes(c);
        }
        let img = image::RgbImage::from_fn(64, 64, |x, y| {
            let block = usize::try_from((y / 16) * 4 + x / 16).expect("block");
            image::Rgb(colours[block])
        });
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png)
            .expect("encode a PNG");
        png.into_inner()
    }

    /// The keys moto holds under a victim's prefix for this challenge,
    /// waiting up to `wait` for one to appear.
    fn victim_keys(&self, cid: &str, wait: Duration) -> Option<(String, Vec<String>)> {
        let w = &self.world;
        let started = Instant::now();
        loop {
            for victim in &self.victims {
                let prefix = format!("submissions/{cid}/{victim}/");
                let r = http_request(
                    w.moto_port,
                    "GET",
                    &format!("/{}?list-type=2&prefix={prefix}", w.bucket),
                    &[],
                    b"",
                );
                let text = r.text();
                let keys: Vec<String> = text
                    .split("<Key>")
                    .skip(1)
                    .filter_map(|s| s.split("</Key>").next())
                    .map(str::to_owned)
                    .collect();
                if !keys.is_empty() {
                    return Some((victim.clone(), keys));
                }
            }
            if started.elapsed() > wait {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The items this rogue answers `a` with.
    fn items(&self, a: &Asked) -> Vec<Value> {
        let path_msg = miid::path_message(&a.cid, &self.hotkey).expect("path message");
        let path_sig = self.sign_hex(path_msg.as_bytes())[..16].to_owned();
        let image =
            |i: u32| format!("rogue image {i} of {} for {}", self.hotkey, a.cid).into_bytes();
        let per_type = (0u32..).zip(&a.types);
        match self.kind {
            Kind::BadSignature => per_type
                .map(|(i, t)| {
                    let mut v = self.record(a, &path_sig, t, i, &image(i), a.round);
                    let other = hex_of(&Sha256::digest(b"another image"));
                    let msg = miid::image_message(&a.cid, &other).expect("message");
                    v["signature"] = json!(self.sign_hex(msg.as_bytes()));
                    v
                })
                .collect(),
            Kind::Stock => per_type
                .map(|(i, t)| self.record(a, &path_sig, t, i, &self.picture(), a.round - 1))
                .collect(),
            Kind::LateRound => per_type
                .map(|(i, t)| self.record(a, &path_sig, t, i, &image(i), a.round + 3))
                .collect(),
            Kind::EarlyRound => per_type
                .map(|(i, t)| self.record(a, &path_sig, t, i, &image(i), a.round - 6))
                .collect(),
            Kind::KeyThief => {
                let Some((_, keys)) = self.victim_keys(&a.cid, self.world.timeout / 2) else {
                    return Vec::new();
                };
                keys.iter()
                    .zip(&a.types)
                    .map(|(key, t)| {
                        // The victim's key and path signature, a hash and a
                        // signature of the thief's own.
                        let path_sig = key.split('/').nth(3).unwrap_or_default();
                        let hash = hex_of(&Sha256::digest(key.as_bytes()));
                        let msg = miid::image_message(&a.cid, &hash).expect("message");
                        json!({
                            "s3_key": key,
                            "image_hash": hash,
                            "signature": self.sign_hex(msg.as_bytes()),
                            "variation_type": t,
                            "path_signature": path_sig,
                        })
                    })
                    .collect()
            }
            Kind::CipherThief => {
                let Some((_, keys)) = self.victim_keys(&a.cid, self.world.timeout / 2) else {
                    return Vec::new();
                };
                let w = &self.world;
                keys.iter()
                    .zip(per_type)
                    .map(|(key, (i, t))| {
                        let sealed = http_request(
                            w.moto_port,
                            "GET",
                            &format!("/{}/{key}", w.bucket),
                            &[],
                            b"",
                        )
                        .body;
                        let own = miid::object_key(&KeyParts {
                            challenge_id: &a.cid,
                            miner_ss58: &self.hotkey,
                            path_signature: &path_sig,
                            image_filename: &a.filename,
                            variation_type: t,
                            unix_ts: veil_tests::devnet::now().as_secs(),
                            index: i,
                        })
                        .expect("object key")
                        .to_string();
                        self.put(&own, &sealed);
                        let hash = hex_of(&Sha256::digest(&sealed));
                        let msg = miid::image_message(&a.cid, &hash).expect("message");
                        json!({
                            "s3_key": own,
                            "image_hash": hash,
                            "signature": self.sign_hex(msg.as_bytes()),
                            "variation_type": t,
                            "path_signature": path_sig,
                        })
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Answers one request on `conn`, misbehaving its way.
    fn answer(&self, body: &[u8], mut conn: TcpStream, stop: &AtomicBool) {
        let synapse = |items: &[Value]| {
            json!({
                "name": "IdentitySynapse",
                "s3_submissions": items,
                "axon": {"status_code": 200, "status_message": "Success"},
            })
            .to_string()
            .into_bytes()
        };
        let head = |len: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nbt_header_axon_status_code: 200\r\n{len}Connection: close\r\n\r\n"
            )
        };
        let trickle = |conn: &mut TcpStream, bytes: &[u8]| {
            for b in bytes.iter().cycle() {
                if stop.load(Ordering::SeqCst) || conn.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        match self.kind {
            Kind::Huge16MiB => {
                // {"s3_submissions":[0,0,…,0]}: exactly 16 MiB.
                let total = 16 * 1024 * 1024;
                let open = b"{\"s3_submissions\":[0";
                let close = b"]}";
                let n = (total - open.len() - close.len()) / 2;
                let mut body = Vec::with_capacity(total);
                body.extend_from_slice(open);
                for _ in 0..n {
                    body.extend_from_slice(b",0");
                }
                body.extend_from_slice(close);
                body.resize(total, b' ');
                let _ =
                    conn.write_all(head(&format!("Content-Length: {}\r\n", body.len())).as_bytes());
                let _ = conn.write_all(&body);
            }
            Kind::HugeChunked => {
                let _ = conn.write_all(head("Transfer-Encoding: chunked\r\n").as_bytes());
                let chunk = vec![b' '; 1024 * 1024];
                for _ in 0..17 {
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(&chunk);
                    framed.extend_from_slice(b"\r\n");
                    if conn.write_all(&framed).is_err() {
                        return;
                    }
                }
                let _ = conn.write_all(b"0\r\n\r\n");
            }
            Kind::HugeDeclared => {
                let _ = conn.write_all(head("Content-Length: 67108864\r\n").as_bytes());
                let _ = conn.write_all(&[b' '; 4096]);
            }
            Kind::SlowLorisHead => trickle(
                &mut conn,
                head("Content-Length: 2\r\nX-Padding: ").as_bytes(),
            ),
            Kind::SlowLorisBody => {
                let _ = conn.write_all(head("Content-Length: 100000\r\n").as_bytes());
                trickle(&mut conn, b"{\"s3_submissions\": [] ");
            }
            Kind::Late => {
                let since = Instant::now();
                let late = self.world.timeout + Duration::from_millis(1500);
                while since.elapsed() < late && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let body = synapse(&[]);
                let _ =
                    conn.write_all(head(&format!("Content-Length: {}\r\n", body.len())).as_bytes());
                let _ = conn.write_all(&body);
            }
            _ => {
                let Some(asked) = Asked::parse(body) else {
                    return;
                };
                let items = self.items(&asked);
                *self.sent.lock().expect("sent") = items
                    .iter()
                    .filter_map(|v| v["s3_key"].as_str().map(str::to_owned))
                    .collect();
                let body = synapse(&items);
                let _ =
                    conn.write_all(head(&format!("Content-Length: {}\r\n", body.len())).as_bytes());
                let _ = conn.write_all(&body);
            }
        }
        let _ = conn.flush();
        let _ = conn.shutdown(Shutdown::Write);
        // Let the peer read everything before the socket closes.
        let mut sink = [0u8; 1024];
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// Reads one request: its body (framed by `Content-Length`).
fn read_body(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);
    Some(body)
}

/// A rogue on a loopback port (a thread per connection), stopped on drop.
pub(crate) struct RogueServer {
    pub(crate) rogue: Arc<Rogue>,
    port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl RogueServer {
    pub(crate) fn start(rogue: Rogue) -> Self {
        let rogue = Arc::new(rogue);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let accept = {
            let (rogue, stop, hits) = (Arc::clone(&rogue), Arc::clone(&stop), Arc::clone(&hits));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let (rogue, stop, hits) =
                        (Arc::clone(&rogue), Arc::clone(&stop), Arc::clone(&hits));
                    std::thread::spawn(move || {
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                        let _ = conn.set_write_timeout(Some(Duration::from_secs(30)));
                        if let Some(body) = read_body(&mut conn) {
                            hits.fetch_add(1, Ordering::SeqCst);
                            rogue.answer(&body, conn, &stop);
                        }
                    });
                }
            })
        };
        Self {
            rogue,
            port,
            hits,
            stop,
            accept: Some(accept),
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for RogueServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            Duration::from_secs(1),
        );
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}
