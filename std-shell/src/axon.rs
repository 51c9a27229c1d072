//! The bittensor 10.x axon/dendrite transport: an HTTP server that
//! authenticates requests before anything reaches the miner ([`router`]),
//! and a client that signs them ([`Dendrite`]). The rules themselves are in
//! [`veil_core::axon`]; this module does the I/O around them.
//!
//! The server's pipeline, in order (stricter than the reference axon, whose
//! blacklist runs before the signature check and which accepts unsigned
//! requests before 10.5 and nonces from the future):
//!
//! 1. the route is the synapse name (`/IdentitySynapse`), else 404;
//! 2. the headers parse, else 400; a missing signature is 401;
//! 3. the signature verifies for **this** axon's hotkey, else 401;
//! 4. the caller is allowed (allow-list or stake), else 403 — only now,
//!    with an authenticated hotkey;
//! 5. the body hash is the one the synapse defines, else 400;
//! 6. the nonce is fresh, not from the future and newer than the caller's
//!    last one for the same uuid, else 401; it is recorded before the body
//!    is read, so two copies of one request cannot both get through;
//! 7. the body is at most `max_body` bytes (checked against
//!    `Content-Length` first, then while reading), else 413;
//! 8. the synapse answers: JSON with `axon.status_code` (and the
//!    `bt_header_axon_status_code` header) that a Python dendrite reads.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::time::Duration;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value, json};
use veil_core::axon::{
    self, AxonError, DENDRITE_VERSION, DendriteHeaders, EMPTY_BODY_HASH, NoncePolicy, header,
};
use veil_core::sign::{Keypair, PublicKey};
use veil_core::ss58;

/// Nanoseconds since the unix epoch, the unit of nonces.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The SS58 address (prefix 42) of a key.
pub fn address_of(key: &PublicKey) -> String {
    ss58::encode(ss58::BITTENSOR_PREFIX, &key.to_bytes()).to_string()
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// Who may call the axon.
#[derive(Clone, Debug)]
pub enum Allow {
    /// Any caller with a valid signature.
    Any,
    /// Only these hotkeys (an allow-list, or the hotkeys a metagraph shows
    /// with enough stake).
    Hotkeys(HashSet<[u8; 32]>),
}

impl Allow {
    fn permits(&self, key: &PublicKey) -> bool {
        match self {
            Self::Any => true,
            Self::Hotkeys(set) => set.contains(&key.to_bytes()),
        }
    }
}

/// An authenticated request, as the synapse sees it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The caller's SS58 hotkey (verified).
    pub hotkey: String,
    /// The caller's key.
    pub key: PublicKey,
    /// The request's nonce.
    pub nonce: u64,
    /// The caller's uuid.
    pub uuid: String,
    /// The caller's timeout, when sent.
    pub timeout_ms: Option<u64>,
}

/// A refusal from the synapse: an HTTP status and a one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 4xx or 5xx.
    pub status: u16,
    /// What went wrong (sent to the caller: never a secret).
    pub message: String,
}

impl Refusal {
    /// A refusal with `status`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// What an axon serves: one synapse type.
#[async_trait::async_trait]
pub trait Synapse: Send + Sync + 'static {
    /// The synapse's class name, which is its route.
    fn name(&self) -> &'static str;

    /// Answers an authenticated request with the synapse's fields to send
    /// back (e.g. `s3_submissions`).
    async fn forward(&self, caller: Caller, body: Bytes) -> Result<Map<String, Value>, Refusal>;
}

/// How the axon admits requests.
#[derive(Clone, Debug)]
pub struct AxonConfig {
    /// Who may call.
    pub allow: Allow,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// The nonce rules.
    pub nonces: NoncePolicy,
    /// Most (hotkey, uuid) pairs whose last nonce is remembered at once;
    /// beyond it, entries too old to matter are dropped, and if none are,
    /// new callers get 503 until some are.
    pub max_callers: usize,
    /// Most requests handled at once (past authentication); more get 503.
    pub max_in_flight: usize,
}

