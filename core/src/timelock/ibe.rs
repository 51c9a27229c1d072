//! Boneh–Franklin *FullIdent* timelock IBE over BLS12-381, in the two
//! flavours veil must speak, which share their mathematics and nothing else.
//!
//! The identity of round `r` is `Q = H(sha256(u64be(r)))` in the chain's
//! signature group (RFC 9380 hash-to-curve with the chain's tag); its private
//! key is `s·Q`, **the round's beacon signature**. With `Gid = e(Q, PK)`:
//!
//! ```text
//! seal:  r = H3(σ, m);  U = r·G;  V = σ ⊕ H2(Gid^r);  W = m ⊕ H4(σ)
//! open:  σ = V ⊕ H2(e(sig, U));  m = W ⊕ H4(σ);  require H3(σ, m)·G == U
//! ```
//!
//! where `G` generates the group opposite the signatures (G2 for quicknet).
//!
//! | | drand/kyber ([`tlock_encrypt`], age) | ideal-lab ([`tle_encrypt`], TLE) |
//! |---|---|---|
//! | σ, m | 16 bytes each (the age file key) | 32 bytes each (m is the AES key) |
//! | H2 | `sha256("IBE-H2" ‖ kyber(gt))`, kyber = arkworks bytes reversed | `sha256(ark(gt))` |
//! | H3 | `sha256("IBE-H3" ‖ σ ‖ m)`, then rejection sampling with a `u16le` counter | `sha256(σ ‖ m)` reduced mod q |
//! | H4 | `sha256("IBE-H4" ‖ σ)` | `sha256(σ)` |
//! | groups | signatures on G1 or on G2 | signatures on G1 only |
//!
//! The per-round work (`Q` and the pairing `Gid`) is a [`PreparedRound`] so
//! that every seal to one round shares it. Opening checks `U == r·G` (by
//! comparing the canonical encoding, in constant time) before anything is
//! released, and every failure is the one opaque
//! [`IbeError::DecryptionFailed`].

use alloc::boxed::Box;
use core::fmt;

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G2Affine};
use ark_ec::pairing::PairingOutput;
use ark_ff::PrimeField;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use hex_literal::hex;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::bls::ct::projective_eq_affine;
use crate::bls::fixed_base::{GtTable, gt_pow_windowed};
use crate::bls::generators::{g1_mul, g2_mul};
use crate::bls::hash::{hash_to_g1, hash_to_g2, unchained_message};
use crate::drand::beacon::{Signature, VerifiedBeacon};
use crate::drand::chain::{Chain, Group};
use crate::drand::round::Round;
use crate::limits::{G1_COMPRESSED_LEN, G2_COMPRESSED_LEN};

/// Size of a serialized GT element (an `Fq12`), in bytes.
const GT_LEN: usize = 576;

/// The order `q` of the BLS12-381 scalar field, big-endian; kyber's H3
/// accepts a candidate only when it is below `q`.
const SCALAR_MODULUS_BE: [u8; 32] =
    hex!("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001");

/// Why sealing or opening was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IbeError {
    /// A chained chain signs the previous signature too, so a future round's
    /// identity cannot be known: such chains cannot be used for timelock.
    ChainedScheme,
    /// The format needs signatures on G1 (quicknet-like chains).
    NeedsG1Signatures,
    /// A signature of the wrong size, or not a valid group element.
    InvalidKey,
    /// Opening failed. Deliberately says nothing more.
    DecryptionFailed,
    /// Sealing failed: an internal step (H3's rejection sampling running
    /// out, a point that would not serialize, a buffer too short for the
    /// ciphertext) that no input can cause in practice. Kept apart from
    /// [`IbeError::DecryptionFailed`], which is about a ciphertext.
    SealingFailed,
}

impl fmt::Display for IbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ChainedScheme => {
                "chained drand chains (pedersen-bls-chained) cannot be used for timelock encryption"
            }
            Self::NeedsG1Signatures => {
                "this format needs a chain with signatures on G1 (bls-unchained-g1-rfc9380 or bls-unchained-on-g1)"
            }
            Self::InvalidKey => "the signature is not a valid point of the chain's signature group",
            Self::DecryptionFailed => "decryption failed",
            Self::SealingFailed => "sealing failed (internal error)",
        })
    }
}

