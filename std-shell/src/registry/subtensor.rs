//! Commitments read from subtensor over JSON-RPC on WebSocket, what public
//! subtensor endpoints (`wss://entrypoint-finney.opentensor.ai:443`) serve.
//!
//! One fetch is one connection and a consistent snapshot:
//!
//! 1. `chain_getFinalizedHead` pins a block, so every page below reads the
//!    same state;
//! 2. `state_getKeysPaged(prefix ‖ netuid, page, start, block)` enumerates the
//!    subnet's `Commitments.CommitmentOf` keys, page by page;
//! 3. `state_queryStorageAt(keys, block)` reads each page's values;
//! 4. the hotkey comes from each key, the commitment from each value
//!    ([`veil_core::subtensor`]).
//!
//! Bounds: WebSocket messages up to 16 MiB, values up to 8 KiB, at most
//! [`MAX_ENTRIES`] keys, and every call under a timeout. A value that does not
//! hold a read commitment is skipped with a reason, not fatal.

use core::fmt;
use core::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use veil_core::subtensor::{Registration, account_of_key, storage_prefix};

use super::{Commitment, CommitmentRegistry, Commitments};
use crate::Error;

pub use crate::limits::MAX_CHAIN_COMMITMENTS as MAX_ENTRIES;
use crate::limits::{
    MAX_CHAIN_MESSAGE as MAX_MESSAGE, MAX_CHAIN_VALUE as MAX_VALUE, MAX_REGISTRY_READ_TIME,
};

/// Options of a [`SubtensorRegistry`].
#[derive(Clone, Copy, Debug)]
pub struct SubtensorOptions {
    /// Keys per `state_getKeysPaged` page (1 to 1000).
    pub page: u32,
    /// Timeout of the connection and of each call (GRAIL: 20 s).
    pub timeout: Duration,
}

impl Default for SubtensorOptions {
    fn default() -> Self {
        Self {
            page: 1000,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Subnet `netuid`'s commitments on the node at `url` (`ws://` or `wss://`).
#[derive(Clone)]
pub struct SubtensorRegistry {
    url: String,
    /// `scheme://host:port` only: node URLs often carry API keys in the
    /// user info, path or query, which stay out of messages.
    shown: String,
    netuid: u16,
    options: SubtensorOptions,
}

impl fmt::Debug for SubtensorRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubtensorRegistry")
            .field("url", &self.shown)
            .field("netuid", &self.netuid)
            .finish_non_exhaustive()
    }
}

impl SubtensorRegistry {
    /// A reader of subnet `netuid` on the node at `url`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for a URL that is not `ws://` or `wss://`, or a page
    /// size outside 1..=1000.
    pub fn new(url: &str, netuid: u16, options: SubtensorOptions) -> Result<Self, Error> {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(Error::value(
                "--subtensor",
                "expected a ws:// or wss:// URL",
            ));
        }
        if !(1..=1000).contains(&options.page) {
            return Err(Error::value("page", "1 to 1000 keys"));
        }
        let shown = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(p) => format!("{}://{host}:{p}", u.scheme()),
                    None => format!("{}://{host}", u.scheme()),
                })
            })
            .ok_or_else(|| Error::value("--subtensor", "not a valid URL"))?;
        Ok(Self {
            url: url.to_owned(),
            shown,
            netuid,
            options,
        })
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One JSON-RPC connection.
struct Rpc<'a> {
    socket: Socket,
    next_id: u64,
    url: &'a str,
    timeout: Duration,
}

impl Rpc<'_> {
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        let fail = |why: String| Error::Content(format!("subtensor {} {method}: {why}", self.url));
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let exchange = async {
            self.socket
                .send(Message::text(request.to_string()))
                .await
                .map_err(|e| fail(e.to_string()))?;
            loop {
                let msg = self
                    .socket
                    .next()
                    .await
                    .ok_or_else(|| fail("connection closed".to_owned()))?
                    .map_err(|e| fail(e.to_string()))?;
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(b) => String::from_utf8(b.to_vec())
                        .map_err(|_| fail("binary frame".to_owned()))?,
                    Message::Close(_) => return Err(fail("connection closed".to_owned())),
                    _ => continue,
                };
                let v: Value = serde_json::from_str(&text)
                    .map_err(|e| fail(format!("malformed response: {e}")))?;
                // Other traffic on the socket (subscriptions) is not ours.
                if v.get("id").and_then(Value::as_u64) != Some(id) {
                    continue;
                }
                if let Some(err) = v.get("error") {
                    let msg = crate::text::peer_line(
                        err.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("error"),
                    );
                    let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
                    return Err(fail(format!("{msg} ({code})")));
                }
                return v
                    .get("result")
                    .cloned()
                    .ok_or_else(|| fail("response without a result".to_owned()));
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| fail(format!("no answer within {:?}", self.timeout)))?
    }
}

/// A node's `0x`-prefixed hex value of at most `max` bytes.
fn hex_of(v: &Value, max: usize) -> Option<Vec<u8>> {
    let s = v.as_str().filter(|s| s.starts_with("0x"))?;
    veil_core::encoding::decode_vec(s, max).ok()
}

