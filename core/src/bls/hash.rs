//! Hashes and domain-separation tags of the drand beacon schemes.

use ark_bls12_381::{G1Affine, G1Projective, G2Affine, G2Projective, g1, g2};
use ark_ec::hashing::{
    HashToCurve, curve_maps::wb::WBMap, map_to_curve_hasher::MapToCurveBasedHasher,
};
use ark_ff::field_hashers::DefaultFieldHasher;
use sha2::{Digest, Sha256};

use crate::drand::round::Round;

/// RFC 9380 suite `BLS12381G1_XMD:SHA-256_SSWU_RO_` with the BLS-signature
/// tag: the hash-to-G1 DST of drand's `bls-unchained-g1-rfc9380` (quicknet),
/// per `drand/drand:crypto/schemes.go` (`SigsOnG1ID`).
pub const DST_G1_RFC9380: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// RFC 9380 suite `BLS12381G2_XMD:SHA-256_SSWU_RO_` with the BLS-signature
/// tag: the hash-to-G2 DST of `pedersen-bls-chained` and
/// `pedersen-bls-unchained`. drand's deprecated `bls-unchained-on-g1`
/// (fastnet) also uses this **G2** tag to hash to **G1** — not RFC-compliant,
/// but it is what those beacons were signed with (`schemes.go`,
/// `ShortSigSchemeID`).
pub const DST_G2: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The message an unchained drand beacon signs: `sha256(u64be(round))`.
pub fn unchained_message(round: Round) -> [u8; 32] {
    sha256(&round.to_be_bytes())
}

/// The message a chained drand beacon signs:
/// `sha256(previous_signature ‖ u64be(round))`. For round 1 the previous
/// signature is the chain's 32-byte genesis seed (`groupHash`).
pub fn chained_message(previous_signature: &[u8], round: Round) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous_signature);
    h.update(round.to_be_bytes());
    h.finalize().into()
}

type G1Hasher =
    MapToCurveBasedHasher<G1Projective, DefaultFieldHasher<Sha256, 128>, WBMap<g1::Config>>;
type G2Hasher =
    MapToCurveBasedHasher<G2Projective, DefaultFieldHasher<Sha256, 128>, WBMap<g2::Config>>;

/// RFC 9380 `hash_to_curve` (random-oracle variant) onto G1 with `dst`.
/// The result is in the prime-order subgroup (cofactor cleared).
pub fn hash_to_g1(msg: &[u8], dst: &[u8]) -> Option<G1Affine> {
    G1Hasher::new(dst).ok()?.hash(msg).ok()
}

/// RFC 9380 `hash_to_curve` (random-oracle variant) onto G2 with `dst`.
pub fn hash_to_g2(msg: &[u8], dst: &[u8]) -> Option<G2Affine> {
    G2Hasher::new(dst).ok()?.hash(msg).ok()
}
