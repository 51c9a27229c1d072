//! An in-process subtensor JSON-RPC node (WebSocket) serving `Commitments.CommitmentOf`.
//!
//! The node keeps a flat key → value [`Storage`] and answers the handful of
//! methods a commitments reader needs (`chain_getFinalizedHead`,
//! `chain_getBlockHash`, `state_getKeysPaged`, `state_queryStorageAt`,
//! `state_getStorage`) over JSON-RPC 2.0 text frames on `ws://127.0.0.1:PORT`.
//!
//! The SCALE encoding here ([`scale_compact`], [`Field`], [`registration`])
//! and the storage keys ([`twox128`], [`twox64`], [`commitment_of_key`]) are
//! written from the pallet's layout (the research notes, §5), independently of
//! veil's own reader, so that a test using this node checks the reader
//! against a second implementation rather than against itself.
//!
//! There is one block: the head. Its hash is derived from a counter of
//! storage mutations, so it is stable while the storage is unchanged and
//! changes whenever it changes; a hash from before a mutation is then an
//! unknown block, as on a pruned node.

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::ops::Bound;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;
use twox_hash::XxHash64;

/// The most keys `state_getKeysPaged` returns in one page (Substrate's limit).
pub const MAX_KEYS_PAGE: u64 = 1000;

/// Error code of a refused `state_getKeysPaged` count (Substrate's
/// `InvalidCount`, state base 4000 + 2).
pub const INVALID_COUNT: i64 = 4002;
/// Error code of a server-side failure ("node unavailable", "unknown block").
pub const SERVER_ERROR: i64 = -32000;
/// JSON-RPC "Method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "Invalid params".
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "Invalid request".
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "Parse error".
pub const PARSE_ERROR: i64 = -32700;

// ---------------------------------------------------------------- encoding --

/// One `Data` entry of a commitment (`CommitmentInfo.fields`), in the pallet's
/// custom SCALE encoding (see [`Field::encode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// Tag 0.
    None,
    /// Tags 1..=129: `Raw(n)` with n = tag − 1 ≤ 128, then the n bytes.
    Raw(Vec<u8>),
    /// Tag 130, then 32 bytes.
    BlakeTwo256([u8; 32]),
    /// Tag 131, then 32 bytes.
    Sha256([u8; 32]),
    /// Tag 132, then 32 bytes.
    Keccak256([u8; 32]),
    /// Tag 133, then 32 bytes.
    ShaThree256([u8; 32]),
    /// Tag 134, then compact-length-prefixed `encrypted` (≤ 1024 on chain),
    /// then `reveal_round` u64 LE.
    TimelockEncrypted {
        /// The ciphertext.
        encrypted: Vec<u8>,
        /// The drand round it reveals at.
        reveal_round: u64,
    },
    /// Tag 135.
    ResetBondsFlag,
    /// Tag 136, then compact-length-prefixed bytes (≤ 512 on chain).
    BigRaw(Vec<u8>),
}

impl Field {
    /// The SCALE encoding of this entry.
    ///
    /// The chain's bounds on `TimelockEncrypted` (1024) and `BigRaw` (512)
    /// are not enforced, so tests can build over-long values a reader must
    /// refuse.
    ///
    /// # Panics
    ///
    /// When a `Raw` holds more than 128 bytes: that has no encoding.
    pub fn encode(&self) -> Vec<u8> {
        fn hash(tag: u8, h: &[u8; 32]) -> Vec<u8> {
            let mut out = vec![tag];
            out.extend_from_slice(h);
            out
        }
        match self {
            Self::None => vec![0],
            Self::Raw(bytes) => {
                let tag = u8::try_from(bytes.len() + 1)
                    .ok()
                    .filter(|t| *t <= 129)
                    .unwrap_or_else(|| {
                        panic!("Field::Raw holds at most 128 bytes, not {}", bytes.len())
                    });
                let mut out = vec![tag];
                out.extend_from_slice(bytes);
                out
            }
            Self::BlakeTwo256(h) => hash(130, h),
            Self::Sha256(h) => hash(131, h),
            Self::Keccak256(h) => hash(132, h),
            Self::ShaThree256(h) => hash(133, h),
            Self::TimelockEncrypted {
                encrypted,
                reveal_round,
            } => {
                let mut out = vec![134];
                out.extend(compact_len(encrypted.len()));
                out.extend_from_slice(encrypted);
                out.extend_from_slice(&reveal_round.to_le_bytes());
                out
            }
            Self::ResetBondsFlag => vec![135],
            Self::BigRaw(bytes) => {
                let mut out = vec![136];
                out.extend(compact_len(bytes.len()));
                out.extend_from_slice(bytes);
                out
            }
        }
    }
}

