//! bittensor 11.3 (PyPI `bittensor==11.3.0`: no axon or dendrite,
//! `bittensor.http_auth`, "btauth/1") as an interop peer, through
//! `tests/peers/bittensor11/btauth_peer.py`:
//!
//! - [`BtauthServer`]: `btauth_peer.py serve`, a MIID miner on MIID's
//!   bittensor-11 wire shape, verifying with `http_auth.verify`, killed on
//!   drop;
//! - [`btauth_query`]: `btauth_peer.py query`, one request signed with
//!   `http_auth.sign`, then replayed byte for byte to other URLs.
//!
//! The scripts run on the bittensor-11 virtualenv's python
//! (`$VEIL_PEER_BITTENSOR11_PYTHON`, else `.peers/bittensor11/bin/python`,
//! installed by `scripts/setup-peers`); without it [`python`] notes the peer
//! is missing (a failure under `VEIL_REQUIRE_PEERS=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bittensor::{
    ATTEMPTS, RUN_LIMIT, Started, free_port, run_limited, spawn_listening, tail,
};
use crate::devnet::KillOnDrop;
use crate::{Scratch, peer_missing};

fn python_path() -> Option<PathBuf> {
    crate::venv_python("VEIL_PEER_BITTENSOR11_PYTHON", "bittensor11")
}

/// The bittensor-11 virtualenv's python, or `None` after [`peer_missing`].
pub fn python() -> Option<PathBuf> {
    let found = python_path();
    if found.is_none() {
        peer_missing("bittensor 11.3 (PyPI; .peers/bittensor11 or $VEIL_PEER_BITTENSOR11_PYTHON)");
    }
    found
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/bittensor11/btauth_peer.py")
}

/// `btauth_peer.py serve` on a free loopback port, killed on drop.
pub struct BtauthServer {
    _child: KillOnDrop,
    port: u16,
    hotkey: String,
    record: PathBuf,
    stderr: PathBuf,
}

impl BtauthServer {
    /// Starts `btauth_peer.py serve --seed SEED --port P --store-dir STORE
    /// --allow … --record FILE` and waits for its `listening` line; `None`
    /// when the peer is not installed and not required.
    ///
    /// # Panics
    ///
    /// When it does not start.
    pub fn start(
        scratch: &Scratch,
        seed_hex: &str,
        store_dir: &Path,
        allow: &[&str],
    ) -> Option<Self> {
        let python = python()?;
        let mut failures = Vec::new();
        loop {
            let port = free_port();
            let stdout = scratch.path().join(format!("btauth-{port}.stdout"));
            let stderr = scratch.path().join(format!("btauth-{port}.stderr"));
            let record = scratch.path().join(format!("btauth-{port}.record.jsonl"));
            let mut cmd = Command::new(&python);
            cmd.arg(script())
                .args(["serve", "--seed", seed_hex, "--port", &port.to_string()])
                .arg("--store-dir")
                .arg(store_dir)
                .arg("--record")
                .arg(&record);
            for hotkey in allow {
                cmd.args(["--allow", hotkey]);
            }
            match spawn_listening(&mut cmd, &stdout, &stderr, "btauth_peer.py serve") {
                Started::Ready(child, line) => {
                    let want = format!("listening 127.0.0.1:{port} hotkey ");
                    let hotkey = line
                        .strip_prefix(&want)
                        .unwrap_or_else(|| panic!("btauth_peer.py: unexpected line {line:?}"))
                        .to_owned();
                    return Some(Self {
                        _child: child,
                        port,
                        hotkey,
                        record,
                        stderr,
                    });
                }
                Started::Died(why) => {
                    failures.push(why);
                    assert!(
                        failures.len() < ATTEMPTS,
                        "btauth_peer.py failed to start {ATTEMPTS} times:\n{}",
                        failures.join("\n")
                    );
                }
            }
        }
    }

    /// Its hotkey (SS58), as it printed.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// `HOST:PORT:SS58`, as `veil validator --miner` takes it.
    pub fn miner_arg(&self) -> String {
        format!("127.0.0.1:{}:{}", self.port, self.hotkey)
    }

    /// The `--record` lines so far: `{"hotkey","nonce","outcome"}`.
    ///
    /// # Panics
    ///
    /// When a line is not JSON.
    pub fn records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("record line is JSON"))
            .collect()
    }

    /// Its log (last lines).
    pub fn log(&self) -> String {
        tail(&self.stderr)
    }
}

/// One `btauth_peer.py query` run.
#[derive(Clone, Debug)]
pub struct Signed<'a> {
    /// The sender's 32-byte mini secret, hex.
    pub seed_hex: &'a str,
    /// `http://127.0.0.1:PORT/IdentitySynapse`.
    pub url: &'a str,
    /// `X-Bittensor-Receiver`: the hotkey the request is bound to.
    pub receiver: &'a str,
    /// The body, sent byte for byte.
    pub body: &'a Path,
    /// URLs the same bytes and headers are then sent to.
    pub replay: &'a [&'a str],
    /// An explicit nonce (nanoseconds), e.g. a stale one.
    pub nonce_ns: Option<u64>,
    /// Extra headers, `NAME:VALUE`.
    pub headers: &'a [&'a str],
    /// Send `GET url` first (the liveness probe).
    pub get: bool,
}

impl Default for Signed<'_> {
    fn default() -> Self {
        Self {
            seed_hex: "",
            url: "",
            receiver: "",
            body: Path::new(""),
            replay: &[],
            nonce_ns: None,
            headers: &[],
            get: false,
        }
    }
}

/// Runs `btauth_peer.py query` and returns its report:
/// `{"sender","liveness":{"status","body"}|null,"answers":[{"url","status",
/// "body","signatures_valid"}…]}`.
///
/// # Panics
///
/// When the peer is missing, the script fails, or prints no JSON.
pub fn btauth_query(scratch: &Scratch, q: &Signed<'_>) -> serde_json::Value {
    let python = python_path().expect("bittensor 11 python missing: check btauth::python() first");
    let mut cmd = Command::new(python);
    cmd.arg(script())
        .args(["query", "--seed", q.seed_hex, "--url", q.url])
        .args(["--receiver", q.receiver])
        .arg("--body")
        .arg(q.body);
    for url in q.replay {
        cmd.args(["--replay", url]);
    }
    if let Some(n) = q.nonce_ns {
        cmd.args(["--nonce-ns", &n.to_string()]);
    }
    for h in q.headers {
        cmd.args(["--header", h]);
    }
    if q.get {
        cmd.arg("--get");
    }
    let tag = format!("btauth-query-{}", crate::bittensor::next_run());
    let out = run_limited(&mut cmd, scratch, &tag, RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "btauth_peer.py query failed ({}): {stderr}",
        out.status
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 stdout");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("btauth_peer.py printed no JSON ({e}): {text:?}\n{stderr}"))
}
