//! The axon: an HTTP server that authenticates requests before anything
//! reaches the synapse ([`router`]), in either transport on one port:
//! bittensor 10.x's signed headers (`bt_header_dendrite_*`, rules in
//! [`veil_core::axon`], admission in `v10.rs`) or bittensor 11's
//! `btauth/1` (`X-Bittensor-*`, rules in [`veil_core::bittensor::btauth`],
//! admission in `btauth.rs`). A request carrying both families is refused
//! (400); `GET /{synapse}` without either answers 200 as a liveness probe.
//!
//! The 10.x pipeline, in order (stricter than the reference axon, whose
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
//!    `Content-Length` first, then while reading), else 413, fits in what
//!    the bodies held at once may weigh ([`AXON_BODY_MEMORY`]), else 503,
//!    and arrives within [`BODY_TIMEOUT`], else 408;
//! 8. the synapse answers: JSON with `axon.status_code` (and the
//!    `bt_header_axon_status_code` header) that a Python dendrite reads.
//!
//! A btauth/1 request is read (steps 7) before its signature is checked,
//! since the signature covers the body; then the receiver must be this
//! axon, the nonce fresh (10 s old at most, 2 s ahead at most), the caller
//! allowed (403), and the nonce never seen before from that hotkey. Its
//! answer is the synapse JSON, 200, as MIID's bittensor-11 axon answers.

use alloc::sync::Arc;
use core::time::Duration;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::OwnedSemaphorePermit;
use veil_core::axon::{NoncePolicy, header};
use veil_core::bittensor::btauth;
use veil_core::sign::PublicKey;

use super::btauth::Seen;
use super::v10::Sessions;
use crate::clock::Clock;
use crate::keys::address_of;
use crate::limits::{
    AXON_BODY_MEMORY, BODY_TIMEOUT, MAX_AXON_BODY, MAX_AXON_CALLERS, MAX_AXON_IN_FLIGHT,
};
use crate::ops::endpoint::{HEALTH_PATH, healthz};
use crate::ops::metrics::{Route, metrics};

/// [`AXON_BODY_MEMORY`] in KiB (a semaphore's permits).
#[expect(clippy::cast_possible_truncation, reason = "the assert proves it fits")]
const BODY_ROOM_KIB: u32 = {
    let kib = AXON_BODY_MEMORY / 1024;
    assert!(kib <= u32::MAX as u64);
    kib as u32
};

/// What an admitted request holds while it is served: its in-flight slot
/// and the room for its body.
pub(super) type Held = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// Who may call the axon.
#[derive(Clone, Debug)]
pub enum Allow {
    /// Any caller with a valid signature.
    Any,
    /// Only these hotkeys (an allow-list, or the hotkeys a metagraph shows
    /// with enough stake).
    Hotkeys(HashSet<[u8; 32]>),
    /// A set kept current by someone else (the metagraph on chain:
    /// [`crate::chain::upkeep`]).
    Shared(crate::chain::upkeep::SharedAllow),
}