impl core::error::Error for IbeError {}

/// The public, per-round work of sealing: the round's identity point hashed
/// to the curve and `Gid = e(Q, PK)`. Compute once, seal many times; call
/// [`PreparedRound::precompute`] when sealing more than a couple of payloads
/// to the round.
#[derive(Clone)]
pub struct PreparedRound {
    round: Round,
    chain_hash: [u8; 32],
    signature_group: Group,
    gid: PairingOutput<Bls12_381>,
    gid_table: Option<Box<GtTable>>,
}

impl PartialEq for PreparedRound {
    /// Equal when they seal to the same round of the same chain; whether a
    /// table was built does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.round == other.round
            && self.chain_hash == other.chain_hash
            && self.signature_group == other.signature_group
            && self.gid == other.gid
    }
}

impl Eq for PreparedRound {}

impl fmt::Debug for PreparedRound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRound")
            .field("round", &self.round)
            .field("chain_hash", &crate::encoding::Hex(&self.chain_hash))
            .field("signature_group", &self.signature_group)
            .field("precomputed", &self.gid_table.is_some())
            .finish_non_exhaustive()
    }
}

impl PreparedRound {
    /// Hashes `round`'s identity onto `chain`'s signature group and pairs it
    /// with the chain key (one hash-to-curve, one pairing).
    ///
    /// # Errors
    ///
    /// [`IbeError::ChainedScheme`] for `pedersen-bls-chained`.
    pub fn new(chain: &Chain, round: Round) -> Result<Self, IbeError> {
        let scheme = chain.scheme();
        if scheme.is_chained() {
            return Err(IbeError::ChainedScheme);
        }
        let id = unchained_message(round);
        let gid = match chain.public_key() {
            crate::drand::chain::PublicKey::G2 { point: pk, .. } => {
                let q = hash_to_g1(&id, scheme.dst()).ok_or(IbeError::InvalidKey)?;
                pair(q, *pk)?
            }
            crate::drand::chain::PublicKey::G1 { point: pk, .. } => {
                let q = hash_to_g2(&id, scheme.dst()).ok_or(IbeError::InvalidKey)?;
                pair(*pk, q)?
            }
        };
        Ok(Self {
            round,
            chain_hash: *chain.hash(),
            signature_group: scheme.signature_group(),
            gid,
            gid_table: None,
        })
    }

    /// Builds the round's table of `Gid` powers (52 × 16 `Fq12`, 468 KiB on
    /// the heap; ~3 ms, about as long as five untabled IBE seals): every
    /// later IBE seal to the round then costs about a third as much. For a
    /// miner's variations or any batch sealed to one round; a one-off seal
    /// does better without. Idempotent.
    pub fn precompute(&mut self) {
        if self.gid_table.is_none() {
            self.gid_table = Some(Box::new(GtTable::new(&self.gid.0)));
        }
    }

    /// Whether [`Self::precompute`] has built the table.
    pub const fn is_precomputed(&self) -> bool {
        self.gid_table.is_some()
    }

    /// `Gid^r`, by the table when there is one. The lookups never depend on
    /// `r` (see `fixed_base`).
    fn gid_pow(&self, r: &Fr) -> PairingOutput<Bls12_381> {
        PairingOutput(match &self.gid_table {
            Some(table) => table.pow(r),
            None => gt_pow_windowed(&self.gid.0, r),
        })
    }

    /// The round sealed to.
    pub const fn round(&self) -> Round {
        self.round
    }

    /// The hash of the chain sealed to.
    pub const fn chain_hash(&self) -> &[u8; 32] {
        &self.chain_hash
    }

    /// The group the chain's signatures (and so the round keys) live in.
    pub const fn signature_group(&self) -> Group {
        self.signature_group
    }
}

/// A round's IBE private key: the round's beacon signature as a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundKey {
    /// A G1 signature (quicknet, fastnet).
    G1(G1Affine),
    /// A G2 signature (`pedersen-bls-unchained`).
    G2(G2Affine),
}

