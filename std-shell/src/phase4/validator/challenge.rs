//! A cycle's request: the base image, the target round and the variations
//! asked for.
//!
//! The round must not be emitted before every miner could have answered,
//! so `target = reveal_round(now + timeout·n·(1 + 0.1·n) + buffer)` with
//! `n = retries + 1`: the first round whose emission time is **at or
//! after** that instant (not the seed's floor, which can open up to a
//! period early). And no answer is taken after `reveal_time − buffer`,
//! whatever queueing delayed a query: an answer is never made by a miner
//! that could already open the round.

use core::time::Duration;

use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value, json};
use veil_core::miid::seed_image_name;

use super::Validator;
use super::requests::{RequestedVariation, standard_requests};
use crate::Error;
use crate::phase4::images::{self, BaseImage};

/// The request of one cycle, shared by every miner's task.
pub(super) struct Challenge {
    pub(super) cid: String,
    pub(super) target: u64,
    /// No answer is taken after this: `reveal_timestamp − reveal_buffer`
    /// (minus a second for the clock's rounding).
    pub(super) deadline: tokio::time::Instant,
    /// The same deadline in unix seconds: a submission's round must be
    /// emitted more than one period after it.
    pub(super) deadline_unix: u64,
    pub(super) reveal_timestamp: u64,
    pub(super) seed_name: String,
    pub(super) requested: Vec<RequestedVariation>,
    pub(super) fields: Map<String, Value>,
    /// The next place in the receipt order: each answer takes as many as
    /// it has items, when it arrives.
    pub(super) receipts: core::sync::atomic::AtomicU64,
}

impl Validator {
    /// The round to seal to for a cycle starting `now`.
    pub(super) fn target_round(&self, now: u64) -> Result<u64, Error> {
        // Attempt i waits timeout·(1 + 0.1·i); bound their sum by
        // attempts · timeout · (1 + 0.1·attempts), in whole milliseconds.
        let attempts = u128::from(self.config.retries) + 1;
        let worst_ms = self.config.timeout.as_millis() * attempts * (10 + attempts) / 10;
        let worst = u64::try_from(worst_ms.div_ceil(1000)).unwrap_or(u64::MAX);
        let not_before = now
            .saturating_add(worst)
            .saturating_add(self.config.reveal_buffer.as_secs());
        Ok(self.config.chain.time().reveal_round(not_before)?.get())
    }

    /// The request of a cycle starting `now` with `image`.
    pub(super) fn challenge(&self, image: &BaseImage, now: u64) -> Result<Challenge, Error> {
        let target = self.target_round(now)?;
        let round = veil_core::Round::new(target)?;
        let reveal_timestamp = self.config.chain.time().time_of(round)?;
        let short: String = self.hotkey.chars().take(8).collect();
        // MIID's `challenge_{unix}_{hotkey[..8]}`, plus 32 random bits: two
        // cycles started in the same second must not share results files or
        // object keys.
        let cid = format!("challenge_{now}_{short}_{:08x}", OsRng.next_u32());
        let requested = standard_requests(self.config.variations, &mut OsRng);
        let variation_requests: Vec<Value> = requested
            .iter()
            .map(|r| {
                json!({
                    "type": r.kind,
                    "intensity": r.intensity,
                    "description": r.description,
                    "detail": r.wire_detail(),
                })
            })
            .collect();
        let mut request = json!({
            "base_image": images::encode_base64(&image.bytes),
            "image_filename": image.name,
            "variation_requests": variation_requests,
            "target_drand_round": target,
            "reveal_timestamp": reveal_timestamp,
            "challenge_id": cid,
        });
        if let Some(seed) = &self.config.daily_seed {
            request["daily_seed_image"] = images::encode_base64(&seed.bytes).into();
            request["daily_seed_filename"] = seed.name.clone().into();
        }
        let mut fields = Map::new();
        fields.insert("image_request".into(), request);
        let seed_name = seed_image_name(&image.name).to_owned();
        let left = reveal_timestamp
            .saturating_sub(now)
            .saturating_sub(self.config.reveal_buffer.as_secs())
            .saturating_sub(1);
        Ok(Challenge {
            cid,
            target,
            deadline: tokio::time::Instant::now() + Duration::from_secs(left),
            deadline_unix: now.saturating_add(left),
            reveal_timestamp,
            seed_name,
            requested,
            fields,
            receipts: core::sync::atomic::AtomicU64::new(0),
        })
    }
}
