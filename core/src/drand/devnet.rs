//! A drand-compatible devnet key: BLS key generation and round signing for
//! `bls-unchained-g1-rfc9380` (quicknet's scheme), so that veil can run a
//! beacon of its own for tests and offline use.
//!
//! The secret is a scalar `s`; the public key is `s·G2` (96 bytes) and the
//! signature of round `r` is `s·H_G1(sha256(u64be(r)))` with the RFC 9380 G1
//! tag (48 bytes) — exactly what drand's quicknet nodes produce, so every
//! peer verifies it.

use core::fmt;

use ark_bls12_381::{Fr, G1Projective, G2Projective};
use ark_ec::PrimeGroup;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_serialize::CanonicalSerialize;
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::bls::hash::{DST_G1_RFC9380, hash_to_g1, unchained_message};
use crate::drand::chain::{Chain, ChainError, PublicKey, Scheme};
use crate::drand::round::{ChainTime, Round};
use crate::limits::{G1_COMPRESSED_LEN, G2_COMPRESSED_LEN};

/// A devnet signing key. Zeroized on drop; its `Debug` prints nothing secret.
pub struct DevnetKey {
    secret: Fr,
}

impl Drop for DevnetKey {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for DevnetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevnetKey").finish_non_exhaustive()
    }
}

/// Why a devnet key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidDevnetKey;

impl fmt::Display for InvalidDevnetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("devnet secret must be a non-zero scalar below the BLS12-381 group order (32 bytes, big-endian)")
    }
}

impl core::error::Error for InvalidDevnetKey {}

impl DevnetKey {
    /// A fresh key from the caller's CSPRNG (64 random bytes reduced mod q:
    /// bias below 2^-250).
    pub fn generate(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        loop {
            let mut wide = Zeroizing::new([0u8; 64]);
            rng.fill_bytes(&mut wide[..]);
            let secret = Fr::from_le_bytes_mod_order(&wide[..]);
            if !secret.is_zero() {
                return Self { secret };
            }
        }
    }

    /// The key whose secret scalar is `bytes` (big-endian).
    ///
    /// # Errors
    ///
    /// [`InvalidDevnetKey`] for zero or a value not below the group order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, InvalidDevnetKey> {
        let secret = Fr::from_be_bytes_mod_order(bytes);
        let round_trips = secret.into_bigint().to_bytes_be().as_slice() == bytes.as_slice();
        if secret.is_zero() || !round_trips {
            return Err(InvalidDevnetKey);
        }
        Ok(Self { secret })
    }

    /// The secret scalar, big-endian, for storing the key.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let mut be = self.secret.into_bigint().to_bytes_be();
        if let Some(dst) = out.get_mut(32usize.saturating_sub(be.len())..)
            && dst.len() == be.len()
        {
            dst.copy_from_slice(&be);
        }
        be.zeroize();
        out
    }

    /// The public key `s·G2`, compressed.
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "elliptic-curve group arithmetic, not integers"
    )]
    pub fn public_key(&self) -> [u8; G2_COMPRESSED_LEN] {
        let mut out = [0u8; G2_COMPRESSED_LEN];
        let pk = G2Projective::generator() * self.secret;
        // Serializing a valid point into a buffer of its exact size cannot fail.
        let _ = pk.serialize_compressed(&mut out[..]);
        out
    }

    /// The beacon signature of `round`, compressed (48 bytes).
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "elliptic-curve group arithmetic, not integers"
    )]
    pub fn sign_round(&self, round: Round) -> [u8; G1_COMPRESSED_LEN] {
        let mut out = [0u8; G1_COMPRESSED_LEN];
        if let Some(h) = hash_to_g1(&unchained_message(round), DST_G1_RFC9380) {
            let sig = G1Projective::from(h) * self.secret;
            let _ = sig.serialize_compressed(&mut out[..]);
        }
        out
    }

    /// The devnet chain of this key: `bls-unchained-g1-rfc9380` with the
    /// given clock, genesis seed and beacon id.
    ///
    /// # Errors
    ///
    /// As [`Chain::new`].
    pub fn chain(
        &self,
        time: ChainTime,
        group_hash: [u8; 32],
        beacon_id: &str,
    ) -> Result<Chain, ChainError> {
        let pk = PublicKey::from_bytes(
            Scheme::UnchainedG1Rfc9380.public_key_group(),
            &self.public_key(),
        )?;
        Chain::new(Scheme::UnchainedG1Rfc9380, pk, time, group_hash, beacon_id)
    }
}
