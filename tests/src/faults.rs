//! Fault-injecting HTTP/1.1 proxies on loopback, for the soak test: an
//! object store that fails some requests ([`S3Plan`]) and a drand relay
//! that flaps ([`Flapping`]).
//!
//! A [`FaultProxy`] reads one request per client connection (its body
//! framed by `Content-Length` or chunked; `Expect: 100-continue` is
//! answered by the proxy), asks its [`Plan`] what to do, and either
//! forwards it upstream on a fresh connection (`Connection: close`
//! both ways) or fails it: a 503 `SlowDown`, a 500 `InternalError`, a 502,
//! a reset (RST) with no answer, a stall then a reset, or an answer lost
//! after the upstream acted on the request. Every request is logged as an
//! [`Event`].
//!
//! The plans are deterministic: their decisions are hashes (xxHash64) of
//! a seed and the request's identity, never of timing or of the order in
//! which concurrent clients arrive. [`S3Plan`] keys its decisions on the
//! object (for MIID submission keys: the miner's hotkey and the variation's
//! index, which are the same in every run, rather than the challenge id or
//! timestamps, which are not) and on how many times that object was asked
//! for before, so a retry is decided independently of the first attempt.

extern crate alloc;

use alloc::sync::Arc;
use core::net::Ipv4Addr;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::JoinHandle;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use twox_hash::XxHash64;

/// Largest request head read, bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request or response body carried, bytes.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// How long one side may take to send its request or answer.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What the proxy does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and return the answer.
    Forward,
    /// Wait this long, then forward it.
    Delay(Duration),
    /// Answer 503 with S3's `SlowDown` error.
    SlowDown,
    /// Answer 500 with S3's `InternalError` error.
    InternalError,
    /// Answer 502 (a gateway that lost its upstream).
    BadGateway,
    /// Reset the connection without an answer.
    Reset,
    /// Forward it, then reset the connection instead of answering: the
    /// upstream acted on the request, the client never hears of it.
    LostAnswer,
    /// Hold the connection this long without answering, then reset it.
    Stall(Duration),
}

impl Fault {
    /// Whether the request reaches the upstream.
    pub fn forwards(self) -> bool {
        matches!(self, Self::Forward | Self::Delay(_) | Self::LostAnswer)
    }
}

/// A request as a [`Plan`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The request target (path and query).
    pub target: &'a str,
    /// Its place among every request this proxy has read (0 first).
    pub index: u64,
}

/// Decides each request's fate.
pub trait Plan: Send + Sync + 'static {
    /// What to do with `request`.
    fn decide(&self, request: &Request<'_>) -> Fault;
}

/// One request, as it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its place among every request read.
    pub index: u64,
    /// The method.
    pub method: String,
    /// The request target.
    pub target: String,
    /// What the plan decided.
    pub fault: Fault,
    /// The upstream's status, when the request was forwarded and answered.
    pub upstream_status: Option<u16>,
    /// The status the client received (`None`: no answer at all).
    pub client_status: Option<u16>,
}