/// SCALE compact encoding of `n`: single-byte (< 2^6), two-byte (< 2^14),
/// four-byte (< 2^30) or big-integer mode, all little-endian.
pub fn scale_compact(n: u64) -> Vec<u8> {
    if n < 1 << 6 {
        (n << 2).to_le_bytes()[..1].to_vec()
    } else if n < 1 << 14 {
        ((n << 2) | 0b01).to_le_bytes()[..2].to_vec()
    } else if n < 1 << 30 {
        ((n << 2) | 0b10).to_le_bytes()[..4].to_vec()
    } else {
        let mut bytes = n.to_le_bytes().to_vec();
        while bytes.len() > 4 && bytes.last() == Some(&0) {
            bytes.pop();
        }
        let extra = u8::try_from(bytes.len() - 4).unwrap_or(4);
        let mut out = vec![(extra << 2) | 0b11];
        out.extend(bytes);
        out
    }
}

fn compact_len(len: usize) -> Vec<u8> {
    scale_compact(u64::try_from(len).unwrap_or(u64::MAX))
}

/// A `Registration { deposit, block, info: CommitmentInfo { fields } }`
/// value: deposit u64 LE ‖ block u32 LE ‖ compact(fields.len()) ‖ fields.
///
/// The chain's limit of 3 fields is not enforced.
///
/// # Panics
///
/// When a [`Field::Raw`] holds more than 128 bytes.
pub fn registration(deposit: u64, block: u32, fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&deposit.to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend(compact_len(fields.len()));
    for field in fields {
        out.extend(field.encode());
    }
    out
}

/// Substrate's `Twox128`: xxh64 with seed 0 ‖ xxh64 with seed 1, each LE.
pub fn twox128(data: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..8].copy_from_slice(&XxHash64::oneshot(0, data).to_le_bytes());
    out[8..].copy_from_slice(&XxHash64::oneshot(1, data).to_le_bytes());
    out
}

/// Substrate's `Twox64`: xxh64 with seed 0, LE.
pub fn twox64(data: &[u8]) -> [u8; 8] {
    XxHash64::oneshot(0, data).to_le_bytes()
}

/// The storage prefix of `Commitments.CommitmentOf`:
/// `twox128("Commitments") ‖ twox128("CommitmentOf")`.
pub fn commitment_of_prefix() -> [u8; 32] {
    let mut out = [0; 32];
    out[..16].copy_from_slice(&twox128(b"Commitments"));
    out[16..].copy_from_slice(&twox128(b"CommitmentOf"));
    out
}

/// The 74-byte key of `CommitmentOf(netuid, account)`:
/// prefix ‖ netuid u16 LE (Identity) ‖ twox64(account) ‖ account
/// (`Twox64Concat`).
pub fn commitment_of_key(netuid: u16, account: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(74);
    out.extend_from_slice(&commitment_of_prefix());
    out.extend_from_slice(&netuid.to_le_bytes());
    out.extend_from_slice(&twox64(account));
    out.extend_from_slice(account);
    out
}

/// `0x` and lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The bytes of hex `text` (either case, `0x` optional), or `None` when it
/// is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let digits = text.strip_prefix("0x").unwrap_or(text).as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

// ----------------------------------------------------------------- storage --

/// The node's state: raw storage keys → raw SCALE values.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    version: u64,
}

impl Storage {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if self.map.get(&key) != Some(&value) {
            self.map.insert(key, value);
            self.version += 1;
        }
    }

    /// Deletes `key` (nothing when absent).
    pub fn remove(&mut self, key: &[u8]) {
        if self.map.remove(key).is_some() {
            self.version += 1;
        }
    }

    /// Sets `CommitmentOf(netuid, account)` to `value` (e.g. a
    /// [`registration`]).
    pub fn commit(&mut self, netuid: u16, account: [u8; 32], value: Vec<u8>) {
        self.insert(commitment_of_key(netuid, &account), value);
    }

    /// Deletes `CommitmentOf(netuid, account)`.
    pub fn uncommit(&mut self, netuid: u16, account: &[u8; 32]) {
        self.remove(&commitment_of_key(netuid, account));
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many times the storage changed; the head's block number.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The head block hash: a function of [`Storage::version`] only.
    pub fn head(&self) -> [u8; 32] {
        let v = self.version.to_le_bytes();
        let mut out = [0; 32];
        out[..16].copy_from_slice(&twox128(&[b"fake-subtensor-head/".as_slice(), &v].concat()));
        out[16..].copy_from_slice(&twox128(&[b"fake-subtensor-hash/".as_slice(), &v].concat()));
        out
    }

    /// At most `count` keys starting with `prefix` and strictly greater than
    /// `start` (when given), ascending.
    fn keys_paged(&self, prefix: &[u8], count: usize, start: Option<&[u8]>) -> Vec<&[u8]> {
        let from = match start {
            Some(s) if s >= prefix => Bound::Excluded(s),
            _ => Bound::Included(prefix),
        };
        self.map
            .range::<[u8], _>((from, Bound::Unbounded))
            .map(|(k, _)| k.as_slice())
            .take_while(|k| k.starts_with(prefix))
            .take(count)
            .collect()
    }
}