#[async_trait::async_trait]
impl CommitmentRegistry for SubtensorRegistry {
    fn describe(&self) -> String {
        format!("subtensor {} (netuid {})", self.shown, self.netuid)
    }

    async fn fetch(&self) -> Result<Commitments, Error> {
        // Each call has its timeout; the whole read (every page) has one too.
        tokio::time::timeout(MAX_REGISTRY_READ_TIME, self.fetch_all())
            .await
            .map_err(|_| {
                Error::Content(format!(
                    "subtensor {}: the commitments were not read within {:?}",
                    self.shown, MAX_REGISTRY_READ_TIME
                ))
            })?
    }
}

impl SubtensorRegistry {
    async fn fetch_all(&self) -> Result<Commitments, Error> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (socket, _) = tokio::time::timeout(
            self.options.timeout,
            tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), true),
        )
        .await
        .map_err(|_| {
            Error::Content(format!(
                "subtensor {}: cannot connect within {:?}",
                self.shown, self.options.timeout
            ))
        })?
        .map_err(|e| Error::Content(format!("subtensor {}: cannot connect: {e}", self.shown)))?;
        let mut rpc = Rpc {
            socket,
            next_id: 0,
            url: &self.shown,
            timeout: self.options.timeout,
        };
        let head = rpc.call("chain_getFinalizedHead", json!([])).await?;
        if hex_of(&head, 32).is_none_or(|h| h.len() != 32) {
            return Err(Error::Content(format!(
                "subtensor {}: malformed finalized head",
                self.shown
            )));
        }
        let prefix = format!("0x{}", hex::encode(storage_prefix(self.netuid)));
        let mut out = Commitments::default();
        let mut start: Option<String> = None;
        let mut seen = 0usize;
        loop {
            let keys = rpc
                .call(
                    "state_getKeysPaged",
                    json!([prefix, self.options.page, start, head]),
                )
                .await?;
            let keys: Vec<String> = keys
                .as_array()
                .ok_or_else(|| {
                    Error::Content(format!(
                        "subtensor {}: state_getKeysPaged: not a list",
                        self.shown
                    ))
                })?
                .iter()
                // Lowercase, so that string order is byte order below.
                .filter_map(|k| k.as_str().map(str::to_ascii_lowercase))
                .collect();
            if keys.is_empty() {
                break;
            }
            // A node must answer in order past `start`; refuse to loop.
            if start.as_ref().is_some_and(|s| keys.iter().any(|k| k <= s)) {
                return Err(Error::Content(format!(
                    "subtensor {}: keys out of order",
                    self.shown
                )));
            }
            seen += keys.len();
            if seen > MAX_ENTRIES {
                return Err(Error::Content(format!(
                    "subtensor {}: more than {MAX_ENTRIES} commitments on netuid {}",
                    self.shown, self.netuid
                )));
            }
            let sets = rpc
                .call("state_queryStorageAt", json!([keys, head]))
                .await?;
            // Only the keys asked for, each once: a node cannot grow the set.
            let mut wanted: std::collections::HashSet<&str> =
                keys.iter().map(String::as_str).collect();
            for change in sets
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|set| set.get("changes").and_then(Value::as_array))
                .flatten()
            {
                let (Some(key), Some(value)) = (change.get(0), change.get(1)) else {
                    continue;
                };
                let Some(k) = key.as_str().map(str::to_ascii_lowercase) else {
                    continue;
                };
                if !wanted.remove(k.as_str()) {
                    continue;
                }
                self.decode_entry(key, value, &mut out);
            }
            // Until an empty page: a node (or proxy) capping pages below the
            // size asked for must not truncate the set silently. The strict
            // order check and the entry cap bound the loop.
            start = keys.last().cloned();
        }
        let _ = rpc.socket.close(None).await;
        Ok(out)
    }
}

impl SubtensorRegistry {
    fn decode_entry(&self, key: &Value, value: &Value, out: &mut Commitments) {
        let Some(key_bytes) = hex_of(key, 128) else {
            out.skipped.push("a malformed storage key".to_owned());
            return;
        };
        let Ok(account) = account_of_key(&key_bytes, self.netuid) else {
            out.skipped.push(format!(
                "storage key 0x{} is not a commitment of this subnet",
                hex::encode(&key_bytes)
            ));
            return;
        };
        let hotkey = veil_core::ss58::encode(veil_core::ss58::BITTENSOR_PREFIX, &account);
        let hotkey = hotkey.as_str().to_owned();
        if value.is_null() {
            return; // removed between the two calls
        }
        let Some(bytes) = hex_of(value, MAX_VALUE) else {
            out.skipped
                .push(format!("{hotkey}: malformed or oversized value"));
            return;
        };
        let parsed = Registration::decode(&bytes)
            .and_then(|r| r.read_commitment().map(|c| Commitment::from_read(&c)));
        match parsed {
            Ok(Ok(c)) => {
                out.entries.insert(hotkey, c);
            }
            Ok(Err(e)) => out.skipped.push(format!("{hotkey}: {e}")),
            Err(e) => out.skipped.push(format!("{hotkey}: {e}")),
        }
    }
}
