//! Admission of bittensor 10.x requests (the `bt_header_dendrite_*`
//! headers): steps 2–7 of the pipeline in [`super::server`].

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use veil_core::axon::{AxonError, DendriteHeaders, EMPTY_BODY_HASH};

use super::server::{Axon, Caller, Refusal, Transport};

impl From<AxonError> for Refusal {
    fn from(e: AxonError) -> Self {
        Self::new(e.status(), e.to_string())
    }
}

impl Axon {
    /// Authenticates a 10.x request, then reads its body.
    pub(super) async fn admit_v10(
        &self,
        parts: &Parts,
        body: Body,
    ) -> Result<(Caller, Bytes, tokio::sync::OwnedSemaphorePermit), Refusal> {
        let h = &parts.headers;
        let headers = DendriteHeaders::parse(|n| h.get(n).and_then(|v| v.to_str().ok()))?;
        headers.verify(&self.hotkey)?;
        self.check_allowed(&headers.key)?;
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
        let permit = self.permit()?;
        let body = self.read_body(parts, body).await?;
        Ok((
            Caller {
                hotkey: headers.hotkey.to_owned(),
                key: headers.key,
                nonce: headers.nonce,
                uuid: headers.uuid.to_owned(),
                timeout_ms: headers.timeout_ms,
                transport: Transport::Axon,
            },
            body,
            permit,
        ))
    }

    /// Step 6: the nonce is fresh, not from the future, and newer than the
    /// caller's last one for its uuid; recorded before the body is read.
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
}
