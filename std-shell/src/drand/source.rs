//! The seam every beacon comes through: [`BeaconSource`].
//!
//! Implementations: drand relays over HTTP ([`super::DrandClient`]), a
//! disk cache in front of any source ([`super::Cached`]), and beacons given
//! by the operator ([`super::FixedBeacon`]). Whatever the source, a beacon
//! it returns has been verified against its chain.

use core::fmt;

use veil_core::{Chain, Round};

use super::FetchedBeacon;
use crate::Error;

/// Where verified beacons come from.
#[async_trait::async_trait]
pub trait BeaconSource: Send + Sync + fmt::Debug {
    /// The chain every beacon is verified against.
    fn chain(&self) -> &Chain;

    /// For messages.
    fn describe(&self) -> String;

    /// The verified beacon of `round`, when it is out.
    ///
    /// # Errors
    ///
    /// [`Error::TooEarly`] before its time; otherwise when the source
    /// cannot serve a valid beacon (the reasons said).
    async fn beacon(&self, round: Round) -> Result<FetchedBeacon, Error>;

    /// Waits until `round` is out, then its verified beacon (no busy loop).
    ///
    /// # Errors
    ///
    /// When the source fails for another reason than "not yet".
    async fn wait_for(&self, round: Round) -> Result<FetchedBeacon, Error>;

    /// The latest beacon the source serves.
    ///
    /// # Errors
    ///
    /// When it cannot serve one.
    async fn latest(&self) -> Result<FetchedBeacon, Error>;

    /// A signature the operator gave without a round, for the one case no
    /// round is known (a raw TLE file without `--round`): it can then only
    /// be checked by the IBE itself. `None` for every source that fetches.
    fn unverified_signature(&self) -> Option<&[u8]> {
        None
    }
}
