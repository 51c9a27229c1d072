//! Helpers for veil's end-to-end and interop tests.
//!
//! These tests drive the real `veil` binary. The README's test command builds
//! it first (`cargo build -p veil`); [`veil_bin`] finds it beside the test
//! executable, or at `$VEIL_BIN`.

#![forbid(unsafe_code)]

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
        "{} not found: build it first with `cargo build -p veil` (scripts/test does), or set VEIL_BIN",
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
    Command::new(veil_bin())
        .args(args)
        .output()
        .expect("run veil")
}

/// `../shared/vectors/<name>` parsed as JSON, or `None` (with a note on
/// stderr) when the shared directory is not beside the checkout.
///
/// # Panics
///
/// When the file exists but is not JSON.
pub fn shared_vector(name: &str) -> Option<serde_json::Value> {
    let dir = std::env::var_os("VEIL_SHARED_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
        PathBuf::from,
    );
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("vector file is JSON")),
        Err(_) => {
            eprintln!(
                "NOTE: {} not found; skipping the tests that need it",
                path.display()
            );
            None
        }
    }
}

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
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