impl RoundKey {
    /// The key of a verified beacon: the usual way to open a ciphertext whose
    /// round is known.
    pub fn from_verified(beacon: &VerifiedBeacon) -> Self {
        match beacon.signature() {
            Signature::G1 { point, .. } => Self::G1(*point),
            Signature::G2 { point, .. } => Self::G2(*point),
        }
    }

    /// A key from a signature that was **not** verified as a beacon: decoded
    /// with full validation (on curve, prime-order subgroup, not the
    /// identity), 48 bytes for G1 and 96 for G2. Only for ciphertexts that
    /// carry no round (raw TLE), where the FullIdent check `U == r·G`
    /// authenticates the key: a wrong signature fails to open.
    ///
    /// # Errors
    ///
    /// [`IbeError::InvalidKey`] for any other input.
    pub fn from_unverified_signature(bytes: &[u8]) -> Result<Self, IbeError> {
        if let Ok(b) = <&[u8; G1_COMPRESSED_LEN]>::try_from(bytes) {
            return crate::bls::curve::g1_from_bytes(b)
                .map(Self::G1)
                .ok_or(IbeError::InvalidKey);
        }
        if let Ok(b) = <&[u8; G2_COMPRESSED_LEN]>::try_from(bytes) {
            return crate::bls::curve::g2_from_bytes(b)
                .map(Self::G2)
                .ok_or(IbeError::InvalidKey);
        }
        Err(IbeError::InvalidKey)
    }

    /// Decodes `U` (the opposite group's point) from its compressed
    /// encoding and returns `e(key, U)` (or `e(U, key)`) with the point.
    ///
    /// The subgroup check is skipped: the caller's FullIdent check compares
    /// `U` with `r·G`, which a point outside the subgroup can never equal.
    /// The encoding must be the canonical one of the point it decodes to, so
    /// that no two ciphertexts differ only in how `U` is written.
    fn pair_with_u(&self, u: &[u8]) -> Result<(PairingOutput<Bls12_381>, UPoint), IbeError> {
        match self {
            Self::G1(sig) => {
                let point = decode_canonical::<G2Affine, G2_COMPRESSED_LEN>(u)?;
                Ok((pair(*sig, point)?, UPoint::G2(point)))
            }
            Self::G2(sig) => {
                let point = decode_canonical::<G1Affine, G1_COMPRESSED_LEN>(u)?;
                Ok((pair(point, *sig)?, UPoint::G1(point)))
            }
        }
    }

    const fn group(&self) -> Group {
        match self {
            Self::G1(_) => Group::G1,
            Self::G2(_) => Group::G2,
        }
    }
}

fn pair(a: G1Affine, b: G2Affine) -> Result<PairingOutput<Bls12_381>, IbeError> {
    crate::bls::pairing::pairing(a, b).ok_or(IbeError::DecryptionFailed)
}

/// arkworks' serialization of a GT element: `Fq12` as c0 ‖ c1, `Fq6` as
/// c0 ‖ c1 ‖ c2, `Fq2` as c0 ‖ c1, each `Fq` 48 bytes little-endian.
fn gt_ark_bytes(gt: &PairingOutput<Bls12_381>) -> Result<[u8; GT_LEN], IbeError> {
    let mut out = [0u8; GT_LEN];
    gt.0.serialize_compressed(&mut out[..])
        .map_err(|_| IbeError::DecryptionFailed)?;
    Ok(out)
}

/// kyber's (kilic's) serialization of a GT element: c1 before c0 at every
/// level of the tower and each `Fq` big-endian — exactly arkworks' bytes
/// reversed. drand/tlock and tlock-js hash these bytes in H2.
fn gt_kyber_bytes(gt: &PairingOutput<Bls12_381>) -> Result<[u8; GT_LEN], IbeError> {
    let mut out = gt_ark_bytes(gt)?;
    out.reverse();
    Ok(out)
}

