//! Where a hotkey comes from: `--seed HEX` (one-shot commands only),
//! `--seed-file F`, the [`SEED_ENV`] variable, or a bittensor wallet's
//! hotkey file (`{path}/{name}/hotkeys/{hotkey}`, plaintext JSON).
//!
//! Files holding secrets must not be readable by group or others; veil
//! refuses them rather than use a key that may already have leaked. Secret
//! bytes live in `Zeroizing` buffers (JSON fields are borrowed from the
//! file's wiped buffer, never copied into strings of their own) and never
//! reach an error message. A long-running command's command line is
//! readable by every local user for its lifetime, so it takes no `--seed`.

use std::path::{Path, PathBuf};

use rand_core::RngCore as _;
use veil_core::encoding;
use veil_core::sign::{Keypair, PublicKey};
use veil_core::ss58;
use zeroize::Zeroizing;

use crate::Error;
use crate::limits::MAX_KEY_FILE;

/// The variable a seed may come from (hex, as `--seed`): never passed to
/// a child process (veil's children start from a cleared environment,
/// [`crate::process`]).
pub const SEED_ENV: &str = "VEIL_SEED";

/// A keypair from [`SEED_ENV`], when it is set.
///
/// # Errors
///
/// [`Error::Value`] naming the variable for a value that is not a seed.
pub fn keypair_from_seed_env() -> Result<Option<Keypair>, Error> {
    match std::env::var_os(SEED_ENV) {
        None => Ok(None),
        Some(value) => {
            let value = Zeroizing::new(value.into_encoded_bytes());
            let text = core::str::from_utf8(&value)
                .map_err(|_| Error::value(SEED_ENV, "not a hex seed"))?;
            keypair_from_seed_hex(SEED_ENV, text).map(Some)
        }
    }
}

/// The SS58 address (bittensor's prefix 42) of a key.
pub fn address_of(key: &PublicKey) -> String {
    ss58::encode(ss58::BITTENSOR_PREFIX, &key.to_bytes()).to_string()
}

/// A fresh keypair from the OS's CSPRNG (the sandbox's throwaway hotkeys).
///
/// # Errors
///
/// Never in practice: a 32-byte mini secret is always valid.
pub fn random_keypair() -> Result<Keypair, Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand_core::OsRng.fill_bytes(&mut *seed);
    Keypair::from_mini_secret(&seed).map_err(|e| Error::Content(format!("keypair: {e}")))
}

/// The bittensor wallet coordinates, with `BT_WALLET_*` and defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletRef {
    /// Wallet name (`BT_WALLET_NAME`, default `default`).
    pub name: String,
    /// Hotkey name (`BT_WALLET_HOTKEY`, default `default`).
    pub hotkey: String,
    /// Wallets directory (`BT_WALLET_PATH`, default `~/.bittensor/wallets`).
    pub path: PathBuf,
}

impl WalletRef {
    /// Fills what the command line left out from the environment, then the
    /// defaults bittensor uses.
    pub fn resolve(name: Option<String>, hotkey: Option<String>, path: Option<PathBuf>) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        Self {
            name: name
                .or_else(|| env("BT_WALLET_NAME"))
                // GRAIL's spelling.
                .or_else(|| env("BT_WALLET_COLD"))
                .unwrap_or_else(|| "default".into()),
            hotkey: hotkey
                .or_else(|| env("BT_WALLET_HOTKEY"))
                .or_else(|| env("BT_WALLET_HOT"))
                .unwrap_or_else(|| "default".into()),
            path: path
                .or_else(|| env("BT_WALLET_PATH").map(PathBuf::from))
                .unwrap_or_else(|| home.join(".bittensor/wallets")),
        }
    }

    /// The hotkey file.
    pub fn hotkey_file(&self) -> PathBuf {
        expand_tilde(&self.path)
            .join(&self.name)
            .join("hotkeys")
            .join(&self.hotkey)
    }
}

