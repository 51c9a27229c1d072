//! The drand HTTP client: relays tried in order with timeouts and backoff,
//! pinned to one chain, every beacon verified before it is returned (a disk
//! cache, when wanted, goes in front of it: [`super::Cached`]).
//!
//! A relay is skipped, never trusted, when it cannot be reached, answers
//! with an error status or garbage, serves an `/info` of another chain, or
//! serves a beacon that does not verify. "Too early" is reported only when
//! the round's time has not come by the clock, or when every relay answered
//! that it does not have the round yet.

use alloc::sync::Arc;
use core::time::Duration;
use std::sync::Mutex;

use veil_core::encoding::Hex;
use veil_core::{Chain, Round};

use super::{BeaconSource, FetchedBeacon, Relay};
use crate::Error;
use crate::clock::{self, Clock};
use crate::limits::MAX_DRAND_RESPONSE;
use crate::ops::metrics::metrics;
use crate::text::error_chain;

/// Why one relay could not serve a request.
#[derive(Debug)]
enum RelayError {
    /// 404 or 425: the relay does not have the round (yet).
    NotYet,
    /// Anything else: the reason, for the log and the final error.
    Bad(String),
}

/// Options of a [`DrandClient`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Passes over the relay list before giving up.
    pub passes: u32,
    /// Sleep before the second pass; doubled for each further pass.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            passes: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// A drand client pinned to one chain: the [`BeaconSource`] of relays over
/// HTTP.
pub struct DrandClient {
    http: reqwest::Client,
    chain: Chain,
    relays: Vec<Relay>,
    clock: Arc<dyn Clock>,
    options: ClientOptions,
    /// Relays whose `/info` matched the pinned chain.
    info_ok: Mutex<Vec<bool>>,
}

