//! drand chains: schemes, public keys and chain hashes. The built-in
//! networks are in [`super::builtin`], the `/info` document (read and
//! written) in [`super::info`].
//!
//! A chain's identity is its hash, which drand computes as (`drand/drand:
//! common/chain/info.go`, `Info.Hash()`):
//!
//! ```text
//! sha256( u32be(period) ‖ i64be(genesis_time) ‖ public_key ‖ groupHash ‖ beaconID )
//! ```
//!
//! with `beaconID` omitted when it is empty or `default`. The scheme id is not
//! part of the hash. veil never takes a chain hash on trust: it recomputes it
//! from the parameters and refuses a document whose `hash` differs.

use core::fmt;

use ark_bls12_381::{G1Affine, G2Affine};
use sha2::{Digest, Sha256};

use super::builtin::BuiltinChain;
use super::round::ChainTime;
use crate::bls::curve::{g1_from_bytes, g2_from_bytes};
use crate::bls::hash::{DST_G1_RFC9380, DST_G2};
use crate::encoding::HexError;
use crate::limits::{G1_COMPRESSED_LEN, G2_COMPRESSED_LEN, MAX_BEACON_ID_LEN};

/// One of the two source groups of BLS12-381.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// G1: 48-byte compressed points.
    G1,
    /// G2: 96-byte compressed points.
    G2,
}

impl Group {
    /// Compressed size of a point of this group, in bytes.
    pub const fn compressed_len(self) -> usize {
        match self {
            Self::G1 => G1_COMPRESSED_LEN,
            Self::G2 => G2_COMPRESSED_LEN,
        }
    }
}

/// A drand signature scheme over BLS12-381 (`drand/drand:crypto/schemes.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `bls-unchained-g1-rfc9380` (quicknet): signatures on G1 with the RFC 9380
    /// G1 tag, public key on G2, message `sha256(u64be(round))`.
    UnchainedG1Rfc9380,
    /// `bls-unchained-on-g1` (fastnet, deprecated): like quicknet but hashed to
    /// G1 with the **G2** tag.
    UnchainedOnG1,
    /// `pedersen-bls-unchained`: signatures on G2, public key on G1, message
    /// `sha256(u64be(round))`.
    PedersenUnchained,
    /// `pedersen-bls-chained` (the `default` mainnet): signatures on G2, public
    /// key on G1, message `sha256(previous_signature ‖ u64be(round))`.
    PedersenChained,
}

impl Scheme {
    /// Every scheme veil knows.
    pub const ALL: [Scheme; 4] = [
        Self::UnchainedG1Rfc9380,
        Self::UnchainedOnG1,
        Self::PedersenUnchained,
        Self::PedersenChained,
    ];

    /// drand's scheme id, as in `/info`'s `schemeID`.
    pub const fn id(self) -> &'static str {
        match self {
            Self::UnchainedG1Rfc9380 => "bls-unchained-g1-rfc9380",
            Self::UnchainedOnG1 => "bls-unchained-on-g1",
            Self::PedersenUnchained => "pedersen-bls-unchained",
            Self::PedersenChained => "pedersen-bls-chained",
        }
    }

    /// The scheme with drand id `id`.
    ///
    /// # Errors
    ///
    /// [`ChainError::UnsupportedScheme`] for any other id (including
    /// `bls-bn254-unchained-on-g1`, which is not a BLS12-381 scheme).
    pub fn from_id(id: &str) -> Result<Self, ChainError> {
        Self::ALL
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or(ChainError::UnsupportedScheme)
    }

    /// The group signatures live in.
    pub const fn signature_group(self) -> Group {
        match self {
            Self::UnchainedG1Rfc9380 | Self::UnchainedOnG1 => Group::G1,
            Self::PedersenUnchained | Self::PedersenChained => Group::G2,
        }
    }

    /// The group the public key lives in (the other one).
    pub const fn public_key_group(self) -> Group {
        match self.signature_group() {
            Group::G1 => Group::G2,
            Group::G2 => Group::G1,
        }
    }

    /// The hash-to-curve domain-separation tag used to hash the message.
    pub const fn dst(self) -> &'static [u8] {
        match self {
            Self::UnchainedG1Rfc9380 => DST_G1_RFC9380,
            Self::UnchainedOnG1 | Self::PedersenUnchained | Self::PedersenChained => DST_G2,
        }
    }

    /// Whether each beacon signs the previous signature too.
    pub const fn is_chained(self) -> bool {
        matches!(self, Self::PedersenChained)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A chain's validated public key: its compressed bytes and the decoded point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// A key on G1 (the `pedersen-*` schemes).
    G1 {
        /// Compressed encoding.
        bytes: [u8; G1_COMPRESSED_LEN],
        /// The decoded point, in the prime-order subgroup, not the identity.
        point: G1Affine,
    },
    /// A key on G2 (quicknet, fastnet).
    G2 {
        /// Compressed encoding.
        bytes: [u8; G2_COMPRESSED_LEN],
        /// The decoded point, in the prime-order subgroup, not the identity.
        point: G2Affine,
    },
}