/// A compressed point decoded without the subgroup check (see
/// [`RoundKey::pair_with_u`]), refused unless `u` is exactly its canonical
/// `N`-byte encoding.
fn decode_canonical<P: CanonicalSerialize + CanonicalDeserialize, const N: usize>(
    u: &[u8],
) -> Result<P, IbeError> {
    let point = P::deserialize_compressed_unchecked(u).map_err(|_| IbeError::DecryptionFailed)?;
    let mut canonical = [0u8; N];
    point
        .serialize_compressed(&mut canonical[..])
        .map_err(|_| IbeError::DecryptionFailed)?;
    if canonical[..] == *u {
        Ok(point)
    } else {
        Err(IbeError::DecryptionFailed)
    }
}

/// A ciphertext's `U`, decoded: in G2 for chains with G1 signatures.
enum UPoint {
    G1(G1Affine),
    G2(G2Affine),
}

/// `r·G` in the group opposite the signatures, compressed, into `out`
/// (48 bytes for G1, 96 for G2). Returns the written prefix.
fn u_for(
    signature_group: Group,
    r: &Fr,
    out: &mut [u8; G2_COMPRESSED_LEN],
) -> Result<usize, IbeError> {
    match signature_group {
        Group::G1 => {
            let u = g2_mul(r);
            u.serialize_compressed(&mut out[..])
                .map_err(|_| IbeError::SealingFailed)?;
            Ok(G2_COMPRESSED_LEN)
        }
        Group::G2 => {
            let u = g1_mul(r);
            let dst = out
                .get_mut(..G1_COMPRESSED_LEN)
                .ok_or(IbeError::SealingFailed)?;
            u.serialize_compressed(dst)
                .map_err(|_| IbeError::SealingFailed)?;
            Ok(G1_COMPRESSED_LEN)
        }
    }
}

/// The FullIdent check: `U == r·G`, compared in constant time on the
/// projective coordinates of `r·G` (no inversion, no encoding).
fn u_matches(r: &Fr, u: &UPoint) -> Result<(), IbeError> {
    let equal = match u {
        UPoint::G2(u) => projective_eq_affine(&g2_mul(r), u),
        UPoint::G1(u) => projective_eq_affine(&g1_mul(r), u),
    };
    if bool::from(equal) {
        Ok(())
    } else {
        Err(IbeError::DecryptionFailed)
    }
}

fn xor_into<const N: usize>(a: &[u8; N], b: &[u8]) -> [u8; N] {
    let mut out = *a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}

// ---------------------------------------------------------------------------
// drand / kyber flavour: age's `tlock` stanza
// ---------------------------------------------------------------------------

/// Size of the message sealed by the drand flavour: an age file key.
pub const FILE_KEY_LEN: usize = crate::limits::AGE_FILE_KEY_LEN;

/// Secret key bytes: zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey<const N: usize>([u8; N]);

impl<const N: usize> SecretKey<N> {
    /// Wraps key bytes.
    pub const fn from_bytes(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Draws a fresh key from the caller's CSPRNG.
    pub fn generate(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let mut k = [0u8; N];
        rng.fill_bytes(&mut k);
        Self(k)
    }

    /// The key bytes.
    pub const fn expose_secret(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretKey<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").finish_non_exhaustive()
    }
}

/// An age file key: the 16 bytes the drand flavour seals.
pub type FileKey = SecretKey<FILE_KEY_LEN>;

/// A drand-flavour ciphertext `U ‖ V ‖ W`: 128 bytes on chains with G1
/// signatures (U in G2), 80 bytes with G2 signatures (U in G1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlockCiphertext {
    u: [u8; G2_COMPRESSED_LEN],
    u_len: usize,
    v: [u8; FILE_KEY_LEN],
    w: [u8; FILE_KEY_LEN],
}

impl TlockCiphertext {
    /// The largest encoding (U in G2).
    pub const MAX_LEN: usize = G2_COMPRESSED_LEN + 2 * FILE_KEY_LEN;

