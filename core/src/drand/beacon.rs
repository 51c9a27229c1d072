//! drand beacon verification for the four BLS12-381 schemes.
//!
//! Equations (`drand/kyber:sign/bls/bls.go`), with `H` the RFC 9380 hash to
//! the signature group under the scheme's tag and `m` the round message:
//!
//! ```text
//! signatures on G1:  e(H(m), pk) == e(sig, G2)   ⇔  e(H(m), pk) · e(−sig, G2) == 1
//! signatures on G2:  e(pk, H(m)) == e(G1, sig)   ⇔  e(pk, H(m)) · e(−G1, sig) == 1
//! ```
//!
//! Each check is one multi-Miller loop over two pairs and one final
//! exponentiation. The signature is decoded with full validation (on curve,
//! prime-order subgroup, not the identity) before any pairing. Every failure
//! of the cryptographic check — undecodable point or failed equation — is the
//! one opaque [`BeaconError::InvalidSignature`].

use core::fmt;
use core::ops::Neg;

use ark_bls12_381::{G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::One;

use crate::bls::curve::{g1_from_bytes, g2_from_bytes};
use crate::bls::hash::{chained_message, hash_to_g1, hash_to_g2, sha256, unchained_message};
use crate::drand::chain::{Chain, Group, PublicKey};
use crate::drand::round::Round;
use crate::limits::{G1_COMPRESSED_LEN, G2_COMPRESSED_LEN, MAX_PREVIOUS_SIGNATURE_LEN};

/// A beacon as received: round, signature and (chained schemes only) the
/// previous signature, as raw bytes not yet trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beacon<'a> {
    /// The round the beacon claims to be.
    pub round: Round,
    /// The BLS signature, compressed.
    pub signature: &'a [u8],
    /// The previous round's signature; required by `pedersen-bls-chained`,
    /// refused by the unchained schemes.
    pub previous_signature: Option<&'a [u8]>,
}

/// A validated signature point with its compressed encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    /// A G1 signature (quicknet, fastnet).
    G1 {
        /// Compressed encoding.
        bytes: [u8; G1_COMPRESSED_LEN],
        /// The decoded point.
        point: G1Affine,
    },
    /// A G2 signature (`pedersen-*`).
    G2 {
        /// Compressed encoding.
        bytes: [u8; G2_COMPRESSED_LEN],
        /// The decoded point.
        point: G2Affine,
    },
}

impl Signature {
    /// The compressed encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::G1 { bytes, .. } => bytes,
            Self::G2 { bytes, .. } => bytes,
        }
    }

    /// Decodes and validates a signature of `group`.
    fn from_bytes(group: Group, bytes: &[u8]) -> Result<Self, BeaconError> {
        let wrong_length = BeaconError::SignatureLength {
            expected: group.compressed_len(),
        };
        match group {
            Group::G1 => {
                let bytes: [u8; G1_COMPRESSED_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
                let point = g1_from_bytes(&bytes).ok_or(BeaconError::InvalidSignature)?;
                Ok(Self::G1 { bytes, point })
            }
            Group::G2 => {
                let bytes: [u8; G2_COMPRESSED_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
                let point = g2_from_bytes(&bytes).ok_or(BeaconError::InvalidSignature)?;
                Ok(Self::G2 { bytes, point })
            }
        }
    }
}

/// A beacon whose signature verified under its chain's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedBeacon {
    round: Round,
    signature: Signature,
    randomness: [u8; 32],
}

impl VerifiedBeacon {
    /// The round.
    pub const fn round(&self) -> Round {
        self.round
    }

    /// The verified signature (also the timelock decryption key of the round).
    pub const fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The beacon's randomness: `sha256(signature)`.
    pub const fn randomness(&self) -> &[u8; 32] {
        &self.randomness
    }
}

