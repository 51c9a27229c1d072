//! The known-answer files of `../shared` (beside the checkout; `$VEIL_SHARED`
//! points elsewhere).

use std::path::PathBuf;

/// The shared folder: `$VEIL_SHARED`, else `../shared` beside the checkout.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("VEIL_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

/// Whether a missing shared file fails the test (`VEIL_REQUIRE_SHARED=1`).
pub fn shared_required() -> bool {
    std::env::var("VEIL_REQUIRE_SHARED").is_ok_and(|v| v == "1")
}

/// The shared file `rel` (e.g. `vectors/chains.json`, `chain/raonet.json`):
/// its path when it exists; otherwise `None` after a `SKIPPED` note on
/// stderr.
///
/// # Panics
///
/// When the file is missing and [`shared_required`] — a test that needs
/// it must not pass without it.
#[track_caller]
pub fn shared_file(rel: &str) -> Option<PathBuf> {
    let path = shared_dir().join(rel);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !shared_required(),
        "{} is missing and VEIL_REQUIRE_SHARED=1: the test cannot run without it",
        path.display()
    );
    eprintln!(
        "SKIPPED: {} not found (no ../shared beside the checkout); this test's known answers were not checked",
        path.display()
    );
    None
}

/// `vectors/{name}` parsed as JSON (see [`shared_file`]).
///
/// # Panics
///
/// As [`shared_file`], or when the file is not JSON.
#[track_caller]
pub fn shared_vector(name: &str) -> Option<serde_json::Value> {
    let path = shared_file(&format!("vectors/{name}"))?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display())),
    )
}
