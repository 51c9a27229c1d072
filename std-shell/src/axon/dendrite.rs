//! The dendrite: the validator's client. It signs each request with the
//! validator's hotkey — bittensor 10.x headers (one uuid per process,
//! strictly increasing nanosecond nonces) or btauth/1 (bittensor 11) — and
//! reads the answer within a size cap and a timeout.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::time::Duration;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::header::CONTENT_TYPE;
use rand_core::{OsRng, RngCore};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use veil_core::axon::{self, DENDRITE_VERSION, EMPTY_BODY_HASH, header};
use veil_core::bittensor::btauth;
use veil_core::sign::{Keypair, PublicKey};
use veil_core::ss58;

use super::server::Transport;
use crate::clock::Clock;
use crate::keys::address_of;
use crate::text::{error_chain, peer_line};

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
    /// The JSON body (a synapse object), as it came: the caller decodes
    /// what it needs into typed records (never a generic tree: an answer
    /// of N bytes costs about N).
    pub body: Vec<u8>,
    /// Time from sending to the whole body read.
    pub elapsed: Duration,
}

/// What the dendrite reads of any answer: its status and message, each
/// left raw (borrowed) until used, everything else skipped unread.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    axon: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct AxonHead<'a> {
    #[serde(borrow, default)]
    status_code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status_message: Option<&'a RawValue>,
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
    clock: Arc<dyn Clock>,
    transport: Transport,
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
    pub fn new(
        keypair: Arc<Keypair>,
        max_response: usize,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::Error> {
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
            clock,
            transport: Transport::Axon,
        })
    }

    /// This dendrite, speaking `transport` (bittensor 10.x by default).
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// This dendrite's SS58 hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    fn next_nonce(&self) -> u64 {
        let now = self.clock.now_ns();
        let mut last = self
            .last_nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *last = now.max(last.saturating_add(1));
        *last
    }

    /// Sends the synapse `name` with `fields` to `target` and waits at most
    /// `timeout` for the whole answer, by this dendrite's transport.
    /// `fields` are the synapse's own (e.g. `image_request`); the
    /// protocol's (`name`, `timeout`, `computed_body_hash`, `dendrite`,
    /// `axon`) are added here, and a field of that name in `fields` is not
    /// sent.
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
        let request = match self.transport {
            Transport::Axon => self.request_v10(target, name, fields, timeout, nonce)?,
            Transport::Btauth => self.request_btauth(target, name, fields, timeout, nonce)?,
        };
        let started = Instant::now();
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                CallError::Timeout(timeout)
            } else {
                CallError::Connect(peer_line(&error_chain(&e)))
            }
        };
        let mut response = request.timeout(timeout).send().await.map_err(classify)?;
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
        // Sized once from a declared length (checked above), so the buffer
        // never doubles past the answer.
        let declared = response
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut bytes = Vec::with_capacity(declared.min(self.max_response));
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
        let head = serde_json::from_slice::<Head<'_>>(&bytes).ok();
        let axon = head
            .as_ref()
            .and_then(|h| h.axon)
            .and_then(|a| serde_json::from_str::<AxonHead<'_>>(a.get()).ok());
        let body_status = axon
            .as_ref()
            .and_then(|a| a.status_code)
            .and_then(|s| serde_json::from_str::<u64>(s.get()).ok())
            .and_then(|s| u16::try_from(s).ok());
        // btauth answers say everything with the HTTP status; a 10.x axon
        // may say it in its headers or body instead.
        let status = match self.transport {
            Transport::Btauth => http_status,
            Transport::Axon => header_status.or(body_status).unwrap_or(http_status),
        };
        if status != 200 || http_status != 200 {
            let text = |raw: Option<&RawValue>| {
                raw.and_then(|r| serde_json::from_str::<Cow<'_, str>>(r.get()).ok())
            };
            let message = head
                .as_ref()
                .and_then(|h| {
                    text(h.message).or_else(|| text(axon.as_ref().and_then(|a| a.status_message)))
                })
                .map_or_else(|| format!("HTTP {http_status}"), |m| peer_line(&m));
            return Err(CallError::Status {
                status: if status == 200 { http_status } else { status },
                message,
            });
        }
        if head.is_none() {
            return Err(CallError::Invalid("not a JSON object".into()));
        }
        let body = bytes;
        Ok(Reply { body, elapsed })
    }

    /// A bittensor 10.x request: the signed `bt_header_*` headers, and the
    /// synapse with its `dendrite` and `axon` terminals as the body.
    fn request_v10(
        &self,
        target: &AxonTarget,
        name: &str,
        fields: &Map<String, Value>,
        timeout: Duration,
        nonce: u64,
    ) -> Result<reqwest::RequestBuilder, CallError> {
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
        let body = SynapseBody {
            name,
            timeout: timeout.as_secs_f64(),
            computed_body_hash: "",
            required_hash_fields: None,
            dendrite: Some(json!({
                "hotkey": self.hotkey, "nonce": nonce, "uuid": self.uuid,
                "version": DENDRITE_VERSION, "signature": signature.as_str(), "ip": "127.0.0.1",
            })),
            axon: Some(json!({ "hotkey": target.hotkey, "ip": target.host, "port": target.port })),
            fields: synapse_fields(fields),
        };
        let body = serde_json::to_vec(&body).map_err(|e| CallError::Invalid(e.to_string()))?;
        Ok(self
            .http
            .post(target.url(name))
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
            .body(body))
    }

    /// A bittensor 11 request, as MIID's bittensor-11 branch sends it: the
    /// synapse JSON without `dendrite` and `axon` as the body, signed with
    /// btauth/1 for the target's hotkey.
    fn request_btauth(
        &self,
        target: &AxonTarget,
        name: &str,
        fields: &Map<String, Value>,
        timeout: Duration,
        nonce: u64,
    ) -> Result<reqwest::RequestBuilder, CallError> {
        let body = SynapseBody {
            name,
            timeout: timeout.as_secs_f64(),
            computed_body_hash: "",
            required_hash_fields: Some([]),
            dendrite: None,
            axon: None,
            fields: synapse_fields(fields),
        };
        let body = serde_json::to_vec(&body).map_err(|e| CallError::Invalid(e.to_string()))?;
        let path = format!("/{name}");
        let digest: [u8; 32] = Sha256::digest(&body).into();
        let signed = btauth::sign(
            &self.keypair,
            "POST",
            &path,
            &digest,
            nonce,
            &target.hotkey,
            &mut OsRng,
        )
        .map_err(|e| CallError::Invalid(e.to_string()))?;
        let mut request = self
            .http
            .post(target.url(name))
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in signed.pairs() {
            request = request.header(name, value.as_str());
        }
        Ok(request.body(body))
    }
}

/// A synapse on the wire: the protocol's fields, then the synapse's own,
/// serialized from the caller's map (they hold the base64 image: no copy
/// per call).
#[derive(serde::Serialize)]
struct SynapseBody<'a> {
    name: &'a str,
    timeout: f64,
    computed_body_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_hash_fields: Option<[&'a str; 0]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dendrite: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    axon: Option<Value>,
    #[serde(flatten)]
    fields: BTreeMap<&'a str, &'a Value>,
}

/// The synapse's own fields, without the protocol's.
fn synapse_fields(fields: &Map<String, Value>) -> BTreeMap<&str, &Value> {
    const PROTOCOL_FIELDS: [&str; 6] = [
        "name",
        "timeout",
        "computed_body_hash",
        "required_hash_fields",
        "dendrite",
        "axon",
    ];
    fields
        .iter()
        .filter(|(k, _)| !PROTOCOL_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}
