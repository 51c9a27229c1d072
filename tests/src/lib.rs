//! Helpers for veil's end-to-end and interop tests.
//!
//! These tests drive the real `veil` binary. The test command builds it with
//! the test binaries (`cargo nextest run --no-run`); [`veil_bin`] finds it
//! beside the test executable, or at `$VEIL_BIN`.

#![forbid(unsafe_code)]

pub mod bittensor;
pub mod browser;
pub mod btauth;
pub mod chopsticks;
pub mod devnet;
pub mod faults;
pub mod measure;
pub mod moto;
pub mod phase4;
pub mod subtensor;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `veil` binary under test.
///
/// # Panics
///
/// When it has not been built, with the command that builds it.
pub fn veil_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VEIL_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-exe> → target/<profile>/veil
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("veil{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: build it first with `cargo build -p veil` (scripts/test builds it), or set VEIL_BIN",
        bin.display()
    );
    bin
}

/// Runs `veil` with `args`.
///
/// # Panics
///
/// When the binary cannot be started.
pub fn veil(args: &[&str]) -> Output {
    veil_test_support::Veil::at(veil_bin()).run(args, b"")
}

pub use veil_test_support::{shared_file, shared_vector};

/// A fresh scratch directory under the system temp dir, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `veil-<tag>-<pid>-<n>`.
    ///
    /// # Panics
    ///
    /// When the directory cannot be created.
    pub fn new(tag: &str) -> Self {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("veil-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Self(p)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `NAME` inside the scratch directory, created.
    ///
    /// # Panics
    ///
    /// When the directory cannot be created.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).expect("create scratch subdir");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub use veil_test_support::run_with_stdin;

/// `veil ARGS` with `stdin`.
///
/// # Panics
///
/// When the binary cannot be started.
pub fn veil_stdin(args: &[&str], stdin: &[u8]) -> Output {
    veil_test_support::Veil::at(veil_bin()).run(args, stdin)
}

/// Whether the test command asked for the peers to be mandatory
/// (`VEIL_REQUIRE_PEERS=1`, set by `scripts/test` after installing them).
pub fn peers_required() -> bool {
    std::env::var_os("VEIL_REQUIRE_PEERS").is_some_and(|v| v == "1")
}

/// Notes that the peer `what` is not installed, so the caller can skip.
///
/// # Panics
///
/// When the peers are required ([`peers_required`]).
pub fn peer_missing(what: &str) {
    assert!(
        !peers_required(),
        "{what} is not installed but VEIL_REQUIRE_PEERS=1: run scripts/setup-peers"
    );
    eprintln!("NOTE: {what} not installed (scripts/setup-peers); skipping this interop test");
}

/// The python of the virtualenv `.peers/{venv}` (or `$env_var`), if
/// installed.
pub(crate) fn venv_python(env_var: &str, venv: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env_var).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.peers")
                .join(venv)
                .join("bin/python")
        },
        PathBuf::from,
    );
    path.exists().then_some(path)
}

/// The python of `.peers/py` (or `$VEIL_PEER_PYTHON`), where the Python
/// peers without bittensor live (bittensor-drand, bittensor-wallet,
/// pydantic, prometheus-client); `None` after [`peer_missing`].
pub fn peers_python(what: &str) -> Option<PathBuf> {
    let found = venv_python("VEIL_PEER_PYTHON", "py");
    if found.is_none() {
        peer_missing(what);
    }
    found
}

/// The real tlock-js peer: `node tlock.mjs …` in `$VEIL_PEER_NODE_DIR`.
pub fn tlock_js() -> Option<Command> {
    let dir = std::env::var_os("VEIL_PEER_NODE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/js");
            d.join("node_modules/tlock-js").exists().then_some(d)
        });
    match dir {
        Some(d) => {
            let mut cmd = Command::new("node");
            cmd.arg(d.join("tlock.mjs"));
            Some(cmd)
        }
        None => {
            peer_missing("tlock-js (npm)");
            None
        }
    }
}

/// The real bittensor-drand peer: `python btdrand.py …` from the peer venv.
pub fn bittensor_drand() -> Option<Command> {
    let python = std::env::var_os("VEIL_PEER_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers/py/bin/python");
            p.exists().then_some(p)
        });
    match python {
        Some(p) => {
            let mut cmd = Command::new(p);
            cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/py/btdrand.py"));
            Some(cmd)
        }
        None => {
            peer_missing("bittensor-drand (PyPI)");
            None
        }
    }
}

/// Asserts a successful run and returns its stdout.
///
/// # Panics
///
/// When the run failed.
#[track_caller]
pub fn success(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Asserts veil's failure contract: exit 1, nothing on stdout, one line on
/// stderr. Returns that line.
///
/// # Panics
///
/// When the contract is broken.
#[track_caller]
pub fn veil_failure(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what}: stdout not empty");
    assert_eq!(
        stderr.matches('\n').count(),
        1,
        "{what}: not one line: {stderr:?}"
    );
    stderr
}

fn python_peer(script: &str, what: &str) -> Option<Command> {
    let python = std::env::var_os("VEIL_PEER_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers/py/bin/python");
            p.exists().then_some(p)
        });
    match python {
        Some(p) => {
            let mut cmd = Command::new(p);
            cmd.arg(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("peers/py")
                    .join(script),
            );
            Some(cmd)
        }
        None => {
            peer_missing(what);
            None
        }
    }
}

/// The real bittensor-wallet peer (`btwallet.py`).
pub fn btwallet() -> Option<Command> {
    python_peer("btwallet.py", "bittensor-wallet (PyPI)")
}

/// MIID's wire models re-declared with pydantic (`miid_models.py`).
pub fn miid_models() -> Option<Command> {
    python_peer("miid_models.py", "pydantic (PyPI)")
}

/// Lowercase hex of `bytes`.
pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