fn expand_tilde(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_owned(),
    }
}

/// A keypair from hex seed text: 32 bytes (mini secret) or 64 (secret key).
///
/// # Errors
///
/// [`Error::Value`] naming `what`; the seed itself is never echoed.
pub fn keypair_from_seed_hex(what: &'static str, hex: &str) -> Result<Keypair, Error> {
    let mut buf = Zeroizing::new([0u8; 64]);
    let seed =
        encoding::decode_into(hex.trim(), &mut buf[..]).map_err(|e| Error::value(what, e))?;
    Keypair::from_seed(seed).map_err(|e| Error::value(what, e))
}

/// Reads a secret file: refuses one readable by group or others, and caps
/// its size.
///
/// # Errors
///
/// [`Error::Read`], [`Error::Content`] for loose permissions, or
/// [`Error::FileTooLarge`].
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Content(format!(
                "{} is readable by others (mode {:o}): run chmod 600 on it",
                path.display(),
                mode & 0o777
            )));
        }
    }
    Ok(Zeroizing::new(crate::fs::read_file_capped(
        path,
        MAX_KEY_FILE,
    )?))
}

/// A keypair from a file holding the hex seed (whitespace around it allowed).
///
/// # Errors
///
/// As [`read_secret_file`] and [`keypair_from_seed_hex`].
pub fn keypair_from_seed_file(path: &Path) -> Result<Keypair, Error> {
    let bytes = read_secret_file(path)?;
    let text = core::str::from_utf8(&bytes)
        .map_err(|_| Error::Content(format!("{}: not a hex seed", path.display())))?;
    keypair_from_seed_hex("--seed-file", text)
}

/// The fields of a bittensor hotkey file veil reads (others are ignored).
#[derive(serde::Deserialize)]
struct Keyfile<'a> {
    #[serde(rename = "secretSeed", default, borrow)]
    secret_seed: Option<&'a str>,
    #[serde(rename = "privateKey", default, borrow)]
    private_key: Option<&'a str>,
    #[serde(rename = "publicKey", default, borrow)]
    public_key: Option<&'a str>,
}

/// A keypair from a bittensor hotkey file: `secretSeed` (32 bytes) first,
/// then `privateKey` (64 bytes); `publicKey`, when present, must match.
/// Extra fields and non-string values (`cryptoType: 1`) are tolerated.
///
/// # Errors
///
/// As [`read_secret_file`], or [`Error::Content`] for a file that is not a
/// usable hotkey.
pub fn keypair_from_wallet(wallet: &WalletRef) -> Result<Keypair, Error> {
    let path = wallet.hotkey_file();
    let bytes = read_secret_file(&path)?;
    let bad = |why: &str| Error::Content(format!("{}: {why}", path.display()));
    // The secrets are borrowed from `bytes` (wiped on drop): hex has no
    // escapes, so serde never copies them into strings of its own.
    let json: Keyfile<'_> = serde_json::from_slice(&bytes).map_err(|_| {
        bad("not a bittensor keyfile (JSON expected; encrypted hotkeys are not supported)")
    })?;
    let keypair = match (json.secret_seed, json.private_key) {
        (Some(seed), _) => keypair_from_seed_hex("secretSeed", seed),
        (None, Some(private)) => keypair_from_seed_hex("privateKey", private),
        (None, None) => Err(bad("has neither secretSeed nor privateKey")),
    }
    .map_err(|e| match e {
        Error::Value { what, reason } => bad(&format!("{what}: {reason}")),
        other => other,
    })?;
    if let Some(pk) = json.public_key {
        let expected = encoding::decode_array::<32>(pk)
            .map_err(|_| bad("publicKey is not 32 bytes of hex"))?;
        if expected != keypair.public().to_bytes() {
            return Err(bad("publicKey does not match the secret"));
        }
    }
    Ok(keypair)
}
