//! Helpers for the Phase 4 loopback tests (`tests/phase4_loopback.rs`):
//!
//! - [`RawServer`]: a hand-written HTTP/1.1 server on a loopback port, for
//!   "miners" that misbehave in ways `veil miner` never does (forged
//!   submissions, garbage answers, answers that never come);
//! - [`http_request`]: a hand-written HTTP/1.1 client, for requests veil's
//!   own dendrite never sends (replays, stale nonces, oversized bodies);
//! - [`dead_port`], [`files_under`].
//!
//! Both sides speak just enough HTTP/1.1 for these tests: one request per
//! connection (`Connection: close`), bodies framed by `Content-Length`
//! (chunked answers are decoded by the client).

extern crate alloc;

use alloc::sync::Arc;
use core::net::{Ipv4Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

/// Largest request head the server reads, bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the server reads, bytes.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// How long either side waits on a silent socket.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// One request, as the server read it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target, e.g. `/IdentitySynapse`.
    pub path: String,
    /// The headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// What a [`RawServer`] does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status, `Content-Type` and body (plus
    /// `bt_header_axon_status_code` = status when `axon_header` is set).
    Answer {
        /// HTTP status.
        status: u16,
        /// `Content-Type`.
        content_type: String,
        /// The body.
        body: Vec<u8>,
        /// Whether to send `bt_header_axon_status_code`.
        axon_header: bool,
    },
    /// Hold the connection open without answering for this long (or until
    /// the server is dropped), then close it.
    Hang(Duration),
}

impl Reply {
    /// A 200 `application/json` answer with the axon status header.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::Answer {
            status: 200,
            content_type: "application/json".into(),
            body: value.to_string().into_bytes(),
            axon_header: true,
        }
    }
}

type Handler = dyn Fn(&HttpRequest) -> Reply + Send + Sync;

