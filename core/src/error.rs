//! The umbrella error of the core: one `Copy` enum wrapping each module's.

use core::fmt;

use crate::bittensor::axon::AxonError;
use crate::bittensor::sign::SignError;
use crate::bittensor::ss58::Ss58Error;
use crate::bittensor::subtensor::StorageError;
use crate::drand::beacon::BeaconError;
use crate::drand::chain::ChainError;
use crate::drand::round::RoundError;
use crate::encoding::HexError;
use crate::grail::CommitmentError;
use crate::miid::FrameError;
use crate::timelock::age::AgeError;
use crate::timelock::armor::ArmorError;
use crate::timelock::ibe::IbeError;
use crate::timelock::tle::TleError;

/// Any error the core returns. `Copy`, allocation-free, with a one-line
/// `Display` suitable for an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Round arithmetic.
    Round(RoundError),
    /// Chain parameters.
    Chain(ChainError),
    /// Beacon verification.
    Beacon(BeaconError),
    /// Hex decoding.
    Hex(HexError),
    /// Timelock IBE.
    Ibe(IbeError),
    /// The age format.
    Age(AgeError),
    /// ASCII armor.
    Armor(ArmorError),
    /// The TLE and bittensor formats.
    Tle(TleError),
    /// sr25519 keys and signatures.
    Sign(SignError),
    /// SS58 addresses.
    Ss58(Ss58Error),
    /// MIID records, messages and keys.
    Frame(FrameError),
    /// GRAIL commitments.
    Commitment(CommitmentError),
    /// Subtensor storage holding commitments.
    Storage(StorageError),
    /// The axon/dendrite request protocol.
    Axon(AxonError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Round(e) => e.fmt(f),
            Self::Chain(e) => e.fmt(f),
            Self::Beacon(e) => e.fmt(f),
            Self::Hex(e) => e.fmt(f),
            Self::Ibe(e) => e.fmt(f),
            Self::Age(e) => e.fmt(f),
            Self::Armor(e) => e.fmt(f),
            Self::Tle(e) => e.fmt(f),
            Self::Sign(e) => e.fmt(f),
            Self::Ss58(e) => e.fmt(f),
            Self::Frame(e) => e.fmt(f),
            Self::Commitment(e) => e.fmt(f),
            Self::Storage(e) => e.fmt(f),
            Self::Axon(e) => e.fmt(f),
        }
    }
}

/// Transparent: `Display` already shows the module error, so it is not
/// repeated as a `source()` (error reporters print each source once more).
impl core::error::Error for Error {}

macro_rules! from_module_error {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Self::$variant(e)
            }
        }
    )*};
}

from_module_error!(
    Round(RoundError),
    Chain(ChainError),
    Beacon(BeaconError),
    Hex(HexError),
    Ibe(IbeError),
    Age(AgeError),
    Armor(ArmorError),
    Tle(TleError),
    Sign(SignError),
    Ss58(Ss58Error),
    Frame(FrameError),
    Commitment(CommitmentError),
    Storage(StorageError),
    Axon(AxonError),
);
