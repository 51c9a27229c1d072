//! drand: where beacons come from ([`BeaconSource`]: relays over HTTP, a
//! disk cache in front of them, beacons the operator gives), the `--chain`
//! argument, and a devnet beacon server ([`devnet`]) that makes everything
//! run offline.
//!
//! The HTTP side speaks drand's v1 API: `/{chainhash}/info`,
//! `/{chainhash}/public/{round}` and `/{chainhash}/public/latest`. Every
//! beacon a source returns has been verified by the core against the
//! pinned chain; a relay that serves anything else is skipped.

pub mod beacon;
pub mod cache;
pub mod chains;
pub mod client;
pub mod devnet;
pub mod fixed;
pub mod relay;
pub mod source;

use alloc::sync::Arc;

use veil_core::Chain;

pub use beacon::FetchedBeacon;
pub use cache::Cached;
pub use client::{ClientOptions, DrandClient};
pub use fixed::FixedBeacon;
pub use relay::{DEFAULT_RELAYS, Relay};
pub use source::BeaconSource;

use crate::Error;
use crate::clock::Clock;

/// The beacons of `chain` from `relays` (the public drand relays when none
/// is given), behind the disk cache ([`Cached::default_root`]) when
/// `cache` is set and a cache folder can be found.
///
/// # Errors
///
/// A relay URL that is not http(s) or names another chain.
pub fn relays(
    chain: &Chain,
    relays: &[String],
    clock: Arc<dyn Clock>,
    cache: bool,
) -> Result<Arc<dyn BeaconSource>, Error> {
    let urls: Vec<&str> = if relays.is_empty() {
        DEFAULT_RELAYS.to_vec()
    } else {
        relays.iter().map(String::as_str).collect()
    };
    let relays = urls
        .iter()
        .map(|u| Relay::parse(u, chain.hash()))
        .collect::<Result<Vec<_>, _>>()?;
    let client: Arc<dyn BeaconSource> = Arc::new(DrandClient::new(
        chain.clone(),
        relays,
        clock,
        ClientOptions::default(),
    )?);
    Ok(match Cached::default_root().filter(|_| cache) {
        Some(root) => Arc::new(Cached::new(client, &root)),
        None => client,
    })
}