/// A hand-written HTTP/1.1 server on `127.0.0.1`, stopped on drop.
pub struct RawServer {
    port: u16,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Listens on a free loopback port; every request is answered by
    /// `handler` on its own thread.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn start(handler: impl Fn(&HttpRequest) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let stop = Arc::clone(&stop);
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let handler = Arc::clone(&handler);
                    let stop = Arc::clone(&stop);
                    let hits = Arc::clone(&hits);
                    std::thread::spawn(move || serve_one(conn, &*handler, &stop, &hits));
                }
            })
        };
        Self {
            port,
            stop,
            hits,
            accept: Some(accept),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many complete requests it has read so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            Duration::from_secs(1),
        );
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(mut conn: TcpStream, handler: &Handler, stop: &AtomicBool, hits: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
    let Some(request) = read_request(&mut conn) else {
        return;
    };
    hits.fetch_add(1, Ordering::SeqCst);
    match handler(&request) {
        Reply::Answer {
            status,
            content_type,
            body,
            axon_header,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason_phrase(status),
                body.len()
            );
            if axon_header {
                head.push_str(&format!("bt_header_axon_status_code: {status}\r\n"));
            }
            head.push_str("\r\n");
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
            let _ = conn.flush();
            let _ = conn.shutdown(Shutdown::Write);
            // Let the peer read everything before the socket closes.
            let mut sink = [0u8; 1024];
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
        }
        Reply::Hang(how_long) => {
            let since = Instant::now();
            while since.elapsed() < how_long && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads up to the end of the head (`\r\n\r\n`); returns (head, what was
/// read past it).
fn read_head(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let rest = buf[end + 4..].to_vec();
            return Some((head, rest));
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn read_request(conn: &mut TcpStream) -> Option<HttpRequest> {
    let (head, mut body) = read_head(conn)?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers = parse_headers(lines);
    let len: usize = find_header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_BODY {
        return None;
    }
    let mut chunk = [0u8; 65536];
    while body.len() < len {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(len);
    Some(HttpRequest {
        method,
        path,
        headers,
        body,
    })
}

/// An answer, as the client read it.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// The headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }
}

/// Sends one request to `127.0.0.1:port` (`Connection: close`, the body
/// framed by `Content-Length`, written from a second thread so a server
/// that answers before reading it cannot deadlock the client) and reads the
/// whole answer.
///
/// # Panics
///
/// When the connection fails or the answer is not HTTP/1.x.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> HttpResponse {
    let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    conn.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    conn.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).expect("write request head");
    let mut writer = conn.try_clone().expect("clone socket");
    let body = body.to_vec();
    let writing = std::thread::spawn(move || {
        // The server may answer and close before reading it all (413).
        let _ = writer.write_all(&body);
        let _ = writer.flush();
    });
    let mut raw = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match conn.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A reset after the whole answer arrived (the server closed
            // with our body unread) still leaves a usable answer.
            Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer from 127.0.0.1:{port}{path}: {e}"),
        }
    }
    let _ = writing.join();
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "not an HTTP answer from 127.0.0.1:{port}{path}: {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers = parse_headers(lines);
    let body = if find_header(&headers, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = find_header(&headers, "content-length").and_then(|v| v.parse().ok()) {
        rest.get(..len)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A loopback port nothing listens on (it was free a moment ago).
///
/// # Panics
///
/// When no loopback port can be bound.
pub fn dead_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Every file under `dir` (recursively), as paths relative to it, sorted.
///
/// # Panics
///
/// When a directory cannot be read.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// An anonymous "public bucket" at `/bucket/…` (PUT, GET, HEAD) whose GETs
/// can be slowed down or failed, recording every key fetched.
pub struct Bucket {
    server: RawServer,
    objects: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    gets: Arc<Mutex<Vec<String>>>,
    /// Every GET sleeps 400 ms while set.
    pub slow: Arc<AtomicBool>,
    /// GETs of keys with this prefix answer 503 while set.
    pub failing: Arc<Mutex<Option<String>>>,
}

impl Bucket {
    /// Starts an empty bucket.
    ///
    /// # Panics
    ///
    /// When the server cannot start.
    pub fn start() -> Self {
        let objects: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let gets: Arc<Mutex<Vec<String>>> = Arc::default();
        let slow = Arc::new(AtomicBool::new(false));
        let failing: Arc<Mutex<Option<String>>> = Arc::default();
        let (o, g, s, f) = (
            Arc::clone(&objects),
            Arc::clone(&gets),
            Arc::clone(&slow),
            Arc::clone(&failing),
        );
        let server = RawServer::start(move |req| {
            let answer = |status: u16, body: Vec<u8>| Reply::Answer {
                status,
                content_type: "application/octet-stream".into(),
                body,
                axon_header: false,
            };
            let Some(key) = req.path.strip_prefix("/bucket/") else {
                return answer(404, Vec::new());
            };
            match req.method.as_str() {
                "PUT" => {
                    o.lock().unwrap().insert(key.to_owned(), req.body.clone());
                    answer(200, Vec::new())
                }
                "GET" | "HEAD" => {
                    let fails = f
                        .lock()
                        .unwrap()
                        .as_deref()
                        .is_some_and(|p| key.starts_with(p));
                    if req.method == "GET" && fails {
                        return answer(503, b"slow down".to_vec());
                    }
                    if req.method == "GET" {
                        g.lock().unwrap().push(key.to_owned());
                        if s.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(400));
                        }
                    }
                    match o.lock().unwrap().get(key) {
                        Some(body) => answer(200, body.clone()),
                        None => answer(404, Vec::new()),
                    }
                }
                _ => answer(405, Vec::new()),
            }
        });
        Self {
            server,
            objects,
            gets,
            slow,
            failing,
        }
    }

    /// `public:http://127.0.0.1:PORT/bucket`, as `--store` takes it.
    pub fn spec(&self) -> String {
        format!("public:http://127.0.0.1:{}/bucket", self.server.port())
    }

    /// The keys fetched since the last call.
    ///
    /// # Panics
    ///
    /// When a lock is poisoned.
    pub fn take_gets(&self) -> Vec<String> {
        core::mem::take(&mut *self.gets.lock().unwrap())
    }

    /// Replaces an object's bytes, as anyone may in a public-write bucket.
    ///
    /// # Panics
    ///
    /// When a lock is poisoned.
    pub fn overwrite(&self, key: &str, bytes: Vec<u8>) {
        self.objects.lock().unwrap().insert(key.to_owned(), bytes);
    }
}
