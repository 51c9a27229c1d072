//! The drand HTTP client: relays tried in order with timeouts and backoff,
//! pinned to one chain, every beacon verified before it is returned or
//! cached.
//!
//! A relay is skipped, never trusted, when it cannot be reached, answers
//! with an error status or garbage, serves an `/info` of another chain, or
//! serves a beacon that does not verify. "Too early" is reported only when
//! the round's time has not come by the clock, or when every relay answered
//! that it does not have the round yet.

use core::time::Duration;
use std::sync::Mutex;

use serde::Deserialize;
use veil_core::encoding::Hex;
use veil_core::{Beacon, Chain, Round};

use super::cache::BeaconCache;
use super::{Clock, Relay};
use crate::Error;

/// The largest response body read from a relay.
pub const MAX_RESPONSE_LEN: usize = 64 * 1024;

/// A beacon fetched and verified against the pinned chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedBeacon {
    /// Its round.
    pub round: Round,
    /// The signature (48 or 96 bytes).
    pub signature: Vec<u8>,
    /// The previous signature (chained chains only).
    pub previous_signature: Option<Vec<u8>>,
    /// `sha256(signature)`.
    pub randomness: [u8; 32],
}

impl FetchedBeacon {
    /// drand's JSON: `{round, signature, randomness[, previous_signature]}`.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::json!({
            "round": self.round.get(),
            "signature": Hex(&self.signature).to_string(),
            "randomness": Hex(&self.randomness).to_string(),
        });
        if let Some(p) = &self.previous_signature {
            v["previous_signature"] = Hex(p).to_string().into();
        }
        v.to_string()
    }
}

#[derive(Deserialize)]
struct BeaconJson {
    round: u64,
    signature: String,
    #[serde(default)]
    previous_signature: Option<String>,
    #[serde(default)]
    randomness: Option<String>,
}

fn hex_field(name: &str, s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("{name}: {e}"))
}

/// Parses and verifies a beacon JSON document against `chain`; `want` is the
/// round asked for, if any.
///
/// # Errors
///
/// A one-line reason: not JSON, another round, bad hex, a randomness that
/// is not `sha256(signature)`, or a signature that does not verify.
pub fn parse_beacon_json(
    bytes: &[u8],
    chain: &Chain,
    want: Option<Round>,
) -> Result<FetchedBeacon, String> {
    if bytes.len() > MAX_RESPONSE_LEN {
        return Err("response too large".into());
    }
    let j: BeaconJson = serde_json::from_slice(bytes).map_err(|e| format!("not a beacon: {e}"))?;
    let round = Round::new(j.round).map_err(|e| e.to_string())?;
    if let Some(w) = want
        && w != round
    {
        return Err(format!("asked for round {w}, got round {round}"));
    }
    let signature = hex_field("signature", &j.signature)?;
    let previous_signature = j
        .previous_signature
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| hex_field("previous_signature", s))
        .transpose()?;
    let verified = chain
        .verify_beacon(&Beacon {
            round,
            signature: &signature,
            previous_signature: previous_signature.as_deref(),
        })
        .map_err(|e| format!("round {round}: {e}"))?;
    let randomness = *verified.randomness();
    if let Some(r) = &j.randomness
        && hex_field("randomness", r)? != randomness
    {
        return Err(format!(
            "round {round}: randomness is not sha256(signature)"
        ));
    }
    Ok(FetchedBeacon {
        round,
        signature,
        previous_signature: chain
            .scheme()
            .is_chained()
            .then_some(previous_signature)
            .flatten(),
        randomness,
    })
}

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

/// A drand client pinned to one chain.
pub struct DrandClient {
    http: reqwest::Client,
    chain: Chain,
    relays: Vec<Relay>,
    cache: Option<BeaconCache>,
    options: ClientOptions,
    /// Relays whose `/info` matched the pinned chain.
    info_ok: Mutex<Vec<bool>>,
}

