//! A subnet's metagraph read from subtensor's storage, in the shape of a
//! metagraph file ([`crate::phase4::metagraph`]).
//!
//! | field | storage |
//! |---|---|
//! | uid → hotkey | `SubtensorModule.Keys(netuid, uid)` |
//! | coldkey | `SubtensorModule.Owner(hotkey)` |
//! | axon ip, port | `SubtensorModule.Axons(netuid, hotkey)` |
//! | validator permit | `SubtensorModule.ValidatorPermit(netuid)[uid]` |
//! | stake | `TotalHotkeyAlpha(hotkey, netuid)` + `TotalHotkeyAlpha(hotkey, 0)` × `TaoWeight` |
//!
//! The stake is the subnet's stake weight as bittensor 10.5's metagraph
//! shows it (`total_stake`, in TAO): the hotkey's alpha on the subnet plus
//! its root TAO weighted by `TaoWeight / u64::MAX` (a map by netuid in spec
//! 218, one value in today's runtime; both are read). Child-key
//! inheritance (`ChildKeys`/`ParentKeys`) is not applied: a hotkey that
//! lends or borrows stake through child keys shows its own stake.

use core::net::{Ipv4Addr, Ipv6Addr};

use futures_util::{StreamExt as _, TryStreamExt as _};
use subxt::client::OnlineClientAtBlock;
use subxt::dynamic;
use subxt::ext::scale_decode::DecodeAsType;
use subxt::utils::AccountId32;
use veil_core::ss58;

use super::client::{Subtensor, read, try_read};
use super::config::SubtensorConfig;
use crate::Error;
use crate::axon::AxonTarget;
use crate::phase4::metagraph::{Metagraph, Neuron};
use crate::phase4::validator::TargetSource;

const PALLET: &str = "SubtensorModule";
/// Reads in flight at once.
const CONCURRENCY: usize = 16;
/// rao per TAO.
const RAO: f64 = 1e9;

/// An axon as the chain stores it.
#[derive(Clone, Copy, Debug, Default, DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
pub struct AxonInfo {
    /// The block it was last served at.
    pub block: u64,
    /// The axon's version.
    pub version: u32,
    /// Its IP, as a u128 (an IPv4 address in the low 32 bits).
    pub ip: u128,
    /// Its port.
    pub port: u16,
    /// 4 or 6.
    pub ip_type: u8,
    /// Its protocol.
    pub protocol: u8,
}

impl AxonInfo {
    /// The IP as text (`0.0.0.0` when unset or malformed).
    pub fn ip_text(&self) -> String {
        match self.ip_type {
            6 => Ipv6Addr::from(self.ip).to_string(),
            _ => u32::try_from(self.ip)
                .map_or_else(|_| "0.0.0.0".to_owned(), |v| Ipv4Addr::from(v).to_string()),
        }
    }
}

/// The SS58 (prefix 42) of an account.
pub fn ss58_of(account: &AccountId32) -> String {
    ss58::encode(ss58::BITTENSOR_PREFIX, &account.0).to_string()
}

/// One neuron's extra chain facts, beside the file shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainMetagraph {
    /// The block read.
    pub block: u64,
    /// The subnet.
    pub netuid: u16,
    /// The neurons.
    pub metagraph: Metagraph,
}

impl Subtensor {
    /// Subnet `netuid`'s metagraph at the newest finalized block.
    ///
    /// # Errors
    ///
    /// [`Error::Content`] when the subnet does not exist or the node fails.
    pub async fn metagraph(&self, netuid: u16) -> Result<ChainMetagraph, Error> {
        let at = self.at().await?;
        self.within("the metagraph", self.read_metagraph(&at, netuid))
            .await
    }