impl Allow {
    fn permits(&self, key: &PublicKey) -> bool {
        match self {
            Self::Any => true,
            Self::Hotkeys(set) => set.contains(&key.to_bytes()),
            Self::Shared(set) => set.read().is_ok_and(|s| s.contains(&key.to_bytes())),
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
    /// How the request came.
    pub transport: Transport,
}

/// The transport a request came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// bittensor 10.x axon/dendrite headers.
    Axon,
    /// bittensor 11's `btauth/1`.
    Btauth,
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

/// One axon's state, shared by its requests.
pub(super) struct Axon {
    pub(super) hotkey: String,
    pub(super) config: AxonConfig,
    synapse: Arc<dyn Synapse>,
    pub(super) last_nonces: Mutex<Sessions>,
    pub(super) seen: Mutex<Seen>,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Room, in KiB, for the request bodies held at once.
    body_room: Arc<tokio::sync::Semaphore>,
    pub(super) clock: Arc<dyn Clock>,
    /// Nonces from before this process started (less the grace) are
    /// refused: the last nonces of an earlier run are not remembered, so
    /// its requests could otherwise be replayed.
    pub(super) started_ns: u64,
}

/// The HTTP routes of the axon whose hotkey is `hotkey`: `GET|POST
/// /{synapse name}`, `GET /healthz` (the health probe), 404 for anything
/// else. Nonces are judged by `clock`.
pub fn router(
    hotkey: &PublicKey,
    config: AxonConfig,
    synapse: Arc<dyn Synapse>,
    clock: Arc<dyn Clock>,
) -> Router {
    let axon = Arc::new(Axon {
        hotkey: address_of(hotkey),
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
        body_room: Arc::new(tokio::sync::Semaphore::new(BODY_ROOM_KIB as usize)),
        started_ns: clock
            .now_ns()
            .saturating_sub(config.nonces.grace_ms.saturating_mul(1_000_000)),
        clock,
        config,
        synapse,
        last_nonces: Mutex::new(Sessions::default()),
        seen: Mutex::new(Seen::default()),
    });
    Router::new()
        .route(HEALTH_PATH, axum::routing::get(healthz))
        .fallback(serve)
        .with_state(axon)
}

/// One request: answered or refused, counted in the metrics by route and
/// status, and logged in one line (`info`) with the caller when known.
async fn serve(State(axon): State<Arc<Axon>>, request: Request) -> Response {
    let started = Instant::now();
    let route = if request.uri().path().trim_start_matches('/') == axon.synapse.name() {
        Route::Synapse
    } else {
        Route::Other
    };
    let (response, caller, refusal) = axon.handle(request, started).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_millis();
    metrics().request(route, status);
    let caller = caller.as_deref().unwrap_or("-");
    match refusal {
        Some(r) => tracing::info!(status, %caller, ms, reason = %r.message, "refused"),
        None if route == Route::Synapse && status == 200 && caller != "-" => {
            metrics().answered(started.elapsed().as_secs_f64());
            tracing::info!(status, %caller, ms, "answered");
        }
        None => tracing::debug!(status, "liveness probe"),
    }
    response
}

impl Axon {
    /// The response to `request`, the caller's hotkey once authenticated,
    /// and the refusal when it was one.
    async fn handle(
        &self,
        request: Request,
        started: Instant,
    ) -> (Response, Option<String>, Option<Refusal>) {
        let (parts, body) = request.into_parts();
        let transport = match self.route(&parts) {
            Ok(Some(t)) => t,
            Ok(None) => {
                let alive =
                    json!({ "message": format!("{} endpoint is alive", self.synapse.name()) });
                return (json_response(200, &alive), None, None);
            }
            Err(r) => return (self.refuse(Transport::Axon, &r), None, Some(r)),
        };
        let admitted = match transport {
            Transport::Axon => self.admit_v10(&parts, body).await,
            Transport::Btauth => self.admit_btauth(&parts, body).await,
        };
        let (caller, body, _permit) = match admitted {
            Ok(a) => a,
            Err(r) => return (self.refuse(transport, &r), None, Some(r)),
        };
        let hotkey = Some(caller.hotkey.clone());
        let echo = json!({ "hotkey": caller.hotkey, "nonce": caller.nonce, "uuid": caller.uuid });
        match Arc::clone(&self.synapse).forward(caller, body).await {
            Ok(fields) => (
                self.success(transport, fields, echo, started.elapsed()),
                hotkey,
                None,
            ),
            Err(r) => (self.refuse(transport, &r), hotkey, Some(r)),
        }
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (code, headers, body.to_string()).into_response()
}

impl Axon {
    /// Step 1, and which transport: `Ok(None)` for a liveness probe (`GET`
    /// without any signing header).
    fn route(&self, parts: &Parts) -> Result<Option<Transport>, Refusal> {
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
        let v10 = [
            header::DENDRITE_HOTKEY,
            header::DENDRITE_NONCE,
            header::DENDRITE_SIGNATURE,
            header::DENDRITE_UUID,
        ]
        .iter()
        .any(|n| h.contains_key(*n));
        let v11 = btauth::header::ALL.iter().any(|n| h.contains_key(*n));
        match (v10, v11) {
            (true, true) => Err(Refusal::new(
                400,
                "the request carries both bittensor 10 (bt_header_dendrite_*) and btauth/1 \
                 (X-Bittensor-*) headers: sign with one",
            )),
            (false, false) if parts.method == Method::GET => Ok(None),
            (false, true) => Ok(Some(Transport::Btauth)),
            _ => Ok(Some(Transport::Axon)),
        }
    }

    /// Only now, with an authenticated hotkey: the caller is allowed.
    pub(super) fn check_allowed(&self, key: &PublicKey) -> Result<(), Refusal> {
        if self.config.allow.permits(key) {
            Ok(())
        } else {
            Err(Refusal::new(
                403,
                "Forbidden. Key is blacklisted: Unrecognized hotkey.",
            ))
        }
    }

    /// A slot among the requests in progress, or 503.
    pub(super) fn permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| Refusal::new(503, "busy: too many requests in progress; try again later"))
    }

    /// Step 7: the body, at most `max_body` bytes (from `Content-Length`
    /// first, then while reading), within [`BODY_TIMEOUT`], once there is
    /// room for it in [`AXON_BODY_MEMORY`] (its declared length, or
    /// `max_body` when it declares none), else 503. The room is held as
    /// long as the request.
    pub(super) async fn read_body(
        &self,
        parts: &Parts,
        body: Body,
    ) -> Result<(Bytes, OwnedSemaphorePermit), Refusal> {
        let declared = parts
            .headers
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
        let need = declared.unwrap_or(self.config.max_body as u64);
        let kib = u32::try_from(need.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, BODY_ROOM_KIB);
        let room = Arc::clone(&self.body_room)
            .try_acquire_many_owned(kib)
            .map_err(|_| {
                Refusal::new(
                    503,
                    "busy: too many large requests in progress; try again later",
                )
            })?;
        match tokio::time::timeout(
            BODY_TIMEOUT,
            axum::body::to_bytes(body, self.config.max_body),
        )
        .await
        {
            Ok(Ok(bytes)) => Ok((bytes, room)),
            // Past the cap while reading (a body without a declared length),
            // or a body that broke off or was badly framed.
            Ok(Err(e)) if crate::text::error_chain(&e).contains("length limit") => Err(too_large()),
            Ok(Err(_)) => Err(Refusal::new(
                400,
                "the request body ended early or is badly framed",
            )),
            Err(_) => Err(Refusal::new(
                408,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )),
        }
    }

    /// A refusal as the transport's peers read it: JSON `{"message"}`, and
    /// for 10.x the axon status headers a Python dendrite reads.
    fn refuse(&self, transport: Transport, r: &Refusal) -> Response {
        let mut response = json_response(r.status, &json!({ "message": r.message }));
        if transport == Transport::Axon {
            let headers = response.headers_mut();
            headers.insert(
                HeaderName::from_static(header::AXON_STATUS_CODE),
                HeaderValue::from(r.status),
            );
            if let Ok(v) = HeaderValue::from_str(&r.message) {
                headers.insert(HeaderName::from_static(header::AXON_STATUS_MESSAGE), v);
            }
        }
        response
    }

    fn success(
        &self,
        transport: Transport,
        mut fields: Map<String, Value>,
        dendrite: Value,
        took: Duration,
    ) -> Response {
        if transport == Transport::Btauth {
            // MIID's bittensor-11 axon answers the synapse JSON itself.
            fields.insert("name".into(), json!(self.synapse.name()));
            fields.insert("computed_body_hash".into(), json!(""));
            fields.insert("required_hash_fields".into(), json!([]));
            return json_response(200, &Value::Object(fields));
        }
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
