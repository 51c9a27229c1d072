//! Relay URLs: a base (`https://api.drand.sh`) or a chain URL ending in the
//! 64-hex chain hash (`http://127.0.0.1:8080/{hash}`, as drand clients use).

use core::fmt;

use veil_core::encoding::Hex;

use crate::Error;

/// The public drand relays used when no `--relay` is given.
pub const DEFAULT_RELAYS: [&str; 4] = [
    "https://api.drand.sh",
    "https://api2.drand.sh",
    "https://api3.drand.sh",
    "https://drand.cloudflare.com",
];

/// A relay pinned to one chain: requests go to `{base}/{chainhash}/...`.
#[derive(Clone, PartialEq, Eq)]
pub struct Relay {
    /// The chain URL, without a trailing slash.
    chain_url: String,
}

impl Relay {
    /// Parses `url` for the chain `chain_hash`. A query string or fragment is
    /// ignored; a trailing chain hash must be `chain_hash`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for a URL that is not http(s), or whose chain hash
    /// is another chain's.
    pub fn parse(url: &str, chain_hash: &[u8; 32]) -> Result<Self, Error> {
        let trimmed = url.trim();
        let without_query = trimmed.split(['?', '#']).next().unwrap_or_default();
        let base = without_query.trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| Error::value("--relay", format!("{url:?} is not an http(s) URL")))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(Error::value("--relay", format!("{url:?} has no host")));
        }
        let want = Hex(chain_hash).to_string();
        let (base, last) = base.rsplit_once('/').unwrap_or((base, ""));
        let chain_url = if last.len() == 64 && last.bytes().all(|b| b.is_ascii_hexdigit()) {
            if !last.eq_ignore_ascii_case(&want) {
                return Err(Error::value(
                    "--relay",
                    format!("{url:?} is for chain {last}, not for --chain's {want}"),
                ));
            }
            format!("{base}/{want}")
        } else {
            format!("{}/{want}", without_query.trim_end_matches('/'))
        };
        Ok(Self { chain_url })
    }

    /// `{chain URL}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.chain_url)
    }

    /// The chain URL (what drand clients are given).
    pub fn chain_url(&self) -> &str {
        &self.chain_url
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain_url)
    }
}

impl fmt::Display for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: [u8; 32] = [0xab; 32];

    #[test]
    fn both_forms_and_queries() {
        let want = format!("https://api.drand.sh/{}", "ab".repeat(32));
        for url in [
            "https://api.drand.sh".to_owned(),
            "https://api.drand.sh/".to_owned(),
            format!("https://api.drand.sh/{}", "ab".repeat(32)),
            format!("https://api.drand.sh/{}/?1700000000", "AB".repeat(32)),
            "https://api.drand.sh?x=1".to_owned(),
        ] {
            assert_eq!(Relay::parse(&url, &H).unwrap().chain_url(), want, "{url}");
        }
        assert_eq!(
            Relay::parse("http://127.0.0.1:9/x", &H)
                .unwrap()
                .url("info"),
            format!("http://127.0.0.1:9/x/{}/info", "ab".repeat(32))
        );
    }

    #[test]
    fn refusals() {
        for url in [
            "ftp://x",
            "api.drand.sh",
            "http://",
            "https:///x",
            &format!("http://h/{}", "cd".repeat(32)),
        ] {
            assert!(Relay::parse(url, &H).is_err(), "{url}");
        }
    }
}
