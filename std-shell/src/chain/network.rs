//! Which subtensor node to talk to: `--subtensor.network NAME`,
//! `--subtensor.chain_endpoint URL` (or the older `--subtensor URL`), and the
//! environment bittensor reads (`BT_SUBTENSOR_CHAIN_ENDPOINT` /
//! `BT_CHAIN_ENDPOINT`, then `BT_SUBTENSOR_NETWORK` / `BT_NETWORK`).
//!
//! The named networks' endpoints are bittensor's (`bittensor/core/settings.py`
//! of bittensor 10.5: `FINNEY_ENTRYPOINT`, `FINNEY_TEST_ENTRYPOINT`,
//! `ARCHIVE_ENTRYPOINT`, `LOCAL_ENTRYPOINT`).

use crate::Error;

/// A named subtensor network and its public endpoint.
pub const NETWORKS: [(&str, &str); 4] = [
    ("finney", "wss://entrypoint-finney.opentensor.ai:443"),
    ("test", "wss://test.finney.opentensor.ai:443"),
    ("archive", "wss://archive.chain.opentensor.ai:443"),
    ("local", "ws://127.0.0.1:9944"),
];

/// What the command line said (each `None` when absent).
#[derive(Clone, Debug, Default)]
pub struct EndpointArgs {
    /// `--subtensor.network NAME` (a URL here is taken as an endpoint, as
    /// bittensor does).
    pub network: Option<String>,
    /// `--subtensor.chain_endpoint URL`.
    pub chain_endpoint: Option<String>,
    /// `--subtensor URL`, the older spelling of the endpoint.
    pub subtensor: Option<String>,
}

impl EndpointArgs {
    /// Whether the command line named any node.
    pub fn given(&self) -> bool {
        self.network.is_some() || self.chain_endpoint.is_some() || self.subtensor.is_some()
    }
}

/// The endpoint of a named network.
///
/// # Errors
///
/// [`Error::Value`] for a name bittensor does not know.
pub fn endpoint_of(name: &str) -> Result<&'static str, Error> {
    NETWORKS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, url)| *url)
        .ok_or_else(|| {
            Error::value(
                "--subtensor.network",
                "not one of finney, test, archive, local (or a ws:// / wss:// URL)",
            )
        })
}

/// The node's URL: the command line first (endpoint, then the older
/// `--subtensor`, then the network), then the environment (endpoint, then
/// network). `None` when nothing names a node. `env` reads a variable.
///
/// # Errors
///
/// [`Error::Value`] for an unknown network name or a URL that is not
/// `ws://` or `wss://`.
pub fn resolve(
    args: &EndpointArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, Error> {
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let env_endpoint = || {
        nonempty(env("BT_SUBTENSOR_CHAIN_ENDPOINT")).or_else(|| nonempty(env("BT_CHAIN_ENDPOINT")))
    };
    let env_network =
        || nonempty(env("BT_SUBTENSOR_NETWORK")).or_else(|| nonempty(env("BT_NETWORK")));
    let (flag, value) = if let Some(url) = &args.chain_endpoint {
        ("--subtensor.chain_endpoint", url.clone())
    } else if let Some(url) = &args.subtensor {
        ("--subtensor", url.clone())
    } else if let Some(name) = &args.network {
        ("--subtensor.network", name.clone())
    } else if let Some(url) = env_endpoint() {
        ("BT_SUBTENSOR_CHAIN_ENDPOINT", url)
    } else if let Some(name) = env_network() {
        ("BT_SUBTENSOR_NETWORK", name)
    } else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if value.contains("://") {
        if value.starts_with("ws://") || value.starts_with("wss://") {
            Ok(Some(value))
        } else {
            Err(Error::value(flag, "a node URL must be ws:// or wss://"))
        }
    } else {
        endpoint_of(&value)
            .map(|url| Some(url.to_owned()))
            .map_err(|_| {
                Error::value(
                    flag,
                    "not one of finney, test, archive, local (or a ws:// / wss:// URL)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn named_networks_are_bittensors_endpoints() {
        // bittensor 10.5, bittensor/core/settings.py.
        assert_eq!(
            endpoint_of("finney").unwrap(),
            "wss://entrypoint-finney.opentensor.ai:443"
        );
        assert_eq!(
            endpoint_of("test").unwrap(),
            "wss://test.finney.opentensor.ai:443"
        );
        assert_eq!(
            endpoint_of("archive").unwrap(),
            "wss://archive.chain.opentensor.ai:443"
        );
        assert_eq!(endpoint_of("local").unwrap(), "ws://127.0.0.1:9944");
        assert!(endpoint_of("mainnet").is_err());
    }

    #[test]
    fn precedence_flags_then_environment() {
        let args = |n: Option<&str>, e: Option<&str>, s: Option<&str>| EndpointArgs {
            network: n.map(Into::into),
            chain_endpoint: e.map(Into::into),
            subtensor: s.map(Into::into),
        };
        let env = |k: &str| match k {
            "BT_CHAIN_ENDPOINT" => Some("ws://10.0.0.1:9944".to_owned()),
            "BT_NETWORK" => Some("test".to_owned()),
            _ => None,
        };
        let r = |a: &EndpointArgs, e: &dyn Fn(&str) -> Option<String>| resolve(a, e).unwrap();
        assert_eq!(r(&args(None, None, None), &no_env), None);
        assert_eq!(
            r(&args(None, None, None), &env).as_deref(),
            Some("ws://10.0.0.1:9944")
        );
        let only_network = |k: &str| (k == "BT_SUBTENSOR_NETWORK").then(|| "finney".to_owned());
        assert_eq!(
            r(&args(None, None, None), &only_network).as_deref(),
            Some("wss://entrypoint-finney.opentensor.ai:443")
        );
        assert_eq!(
            r(&args(Some("local"), None, None), &env).as_deref(),
            Some("ws://127.0.0.1:9944")
        );
        assert_eq!(
            r(&args(Some("local"), None, Some("ws://a:1")), &env).as_deref(),
            Some("ws://a:1")
        );
        assert_eq!(
            r(
                &args(Some("local"), Some("wss://b:2"), Some("ws://a:1")),
                &env
            )
            .as_deref(),
            Some("wss://b:2")
        );
        // A URL given as the network is an endpoint, as in bittensor.
        assert_eq!(
            r(&args(Some("ws://c:3"), None, None), &no_env).as_deref(),
            Some("ws://c:3")
        );
        let e = resolve(&args(Some("nope"), None, None), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--subtensor.network"), "{e}");
        let e = resolve(&args(None, Some("http://x"), None), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ws://"), "{e}");
    }
}