impl Event {
    /// Whether the client got a 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.client_status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A fault-injecting proxy on a loopback port in front of
/// `127.0.0.1:{upstream}`, on its own thread; stopped on drop.
pub struct FaultProxy {
    port: u16,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `127.0.0.1:{upstream}` run by `plan`.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound or its thread cannot start.
    pub fn start(upstream: u16, plan: impl Plan) -> Self {
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let plan: Arc<dyn Plan> = Arc::new(plan);
        let log = Arc::clone(&events);
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    let next = Arc::new(AtomicU64::new(0));
                    let accept = async {
                        loop {
                            let Ok((conn, _)) = listener.accept().await else {
                                continue;
                            };
                            let (plan, log, next) =
                                (Arc::clone(&plan), Arc::clone(&log), Arc::clone(&next));
                            tokio::spawn(async move {
                                let _ = conn.set_nodelay(true);
                                serve(conn, upstream, &*plan, &log, &next).await;
                            });
                        }
                    };
                    tokio::select! {
                        () = accept => {}
                        _ = stopped => {}
                    }
                });
                rt.shutdown_background();
            })
            .expect("spawn the proxy thread");
        Self {
            port,
            events,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request read so far, in the order they were decided.
    ///
    /// # Panics
    ///
    /// When the log's lock is poisoned.
    pub fn events(&self) -> Vec<Event> {
        let mut events = self.events.lock().expect("event log").clone();
        events.sort_by_key(|e| e.index);
        events
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request as read: the head's lines and the raw body.
struct Raw {
    method: String,
    target: String,
    version: String,
    /// Header lines as sent (without the request line).
    headers: Vec<String>,
    body: Vec<u8>,
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The length of a complete chunked body at the start of `buf`, if it is
/// all there (trailers included).
fn chunked_len(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let eol = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let line = core::str::from_utf8(&buf[at..eol]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        at = eol + 2;
        if size == 0 {
            // Trailer lines, then an empty line.
            loop {
                let eol = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
                let empty = eol == at;
                at = eol + 2;
                if empty {
                    return Some(at);
                }
            }
        }
        at = at.checked_add(size)?.checked_add(2)?;
        if at > buf.len() {
            return None;
        }
    }
}

async fn read_request(conn: &mut TcpStream) -> Option<Raw> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body = buf[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let version = first.next().unwrap_or("HTTP/1.1").to_owned();
    let headers: Vec<String> = lines.map(str::to_owned).collect();
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .ok()?;
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            if let Some(n) = chunked_len(&body) {
                body.truncate(n);
                break;
            }
            if body.len() > MAX_BODY {
                return None;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    } else {
        let len: usize = header(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if len > MAX_BODY {
            return None;
        }
        while body.len() < len {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        body.truncate(len);
    }
    Some(Raw {
        method,
        target,
        version,
        headers,
        body,
    })
}

/// Headers a proxy does not pass on (hop by hop, or answered here).
fn passed_on(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or("").trim();
    !["connection", "keep-alive", "proxy-connection", "expect"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Sends `raw` upstream on a fresh connection and reads the whole answer
/// (up to the upstream's close); returns it with `Connection: close`.
async fn forward(raw: &Raw, upstream: u16) -> std::io::Result<(u16, Vec<u8>)> {
    let mut up = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)).await?;
    let _ = up.set_nodelay(true);
    let mut head = format!("{} {} {}\r\n", raw.method, raw.target, raw.version);
    for line in raw.headers.iter().filter(|l| passed_on(l)) {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).await?;
    up.write_all(&raw.body).await?;
    up.flush().await?;
    let mut answer = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = up.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        if answer.len() > MAX_BODY {
            return Err(std::io::Error::other("upstream answer too large"));
        }
    }
    let end = head_end(&answer).ok_or_else(|| std::io::Error::other("no answer head"))?;
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut out = format!("{status_line}\r\n");
    for line in lines.filter(|l| passed_on(l)) {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end + 4..]);
    Ok((status, bytes))
}

/// A canned error answer (S3's XML error shape for 500 and 503).
fn canned(status: u16, method: &str) -> Vec<u8> {
    let (reason, content_type, body) = match status {
        503 => (
            "Slow Down",
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>veil-soak</RequestId></Error>",
        ),
        500 => (
            "Internal Server Error",
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>veil-soak</RequestId></Error>",
        ),
        _ => ("Bad Gateway", "text/plain", "bad gateway (fault proxy)"),
    };
    // A HEAD answer has no body.
    let body = if method == "HEAD" { "" } else { body };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Writes `bytes` (an answer with `status`) and closes; the status when
/// it was all written.
async fn send(mut conn: TcpStream, status: u16, bytes: &[u8]) -> Option<u16> {
    let sent = conn.write_all(bytes).await.is_ok() && conn.flush().await.is_ok();
    let _ = conn.shutdown().await;
    sent.then_some(status)
}

async fn reset(conn: TcpStream) {
    let _ = conn.set_zero_linger();
    drop(conn);
}

async fn serve(
    mut conn: TcpStream,
    upstream: u16,
    plan: &dyn Plan,
    log: &Mutex<Vec<Event>>,
    next: &AtomicU64,
) {
    let Ok(Some(raw)) = tokio::time::timeout(IO_TIMEOUT, read_request(&mut conn)).await else {
        return;
    };
    let index = next.fetch_add(1, Ordering::SeqCst);
    let fault = plan.decide(&Request {
        method: &raw.method,
        target: &raw.target,
        index,
    });
    let mut event = Event {
        index,
        method: raw.method.clone(),
        target: raw.target.clone(),
        fault,
        upstream_status: None,
        client_status: None,
    };
    match fault {
        Fault::Forward | Fault::Delay(_) | Fault::LostAnswer => {
            if let Fault::Delay(d) = fault {
                tokio::time::sleep(d).await;
            }
            match tokio::time::timeout(IO_TIMEOUT, forward(&raw, upstream)).await {
                Ok(Ok((status, bytes))) => {
                    event.upstream_status = Some(status);
                    if fault == Fault::LostAnswer {
                        reset(conn).await;
                    } else {
                        event.client_status = send(conn, status, &bytes).await;
                    }
                }
                _ => event.client_status = send(conn, 502, &canned(502, &raw.method)).await,
            }
        }
        Fault::SlowDown => event.client_status = send(conn, 503, &canned(503, &raw.method)).await,
        Fault::InternalError => {
            event.client_status = send(conn, 500, &canned(500, &raw.method)).await;
        }
        Fault::BadGateway => event.client_status = send(conn, 502, &canned(502, &raw.method)).await,
        Fault::Reset => reset(conn).await,
        Fault::Stall(d) => {
            tokio::time::sleep(d).await;
            reset(conn).await;
        }
    }
    log.lock().expect("event log").push(event);
}

/// A uniform number in `[0, 1)` from `seed` and `parts`.
fn uniform(seed: u64, parts: &[&[u8]]) -> f64 {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(&(p.len() as u64).to_le_bytes());
        bytes.extend_from_slice(p);
    }
    let h = XxHash64::oneshot(seed, &bytes) >> 11;
    // 53 random bits: exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    let u = h as f64 / (1u64 << 53) as f64;
    u
}

/// What an object request is about, the same in every run: for a MIID
/// submission key (`…/submissions/{cid}/{hotkey}/{sig}/{seed}/{type}_{ts}_{index}.png.tlock`)
/// `{hotkey}/{index}`; otherwise the path without its query.
pub fn object_id(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts.iter().position(|p| *p == "submissions");
    if let (Some(hotkey), Some(file)) = (at.and_then(|at| parts.get(at + 2)), parts.last()) {
        let index = file
            .strip_suffix(".png.tlock")
            .and_then(|stem| stem.rsplit('_').next())
            .filter(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
        if let Some(index) = index {
            return format!("{hotkey}/{index}");
        }
    }
    path.to_owned()
}

/// How often an object store fails (see [`S3Plan`]).
#[derive(Clone, Copy, Debug)]
pub struct S3Rates {
    /// The RNG seed.
    pub seed: u64,
    /// Fraction of objects whose first [`S3Rates::spool_failures`] PUTs
    /// all fail (a client retrying fewer times spools them).
    pub spool_fraction: f64,
    /// How many PUTs of such an object fail before one goes through.
    pub spool_failures: u32,
    /// Chance that any other request's first attempt fails.
    pub first_failure: f64,
    /// Chance that, after a first failure, the second attempt fails too
    /// (a third attempt of such a request always goes through).
    pub second_failure: f64,
    /// Chance that a request that goes through is first delayed.
    pub delay: f64,
    /// The longest such delay.
    pub max_delay: Duration,
}

/// A store's faults, decided per (method, [`object_id`], attempt): the
/// `n`-th request for the same object with the same method is attempt `n`.
pub struct S3Plan {
    rates: S3Rates,
    attempts: Mutex<HashMap<(String, String), u32>>,
}

impl S3Plan {
    /// A plan with these rates.
    pub fn new(rates: S3Rates) -> Self {
        Self {
            rates,
            attempts: Mutex::default(),
        }
    }

    /// Whether the PUTs of object `id` are among those that fail
    /// [`S3Rates::spool_failures`] times in a row.
    pub fn spools(&self, id: &str) -> bool {
        uniform(self.rates.seed, &[b"spool", id.as_bytes()]) < self.rates.spool_fraction
    }

    fn failure(&self, method: &str, id: &str, n: u32) -> Fault {
        let pick = uniform(
            self.rates.seed,
            &[b"kind", method.as_bytes(), id.as_bytes(), &n.to_le_bytes()],
        );
        // Truncation intended: a bucket index in 0..4.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        match (pick * 4.0) as u32 {
            0 => Fault::SlowDown,
            1 => Fault::InternalError,
            2 => Fault::Reset,
            _ => Fault::LostAnswer,
        }
    }

    /// The fault of attempt `n` of `method` on object `id`.
    pub fn fault_of(&self, method: &str, id: &str, n: u32) -> Fault {
        let r = &self.rates;
        let u = |tag: &[u8], n: u32| {
            uniform(
                r.seed,
                &[tag, method.as_bytes(), id.as_bytes(), &n.to_le_bytes()],
            )
        };
        let failed = if method == "PUT" && self.spools(id) {
            n < r.spool_failures
        } else {
            match n {
                0 => u(b"first", 0) < r.first_failure,
                1 => u(b"first", 0) < r.first_failure && u(b"second", 1) < r.second_failure,
                _ => false,
            }
        };
        if failed {
            return self.failure(method, id, n);
        }
        if u(b"delay", n) < r.delay {
            Fault::Delay(r.max_delay.mul_f64(u(b"delay-length", n)))
        } else {
            Fault::Forward
        }
    }
}

impl Plan for S3Plan {
    fn decide(&self, request: &Request<'_>) -> Fault {
        let id = object_id(request.target);
        let n = {
            let mut attempts = self.attempts.lock().expect("attempt counts");
            let n = attempts
                .entry((request.method.to_owned(), id.clone()))
                .or_insert(0);
            let this = *n;
            *n += 1;
            this
        };
        self.fault_of(request.method, &id, n)
    }
}

/// A relay that flaps: requests alternate between runs that are refused
/// (reset, 502, or a stall then a reset) and runs that are forwarded. The
/// first request is refused and the second forwarded; after them each run
/// is 1 to `max_run` requests long (seeded).
pub struct Flapping {
    seed: u64,
    max_run: u64,
    stall: Duration,
}

impl Flapping {
    /// A flapping schedule.
    pub fn new(seed: u64, max_run: u64, stall: Duration) -> Self {
        Self {
            seed,
            max_run: max_run.max(1),
            stall,
        }
    }

    /// Whether request `index` is refused, and how.
    pub fn fault_at(&self, index: u64) -> Fault {
        let mut start = 0u64;
        let mut run = 0u64;
        loop {
            let len = if run < 2 {
                1
            } else {
                1 + XxHash64::oneshot(self.seed, &run.to_le_bytes()) % self.max_run
            };
            if index < start + len {
                break;
            }
            start += len;
            run += 1;
        }
        if run % 2 == 1 {
            return Fault::Forward;
        }
        match XxHash64::oneshot(self.seed ^ 0x5eed, &index.to_le_bytes()) % 3 {
            0 => Fault::Reset,
            1 => Fault::BadGateway,
            _ => Fault::Stall(self.stall),
        }
    }
}

impl Plan for Flapping {
    fn decide(&self, request: &Request<'_>) -> Fault {
        self.fault_at(request.index)
    }
}