impl Default for AxonConfig {
    fn default() -> Self {
        Self {
            allow: Allow::Hotkeys(HashSet::new()),
            max_body: 32 * 1024 * 1024,
            nonces: NoncePolicy::default(),
            max_callers: 65_536,
            max_in_flight: 32,
        }
    }
}

struct Axon {
    hotkey: String,
    config: AxonConfig,
    synapse: Arc<dyn Synapse>,
    last_nonces: Mutex<HashMap<(String, String), u64>>,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Nonces from before this process started (less the grace) are
    /// refused: the last nonces of an earlier run are not remembered, so
    /// its requests could otherwise be replayed.
    started_ns: u64,
}

/// The HTTP routes of the axon whose hotkey is `hotkey`: `GET|POST
/// /{synapse name}`, 404 for anything else.
pub fn router(hotkey: &PublicKey, config: AxonConfig, synapse: Arc<dyn Synapse>) -> Router {
    let axon = Arc::new(Axon {
        hotkey: address_of(hotkey),
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
        started_ns: now_ns().saturating_sub(config.nonces.grace_ms.saturating_mul(1_000_000)),
        config,
        synapse,
        last_nonces: Mutex::new(HashMap::new()),
    });
    Router::new().fallback(serve).with_state(axon)
}

fn error_response(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        HeaderName::from_static(header::AXON_STATUS_CODE),
        HeaderValue::from(status),
    );
    if let Ok(v) = HeaderValue::from_str(message) {
        headers.insert(HeaderName::from_static(header::AXON_STATUS_MESSAGE), v);
    }
    (code, headers, json!({ "message": message }).to_string()).into_response()
}

impl From<AxonError> for Refusal {
    fn from(e: AxonError) -> Self {
        Self::new(e.status(), e.to_string())
    }
}

async fn serve(State(axon): State<Arc<Axon>>, request: Request) -> Response {
    let started = Instant::now();
    match axon.admit(request).await {
        Ok((caller, body, _permit)) => {
            let synapse = Arc::clone(&axon.synapse);
            let echo =
                json!({ "hotkey": caller.hotkey, "nonce": caller.nonce, "uuid": caller.uuid });
            match synapse.forward(caller, body).await {
                Ok(fields) => axon.success(fields, echo, started.elapsed()),
                Err(r) => {
                    tracing::info!(status = r.status, reason = %r.message, "request refused");
                    error_response(r.status, &r.message)
                }
            }
        }
        Err(r) => {
            tracing::debug!(status = r.status, reason = %r.message, "request refused");
            error_response(r.status, &r.message)
        }
    }
}