impl DrandClient {
    /// A client for `chain` over `relays` (tried in order).
    ///
    /// # Errors
    ///
    /// [`Error::Content`] when no relay is given or the HTTP client cannot
    /// be built.
    pub fn new(
        chain: Chain,
        relays: Vec<Relay>,
        cache: Option<BeaconCache>,
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
            cache,
            options,
            info_ok,
        })
    }

    /// The pinned chain.
    pub const fn chain(&self) -> &Chain {
        &self.chain
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, RelayError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| RelayError::Bad(one_line(&e.without_url())))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND || status.as_u16() == 425 {
            return Err(RelayError::NotYet);
        }
        if !status.is_success() {
            return Err(RelayError::Bad(format!("HTTP {status}")));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_LEN as u64)
        {
            return Err(RelayError::Bad("response too large".into()));
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| RelayError::Bad(one_line(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_LEN {
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
                    parse_beacon_json(&body, &self.chain, want).map_err(RelayError::Bad)
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
                return Ok(b);
            }
            // A relay that does not have the round yet outranks broken ones:
            // the round is simply not out everywhere yet.
            if not_yet {
                let what =
                    want.map_or_else(|| "the latest round".to_owned(), |r| format!("round {r}"));
                return Err(Error::TooEarly(format!("no relay has {what} yet")));
            }
        }
        Err(Error::Content(format!(
            "no relay served a valid beacon: {}",
            reasons.join("; ")
        )))
    }

    /// The verified beacon of `round`: from the cache, else from the relays
    /// (then cached).
    ///
    /// # Errors
    ///
    /// "too early" when `round`'s time has not come by `clock` or no relay
    /// has it yet; otherwise when every relay failed (each reason listed).
    pub async fn beacon(&self, round: Round, clock: &dyn Clock) -> Result<FetchedBeacon, Error> {
        if let Some(b) = self.cache.as_ref().and_then(|c| c.get(&self.chain, round)) {
            return Ok(b);
        }
        let at = self.chain.time().time_of(round)?;
        let now = clock.now();
        if now < at {
            return Err(Error::TooEarly(format!(
                "round {round} is emitted at {at}, {}s from now (use --wait)",
                at - now
            )));
        }
        let b = self.fetch(&format!("public/{round}"), Some(round)).await?;
        if let Some(c) = &self.cache
            && let Err(e) = c.put(&b)
        {
            tracing::warn!(error = %e, "cannot cache the beacon");
        }
        Ok(b)
    }

    /// The latest verified beacon the relays serve.
    ///
    /// # Errors
    ///
    /// When every relay failed (each reason listed).
    pub async fn latest(&self) -> Result<FetchedBeacon, Error> {
        self.fetch("public/latest", None).await
    }

    /// Sleeps until `round`'s time by `clock`, then polls the relays until
    /// one serves the round (a relay a little behind, or clock skew, is
    /// tolerated: polls back off up to the chain's period). No busy loop.
    ///
    /// # Errors
    ///
    /// When the relays fail for another reason than "not yet".
    pub async fn wait_for_round(
        &self,
        round: Round,
        clock: &dyn Clock,
    ) -> Result<FetchedBeacon, Error> {
        let at = self.chain.time().time_of(round)?;
        let period = Duration::from_secs(u64::from(self.chain.time().period().get()));
        let mut poll = Duration::from_millis(200);
        loop {
            let wait = super::until(clock, at);
            if !wait.is_zero() {
                tracing::info!(%round, seconds = wait.as_secs(), "waiting for the round");
                tokio::time::sleep(wait).await;
                continue;
            }
            match self.beacon(round, clock).await {
                Ok(b) => return Ok(b),
                Err(Error::TooEarly(_)) => {
                    tokio::time::sleep(poll).await;
                    poll = poll.saturating_mul(2).min(period);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn one_line(e: &dyn core::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