// -------------------------------------------------------------------- node --

struct Shared {
    storage: Arc<Mutex<Storage>>,
    failing: AtomicBool,
    calls: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake node. Dropping it stops it too (without waiting).
pub struct Node {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl Node {
    /// Serves `storage` on a fresh loopback port until stopped or dropped.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start(storage: Storage) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loopback port for the fake subtensor node");
        let addr = listener
            .local_addr()
            .expect("local address of the listener");
        let shared = Arc::new(Shared {
            storage: Arc::new(Mutex::new(storage)),
            failing: AtomicBool::new(false),
            calls: Mutex::new(Vec::new()),
        });
        let (shutdown, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, Arc::clone(&shared), stopped));
        Self {
            url: format!("ws://{addr}"),
            shared,
            shutdown,
            server: Some(server),
        }
    }

    /// The served storage; changes are visible to the next request (and
    /// change the head hash).
    pub fn storage(&self) -> Arc<Mutex<Storage>> {
        Arc::clone(&self.shared.storage)
    }

    /// While `true`, every request is answered with error -32000
    /// "node unavailable".
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// The method names received so far (over all connections), in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.shared.calls).clone()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// The current head block hash.
    pub fn head(&self) -> [u8; 32] {
        lock(&self.shared.storage).head()
    }

    /// Closes the listener and every connection (with a Close frame), and
    /// waits for them to end.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Returns once the node is told to stop (or its handle is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stop_requested(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&shared), stopped.clone()));
                }
                // e.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

async fn connection(stream: TcpStream, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let handshake = tokio::select! {
        () = stop_requested(&mut stopped) => return,
        ws = tokio_tungstenite::accept_async(stream) => ws,
    };
    let Ok(mut ws) = handshake else { return };
    loop {
        let message = tokio::select! {
            () = stop_requested(&mut stopped) => None,
            message = ws.next() => Some(message),
        };
        let Some(message) = message else {
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
            return;
        };
        let reply = match message {
            None | Some(Err(_)) => return,
            Some(Ok(Message::Text(text))) => handle_text(&shared, text.as_str()),
            Some(Ok(Message::Binary(bytes))) => match core::str::from_utf8(&bytes) {
                Ok(text) => handle_text(&shared, text),
                Err(_) => Some(failure(Value::Null, PARSE_ERROR, "Parse error").to_string()),
            },
            Some(Ok(Message::Ping(payload))) => {
                if ws.send(Message::Pong(payload)).await.is_err() {
                    return;
                }
                continue;
            }
            // A Close is answered by tungstenite; the next read ends the stream.
            Some(Ok(_)) => continue,
        };
        if let Some(reply) = reply
            && ws.send(Message::text(reply)).await.is_err()
        {
            return;
        }
    }
}

// ----------------------------------------------------------------- JSON-RPC --

struct RpcError {
    code: i64,
    message: String,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn params(detail: &str) -> Self {
        Self::new(INVALID_PARAMS, format!("Invalid params: {detail}"))
    }
}

fn failure(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The reply to one text frame, or `None` when it held only notifications.
fn handle_text(shared: &Shared, text: &str) -> Option<String> {
    let Ok(request) = serde_json::from_str::<Value>(text) else {
        return Some(failure(Value::Null, PARSE_ERROR, "Parse error").to_string());
    };
    match request {
        Value::Array(batch) if batch.is_empty() => {
            Some(failure(Value::Null, INVALID_REQUEST, "Invalid request").to_string())
        }
        Value::Array(batch) => {
            let replies: Vec<Value> = batch
                .into_iter()
                .filter_map(|r| handle_request(shared, r))
                .collect();
            (!replies.is_empty()).then(|| Value::Array(replies).to_string())
        }
        single => handle_request(shared, single).map(|r| r.to_string()),
    }
}

/// The reply to one request object, or `None` for a notification (no `id`).
fn handle_request(shared: &Shared, request: Value) -> Option<Value> {
    let Value::Object(request) = request else {
        return Some(failure(Value::Null, INVALID_REQUEST, "Invalid request"));
    };
    let id = request.get("id").cloned();
    let id_ok = matches!(
        id,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    );
    let method = match request.get("method") {
        Some(Value::String(m)) if id_ok && request.get("jsonrpc") == Some(&json!("2.0")) => m,
        _ => {
            let id = id.filter(|_| id_ok).unwrap_or(Value::Null);
            return Some(failure(id, INVALID_REQUEST, "Invalid request"));
        }
    };
    lock(&shared.calls).push(method.clone());
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    let outcome = if shared.failing.load(Ordering::SeqCst) {
        Err(RpcError::new(SERVER_ERROR, "node unavailable"))
    } else {
        dispatch(&lock(&shared.storage), method, params)
    };
    let id = id?;
    Some(match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => failure(id, e.code, &e.message),
    })
}