    /// Splits an encoding of 128 or 80 bytes; points are not decoded here.
    ///
    /// # Errors
    ///
    /// [`IbeError::DecryptionFailed`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IbeError> {
        let u_len = bytes
            .len()
            .checked_sub(2 * FILE_KEY_LEN)
            .filter(|n| *n == G1_COMPRESSED_LEN || *n == G2_COMPRESSED_LEN)
            .ok_or(IbeError::DecryptionFailed)?;
        let (u_bytes, vw) = bytes
            .split_at_checked(u_len)
            .ok_or(IbeError::DecryptionFailed)?;
        let (v, w) = vw
            .split_at_checked(FILE_KEY_LEN)
            .ok_or(IbeError::DecryptionFailed)?;
        let mut u = [0u8; G2_COMPRESSED_LEN];
        u.get_mut(..u_len)
            .ok_or(IbeError::DecryptionFailed)?
            .copy_from_slice(u_bytes);
        Ok(Self {
            u,
            u_len,
            v: v.try_into().map_err(|_| IbeError::DecryptionFailed)?,
            w: w.try_into().map_err(|_| IbeError::DecryptionFailed)?,
        })
    }

    /// The encoding length: 128 or 80.
    pub const fn len(&self) -> usize {
        self.u_len.saturating_add(2 * FILE_KEY_LEN)
    }

    /// Never true; here for the `len`/`is_empty` convention.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Writes `U ‖ V ‖ W` into the front of `out` and returns it.
    ///
    /// # Errors
    ///
    /// [`IbeError::SealingFailed`] when `out` is shorter than [`Self::len`].
    pub fn write_to<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], IbeError> {
        let n = self.len();
        let out = out.get_mut(..n).ok_or(IbeError::SealingFailed)?;
        let (u, vw) = out.split_at_mut(self.u_len);
        let (v, w) = vw.split_at_mut(FILE_KEY_LEN);
        u.copy_from_slice(self.u());
        v.copy_from_slice(&self.v);
        w.copy_from_slice(&self.w);
        Ok(out)
    }

    fn u(&self) -> &[u8] {
        self.u.get(..self.u_len).unwrap_or(&[])
    }
}

/// kyber's H3: `h = sha256("IBE-H3" ‖ σ ‖ m)`, then for i = 1, 2, …:
/// `c = sha256(u16le(i) ‖ h)`, `c[0] >>= 1`, accept the first `c < q`
/// (big-endian). About 9.4 % of first candidates are rejected, so the retry
/// path is common (one public Rust crate skips it and mis-decrypts ~1 in 10).
fn kyber_h3(sigma: &[u8; FILE_KEY_LEN], msg: &[u8; FILE_KEY_LEN]) -> Option<Fr> {
    let h: [u8; 32] = Sha256::new()
        .chain_update(b"IBE-H3")
        .chain_update(sigma)
        .chain_update(msg)
        .finalize()
        .into();
    for i in 1..=u16::MAX {
        let mut c: [u8; 32] = Sha256::new()
            .chain_update(i.to_le_bytes())
            .chain_update(h)
            .finalize()
            .into();
        if let Some(first) = c.first_mut() {
            *first >>= 1;
        }
        if c < SCALAR_MODULUS_BE {
            let r = Fr::from_be_bytes_mod_order(&c);
            c.zeroize();
            return Some(r);
        }
    }
    None
}

fn kyber_h2(gt: &PairingOutput<Bls12_381>) -> Result<Zeroizing<[u8; 32]>, IbeError> {
    let bytes = Zeroizing::new(gt_kyber_bytes(gt)?);
    Ok(Zeroizing::new(
        Sha256::new()
            .chain_update(b"IBE-H2")
            .chain_update(&bytes[..])
            .finalize()
            .into(),
    ))
}

fn kyber_h4(sigma: &[u8; FILE_KEY_LEN]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(
        Sha256::new()
            .chain_update(b"IBE-H4")
            .chain_update(sigma)
            .finalize()
            .into(),
    )
}

