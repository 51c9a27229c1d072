//! Admission of bittensor 10.x requests (the `bt_header_dendrite_*`
//! headers): steps 2–7 of the pipeline in [`super::server`].

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use veil_core::axon::{AxonError, DendriteHeaders, EMPTY_BODY_HASH};

use std::collections::HashMap;

use super::server::{Axon, Caller, Held, Refusal, Transport};
use crate::limits::MAX_SESSIONS_PER_CALLER;

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
    ) -> Result<(Caller, Bytes, Held), Refusal> {
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
        let (body, room) = self.read_body(parts, body).await?;
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
            (permit, room),
        ))
    }

    /// Step 6: the nonce is fresh, not from the future, and newer than the
    /// caller's last one for its uuid; recorded before the body is read.
    fn record_nonce(&self, h: &DendriteHeaders<'_>) -> Result<(), Refusal> {
        let now = self.clock.now_ns();
        let policy = &self.config.nonces;
        let mut sessions = self
            .last_nonces
            .lock()
            .map_err(|_| Refusal::new(500, "internal error"))?;
        let last = sessions.last(h.hotkey, h.uuid);
        policy.check(h.nonce, h.timeout_ms, now, last)?;
        if last.is_none() {
            let forgettable = |last: u64| policy.forgettable(last, now);
            if sessions.of(h.hotkey) >= MAX_SESSIONS_PER_CALLER {
                sessions.forget_of(h.hotkey, forgettable);
                if sessions.of(h.hotkey) >= MAX_SESSIONS_PER_CALLER {
                    return Err(Refusal::new(
                        503,
                        "too many sessions from this hotkey; try again later",
                    ));
                }
            }
            if sessions.total >= self.config.max_callers {
                sessions.forget_all(forgettable);
                if sessions.total >= self.config.max_callers {
                    return Err(Refusal::new(503, "too many callers; try again later"));
                }
            }
        }
        sessions.record(h.hotkey, h.uuid, h.nonce);
        Ok(())
    }
}

/// The last nonce of each dendrite session (hotkey, uuid) the axon has
/// accepted, grouped by hotkey so that one hotkey's share is bounded
/// ([`MAX_SESSIONS_PER_CALLER`]) and cheap to prune.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    callers: HashMap<String, HashMap<String, u64>>,
    total: usize,
}

impl Sessions {
    fn last(&self, hotkey: &str, uuid: &str) -> Option<u64> {
        self.callers.get(hotkey)?.get(uuid).copied()
    }

    fn of(&self, hotkey: &str) -> usize {
        self.callers.get(hotkey).map_or(0, HashMap::len)
    }

    fn record(&mut self, hotkey: &str, uuid: &str, nonce: u64) {
        let mine = self.callers.entry(hotkey.to_owned()).or_default();
        if mine.insert(uuid.to_owned(), nonce).is_none() {
            self.total += 1;
        }
    }

    fn forget_of(&mut self, hotkey: &str, forgettable: impl Fn(u64) -> bool) {
        if let Some(mine) = self.callers.get_mut(hotkey) {
            let before = mine.len();
            mine.retain(|_, last| !forgettable(*last));
            self.total = self.total.saturating_sub(before - mine.len());
            if mine.is_empty() {
                self.callers.remove(hotkey);
            }
        }
    }

    fn forget_all(&mut self, forgettable: impl Fn(u64) -> bool) {
        let mut total = 0;
        self.callers.retain(|_, mine| {
            mine.retain(|_, last| !forgettable(*last));
            total += mine.len();
            !mine.is_empty()
        });
        self.total = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_counted_per_hotkey_and_in_all() {
        let mut s = Sessions::default();
        for i in 0..MAX_SESSIONS_PER_CALLER {
            s.record("greedy", &i.to_string(), 10);
        }
        s.record("greedy", "0", 11);
        s.record("other", "u", 5);
        assert_eq!(s.of("greedy"), MAX_SESSIONS_PER_CALLER);
        assert_eq!(s.total, MAX_SESSIONS_PER_CALLER + 1);
        assert_eq!(s.last("greedy", "0"), Some(11));
        // Only the greedy hotkey's stale entries go.
        s.forget_of("greedy", |last| last <= 10);
        assert_eq!((s.of("greedy"), s.total), (1, 2));
        s.forget_all(|last| last <= 11);
        assert_eq!((s.of("greedy"), s.of("other"), s.total), (0, 0, 0));
        assert!(s.callers.is_empty());
    }
}
