//! What a neuron keeps true on chain while it runs, checked at start and
//! then every period (the GRAIL seed's ChainManager loop):
//!
//! - its axon (`serve_axon` when the chain holds another address, within
//!   the serving rate limit);
//! - its read commitment (re-posted when the chain holds another one; a
//!   refusal for the commitments rate limit is logged once and retried
//!   after it);
//! - who may call it: the metagraph's hotkeys with enough stake (the last
//!   good set is kept when a read fails).
//!
//! A failure is logged and retried next period; it never stops the neuron.

use alloc::sync::Arc;
use core::net::IpAddr;
use core::time::Duration;
use std::collections::HashSet;
use std::sync::RwLock;

use veil_core::sign::Keypair;

use super::client::Subtensor;
use super::commitment::Posted;
use super::serve::Served;
use crate::ops::metrics::metrics;
use crate::registry::Commitment;

/// The allow-list a miner's axon reads, refreshed from the metagraph.
pub type SharedAllow = Arc<RwLock<HashSet<[u8; 32]>>>;

/// What to keep true.
pub struct Upkeep {
    /// The node.
    pub chain: Subtensor,
    /// The subnet.
    pub netuid: u16,
    /// The hotkey that signs.
    pub key: Arc<Keypair>,
    /// The axon to announce.
    pub axon: Option<(IpAddr, u16)>,
    /// The read commitment to hold.
    pub commitment: Option<Commitment>,
    /// The allow-list to refresh, with the stake (TAO) it needs, and the
    /// hotkeys always allowed (`--allow`).
    pub allow: Option<(SharedAllow, f64, HashSet<[u8; 32]>)>,
    /// The period.
    pub every: Duration,
}

impl core::fmt::Debug for Upkeep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Upkeep")
            .field("chain", &self.chain)
            .field("netuid", &self.netuid)
            .field("axon", &self.axon)
            .finish_non_exhaustive()
    }
}

impl Upkeep {
    /// One pass; returns what it did, for logs and tests.
    pub async fn once(&self, said_rate_limit: &mut bool) -> Vec<String> {
        let mut done = Vec::new();
        if let Some((ip, port)) = self.axon {
            match self
                .chain
                .serve_axon(self.netuid, &self.key, ip, port)
                .await
            {
                Ok(Served::Written) => {
                    metrics().chain_action("serve_axon", "ok");
                    tracing::info!(%ip, port, netuid = self.netuid, "axon served on chain");
                    done.push(format!("axon served {ip}:{port}"));
                }
                Ok(Served::Unchanged) => {
                    metrics().chain_action("serve_axon", "unchanged");
                    done.push("axon unchanged".to_owned());
                }
                Ok(Served::RateLimited(block)) => {
                    metrics().chain_action("serve_axon", "rate_limited");
                    tracing::info!(
                        block,
                        "axon changed; the serving rate limit allows it at block {block}"
                    );
                    done.push(format!("axon rate limited until {block}"));
                }
                Err(e) => {
                    metrics().chain_action("serve_axon", "error");
                    tracing::warn!(%e, "axon not served");
                    done.push(format!("axon failed: {e}"));
                }
            }
        }
        if let Some(c) = &self.commitment {
            match self
                .chain
                .publish_commitment(self.netuid, &self.key, &c.read())
                .await
            {
                Ok(Posted::Written) => {
                    metrics().chain_action("post_commitment", "ok");
                    *said_rate_limit = false;
                    tracing::info!(netuid = self.netuid, "read commitment posted on chain");
                    done.push("commitment posted".to_owned());
                }
                Ok(Posted::Unchanged) => {
                    metrics().chain_action("post_commitment", "unchanged");
                    done.push("commitment unchanged".to_owned());
                }
                Ok(Posted::RateLimited(block)) => {
                    metrics().chain_action("post_commitment", "rate_limited");
                    if !*said_rate_limit {
                        tracing::warn!(
                            ?block,
                            "the commitments rate limit refuses a new commitment; retrying after it"
                        );
                        *said_rate_limit = true;
                    }
                    done.push("commitment rate limited".to_owned());
                }
                Err(e) => {
                    metrics().chain_action("post_commitment", "error");
                    tracing::warn!(%e, "read commitment not posted");
                    done.push(format!("commitment failed: {e}"));
                }
            }
        }
        if let Some((shared, min_stake, always)) = &self.allow {
            match self.chain.metagraph(self.netuid).await {
                Ok(g) => {
                    let mut set = always.clone();
                    for n in g.metagraph.staked(*min_stake) {
                        if let Ok((_, key)) = veil_core::ss58::decode(n) {
                            set.insert(key);
                        }
                    }
                    let count = set.len();
                    if let Ok(mut w) = shared.write() {
                        *w = set;
                    }
                    metrics().chain_action("metagraph", "ok");
                    tracing::info!(
                        netuid = self.netuid,
                        allowed = count,
                        "metagraph read; allow-list updated"
                    );
                    done.push(format!("allow {count}"));
                }
                Err(e) => {
                    metrics().chain_action("metagraph", "error");
                    tracing::warn!(%e, "metagraph not refreshed; the last allow-list stays");
                    done.push(format!("metagraph failed: {e}"));
                }
            }
        }
        done
    }

    /// Runs [`Self::once`] now and every period, forever.
    pub async fn run(self) {
        let mut said = false;
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.once(&mut said).await;
        }
    }
}