/// Seals an age file key to `prepared`'s round, drand/kyber flavour, with a
/// fresh 16-byte σ from `rng`.
///
/// # Errors
///
/// [`IbeError::SealingFailed`] only if 65535 H3 candidates in a row are
/// rejected (probability ≈ 0.094^65535).
pub fn tlock_encrypt(
    prepared: &PreparedRound,
    file_key: &FileKey,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<TlockCiphertext, IbeError> {
    let mut sigma = Zeroizing::new([0u8; FILE_KEY_LEN]);
    rng.fill_bytes(&mut sigma[..]);
    let msg = file_key.expose_secret();
    let r = Zeroizing::new(kyber_h3(&sigma, msg).ok_or(IbeError::SealingFailed)?);
    let mut u = [0u8; G2_COMPRESSED_LEN];
    let u_len = u_for(prepared.signature_group, &r, &mut u)?;
    let h2 = kyber_h2(&(prepared.gid_pow(&r))).map_err(|_| IbeError::SealingFailed)?;
    Ok(TlockCiphertext {
        u,
        u_len,
        v: xor_into(&sigma, &h2[..]),
        w: xor_into(msg, &kyber_h4(&sigma)[..]),
    })
}

/// Opens a drand-flavour ciphertext with the round's key.
///
/// # Errors
///
/// [`IbeError::DecryptionFailed`] for a wrong key, a damaged ciphertext, or a
/// key from the other group.
pub fn tlock_decrypt(key: &RoundKey, ct: &TlockCiphertext) -> Result<FileKey, IbeError> {
    let u_group_len = match key.group() {
        Group::G1 => G2_COMPRESSED_LEN,
        Group::G2 => G1_COMPRESSED_LEN,
    };
    if ct.u_len != u_group_len {
        return Err(IbeError::DecryptionFailed);
    }
    let (gt, u) = key.pair_with_u(ct.u())?;
    let sigma = Zeroizing::new(xor_into(&ct.v, &kyber_h2(&gt)?[..]));
    let msg = FileKey::from_bytes(xor_into(&ct.w, &kyber_h4(&sigma)[..]));
    let r =
        Zeroizing::new(kyber_h3(&sigma, msg.expose_secret()).ok_or(IbeError::DecryptionFailed)?);
    u_matches(&r, &u)?;
    Ok(msg)
}

// ---------------------------------------------------------------------------
// ideal-lab flavour: the TLE header
// ---------------------------------------------------------------------------

/// Size of σ and of the sealed key in the ideal-lab flavour.
pub const TLE_KEY_LEN: usize = 32;

/// The ideal-lab flavour's sealed message: the 32-byte AES-256-GCM key of the
/// TLE body (`esk`).
pub type TleKey = SecretKey<TLE_KEY_LEN>;

/// The ideal-lab IBE ciphertext: `U` (G2, 96 bytes), `V`, `W` (32 bytes each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TleHeader {
    /// `r·G2`, compressed.
    pub u: [u8; G2_COMPRESSED_LEN],
    /// `σ ⊕ H2(Gid^r)`.
    pub v: [u8; TLE_KEY_LEN],
    /// `esk ⊕ H4(σ)`.
    pub w: [u8; TLE_KEY_LEN],
}

fn ideal_h3(sigma: &[u8; TLE_KEY_LEN], esk: &[u8; TLE_KEY_LEN]) -> Fr {
    let mut h: [u8; 32] = Sha256::new()
        .chain_update(sigma)
        .chain_update(esk)
        .finalize()
        .into();
    let r = Fr::from_be_bytes_mod_order(&h);
    h.zeroize();
    r
}

fn ideal_h2(gt: &PairingOutput<Bls12_381>) -> Result<Zeroizing<[u8; 32]>, IbeError> {
    let bytes = Zeroizing::new(gt_ark_bytes(gt)?);
    Ok(Zeroizing::new(Sha256::digest(&bytes[..]).into()))
}