impl Axon {
    /// Steps 1–7 of the pipeline.
    async fn admit(
        &self,
        request: Request,
    ) -> Result<(Caller, Bytes, tokio::sync::OwnedSemaphorePermit), Refusal> {
        let (parts, body) = request.into_parts();
        let name = parts.uri.path().trim_start_matches('/');
        if name != self.synapse.name()
            || !(parts.method == Method::POST || parts.method == Method::GET)
        {
            let shown: String = name.chars().take(64).filter(|c| !c.is_control()).collect();
            return Err(Refusal::new(
                404,
                format!(
                    "Synapse name '{shown}' not found. Available synapses ['{}']",
                    self.synapse.name()
                ),
            ));
        }
        let h = &parts.headers;
        let headers = DendriteHeaders::parse(|n| h.get(n).and_then(|v| v.to_str().ok()))?;
        headers.verify(&self.hotkey)?;
        if !self.config.allow.permits(&headers.key) {
            return Err(Refusal::new(
                403,
                "Forbidden. Key is blacklisted: Unrecognized hotkey.",
            ));
        }
        if !headers.body_hash.eq_ignore_ascii_case(EMPTY_BODY_HASH) {
            return Err(Refusal::new(
                400,
                "computed_body_hash does not match the synapse's hash fields",
            ));
        }
        if headers.nonce < self.started_ns {
            return Err(AxonError::StaleNonce.into());
        }
        self.record_nonce(&headers)?;
        let permit = Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| {
                Refusal::new(503, "busy: too many requests in progress; try again later")
            })?;
        let declared = h
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = || {
            Refusal::new(
                413,
                format!("request body is larger than {} bytes", self.config.max_body),
            )
        };
        if declared.is_some_and(|n| n > self.config.max_body as u64) {
            return Err(too_large());
        }
        let body = axum::body::to_bytes(Body::new(body), self.config.max_body)
            .await
            .map_err(|_| too_large())?;
        Ok((
            Caller {
                hotkey: headers.hotkey.to_owned(),
                key: headers.key,
                nonce: headers.nonce,
                uuid: headers.uuid.to_owned(),
                timeout_ms: headers.timeout_ms,
            },
            body,
            permit,
        ))
    }

    fn record_nonce(&self, h: &DendriteHeaders<'_>) -> Result<(), Refusal> {
        let now = now_ns();
        let policy = &self.config.nonces;
        let mut map = self
            .last_nonces
            .lock()
            .map_err(|_| Refusal::new(500, "internal error"))?;
        let key = (h.hotkey.to_owned(), h.uuid.to_owned());
        policy.check(h.nonce, h.timeout_ms, now, map.get(&key).copied())?;
        if !map.contains_key(&key) && map.len() >= self.config.max_callers {
            map.retain(|_, last| !policy.forgettable(*last, now));
            if map.len() >= self.config.max_callers {
                return Err(Refusal::new(503, "too many callers; try again later"));
            }
        }
        map.insert(key, h.nonce);
        Ok(())
    }

    fn success(&self, mut fields: Map<String, Value>, dendrite: Value, took: Duration) -> Response {
        let secs = took.as_secs_f64();
        fields.insert("name".into(), json!(self.synapse.name()));
        fields.insert("computed_body_hash".into(), json!(""));
        fields.insert("dendrite".into(), dendrite);
        fields.insert(
            "axon".into(),
            json!({
                "status_code": 200,
                "status_message": "Success",
                "process_time": secs,
                "hotkey": self.hotkey,
            }),
        );
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static(header::AXON_STATUS_CODE),
            HeaderValue::from(200u16),
        );
        headers.insert(
            HeaderName::from_static(header::AXON_STATUS_MESSAGE),
            HeaderValue::from_static("Success"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("{secs}")) {
            headers.insert(HeaderName::from_static(header::AXON_PROCESS_TIME), v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.hotkey) {
            headers.insert(HeaderName::from_static(header::AXON_HOTKEY), v);
        }
        (StatusCode::OK, headers, Value::Object(fields).to_string()).into_response()
    }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// An axon to query: `HOST:PORT:SS58`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxonTarget {
    /// Host name or IP (IPv6 in brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The axon's SS58 hotkey.
    pub hotkey: String,
    /// Its key.
    pub key: PublicKey,
}

impl AxonTarget {
    /// A target from its parts.
    ///
    /// # Errors
    ///
    /// A one-line reason: an empty host, port 0, or a hotkey that is not
    /// an SS58 sr25519 address.
    pub fn new(host: &str, port: u16, hotkey: &str) -> Result<Self, String> {
        if host.is_empty()
            || host.len() > 253
            || host.chars().any(|c| c.is_whitespace() || c == '/')
        {
            return Err(format!("{host:?} is not a host name or IP"));
        }
        if port == 0 {
            return Err("port 0 is not a port".into());
        }
        let (_, key) = ss58::decode(hotkey).map_err(|e| format!("hotkey {hotkey:?}: {e}"))?;
        let key = PublicKey::from_bytes(&key).map_err(|e| format!("hotkey {hotkey:?}: {e}"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
            hotkey: hotkey.to_owned(),
            key,
        })
    }

