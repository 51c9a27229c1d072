//! Admission of bittensor 11 requests signed with `btauth/1` (the
//! `X-Bittensor-*` headers; rules in [`veil_core::bittensor::btauth`]),
//! as MIID's bittensor-11 branch sends them: `POST /{SynapseName}` with the
//! synapse JSON (without `dendrite` and `axon`) as the body.
//!
//! The body is authenticated, so it is read (within the axon's body cap
//! and under an in-flight permit) before the signature is checked; the
//! receiver must be this axon; the nonce is fresh and, once the signature
//! holds, recorded so the same request is never served twice.

use core::time::Duration;

use alloc::collections::VecDeque;
use std::collections::HashMap;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use veil_core::bittensor::btauth::{ALLOWED_SKEW_NS, BtAuthError, BtAuthHeaders, MAX_AGE_NS};

use super::server::{Axon, Caller, Held, Refusal, Transport};
use crate::limits::{MAX_BTAUTH_NONCES, MAX_BTAUTH_NONCES_PER_CALLER};

impl From<BtAuthError> for Refusal {
    fn from(e: BtAuthError) -> Self {
        Self::new(e.status(), e.to_string())
    }
}

/// The `(hotkey, nonce)` pairs accepted within their freshness window: a
/// replay of one is refused. Bounded per caller ([`MAX_BTAUTH_NONCES_PER_CALLER`]:
/// a caller past it gets 503, the others are served) and in all
/// ([`MAX_BTAUTH_NONCES`]); entries expire after the window.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// Per hotkey, its accepted nonces in the order they came.
    callers: HashMap<String, VecDeque<(u64, Instant)>>,
    total: usize,
}

impl Seen {
    /// Records `(hotkey, nonce)`; false when it was already accepted.
    fn check_and_store(&mut self, hotkey: &str, nonce: u64) -> Result<bool, Refusal> {
        let window = Duration::from_nanos(MAX_AGE_NS + ALLOWED_SKEW_NS);
        let now = Instant::now();
        let expired = |at: &Instant| now.saturating_duration_since(*at) > window;
        if let Some(mine) = self.callers.get_mut(hotkey) {
            while mine.front().is_some_and(|(_, at)| expired(at)) {
                mine.pop_front();
                self.total = self.total.saturating_sub(1);
            }
            if mine.iter().any(|(n, _)| *n == nonce) {
                return Ok(false);
            }
            if mine.len() >= MAX_BTAUTH_NONCES_PER_CALLER {
                return Err(Refusal::new(
                    503,
                    "too many requests from this hotkey; try again later",
                ));
            }
        }
        if self.total >= MAX_BTAUTH_NONCES {
            let mut total = 0;
            self.callers.retain(|_, mine| {
                mine.retain(|(_, at)| !expired(at));
                total += mine.len();
                !mine.is_empty()
            });
            self.total = total;
            if self.total >= MAX_BTAUTH_NONCES {
                return Err(Refusal::new(503, "too many requests; try again later"));
            }
        }
        self.callers
            .entry(hotkey.to_owned())
            .or_default()
            .push_back((nonce, now));
        self.total += 1;
        Ok(true)
    }
}

/// The synapse timeout a btauth body carries (`"timeout": seconds`).
#[derive(serde::Deserialize)]
struct TimeoutField {
    #[serde(default)]
    timeout: Option<f64>,
}

impl Axon {
    /// Authenticates a btauth/1 request: its body is read first (the
    /// signature covers its SHA-256).
    pub(super) async fn admit_btauth(
        &self,
        parts: &Parts,
        body: Body,
    ) -> Result<(Caller, Bytes, Held), Refusal> {
        let h = &parts.headers;
        let headers = BtAuthHeaders::parse(|n| h.get(n).and_then(|v| v.to_str().ok()))?;
        let permit = self.permit()?;
        let (body, room) = self.read_body(parts, body).await?;
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path(), |p| p.as_str());
        let digest: [u8; 32] = Sha256::digest(&body).into();
        headers.verify(
            parts.method.as_str(),
            path,
            &digest,
            &self.hotkey,
            self.clock.now_ns(),
        )?;
        self.check_allowed(&headers.key)?;
        let fresh = self
            .seen
            .lock()
            .map_err(|_| Refusal::new(500, "internal error"))?
            .check_and_store(headers.hotkey, headers.nonce_ns)?;
        if !fresh {
            return Err(Refusal::new(
                401,
                "this nonce was already accepted from this hotkey",
            ));
        }
        let timeout_ms = serde_json::from_slice::<TimeoutField>(&body)
            .ok()
            .and_then(|t| t.timeout)
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(|t| Duration::from_secs_f64(t.min(86_400.0)))
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Ok((
            Caller {
                hotkey: headers.hotkey.to_owned(),
                key: headers.key,
                nonce: headers.nonce_ns,
                uuid: headers.nonce_ns.to_string(),
                timeout_ms,
                transport: Transport::Btauth,
            },
            body,
            (permit, room),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hotkey_cannot_fill_the_nonce_table() {
        let mut seen = Seen::default();
        for nonce in 0..MAX_BTAUTH_NONCES_PER_CALLER as u64 {
            assert!(seen.check_and_store("greedy", nonce).unwrap());
        }
        assert!(!seen.check_and_store("greedy", 0).unwrap(), "a replay");
        let refused = seen.check_and_store("greedy", u64::MAX).unwrap_err();
        assert_eq!(refused.status, 503);
        // Another caller is served.
        assert!(seen.check_and_store("other", 0).unwrap());
        assert!(!seen.check_and_store("other", 0).unwrap());
    }
}