/// Seals a TLE key to `prepared`'s round, ideal-lab flavour, with a fresh
/// 32-byte σ from `rng`.
///
/// # Errors
///
/// [`IbeError::NeedsG1Signatures`] for chains whose signatures are on G2.
pub fn tle_encrypt(
    prepared: &PreparedRound,
    esk: &TleKey,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<TleHeader, IbeError> {
    if prepared.signature_group != Group::G1 {
        return Err(IbeError::NeedsG1Signatures);
    }
    let mut sigma = Zeroizing::new([0u8; TLE_KEY_LEN]);
    rng.fill_bytes(&mut sigma[..]);
    let r = Zeroizing::new(ideal_h3(&sigma, esk.expose_secret()));
    let mut u = [0u8; G2_COMPRESSED_LEN];
    u_for(Group::G1, &r, &mut u)?;
    let h2 = ideal_h2(&(prepared.gid_pow(&r))).map_err(|_| IbeError::SealingFailed)?;
    let h4: Zeroizing<[u8; 32]> = Zeroizing::new(Sha256::digest(&sigma[..]).into());
    Ok(TleHeader {
        u,
        v: xor_into(&sigma, &h2[..]),
        w: xor_into(esk.expose_secret(), &h4[..]),
    })
}

/// Opens an ideal-lab header with the round's (G1) key.
///
/// # Errors
///
/// [`IbeError::DecryptionFailed`] for a wrong key or a damaged header.
pub fn tle_decrypt(key: &RoundKey, header: &TleHeader) -> Result<TleKey, IbeError> {
    if key.group() != Group::G1 {
        return Err(IbeError::DecryptionFailed);
    }
    let (gt, u) = key.pair_with_u(&header.u)?;
    let sigma = Zeroizing::new(xor_into(&header.v, &ideal_h2(&gt)?[..]));
    let h4: Zeroizing<[u8; 32]> = Zeroizing::new(Sha256::digest(&sigma[..]).into());
    let esk = TleKey::from_bytes(xor_into(&header.w, &h4[..]));
    let r = Zeroizing::new(ideal_h3(&sigma, esk.expose_secret()));
    u_matches(&r, &u)?;
    Ok(esk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::AffineRepr;

    #[test]
    fn gt_byte_orders_match_the_references() {
        // e(G1, G2): tlock-js test/crypto/ibe.test.ts (kyber order) and
        // ideal-lab's H2 of it (shared vectors tlock_js.json,
        // ideal_lab_timelock.json).
        let gt = pair(G1Affine::generator(), G2Affine::generator()).unwrap();
        let kyber = gt_kyber_bytes(&gt).unwrap();
        assert_eq!(
            kyber.get(..16).unwrap(),
            hex!("0f41e58663bf08cf068672cbd01a7ec7")
        );
        assert_eq!(
            kyber_h2(&gt).unwrap().get(..16).unwrap(),
            hex!("cb87319f24560b5231579a09ad79f12e")
        );
        assert_eq!(
            *ideal_h2(&gt).unwrap(),
            hex!("ff9912603bb02b77bc6ec1deaeddf9d1fee40ac17a781fb13c9c6e7a9f74d22b")
        );
    }

    #[test]
    fn kyber_h3_retries_until_below_q() {
        // σ = 00000021 00…, m = 11…11: the first candidate is ≥ q, kyber
        // accepts the second (shared vectors
        // tlock_ibe_deterministic_quicknet_r1000.json, third entry).
        let sigma = hex!("00000021000000000000000000000000");
        let msg = [0x11; 16];
        let r = kyber_h3(&sigma, &msg).unwrap();
        let h: [u8; 32] = Sha256::new()
            .chain_update(b"IBE-H3")
            .chain_update(sigma)
            .chain_update(msg)
            .finalize()
            .into();
        let mut first: [u8; 32] = Sha256::new()
            .chain_update(1u16.to_le_bytes())
            .chain_update(h)
            .finalize()
            .into();
        first[0] >>= 1;
        assert!(
            first >= SCALAR_MODULUS_BE,
            "the first candidate is rejected"
        );
        assert_ne!(r, Fr::from_be_bytes_mod_order(&first));
    }

    #[test]
    fn sealing_side_failures_are_not_reported_as_decryption_failures() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;
        let chain = crate::BuiltinChain::Quicknet.chain().unwrap();
        let round = Round::new(1000).unwrap();
        let prepared = PreparedRound::new(&chain, round).unwrap();
        let key = FileKey::from_bytes([7; FILE_KEY_LEN]);
        let ct = tlock_encrypt(&prepared, &key, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        let mut short = [0u8; 10];
        assert_eq!(ct.write_to(&mut short), Err(IbeError::SealingFailed));
        assert_ne!(
            alloc::format!("{}", IbeError::SealingFailed),
            alloc::format!("{}", IbeError::DecryptionFailed)
        );
    }
}
