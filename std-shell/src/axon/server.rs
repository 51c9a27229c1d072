//! The axon: an HTTP server that authenticates bittensor 10.x requests
//! before anything reaches the synapse ([`router`]). The rules themselves
//! are in [`veil_core::axon`]; this module does the I/O around them.
//!
//! The pipeline, in order (stricter than the reference axon, whose
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

use alloc::sync::Arc;
use core::time::Duration;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use veil_core::axon::{AxonError, DendriteHeaders, EMPTY_BODY_HASH, NoncePolicy, header};
use veil_core::sign::PublicKey;

use crate::clock::Clock;
use crate::keys::address_of;
use crate::limits::{MAX_AXON_BODY, MAX_AXON_CALLERS, MAX_AXON_IN_FLIGHT};

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
            max_body: MAX_AXON_BODY,
            nonces: NoncePolicy::default(),
            max_callers: MAX_AXON_CALLERS,
            max_in_flight: MAX_AXON_IN_FLIGHT,
        }
    }
}

struct Axon {
    hotkey: String,
    config: AxonConfig,
    synapse: Arc<dyn Synapse>,
    last_nonces: Mutex<HashMap<(String, String), u64>>,
    in_flight: Arc<tokio::sync::Semaphore>,
    clock: Arc<dyn Clock>,
    /// Nonces from before this process started (less the grace) are
    /// refused: the last nonces of an earlier run are not remembered, so
    /// its requests could otherwise be replayed.
    started_ns: u64,
}

/// The HTTP routes of the axon whose hotkey is `hotkey`: `GET|POST
/// /{synapse name}`, 404 for anything else. Nonces are judged by `clock`.
pub fn router(
    hotkey: &PublicKey,
    config: AxonConfig,
    synapse: Arc<dyn Synapse>,
    clock: Arc<dyn Clock>,
) -> Router {
    let axon = Arc::new(Axon {
        hotkey: address_of(hotkey),
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
        started_ns: clock
            .now_ns()
            .saturating_sub(config.nonces.grace_ms.saturating_mul(1_000_000)),
        clock,
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
        let now = self.clock.now_ns();
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
