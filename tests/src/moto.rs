//! moto (PyPI `moto[server]` 5.2.5) as a real S3-compatible server for the
//! store tests: a child process on a loopback port, killed on drop.
//!
//! [`Moto::start`] runs `python -m moto.server -H 127.0.0.1 -p PORT` from the
//! moto virtualenv (`$VEIL_PEER_MOTO_PYTHON`, else `.peers/moto/bin/python`,
//! installed by `scripts/setup-peers`), waits until it answers HTTP, then runs
//! `tests/peers/moto/moto_setup.py`, which creates the bucket and, in auth
//! mode, a read-only and a read-write IAM user, turns SigV4 + IAM enforcement
//! on and verifies it (see that script's docstring for moto's behaviour).
//! Without auth moto checks no credentials at all: anonymous requests work.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::devnet::KillOnDrop;
use crate::{Scratch, peer_missing};

/// How long moto may take to start answering HTTP. It takes ~0.5 s on an idle
/// machine and ~2 s on two busy cores; the bound is generous because CI runs
/// it beside parallel compiles and tests, and it only costs time on failure.
pub const STARTUP: Duration = Duration::from_secs(60);
/// How many ports are tried when the server dies at start (e.g. the port
/// picked was taken in between).
const ATTEMPTS: usize = 3;
/// `INITIAL_NO_AUTH_ACTION_COUNT` in auth mode: the set-up calls run
/// unauthenticated until `moto_setup.py` POSTs `0` to `/moto-api/reset-auth`.
const NO_AUTH_ACTIONS: &str = "1000";

/// An S3 access key pair that moto generated for an IAM user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// `AKIA…`
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
}

/// A running moto server holding one bucket, killed on drop.
pub struct Moto {
    /// `http://127.0.0.1:PORT`; buckets are addressed path style,
    /// `{endpoint}/{bucket}/{key}`.
    pub endpoint: String,
    /// The bucket `moto_setup.py` created (empty).
    pub bucket: String,
    /// In auth mode: the `veil-reader` user (s3:GetObject and s3:ListBucket
    /// on the bucket only).
    pub reader: Option<Keys>,
    /// In auth mode: the `veil-writer` user (s3:* on the bucket).
    pub writer: Option<Keys>,
    child: KillOnDrop,
    port: u16,
    log: PathBuf,
}

/// The moto virtualenv's python, or `None` after [`peer_missing`].
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("VEIL_PEER_MOTO_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers/moto/bin/python"),
        PathBuf::from,
    );
    if path.exists() {
        Some(path)
    } else {
        peer_missing(&format!("moto[server] (PyPI; {})", path.display()));
        None
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The last lines of the server log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    format!(
        "--- last lines of {} ---\n{}",
        log.display(),
        lines[from..].join("\n")
    )
}

/// The status code of `GET path`, if the server answered HTTP.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // Read it all (~10 KB): a socket closed early makes the server log a traceback.
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    // "HTTP/1.1 200 OK"
    let head = core::str::from_utf8(answer.get(..12)?).ok()?;
    head.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

enum Started {
    Ready(KillOnDrop),
    /// The server exited before answering (e.g. the port was taken).
    Died(String),
}

fn spawn(python: &Path, port: u16, auth: bool, log: &Path) -> Started {
    let out = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log handle");
    let mut cmd = Command::new(python);
    cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if auth {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", NO_AUTH_ACTIONS);
    } else {
        cmd.env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
    }
    let mut child = KillOnDrop(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {} -m moto.server: {e}", python.display())),
    );
    // werkzeug prints this only once it has bound the port, so a probe that
    // follows cannot be answered by some other process that took it.
    let bound = format!("Running on http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("poll moto") {
            return Started::Died(format!("moto exited ({status})\n{}", tail(log)));
        }
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains(&bound))
            && http_status(port, "/moto-api/") == Some(200)
        {
            return Started::Ready(child);
        }
        assert!(
            started.elapsed() < STARTUP,
            "moto did not answer on port {port} within {STARTUP:?}\n{}",
            tail(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Moto {
    /// Starts moto on a free loopback port, logging into `scratch`, and
    /// prepares `bucket` (with `auth`: users `veil-reader` and
    /// `veil-writer`, then enforcement on, verified).
    ///
    /// `None` when moto is not installed and `VEIL_REQUIRE_PEERS` is unset
    /// (with a NOTE on stderr).
    ///
    /// # Panics
    ///
    /// When moto is required but missing, does not start, or the set-up
    /// script fails; the message carries the server log's tail.
    pub fn start(scratch: &Scratch, bucket: &str, auth: bool) -> Option<Self> {
        let python = python()?;
        let t0 = Instant::now();
        let mut failures = Vec::new();
        let (child, port, log) = loop {
            let port = free_port();
            let log = scratch.path().join(format!("moto-{port}.log"));
            match spawn(&python, port, auth, &log) {
                Started::Ready(child) => break (child, port, log),
                Started::Died(why) => {
                    failures.push(why);
                    assert!(
                        failures.len() < ATTEMPTS,
                        "moto failed to start {ATTEMPTS} times:\n{}",
                        failures.join("\n")
                    );
                }
            }
        };
        let started = t0.elapsed();
        let endpoint = format!("http://127.0.0.1:{port}");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/moto/moto_setup.py");
        let mut setup = Command::new(&python);
        setup
            .arg(&script)
            .args(["--endpoint", &endpoint, "--bucket", bucket])
            .stdin(Stdio::null());
        if auth {
            setup.arg("--auth");
        }
        let out = setup
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "moto_setup.py --bucket {bucket}{} failed ({}): {}{}\n{}",
            if auth { " --auth" } else { "" },
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            tail(&log)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "moto_setup.py printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let keys = |who: &str| {
            let field = |name: &str| {
                v[who][name]
                    .as_str()
                    .unwrap_or_else(|| panic!("moto_setup.py: {who}.{name} is not a string: {v}"))
                    .to_owned()
            };
            Keys {
                access_key_id: field("access_key_id"),
                secret_access_key: field("secret_access_key"),
            }
        };
        assert_eq!(v["bucket"], bucket, "moto_setup.py: {v}");
        let (reader, writer) = if auth {
            (Some(keys("reader")), Some(keys("writer")))
        } else {
            (None, None)
        };
        eprintln!(
            "moto on {endpoint} (auth: {auth}): started in {started:.2?}, set up in {:.2?}",
            t0.elapsed() - started
        );
        Some(Self {
            endpoint,
            bucket: bucket.to_owned(),
            reader,
            writer,
            child,
            port,
            log,
        })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the server logged so far (its last lines; one line per request).
    pub fn log(&self) -> String {
        tail(&self.log)
    }

    /// SIGKILLs the server now (e.g. to test a store that vanishes); the
    /// endpoint refuses connections afterwards.
    pub fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}