    async fn read_metagraph(
        &self,
        at: &OnlineClientAtBlock<SubtensorConfig>,
        netuid: u16,
    ) -> Result<ChainMetagraph, Error> {
        let fail = |what: &str, e: &dyn core::fmt::Display| {
            self.fail(format!("{what} (netuid {netuid}): {e}"))
        };
        let added: bool = read(self, at, (PALLET, "NetworksAdded"), (netuid,)).await?;
        if !added {
            return Err(self.fail(format!("subnet {netuid} does not exist")));
        }
        let storage = at.storage();
        let mut keys = Vec::new();
        let mut it = storage
            .iter(
                dynamic::storage::<(u16, u16), AccountId32>(PALLET, "Keys"),
                (netuid,),
            )
            .await
            .map_err(|e| fail("Keys", &e))?;
        while let Some(kv) = it.next().await {
            let kv = kv.map_err(|e| fail("Keys", &e))?;
            let (_, uid): (u16, u16) = kv
                .key()
                .and_then(|k| k.decode())
                .map_err(|e| fail("Keys", &e))?;
            let hotkey = kv
                .value()
                .decode_as::<AccountId32>()
                .map_err(|e| fail("Keys", &e))?;
            keys.push((uid, hotkey));
            if keys.len() > crate::limits::MAX_METAGRAPH_NEURONS {
                return Err(self.fail(format!(
                    "more than {} neurons on netuid {netuid}",
                    crate::limits::MAX_METAGRAPH_NEURONS
                )));
            }
        }
        keys.sort_by_key(|(uid, _)| *uid);
        let permits: Vec<bool> = read(self, at, (PALLET, "ValidatorPermit"), (netuid,)).await?;
        let tao_weight = self.tao_weight(at, netuid).await?;
        let neurons: Vec<Neuron> = futures_util::stream::iter(keys)
            .map(|(uid, hotkey)| {
                let permit = permits.get(usize::from(uid)).copied().unwrap_or(false);
                async move {
                    let coldkey: AccountId32 = read(self, at, (PALLET, "Owner"), (hotkey,)).await?;
                    let axon: AxonInfo = try_read(self, at, (PALLET, "Axons"), (netuid, hotkey))
                        .await?
                        .unwrap_or_default();
                    let total = (PALLET, "TotalHotkeyAlpha");
                    let alpha: u64 = read(self, at, total, (hotkey, netuid)).await?;
                    let root: u64 = if netuid == 0 {
                        0
                    } else {
                        read(self, at, total, (hotkey, 0u16)).await?
                    };
                    #[allow(clippy::cast_precision_loss)] // stake in TAO, as bittensor shows it
                    let stake = (alpha as f64 + root as f64 * tao_weight) / RAO;
                    Ok::<_, Error>(Neuron {
                        uid: u32::from(uid),
                        hotkey: ss58_of(&hotkey),
                        coldkey: Some(ss58_of(&coldkey)),
                        ip: axon.ip_text(),
                        port: axon.port,
                        stake,
                        validator_permit: permit,
                    })
                }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(ChainMetagraph {
            block: at.block_number(),
            netuid,
            metagraph: Metagraph { neurons },
        })
    }

    /// `TaoWeight / u64::MAX`: a map by netuid (spec 218) or one value
    /// (today's runtime), as the metadata says.
    async fn tao_weight(
        &self,
        at: &OnlineClientAtBlock<SubtensorConfig>,
        netuid: u16,
    ) -> Result<f64, Error> {
        let keyed = at
            .metadata_ref()
            .pallet_by_name(PALLET)
            .and_then(|p| p.storage())
            .and_then(|s| s.entry_by_name("TaoWeight"))
            .map(|e| e.keys().len() > 0);
        let raw: u64 = match keyed {
            None => return Ok(0.0),
            Some(true) => read(self, at, (PALLET, "TaoWeight"), (netuid,)).await?,
            Some(false) => read(self, at, (PALLET, "TaoWeight"), ()).await?,
        };
        #[allow(clippy::cast_precision_loss)]
        Ok(raw as f64 / u64::MAX as f64)
    }
}

/// The validator's miners from the metagraph on chain, read before every
/// cycle; when a read fails the last good list is used (and said).
pub struct ChainTargets {
    chain: Subtensor,
    netuid: u16,
    last: tokio::sync::Mutex<Option<Vec<(u32, AxonTarget)>>>,
}

impl core::fmt::Debug for ChainTargets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChainTargets")
            .field("chain", &self.chain)
            .field("netuid", &self.netuid)
            .finish_non_exhaustive()
    }
}

impl ChainTargets {
    /// The serving neurons of `netuid`.
    pub fn new(chain: Subtensor, netuid: u16) -> Self {
        Self {
            chain,
            netuid,
            last: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl TargetSource for ChainTargets {
    async fn targets(&self) -> Result<Vec<(u32, AxonTarget)>, Error> {
        let fresh = match self.chain.metagraph(self.netuid).await {
            Ok(g) => g.metagraph.targets(),
            Err(e) => Err(e),
        };
        let mut last = self.last.lock().await;
        match fresh {
            Ok(t) => {
                *last = Some(t.clone());
                Ok(t)
            }
            Err(e) => match last.as_ref() {
                Some(t) => {
                    tracing::warn!(%e, "metagraph not refreshed; querying the last good list");
                    Ok(t.clone())
                }
                None => Err(e),
            },
        }
    }
}
