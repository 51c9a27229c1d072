//! The miner's axon on chain: `SubtensorModule.serve_axon`, sent only when
//! `Axons(netuid, hotkey)` holds other values, and not before the serving
//! rate limit allows (`Axons.block + ServingRateLimit(netuid)`, the rule of
//! spec 218 and of today's runtime alike).

use core::net::IpAddr;

use subxt::dynamic::{self, Value};
use subxt::utils::AccountId32;
use veil_core::sign::Keypair;

use super::client::{Subtensor, read, try_read};
use super::metagraph::AxonInfo;
use crate::Error;

/// The axon version veil announces: its own version as bittensor encodes
/// one (`major·1000² + minor·1000 + patch`).
pub const AXON_VERSION: u32 = 1_000;
/// bittensor's axon protocol number.
pub const AXON_PROTOCOL: u8 = 4;

const PALLET: &str = "SubtensorModule";

/// What [`Subtensor::serve_axon`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// The chain already holds this address: nothing was sent.
    Unchanged,
    /// Sent, and read back.
    Written,
    /// The serving rate limit forbids it until this block.
    RateLimited(u64),
}

/// An address as subtensor stores it: `(ip as u128, ip_type)`.
pub fn encode_ip(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4),
        IpAddr::V6(v6) => (u128::from(v6), 6),
    }
}

impl Subtensor {
    /// `hotkey`'s axon on `netuid`, if it served one.
    ///
    /// # Errors
    ///
    /// When the node fails.
    pub async fn axon_of(&self, netuid: u16, hotkey: &[u8; 32]) -> Result<Option<AxonInfo>, Error> {
        let at = self.at().await?;
        self.within(
            "Axons",
            try_read(self, &at, (PALLET, "Axons"), (netuid, AccountId32(*hotkey))),
        )
        .await
    }

    /// Announces `ip:port` as `key`'s axon on `netuid` when the chain holds
    /// another address and the serving rate limit allows it.
    ///
    /// # Errors
    ///
    /// [`Error::Content`]: the runtime refused it (an unregistered hotkey, an
    /// address it does not accept), or the node failed.
    pub async fn serve_axon(
        &self,
        netuid: u16,
        key: &Keypair,
        ip: IpAddr,
        port: u16,
    ) -> Result<Served, Error> {
        let hotkey = key.public().to_bytes();
        let (ip_value, ip_type) = encode_ip(ip);
        let current = self.axon_of(netuid, &hotkey).await?;
        if let Some(a) = current {
            if a.ip == ip_value
                && a.port == port
                && a.ip_type == ip_type
                && a.protocol == AXON_PROTOCOL
            {
                return Ok(Served::Unchanged);
            }
            let at = self.at().await?;
            let limit: u64 = read(self, &at, (PALLET, "ServingRateLimit"), (netuid,)).await?;
            let now = at.block_number();
            if limit > 0 && a.block > 0 && now.saturating_sub(a.block) < limit {
                return Ok(Served::RateLimited(a.block.saturating_add(limit)));
            }
        }
        let call = dynamic::tx(
            PALLET,
            "serve_axon",
            vec![
                Value::u128(u128::from(netuid)),
                Value::u128(u128::from(AXON_VERSION)),
                Value::u128(ip_value),
                Value::u128(u128::from(port)),
                Value::u128(u128::from(ip_type)),
                Value::u128(u128::from(AXON_PROTOCOL)),
                Value::u128(0),
                Value::u128(0),
            ],
        );
        self.submit("serve_axon", &call, key).await?;
        match self.axon_of(netuid, &hotkey).await? {
            Some(a) if a.ip == ip_value && a.port == port => Ok(Served::Written),
            _ => Err(self.fail(format!(
                "serve_axon was included but Axons(netuid {netuid}) does not hold {ip}:{port}"
            ))),
        }
    }
}
