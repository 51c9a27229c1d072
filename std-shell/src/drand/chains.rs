//! Resolving `--chain`: a built-in name, or the path of a drand `/info` file.

use std::path::Path;

use veil_core::{BuiltinChain, Chain, ChainError, limits::MAX_CHAIN_INFO_JSON_LEN};

use crate::Error;

/// The chain used when none is named.
pub const DEFAULT_CHAIN: BuiltinChain = BuiltinChain::Quicknet;

/// Resolves a `--chain` value: a built-in name or alias first, otherwise the
/// path of a drand `/info` JSON file (read with a size cap, validated, hash
/// recomputed).
///
/// # Errors
///
/// An unknown name that is not a readable file, an oversized file, or any
/// [`ChainError`] from the document.
pub fn resolve(arg: &str) -> Result<Chain, Error> {
    match BuiltinChain::from_name(arg) {
        Ok(builtin) => return Ok(builtin.chain().map_err(veil_core::Error::from)?),
        Err(ChainError::UnknownChain) => {}
        Err(e) => return Err(veil_core::Error::from(e).into()),
    }
    let path = Path::new(arg);
    if !path.exists() {
        return Err(Error::value(
            "--chain",
            format!(
                "'{}' is neither a built-in chain (quicknet, quicknet-t, default, fastnet, \
                 testnet-unchained) nor an existing drand /info JSON file",
                arg.escape_debug()
            ),
        ));
    }
    let json = crate::fs::read_file_capped(path, MAX_CHAIN_INFO_JSON_LEN)?;
    Chain::from_info_json(&json)
        .map_err(|e| Error::value("--chain", format!("{}: {e}", path.display())))
}
