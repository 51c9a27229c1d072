//! `--config veil.toml`: the settings an operator keeps in a file, after
//! flags, the environment and the `.env` file (a setting already given by
//! any of them wins).
//!
//! Keys are the long flags' names (a dotted name or a table: `wallet.name`
//! or `[wallet] name`); each stands for the variable its flag reads, so the
//! file says nothing the environment could not:
//!
//! ```toml
//! netuid = 12
//! store = "s3://my-bucket"
//! allow = ["5F…", "5G…"]
//! log-format = "json"
//! [metrics]
//! port = 9100
//! [wallet]
//! name = "miner"
//! hotkey = "default"
//! [subtensor]
//! network = "finney"
//! ```
//!
//! No secret belongs here (keys stay in the wallet, `--seed-file` or the
//! `R2_*` environment): an unknown key is refused by name. The file is read
//! under the same rules as a `.env` file (this user's, not writable by
//! group or others, at most [`MAX_ENV_FILE`] bytes).

use std::path::Path;

use crate::Error;
use crate::limits::MAX_ENV_FILE;

/// Each key and the variable it sets.
pub const KEYS: [(&str, &str); 14] = [
    ("netuid", "NETUID"),
    ("store", "VEIL_STORE"),
    ("chain", "VEIL_CHAIN"),
    ("allow", "VEIL_ALLOW"),
    ("metrics.port", "VEIL_METRICS_PORT"),
    ("metrics.host", "VEIL_METRICS_HOST"),
    ("log-format", "VEIL_LOG_FORMAT"),
    ("log", "VEIL_LOG"),
    ("wallet.name", "BT_WALLET_NAME"),
    ("wallet.hotkey", "BT_WALLET_HOTKEY"),
    ("wallet.path", "BT_WALLET_PATH"),
    ("subtensor.network", "BT_SUBTENSOR_NETWORK"),
    ("subtensor.chain_endpoint", "BT_SUBTENSOR_CHAIN_ENDPOINT"),
    ("cache-dir", "VEIL_CACHE_DIR"),
];

/// The `(variable, value)` pairs of the config file at `path`.
///
/// # Errors
///
/// The file cannot be read or is not private (as [`super::envfile::read`]),
/// is not TOML, or holds an unknown key or a value that is not a string,
/// an integer, a boolean or (for `allow`) a list of strings.
pub fn read(path: &Path) -> Result<Vec<(&'static str, String)>, Error> {
    super::envfile::check_private(path)?;
    let bytes = crate::fs::read_own_file_capped(path, MAX_ENV_FILE)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Content(format!("{}: not UTF-8", path.display())))?;
    parse(&text).map_err(|why| Error::Content(format!("{}: {why}", path.display())))
}

fn parse(text: &str) -> Result<Vec<(&'static str, String)>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| crate::text::one_line(e.message()))?;
    let mut flat = Vec::new();
    flatten("", &table, &mut flat)?;
    let mut out = Vec::new();
    for (key, value) in flat {
        let normal = key
            .replace('_', "-")
            .replace("chain-endpoint", "chain_endpoint");
        let var = KEYS
            .iter()
            .find(|(k, _)| *k == normal)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                format!("unknown key {key} (known: {})", known.join(", "))
            })?;
        out.push((var, value));
    }
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let value = match v {
            toml::Value::Table(t) => {
                flatten(&key, t, out)?;
                continue;
            }
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{key}: a list of strings only"))?
                .join(","),
            _ => return Err(format!("{key}: a string, an integer or a boolean")),
        };
        out.push((key, value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_the_variables_their_flags_read() {
        let pairs = parse(
            "netuid = 12\nstore = \"dir:/srv\"\nallow = [\"5A\", \"5B\"]\nlog_format = \"json\"\n\
             [metrics]\nport = 9100\n[wallet]\nname = \"miner\"\n\
             [subtensor]\nchain_endpoint = \"ws://127.0.0.1:9944\"\n",
        )
        .unwrap();
        let get = |v: &str| pairs.iter().find(|(k, _)| *k == v).map(|(_, x)| x.as_str());
        assert_eq!(get("NETUID"), Some("12"));
        assert_eq!(get("VEIL_STORE"), Some("dir:/srv"));
        assert_eq!(get("VEIL_ALLOW"), Some("5A,5B"));
        assert_eq!(get("VEIL_LOG_FORMAT"), Some("json"));
        assert_eq!(get("VEIL_METRICS_PORT"), Some("9100"));
        assert_eq!(get("BT_WALLET_NAME"), Some("miner"));
        assert_eq!(
            get("BT_SUBTENSOR_CHAIN_ENDPOINT"),
            Some("ws://127.0.0.1:9944")
        );
    }

    #[test]
    fn secrets_and_unknown_keys_are_refused_by_name() {
        let e = parse("R2_WRITE_SECRET_ACCESS_KEY = \"x\"").unwrap_err();
        assert!(e.contains("unknown key R2_WRITE_SECRET_ACCESS_KEY"), "{e}");
        let e = parse("netuid = 1.5").unwrap_err();
        assert!(e.contains("netuid"), "{e}");
        let e = parse("allow = [1]").unwrap_err();
        assert!(e.contains("allow"), "{e}");
        assert!(parse("netuid = ").is_err());
    }
}