impl DrandClient {
    /// A client for `chain` over `relays` (tried in order); `clock` says
    /// when a round is due.
    ///
    /// # Errors
    ///
    /// [`Error::Content`] when no relay is given or the HTTP client cannot
    /// be built.
    pub fn new(
        chain: Chain,
        relays: Vec<Relay>,
        clock: Arc<dyn Clock>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        if relays.is_empty() {
            return Err(Error::Content("no drand relay given".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .user_agent(concat!("veil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Content(format!("HTTP client: {e}")))?;
        let info_ok = Mutex::new(vec![false; relays.len()]);
        Ok(Self {
            http,
            chain,
            relays,
            clock,
            options,
            info_ok,
        })
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, RelayError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| RelayError::Bad(error_chain(&e.without_url())))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND || status.as_u16() == 425 {
            return Err(RelayError::NotYet);
        }
        if !status.is_success() {
            return Err(RelayError::Bad(format!("HTTP {status}")));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_DRAND_RESPONSE as u64)
        {
            return Err(RelayError::Bad("response too large".into()));
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| RelayError::Bad(error_chain(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_DRAND_RESPONSE {
                return Err(RelayError::Bad("response too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Checks relay `i`'s `/info` against the pinned chain (once per relay).
    async fn check_info(&self, i: usize, relay: &Relay) -> Result<(), RelayError> {
        if self.info_ok.lock().ok().and_then(|v| v.get(i).copied()) == Some(true) {
            return Ok(());
        }
        let body = match self.get(&relay.url("info")).await {
            Ok(b) => b,
            Err(RelayError::NotYet) => {
                return Err(RelayError::Bad("no /info for the chain".into()));
            }
            Err(e) => return Err(e),
        };
        let info =
            Chain::from_info_json(&body).map_err(|e| RelayError::Bad(format!("bad /info: {e}")))?;
        if info.hash() != self.chain.hash() || info.public_key() != self.chain.public_key() {
            return Err(RelayError::Bad(format!(
                "/info is chain {}, not the pinned {}",
                Hex(info.hash()),
                Hex(self.chain.hash())
            )));
        }
        if let Ok(mut v) = self.info_ok.lock()
            && let Some(slot) = v.get_mut(i)
        {
            *slot = true;
        }
        Ok(())
    }

    /// One pass over the relays for `path`; the first verified beacon wins.
    /// Otherwise each relay's reason is in `reasons`, and `not_yet` says
    /// whether some relay answered that it does not have the round yet.
    async fn pass(
        &self,
        path: &str,
        want: Option<Round>,
        reasons: &mut Vec<String>,
        not_yet: &mut bool,
    ) -> Option<FetchedBeacon> {
        for (i, relay) in self.relays.iter().enumerate() {
            let result = match self.check_info(i, relay).await {
                Ok(()) => self.get(&relay.url(path)).await.and_then(|body| {
                    FetchedBeacon::parse(&body, &self.chain, want).map_err(RelayError::Bad)
                }),
                Err(e) => Err(e),
            };
            match result {
                Ok(b) => return Some(b),
                Err(RelayError::NotYet) => {
                    tracing::debug!(%relay, path, "relay does not have it yet");
                    *not_yet = true;
                    reasons.push(format!("{relay}: not yet"));
                }
                Err(RelayError::Bad(why)) => {
                    tracing::warn!(%relay, path, reason = %why, "skipping relay");
                    reasons.push(format!("{relay}: {why}"));
                }
            }
        }
        None
    }

    async fn fetch(&self, path: &str, want: Option<Round>) -> Result<FetchedBeacon, Error> {
        let mut backoff = self.options.backoff;
        let mut reasons = Vec::new();
        for pass in 0..self.options.passes.max(1) {
            if pass > 0 {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
            reasons.clear();
            let mut not_yet = false;
            if let Some(b) = self.pass(path, want, &mut reasons, &mut not_yet).await {
                metrics().beacon_fetch("ok");
                return Ok(b);
            }
            // A relay that does not have the round yet outranks broken ones:
            // the round is simply not out everywhere yet.
            if not_yet {
                metrics().beacon_fetch("not_yet");
                let what =
                    want.map_or_else(|| "the latest round".to_owned(), |r| format!("round {r}"));
                return Err(Error::TooEarly(format!("no relay has {what} yet")));
            }
        }
        metrics().beacon_fetch("error");
        tracing::warn!(reasons = %reasons.join("; "), "no relay served a valid beacon");
        Err(Error::Content(format!(
            "no relay served a valid beacon: {}",
            reasons.join("; ")
        )))
    }
}

impl core::fmt::Debug for DrandClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DrandClient")
            .field("relays", &self.relays)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl BeaconSource for DrandClient {
    fn chain(&self) -> &Chain {
        &self.chain
    }

    fn describe(&self) -> String {
        let relays: Vec<String> = self.relays.iter().map(ToString::to_string).collect();
        format!("drand relays {}", relays.join(", "))
    }

    /// The verified beacon of `round` from the relays; "too early" when its
    /// time has not come by the clock or no relay has it yet.
    async fn beacon(&self, round: Round) -> Result<FetchedBeacon, Error> {
        let at = self.chain.time().time_of(round)?;
        let now = self.clock.now();
        if now < at {
            return Err(Error::TooEarly(format!(
                "round {round} is emitted at {at}, {}s from now (use --wait)",
                at - now
            )));
        }
        self.fetch(&format!("public/{round}"), Some(round)).await
    }

    /// Sleeps until `round`'s time by the clock, then polls the relays until
    /// one serves the round (a relay a little behind, or clock skew, is
    /// tolerated: polls back off up to the chain's period).
    async fn wait_for(&self, round: Round) -> Result<FetchedBeacon, Error> {
        let at = self.chain.time().time_of(round)?;
        let period = Duration::from_secs(u64::from(self.chain.time().period().get()));
        let mut poll = Duration::from_millis(200);
        loop {
            let wait = clock::until(self.clock.as_ref(), at);
            if !wait.is_zero() {
                tracing::info!(%round, seconds = wait.as_secs(), "waiting for the round");
                tokio::time::sleep(wait).await;
                continue;
            }
            match self.beacon(round).await {
                Ok(b) => return Ok(b),
                Err(Error::TooEarly(_)) => {
                    tokio::time::sleep(poll).await;
                    poll = poll.saturating_mul(2).min(period);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn latest(&self) -> Result<FetchedBeacon, Error> {
        self.fetch("public/latest", None).await
    }
}
