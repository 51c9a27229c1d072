//! Resolving `--chain`: a built-in name, a built-in chain's hash (as drand
//! `tle -c` takes it), or the path of a drand `/info` file.

use std::path::Path;

use veil_core::{BuiltinChain, Chain, ChainError, limits::MAX_CHAIN_INFO_JSON_LEN};

use crate::Error;

/// The chain used when none is named.
pub const DEFAULT_CHAIN: BuiltinChain = BuiltinChain::Quicknet;

/// Resolves a `--chain` value: a built-in name or alias first, then a
/// built-in chain's hash (64 hex), otherwise the path of a drand `/info`
/// JSON file (read with a size cap, validated, hash
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
    if arg.len() == 64 && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
        for builtin in BuiltinChain::ALL {
            let chain = builtin.chain().map_err(veil_core::Error::from)?;
            if hex::encode(chain.hash()).eq_ignore_ascii_case(arg) {
                return Ok(chain);
            }
        }
        return Err(Error::value(
            "--chain",
            format!(
                "{arg} is not the hash of a built-in chain (quicknet, quicknet-t, default, \
                 fastnet, testnet-unchained): give the chain's /info JSON file"
            ),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_hash_names_its_built_in_chain() {
        // quicknet's hash, from drand's /info (shared vectors/chains.json).
        let quicknet = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";
        let c = resolve(quicknet).unwrap();
        assert_eq!(hex::encode(c.hash()), quicknet);
        assert_eq!(resolve(&quicknet.to_uppercase()).unwrap().hash(), c.hash());
        let e = resolve(&"ab".repeat(32)).unwrap_err().to_string();
        assert!(e.contains("not the hash of a built-in chain"), "{e}");
    }
}
