//! One subtensor node: a reconnecting WebSocket JSON-RPC client (subxt's,
//! bounded), the metadata read from the node, extrinsics signed and watched
//! to inclusion, and each call under an overall deadline.

use core::fmt;
use core::future::Future;
use core::time::Duration;

use subxt::OnlineClient;
use subxt::backend::LegacyBackend;
use subxt::client::OnlineClientAtBlock;
use subxt::config::RpcConfigFor;
use subxt::error::{DispatchError, TransactionEventsError};
use subxt::ext::frame_decode::storage::{IntoDecodableValues, IntoEncodableValues};
use subxt::ext::scale_decode::DecodeAsType;
use subxt::rpcs::client::ReconnectingRpcClient;
use subxt::rpcs::{LegacyRpcMethods, RpcClient};
use subxt::tx::{Payload, TransactionStatus};
use subxt::utils::{AccountId32, H256};
use veil_core::sign::Keypair;

use super::config::{Signer, SubtensorConfig, TxParams, check_extensions};
use crate::Error;
use crate::limits::{MAX_CHAIN_MESSAGE, MAX_CHAIN_REQUEST};

/// Options of a [`Subtensor`] client.
#[derive(Clone, Copy, Debug)]
pub struct ChainOptions {
    /// Deadline of one read, of the connection, and of each reconnect.
    pub call: Duration,
    /// Deadline of one extrinsic, from signing to inclusion.
    pub extrinsic: Duration,
    /// Mortality of extrinsics, in blocks.
    pub mortal_blocks: u64,
}

impl Default for ChainOptions {
    fn default() -> Self {
        Self {
            call: Duration::from_secs(30),
            extrinsic: Duration::from_secs(120),
            mortal_blocks: 64,
        }
    }
}

/// Where an extrinsic landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Included {
    /// The block's hash.
    pub block: H256,
}

/// A connection to one subtensor node.
#[derive(Clone)]
pub struct Subtensor {
    shown: String,
    api: OnlineClient<SubtensorConfig>,
    rpc: LegacyRpcMethods<RpcConfigFor<SubtensorConfig>>,
    options: ChainOptions,
}

impl fmt::Debug for Subtensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subtensor")
            .field("node", &self.shown)
            .finish_non_exhaustive()
    }
}

/// `scheme://host:port` of a node URL: URLs often carry API keys in the
/// user info, path or query, which stay out of messages.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port_or_known_default()
                .map(|p| format!(":{p}"))
                .unwrap_or_default()
        ),
        Err(_) => "(a malformed URL)".to_owned(),
    }
}

impl Subtensor {
    /// Connects to the node at `url` (`ws://` or `wss://`) and reads its
    /// metadata; refuses a runtime whose transaction extensions veil cannot
    /// fill (naming the extension).
    ///
    /// # Errors
    ///
    /// [`Error::Value`] for a URL that is not `ws://` or `wss://`;
    /// [`Error::Content`] when the node cannot be reached within the
    /// deadline or its runtime cannot be used.
    pub async fn connect(url: &str, options: ChainOptions) -> Result<Self, Error> {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(Error::value(
                "--subtensor.chain_endpoint",
                "a node URL must be ws:// or wss://",
            ));
        }
        let shown = shown_url(url);
        // A library's error may quote the URL, which can carry an API key:
        // only `scheme://host:port` reaches a message.
        let fail = |why: String| {
            Error::Content(format!("subtensor {shown}: {}", why.replace(url, &shown)))
        };
        let connect = async {
            let rpc = ReconnectingRpcClient::builder()
                .max_response_size(u32::try_from(MAX_CHAIN_MESSAGE).unwrap_or(u32::MAX))
                .max_request_size(MAX_CHAIN_REQUEST)
                .request_timeout(options.call)
                .connection_timeout(options.call)
                .build(url)
                .await
                .map_err(|e| fail(format!("cannot connect: {e}")))?;
            let rpc = RpcClient::new(rpc);
            let backend = LegacyBackend::<SubtensorConfig>::builder().build(rpc.clone());
            let api = OnlineClient::from_backend_with_config(
                SubtensorConfig::new(),
                alloc::sync::Arc::new(backend),
            )
            .await
            .map_err(|e| fail(format!("cannot read the chain: {e}")))?;
            Ok::<_, Error>((api, LegacyRpcMethods::new(rpc)))
        };
        let (api, rpc) = tokio::time::timeout(options.call, connect)
            .await
            .map_err(|_| fail(format!("cannot connect within {:?}", options.call)))??;
        let this = Self {
            shown,
            api,
            rpc,
            options,
        };
        let at = this.at().await?;
        check_extensions(at.metadata_ref()).map_err(|e| this.fail(e))?;
        Ok(this)
    }

    /// The node, as shown in messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// An error about this node.
    pub fn fail(&self, why: impl fmt::Display) -> Error {
        Error::Content(format!("subtensor {}: {why}", self.shown))
    }

    /// Runs `f` under the call deadline.
    ///
    /// # Errors
    ///
    /// `f`'s error, or one naming `what` when the deadline passes.
    pub async fn within<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        tokio::time::timeout(self.options.call, f)
            .await
            .map_err(|_| self.fail(format!("{what}: no answer within {:?}", self.options.call)))?
    }

    /// The chain at its newest finalized block.
    ///
    /// # Errors
    ///
    /// When the node does not answer.
    pub async fn at(&self) -> Result<OnlineClientAtBlock<SubtensorConfig>, Error> {
        self.within("the newest block", async {
            self.api
                .at_current_block()
                .await
                .map_err(|e| self.fail(format!("the newest block: {e}")))
        })
        .await
    }

    /// The chain at block `hash`.
    ///
    /// # Errors
    ///
    /// When the node does not answer.
    pub async fn at_hash(&self, hash: H256) -> Result<OnlineClientAtBlock<SubtensorConfig>, Error> {
        self.within("a block", async {
            self.api
                .at_block(hash)
                .await
                .map_err(|e| self.fail(format!("block {hash:?}: {e}")))
        })
        .await
    }

    /// Signs `call` with `key`, submits it and waits until it is in a
    /// block; a dispatch error comes back as one line naming the pallet's
    /// error (`SubtensorModule::HotKeyNotRegisteredInSubNet: …`).
    ///
    /// # Errors
    ///
    /// [`Error::Content`]: the node refused the extrinsic, it failed, or it
    /// was not included within the extrinsic deadline.
    pub async fn submit<C: Payload>(
        &self,
        what: &str,
        call: &C,
        key: &Keypair,
    ) -> Result<Included, Error> {
        let signer = Signer(key);
        let account = AccountId32(key.public().to_bytes());
        let run = async {
            // The pool-aware nonce: two extrinsics in a row must not share one.
            let nonce = self
                .rpc
                .system_account_next_index(&account)
                .await
                .map_err(|e| self.fail(format!("{what}: the account's nonce: {e}")))?;
            let params = TxParams {
                tip: 0,
                mortal_blocks: self.options.mortal_blocks,
                nonce: Some(nonce),
                block: None,
            };
            let mut tx = self.at().await?.tx();
            let mut progress = tx
                .sign_and_submit_then_watch(call, &signer, params)
                .await
                .map_err(|e| self.fail(format!("{what}: refused: {}", one_line(&e.to_string()))))?;
            while let Some(status) = progress.next().await {
                let status = status.map_err(|e| self.fail(format!("{what}: {e}")))?;
                match status {
                    TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b) => {
                        let block = b.block_hash();
                        return match b.wait_for_success().await {
                            Ok(_) => Ok(Included { block }),
                            Err(e) => Err(self.fail(format!("{what}: {}", dispatch_line(&e)))),
                        };
                    }
                    TransactionStatus::Invalid { message }
                    | TransactionStatus::Dropped { message }
                    | TransactionStatus::Error { message } => {
                        return Err(self.fail(format!("{what}: refused: {}", one_line(&message))));
                    }
                    _ => {}
                }
            }
            Err(self.fail(format!(
                "{what}: the node stopped reporting before inclusion"
            )))
        };
        tokio::time::timeout(self.options.extrinsic, run)
            .await
            .map_err(|_| {
                self.fail(format!(
                    "{what}: not included within {:?}",
                    self.options.extrinsic
                ))
            })?
    }
}

