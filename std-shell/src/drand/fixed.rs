//! Beacons the operator gives (`--signature HEX`): the same seam as the
//! relays, so every caller verifies a given signature the same way.

use veil_core::{Chain, Round};

use super::{BeaconSource, FetchedBeacon};
use crate::Error;

/// One signature given by the operator, taken as the beacon of whatever
/// round is asked for, and verified as that round's before it is returned.
#[derive(Clone)]
pub struct FixedBeacon {
    chain: Chain,
    signature: Vec<u8>,
    what: &'static str,
}

impl core::fmt::Debug for FixedBeacon {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FixedBeacon")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl FixedBeacon {
    /// `signature` for `chain`; `what` names where it came from in
    /// messages (`--signature`).
    pub fn new(chain: Chain, signature: Vec<u8>, what: &'static str) -> Self {
        Self {
            chain,
            signature,
            what,
        }
    }
}

#[async_trait::async_trait]
impl BeaconSource for FixedBeacon {
    fn chain(&self) -> &Chain {
        &self.chain
    }

    fn describe(&self) -> String {
        format!("the signature given by {}", self.what)
    }

    async fn beacon(&self, round: Round) -> Result<FetchedBeacon, Error> {
        FetchedBeacon::verify(&self.chain, round, &self.signature, None)
            .map_err(|e| Error::Content(format!("{} for round {round}: {e}", self.what)))
    }

    async fn wait_for(&self, round: Round) -> Result<FetchedBeacon, Error> {
        self.beacon(round).await
    }

    async fn latest(&self) -> Result<FetchedBeacon, Error> {
        Err(Error::Content(format!(
            "{} names no round: there is no latest beacon",
            self.what
        )))
    }

    fn unverified_signature(&self) -> Option<&[u8]> {
        Some(&self.signature)
    }
}