impl PublicKey {
    /// Decodes and fully validates a compressed key of `group`: on the curve,
    /// in the prime-order subgroup, not the identity.
    ///
    /// # Errors
    ///
    /// [`ChainError::PublicKeyLength`] for the wrong length,
    /// [`ChainError::InvalidPublicKey`] for anything else.
    pub fn from_bytes(group: Group, bytes: &[u8]) -> Result<Self, ChainError> {
        let wrong_length = ChainError::PublicKeyLength {
            expected: group.compressed_len(),
        };
        match group {
            Group::G1 => {
                let bytes: [u8; G1_COMPRESSED_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
                let point = g1_from_bytes(&bytes).ok_or(ChainError::InvalidPublicKey)?;
                Ok(Self::G1 { bytes, point })
            }
            Group::G2 => {
                let bytes: [u8; G2_COMPRESSED_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
                let point = g2_from_bytes(&bytes).ok_or(ChainError::InvalidPublicKey)?;
                Ok(Self::G2 { bytes, point })
            }
        }
    }

    /// The compressed encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::G1 { bytes, .. } => bytes,
            Self::G2 { bytes, .. } => bytes,
        }
    }

    /// The group the key lives in.
    pub const fn group(&self) -> Group {
        match self {
            Self::G1 { .. } => Group::G1,
            Self::G2 { .. } => Group::G2,
        }
    }
}

/// A drand beacon id (`metadata.beaconID`), bounded by [`MAX_BEACON_ID_LEN`].
pub type BeaconId = heapless::String<MAX_BEACON_ID_LEN>;

/// A drand chain: everything needed to verify its beacons and do its round
/// math. Constructed only through validating paths, so a `Chain` always has a
/// valid public key of the right group and a hash that matches its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub(super) scheme: Scheme,
    pub(super) public_key: PublicKey,
    pub(super) time: ChainTime,
    pub(super) group_hash: [u8; 32],
    pub(super) beacon_id: BeaconId,
    pub(super) hash: [u8; 32],
}

impl Chain {
    /// Builds a chain from its parameters and computes its hash.
    ///
    /// `genesis` must not exceed `i64::MAX` (drand hashes it as an `i64`).
    /// `beacon_id` may be empty; it is hashed unless empty or `default`.
    ///
    /// # Errors
    ///
    /// [`ChainError::PublicKeyGroup`] when the key is not in the scheme's key
    /// group, [`ChainError::GenesisOutOfRange`], or
    /// [`ChainError::InvalidBeaconId`].
    pub fn new(
        scheme: Scheme,
        public_key: PublicKey,
        time: ChainTime,
        group_hash: [u8; 32],
        beacon_id: &str,
    ) -> Result<Self, ChainError> {
        if public_key.group() != scheme.public_key_group() {
            return Err(ChainError::PublicKeyGroup {
                expected: scheme.public_key_group(),
            });
        }
        let genesis = i64::try_from(time.genesis()).map_err(|_| ChainError::GenesisOutOfRange)?;
        let beacon_id = parse_beacon_id(beacon_id)?;
        let mut h = Sha256::new();
        h.update(time.period().get().to_be_bytes());
        h.update(genesis.to_be_bytes());
        h.update(public_key.as_bytes());
        h.update(group_hash);
        if !beacon_id.is_empty() && beacon_id.as_str() != "default" {
            h.update(beacon_id.as_bytes());
        }
        Ok(Self {
            scheme,
            public_key,
            time,
            group_hash,
            beacon_id,
            hash: h.finalize().into(),
        })
    }

    /// A built-in chain by name or alias; see [`BuiltinChain::from_name`].
    ///
    /// # Errors
    ///
    /// [`ChainError::UnknownChain`] for any other name.
    pub fn builtin(name: &str) -> Result<Self, ChainError> {
        BuiltinChain::from_name(name)?.chain()
    }