impl Chain {
    /// Verifies `beacon` as this chain's beacon for its round.
    ///
    /// # Errors
    ///
    /// * [`BeaconError::SignatureLength`] when the signature has the wrong size
    ///   for the scheme;
    /// * [`BeaconError::MissingPreviousSignature`] /
    ///   [`BeaconError::UnexpectedPreviousSignature`] when the chaining does not
    ///   match the scheme, [`BeaconError::PreviousSignatureTooLong`] past
    ///   [`MAX_PREVIOUS_SIGNATURE_LEN`];
    /// * [`BeaconError::InvalidSignature`] for everything the cryptography
    ///   rejects (opaque on purpose).
    pub fn verify_beacon(&self, beacon: &Beacon<'_>) -> Result<VerifiedBeacon, BeaconError> {
        let scheme = self.scheme();
        let message = match (scheme.is_chained(), beacon.previous_signature) {
            (true, None) => return Err(BeaconError::MissingPreviousSignature),
            (false, Some(_)) => return Err(BeaconError::UnexpectedPreviousSignature),
            (true, Some(prev)) if prev.len() > MAX_PREVIOUS_SIGNATURE_LEN => {
                return Err(BeaconError::PreviousSignatureTooLong {
                    max: MAX_PREVIOUS_SIGNATURE_LEN,
                });
            }
            (true, Some(prev)) => chained_message(prev, beacon.round),
            (false, None) => unchained_message(beacon.round),
        };
        let signature = Signature::from_bytes(scheme.signature_group(), beacon.signature)?;

        let valid = match (&signature, self.public_key()) {
            (Signature::G1 { point: sig, .. }, PublicKey::G2 { point: pk, .. }) => {
                let h = hash_to_g1(&message, scheme.dst()).ok_or(BeaconError::InvalidSignature)?;
                pairing_product_is_one([h, sig.neg()], [*pk, G2Affine::generator()])
            }
            (Signature::G2 { point: sig, .. }, PublicKey::G1 { point: pk, .. }) => {
                let h = hash_to_g2(&message, scheme.dst()).ok_or(BeaconError::InvalidSignature)?;
                pairing_product_is_one([*pk, G1Affine::generator().neg()], [h, *sig])
            }
            // A `Chain` always holds a key of its scheme's key group, and the
            // signature was decoded in the scheme's signature group.
            _ => false,
        };
        if !valid {
            return Err(BeaconError::InvalidSignature);
        }
        Ok(VerifiedBeacon {
            round: beacon.round,
            randomness: sha256(signature.as_bytes()),
            signature,
        })
    }
}

/// `Π e(a_i, b_i) == 1`, with one multi-Miller loop and one final
/// exponentiation.
fn pairing_product_is_one(a: [G1Affine; 2], b: [G2Affine; 2]) -> bool {
    crate::bls::pairing::multi_pairing(a, b).is_some_and(|gt| gt.0.is_one())
}

/// Why a beacon was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BeaconError {
    /// The signature has the wrong size for the chain's scheme.
    SignatureLength {
        /// The required size, in bytes.
        expected: usize,
    },
    /// A chained scheme needs the previous signature.
    MissingPreviousSignature,
    /// An unchained scheme takes no previous signature.
    UnexpectedPreviousSignature,
    /// The previous signature is longer than any drand signature.
    PreviousSignatureTooLong {
        /// The longest accepted, in bytes.
        max: usize,
    },
    /// The signature is not this chain's signature of this round.
    InvalidSignature,
}

impl fmt::Display for BeaconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignatureLength { expected } => {
                write!(
                    f,
                    "signature must be {expected} bytes for this chain's scheme"
                )
            }
            Self::MissingPreviousSignature => {
                f.write_str("this chain is chained: the previous signature is required")
            }
            Self::UnexpectedPreviousSignature => {
                f.write_str("this chain is unchained: it takes no previous signature")
            }
            Self::PreviousSignatureTooLong { max } => {
                write!(f, "previous signature is longer than {max} bytes")
            }
            Self::InvalidSignature => f.write_str("invalid beacon signature"),
        }
    }
}

impl core::error::Error for BeaconError {}