    /// Parses `HOST:PORT:SS58` (the hotkey and port are split off the end,
    /// so `[::1]:8091:5…` works).
    ///
    /// # Errors
    ///
    /// A one-line reason.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = || format!("{text:?} is not HOST:PORT:HOTKEY");
        let (rest, hotkey) = text.rsplit_once(':').ok_or_else(shape)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(shape)?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{text:?}: port {port:?} is not a number from 1 to 65535"))?;
        Self::new(host, port, hotkey)
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}:{}/{name}", self.host, self.port)
    }
}

/// Why a query got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Nothing listens there, or the connection broke before an answer.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The axon answered with a status other than 200.
    #[error("axon answered {status}: {message}")]
    Status {
        /// The status (`axon.status_code`, else the HTTP status).
        status: u16,
        /// The axon's message.
        message: String,
    },
    /// The answer is not what the protocol says (not JSON, too large).
    #[error("unusable answer: {0}")]
    Invalid(String),
}

impl CallError {
    /// Whether trying again may help (connection trouble or a timeout, or
    /// a 5xx/408/429 from the axon; never a refusal like 401 or 403).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect(_) | Self::Timeout(_) => true,
            Self::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            Self::Invalid(_) => false,
        }
    }

    /// The status code a Python dendrite would report for this outcome.
    pub fn status(&self) -> u16 {
        match self {
            Self::Connect(_) => 503,
            Self::Timeout(_) => 408,
            Self::Status { status, .. } => *status,
            Self::Invalid(_) => 422,
        }
    }
}

/// A 200 answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The JSON body (a synapse).
    pub body: Map<String, Value>,
    /// Time from sending to the whole body read.
    pub elapsed: Duration,
}

/// A dendrite: signs requests with a hotkey, one uuid per process, strictly
/// increasing nanosecond nonces.
pub struct Dendrite {
    keypair: Arc<Keypair>,
    hotkey: String,
    uuid: String,
    last_nonce: Mutex<u64>,
    http: reqwest::Client,
    max_response: usize,
}

impl core::fmt::Debug for Dendrite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dendrite")
            .field("hotkey", &self.hotkey)
            .field("uuid", &self.uuid)
            .finish_non_exhaustive()
    }
}