/// Positional params (absent or `null` = none), at most `max` of them.
fn positional(params: Value, max: usize) -> Result<Vec<Value>, RpcError> {
    match params {
        Value::Null => Ok(Vec::new()),
        Value::Array(p) if p.len() <= max => Ok(p),
        Value::Array(p) => Err(RpcError::params(&format!(
            "expected at most {max} params, got {}",
            p.len()
        ))),
        _ => Err(RpcError::params("expected an array of params")),
    }
}

/// Param `i` unless absent or `null`.
fn optional(params: &[Value], i: usize) -> Option<&Value> {
    params.get(i).filter(|v| !v.is_null())
}

fn bytes_param(value: Option<&Value>, what: &str) -> Result<Vec<u8>, RpcError> {
    value
        .and_then(Value::as_str)
        .and_then(unhex)
        .ok_or_else(|| RpcError::params(&format!("{what}: expected a hex string")))
}

/// Checks an `at` block hash: only the head is known.
fn check_at(at: Option<&Value>, head: &[u8; 32]) -> Result<(), RpcError> {
    let Some(at) = at else { return Ok(()) };
    let hash = bytes_param(Some(at), "at")?;
    if hash.len() != 32 {
        return Err(RpcError::params("at: expected a 32-byte block hash"));
    }
    if hash != head {
        return Err(RpcError::new(SERVER_ERROR, "unknown block"));
    }
    Ok(())
}

fn dispatch(storage: &Storage, method: &str, params: Value) -> Result<Value, RpcError> {
    let head = storage.head();
    match method {
        "chain_getFinalizedHead" => {
            positional(params, 0)?;
            Ok(json!(hex(&head)))
        }
        "chain_getBlockHash" => {
            let p = positional(params, 1)?;
            match optional(&p, 0) {
                None => Ok(json!(hex(&head))),
                Some(n) => match n.as_u64() {
                    Some(n) if n == storage.version() => Ok(json!(hex(&head))),
                    Some(_) => Ok(Value::Null),
                    None => Err(RpcError::params("expected a block number")),
                },
            }
        }
        "state_getKeysPaged" => {
            let p = positional(params, 4)?;
            let prefix = bytes_param(p.first(), "prefix")?;
            let count = p
                .get(1)
                .and_then(Value::as_u64)
                .ok_or_else(|| RpcError::params("count: expected an unsigned integer"))?;
            if count > MAX_KEYS_PAGE {
                return Err(RpcError::new(
                    INVALID_COUNT,
                    format!("count exceeds maximum value. value: {count}, max: {MAX_KEYS_PAGE}"),
                ));
            }
            let start = optional(&p, 2)
                .map(|v| bytes_param(Some(v), "start_key"))
                .transpose()?;
            check_at(optional(&p, 3), &head)?;
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let keys = storage.keys_paged(&prefix, count, start.as_deref());
            Ok(Value::Array(
                keys.into_iter().map(|k| json!(hex(k))).collect(),
            ))
        }
        "state_queryStorageAt" => {
            let p = positional(params, 2)?;
            let keys = p
                .first()
                .and_then(Value::as_array)
                .ok_or_else(|| RpcError::params("keys: expected an array"))?
                .iter()
                .map(|k| bytes_param(Some(k), "key"))
                .collect::<Result<Vec<_>, _>>()?;
            check_at(optional(&p, 1), &head)?;
            let changes: Vec<Value> = keys
                .iter()
                .map(|k| json!([hex(k), storage.get(k).map(hex)]))
                .collect();
            Ok(json!([{"block": hex(&head), "changes": changes}]))
        }
        "state_getStorage" => {
            let p = positional(params, 2)?;
            let key = bytes_param(p.first(), "key")?;
            check_at(optional(&p, 1), &head)?;
            Ok(json!(storage.get(&key).map(hex)))
        }
        _ => Err(RpcError::new(METHOD_NOT_FOUND, "Method not found")),
    }
}