/// A storage value at `at`: the metadata's default when absent.
///
/// # Errors
///
/// When the node fails or the value is not a `V`.
pub async fn read<K, V>(
    chain: &Subtensor,
    at: &OnlineClientAtBlock<SubtensorConfig>,
    (pallet, entry): (&str, &str),
    keys: K,
) -> Result<V, Error>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let fail = |e: &dyn fmt::Display| chain.fail(format!("{pallet}.{entry}: {e}"));
    let what = format!("{pallet}.{entry}");
    chain
        .within(&what, async {
            at.storage()
                .fetch(subxt::dynamic::storage::<K, V>(pallet, entry), keys)
                .await
                .map_err(|e| fail(&e))?
                .decode_as::<V>()
                .map_err(|e| fail(&e))
        })
        .await
}

/// A storage value at `at`, `None` when absent.
///
/// # Errors
///
/// When the node fails or the value is not a `V`.
pub async fn try_read<K, V>(
    chain: &Subtensor,
    at: &OnlineClientAtBlock<SubtensorConfig>,
    (pallet, entry): (&str, &str),
    keys: K,
) -> Result<Option<V>, Error>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let fail = |e: &dyn fmt::Display| chain.fail(format!("{pallet}.{entry}: {e}"));
    let what = format!("{pallet}.{entry}");
    chain
        .within(&what, async {
            at.storage()
                .try_fetch(subxt::dynamic::storage::<K, V>(pallet, entry), keys)
                .await
                .map_err(|e| fail(&e))?
                .map(|v| v.decode_as::<V>().map_err(|e| fail(&e)))
                .transpose()
        })
        .await
}

/// One line of a dispatch error: `Pallet::Error` and its first doc line.
pub fn dispatch_line(e: &TransactionEventsError) -> String {
    match e {
        TransactionEventsError::ExtrinsicFailed(DispatchError::Module(m)) => match m.details() {
            Ok(d) => {
                let doc = d
                    .variant
                    .docs
                    .iter()
                    .map(|s| s.trim())
                    .find(|s| !s.is_empty());
                match doc {
                    Some(doc) => format!("{}::{}: {}", d.pallet.name(), d.variant.name, doc),
                    None => format!("{}::{}", d.pallet.name(), d.variant.name),
                }
            }
            Err(_) => m.details_string(),
        },
        TransactionEventsError::ExtrinsicFailed(other) => format!("failed: {other}"),
        other => one_line(&other.to_string()),
    }
}

fn one_line(s: &str) -> String {
    crate::text::peer_line(s)
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_node_url_is_shown_without_its_secrets() {
        assert_eq!(
            shown_url("wss://user:s3cret@node.example:443/ws/KEY123?apikey=abc"),
            "wss://node.example:443"
        );
        assert_eq!(shown_url("ws://127.0.0.1:9944"), "ws://127.0.0.1:9944");
        assert_eq!(shown_url("not a url"), "(a malformed URL)");
    }
}
