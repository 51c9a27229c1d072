//! drand over HTTP: a verified client with relay failover and an on-disk
//! cache ([`client`]), and a devnet beacon server ([`devnet`]) that makes
//! everything run offline.
//!
//! Both speak drand's HTTP v1 API: `/{chainhash}/info`,
//! `/{chainhash}/public/{round}` and `/{chainhash}/public/latest`. Every
//! beacon the client returns or caches has been verified by the core against
//! the pinned chain; a relay that serves anything else is skipped.

pub mod cache;
pub mod client;
pub mod devnet;
pub mod relay;

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

pub use client::{DrandClient, FetchedBeacon};
pub use relay::Relay;

/// The public drand relays used when no `--relay` is given.
pub const DEFAULT_RELAYS: [&str; 4] = [
    "https://api.drand.sh",
    "https://api2.drand.sh",
    "https://api3.drand.sh",
    "https://drand.cloudflare.com",
];

/// Where time comes from: the system clock in production, a settable one in
/// tests so that nothing depends on how busy the machine is.
pub trait Clock: Send + Sync {
    /// Now, in unix seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The time until unix second `at` by `clock`, or zero when it has passed.
pub fn until(clock: &dyn Clock, at: u64) -> Duration {
    Duration::from_secs(at.saturating_sub(clock.now()))
}
