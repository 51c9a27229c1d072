//! Point decoding with full validation.
//!
//! `from_bytes` here means what it means in zkcrypto/bls12_381 and arkworks'
//! `Validate::Yes`: the ZCash compressed encoding is parsed, the point is
//! checked to be on the curve **and in the prime-order subgroup**. The point
//! at infinity is refused too: as a public key or a signature it would make
//! the pairing equation trivially true (drand/tlock audit finding #45).

use ark_bls12_381::{G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_serialize::CanonicalDeserialize;

use crate::limits::{G1_COMPRESSED_LEN, G2_COMPRESSED_LEN};

/// A validated, non-identity G1 point from its 48-byte compressed encoding.
pub(crate) fn g1_from_bytes(bytes: &[u8; G1_COMPRESSED_LEN]) -> Option<G1Affine> {
    let p = G1Affine::deserialize_compressed(&bytes[..]).ok()?;
    (!p.is_zero()).then_some(p)
}

/// A validated, non-identity G2 point from its 96-byte compressed encoding.
pub(crate) fn g2_from_bytes(bytes: &[u8; G2_COMPRESSED_LEN]) -> Option<G2Affine> {
    let p = G2Affine::deserialize_compressed(&bytes[..]).ok()?;
    (!p.is_zero()).then_some(p)
}