/// A random version-4 uuid in its text form.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl Dendrite {
    /// A dendrite for `keypair`. Answers larger than `max_response` bytes
    /// are refused (a reference axon echoes the whole request, base64 image
    /// included, so leave room for that).
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built.
    pub fn new(keypair: Arc<Keypair>, max_response: usize) -> Result<Self, crate::Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            // A miner must not send the validator's signed request (or a
            // GET) anywhere else.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| crate::Error::Content(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            hotkey: address_of(&keypair.public()),
            keypair,
            uuid: random_uuid(),
            last_nonce: Mutex::new(0),
            http,
            max_response,
        })
    }

    /// This dendrite's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    fn next_nonce(&self) -> u64 {
        let now = now_ns();
        let mut last = self
            .last_nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *last = now.max(last.saturating_add(1));
        *last
    }

    /// Sends the synapse `name` with `fields` to `target` and waits at most
    /// `timeout` for the whole answer. `fields` are the synapse's own
    /// (e.g. `image_request`); the protocol's (`name`, `timeout`,
    /// `computed_body_hash`, `dendrite`, `axon`) are added here, and a field
    /// of that name in `fields` is not sent.
    ///
    /// # Errors
    ///
    /// A [`CallError`].
    pub async fn call(
        &self,
        target: &AxonTarget,
        name: &str,
        fields: &Map<String, Value>,
        timeout: Duration,
    ) -> Result<Reply, CallError> {
        let nonce = self.next_nonce();
        let message = axon::signing_message(
            nonce,
            &self.hotkey,
            &target.hotkey,
            &self.uuid,
            EMPTY_BODY_HASH,
        )
        .map_err(|e| CallError::Invalid(e.to_string()))?;
        let signature = axon::sign_request(&self.keypair, &message, &mut OsRng);
        let timeout_text = format!("{:.1}", timeout.as_secs_f64());
        // The synapse's fields are serialized from the caller's map (they
        // hold the base64 image: no copy per call), next to this call's own.
        #[derive(serde::Serialize)]
        struct Body<'a> {
            name: &'a str,
            timeout: f64,
            computed_body_hash: &'a str,
            dendrite: Value,
            axon: Value,
            #[serde(flatten)]
            fields: BTreeMap<&'a str, &'a Value>,
        }
        const PROTOCOL_FIELDS: [&str; 5] =
            ["name", "timeout", "computed_body_hash", "dendrite", "axon"];
        let body = Body {
            name,
            timeout: timeout.as_secs_f64(),
            computed_body_hash: "",
            dendrite: json!({
                "hotkey": self.hotkey, "nonce": nonce, "uuid": self.uuid,
                "version": DENDRITE_VERSION, "signature": signature.as_str(), "ip": "127.0.0.1",
            }),
            axon: json!({ "hotkey": target.hotkey, "ip": target.host, "port": target.port }),
            fields: fields
                .iter()
                .filter(|(k, _)| !PROTOCOL_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
        };
        let body = serde_json::to_vec(&body).map_err(|e| CallError::Invalid(e.to_string()))?;
        let started = Instant::now();
        let request = self
            .http
            .post(target.url(name))
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(header::NAME, name)
            .header(header::TIMEOUT, &timeout_text)
            .header(header::AXON_HOTKEY, &target.hotkey)
            .header(header::AXON_IP, &target.host)
            .header(header::AXON_PORT, target.port.to_string())
            .header(header::DENDRITE_IP, "127.0.0.1")
            .header(header::DENDRITE_VERSION, DENDRITE_VERSION.to_string())
            .header(header::DENDRITE_NONCE, nonce.to_string())
            .header(header::DENDRITE_UUID, &self.uuid)
            .header(header::DENDRITE_HOTKEY, &self.hotkey)
            .header(header::DENDRITE_SIGNATURE, signature.as_str())
            .header(header::COMPUTED_BODY_HASH, EMPTY_BODY_HASH)
            .body(body);
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                CallError::Timeout(timeout)
            } else {
                CallError::Connect(sanitize_line(&error_chain(&e)))
            }
        };
        let mut response = request.send().await.map_err(classify)?;
        let http_status = response.status().as_u16();
        let header_status = response
            .headers()
            .get(header::AXON_STATUS_CODE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u16>().ok());
        if response
            .content_length()
            .is_some_and(|n| n > self.max_response as u64)
        {
            return Err(CallError::Invalid(format!(
                "answer larger than {} bytes",
                self.max_response
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if bytes.len() + chunk.len() > self.max_response {
                return Err(CallError::Invalid(format!(
                    "answer larger than {} bytes",
                    self.max_response
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let elapsed = started.elapsed();
        let body: Option<Map<String, Value>> = serde_json::from_slice(&bytes).ok();
        let body_axon = body.as_ref().and_then(|b| b.get("axon"));
        let body_status = body_axon
            .and_then(|a| a.get("status_code"))
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok());
        let status = header_status.or(body_status).unwrap_or(http_status);
        if status != 200 || http_status != 200 {
            let message = body
                .as_ref()
                .and_then(|b| {
                    b.get("message")
                        .or_else(|| body_axon.and_then(|a| a.get("status_message")))
                })
                .and_then(Value::as_str)
                .map_or_else(|| format!("HTTP {http_status}"), sanitize_line);
            return Err(CallError::Status {
                status: if status == 200 { http_status } else { status },
                message,
            });
        }
        let body = body.ok_or_else(|| CallError::Invalid("not a JSON object".into()))?;
        Ok(Reply { body, elapsed })
    }
}

/// Text from a peer, made safe for one log or results line: control
/// characters dropped, at most 300 characters.
pub fn sanitize_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// An error and its sources on one line (reqwest's own text is only
/// "error sending request").
fn error_chain(e: &dyn core::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
