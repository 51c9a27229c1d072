//! Reading `../shared/vectors/` (beside the checkout; always present in CI).

use std::path::PathBuf;

use serde_json::Value;

/// The vector file `name` as JSON, or `None` with a note when the shared
/// directory is absent.
pub(crate) fn shared_vector(name: &str) -> Option<Value> {
    let dir = std::env::var_os("VEIL_SHARED_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
        PathBuf::from,
    );
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("vector file is JSON")),
        Err(_) => {
            eprintln!(
                "NOTE: shared vector file {} not found; running only the built-in literal vectors",
                path.display()
            );
            None
        }
    }
}

/// Hex of any case, with or without `0x`, to bytes.
pub(crate) fn hex_bytes(s: &str) -> Vec<u8> {
    let mut buf = vec![0u8; s.len() / 2];
    veil_core::encoding::decode_into(s, &mut buf)
        .expect("hex")
        .to_vec()
}