    /// The signature scheme.
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The group public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The chain's clock (genesis and period), for round math.
    pub const fn time(&self) -> ChainTime {
        self.time
    }

    /// The genesis seed (`groupHash`).
    pub const fn group_hash(&self) -> &[u8; 32] {
        &self.group_hash
    }

    /// The beacon id (may be empty).
    pub fn beacon_id(&self) -> &str {
        self.beacon_id.as_str()
    }

    /// The chain hash, recomputed from the parameters.
    pub const fn hash(&self) -> &[u8; 32] {
        &self.hash
    }
}

/// A beacon id: at most [`MAX_BEACON_ID_LEN`] bytes of `[A-Za-z0-9._-]`, the
/// characters drand beacon ids are made of. Anything else (escapes, spaces,
/// control characters) is refused rather than hashed.
pub(super) fn parse_beacon_id(id: &str) -> Result<BeaconId, ChainError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !id.bytes().all(allowed) {
        return Err(ChainError::InvalidBeaconId);
    }
    BeaconId::try_from(id).map_err(|_| ChainError::InvalidBeaconId)
}

/// Why a chain was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// No built-in chain has that name.
    UnknownChain,
    /// The scheme id is not one of the four BLS12-381 drand schemes.
    UnsupportedScheme,
    /// The `/info` document is larger than the limit.
    InfoTooLarge {
        /// The largest size accepted, in bytes.
        max: usize,
    },
    /// The `/info` document nests deeper than the limit.
    InfoTooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
    /// The `/info` document is not a JSON object of the expected shape.
    InvalidJson,
    /// A required field is absent.
    MissingField(&'static str),
    /// A field is not hex of the expected length.
    BadHex(&'static str, HexError),
    /// The public key has the wrong length for its group.
    PublicKeyLength {
        /// The expected length, in bytes.
        expected: usize,
    },
    /// The public key is not a valid point of the prime-order subgroup (or is
    /// the identity).
    InvalidPublicKey,
    /// The public key is not in the group the scheme puts keys in.
    PublicKeyGroup {
        /// The group the scheme requires.
        expected: Group,
    },
    /// The period is 0 or does not fit drand's 32-bit field.
    PeriodOutOfRange,
    /// The genesis time is negative or beyond `i64::MAX`.
    GenesisOutOfRange,
    /// The beacon id is too long or has characters drand ids never have.
    InvalidBeaconId,
    /// The chain hash in the document differs from the one recomputed from its
    /// parameters.
    HashMismatch,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownChain => f.write_str(
                "unknown chain name (built-in: quicknet, quicknet-t, default, fastnet, testnet-unchained)",
            ),
            Self::UnsupportedScheme => f.write_str(
                "unsupported drand scheme (supported: bls-unchained-g1-rfc9380, bls-unchained-on-g1, pedersen-bls-unchained, pedersen-bls-chained)",
            ),
            Self::InfoTooLarge { max } => write!(f, "chain info is larger than {max} bytes"),
            Self::InfoTooDeep { max } => write!(f, "chain info nests deeper than {max} levels"),
            Self::InvalidJson => f.write_str("chain info is not a valid drand /info JSON object"),
            Self::MissingField(name) => write!(f, "chain info has no `{name}` field"),
            Self::BadHex(name, e) => write!(f, "chain info field `{name}`: {e}"),
            Self::PublicKeyLength { expected } => {
                write!(f, "public key must be {expected} bytes for this scheme")
            }
            Self::InvalidPublicKey => {
                f.write_str("public key is not a valid point of the BLS12-381 prime-order subgroup")
            }
            Self::PublicKeyGroup { expected } => write!(f, "public key must be on {expected:?}"),
            Self::PeriodOutOfRange => f.write_str("period must be between 1 and 4294967295 seconds"),
            Self::GenesisOutOfRange => {
                f.write_str("genesis_time must be between 0 and 9223372036854775807")
            }
            Self::InvalidBeaconId => write!(
                f,
                "beacon id must be at most {MAX_BEACON_ID_LEN} characters of [A-Za-z0-9._-]"
            ),
            Self::HashMismatch => {
                f.write_str("chain hash does not match the hash recomputed from the chain parameters")
            }
        }
    }
}

impl core::error::Error for ChainError {}
