//! Secret-scalar multiplication with precomputed tables: `r·B` for a fixed
//! curve point `B` (the generators: [`super::generators`]), and `Gid^r`
//! for a round's pairing value.
//!
//! The scalar `r` of a seal is secret (knowing it opens the ciphertext), so
//! the table is read without secret-dependent memory access: the scalar is
//! recoded into 52 signed radix-32 digits `dᵢ ∈ [-16, 16]`
//! (`r = Σ dᵢ·32ⁱ`), and each window's entry `|dᵢ|·32ⁱ·B` is picked by
//! scanning all sixteen entries with [`subtle`] masks, then conditionally
//! negated the same way. A zero digit still performs its addition and
//! discards it by a masked select.
//!
//! | | table | per multiplication |
//! |---|---|---|
//! | G2 (`r·G2`) | 52 × 16 affine points, ~160 KB, built once per process | 52 mixed additions |
//! | G1 (`r·G1`) | 52 × 16 affine points, ~80 KB, built once per process | 52 mixed additions |
//! | GT (`Gid^r`) | 52 × 16 `Fq12`, 468 KiB, built per round on request | 52 `Fq12` products |
//!
//! Curve accumulators start from a fixed *offset* point with unknown
//! discrete logarithm (hashed to the curve) that is subtracted at the end,
//! so arkworks' addition never meets the identity or a doubling case on
//! the way (except with negligible probability), and its control flow does
//! not depend on the digits. arkworks' field arithmetic itself is not
//! written to be constant time; these tables remove the large, table-indexed
//! leak that a naive window method would add on top.
//!
//! Without tables, `Gid^r` uses a fixed 5-bit window over a 16-entry table
//! with the same masked lookups ([`gt_pow_windowed`]).

use alloc::vec::Vec;

use ark_bls12_381::{Fq12, Fr};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{AdditiveGroup, CyclotomicMultSubgroup, One, PrimeField};
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

use super::ct::CtSelect;

/// Bits per digit: 5 (radix 32) balances 52 group operations per
/// multiplication against masked scans of 16 entries per window.
const RADIX_BITS: u32 = 5;
/// Digits of a scalar below 2^255, with room for the final carry.
const WINDOWS: usize = 52;
/// Table entries per window: the multiples 1..=16 of the window's base.
const ENTRIES: usize = 16;

/// A scalar as [`WINDOWS`] signed radix-32 digits: `s = Σ dᵢ·32ⁱ`,
/// `dᵢ ∈ [-16, 16)` below the top and `d₅₁ ∈ {0, 1}` (the scalar field's
/// order is below 2^255, and 52 digits cover 260 bits). Branch-free in the
/// scalar: only the public digit index steers the bit extraction.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "5-bit digits into i8"
)]
fn recode(s: &Fr) -> [i8; WINDOWS] {
    let mut limbs = s.into_bigint().0;
    let mut digits = [0i8; WINDOWS];
    let mask = (1u128 << RADIX_BITS).wrapping_sub(1);
    for (i, d) in (0u32..).zip(digits.iter_mut()) {
        let bit = i.wrapping_mul(RADIX_BITS);
        let limb = (bit / 64) as usize;
        let lo = limbs.get(limb).copied().unwrap_or(0);
        let hi = limbs.get(limb.wrapping_add(1)).copied().unwrap_or(0);
        let both = (u128::from(hi) << 64) | u128::from(lo);
        *d = (both.wrapping_shr(bit % 64) & mask) as i8;
    }
    limbs.zeroize();
    let half = 1i8 << (RADIX_BITS - 1);
    if let Some((last, init)) = digits.split_last_mut() {
        let mut carry = 0i8;
        for d in init.iter_mut() {
            let v = d.wrapping_add(carry);
            // v ∈ [0, 32]: carry 1 exactly when v ≥ 16.
            carry = v.wrapping_add(half).wrapping_shr(RADIX_BITS);
            *d = v.wrapping_sub(carry.wrapping_shl(RADIX_BITS));
        }
        *last = last.wrapping_add(carry);
    }
    digits
}

/// `|d|` and whether `d < 0`, branch-free.
#[allow(clippy::cast_sign_loss, reason = "two's-complement bit patterns")]
fn magnitude(d: i8) -> (u8, Choice) {
    let mask = d.wrapping_shr(7); // 0 or -1
    let abs = (d ^ mask).wrapping_sub(mask) as u8;
    (abs, Choice::from((mask as u8) & 1))
}

/// The window entry for digit magnitude `abs` (1..=16) by a full masked scan;
/// `default` when `abs` is 0.
fn lookup<T: CtSelect + Clone>(window: &[T; ENTRIES], abs: u8, default: &T) -> T {
    let mut picked = default.clone();
    for (j, entry) in (1u8..).zip(window.iter()) {
        picked = T::ct_select(&picked, entry, abs.ct_eq(&j));
    }
    picked
}

/// `r·B` for a fixed point `B` of G1 or G2.
#[cfg_attr(
    not(feature = "precomputed-tables"),
    allow(
        dead_code,
        reason = "only the generator tables use it; tested either way"
    )
)]
#[derive(Clone)]
pub(crate) struct CurveTable<P: SWCurveConfig> {
    /// Window `i` holds `j·32ⁱ·B` for `j = 1..=16`.
    windows: Vec<[Affine<P>; ENTRIES]>,
    offset: Affine<P>,
    neg_offset: Affine<P>,
}

#[cfg_attr(
    not(feature = "precomputed-tables"),
    allow(
        dead_code,
        reason = "only the generator tables use it; tested either way"
    )
)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "elliptic-curve group arithmetic, not integers"
)]
impl<P: SWCurveConfig> CurveTable<P>
where
    P::BaseField: CtSelect,
{
    /// Builds the table of `base` (a point of prime order, not the
    /// identity). `offset` must be a point whose discrete logarithm to
    /// `base` nobody knows, such as a hash to the curve.
    pub(crate) fn new(base: Affine<P>, offset: Affine<P>) -> Self {
        let mut multiples: Vec<Projective<P>> = Vec::with_capacity(WINDOWS * ENTRIES);
        let mut b: Projective<P> = base.into_group();
        for _ in 0..WINDOWS {
            let mut m = b;
            for _ in 0..ENTRIES {
                multiples.push(m);
                m += b;
            }
            // The next window's base, 32·b, is the last entry (16·b) doubled.
            b = multiples.last().copied().unwrap_or(b).double();
        }
        let affine = Projective::normalize_batch(&multiples);
        let windows = affine
            .chunks_exact(ENTRIES)
            .filter_map(|w| <[Affine<P>; ENTRIES]>::try_from(w).ok())
            .collect();
        Self {
            windows,
            offset,
            neg_offset: -offset,
        }
    }

    /// `s·B`, with masked table lookups (see the module documentation).
    pub(crate) fn mul(&self, s: &Fr) -> Projective<P> {
        let mut digits = recode(s);
        let mut acc: Projective<P> = self.offset.into_group();
        for (window, d) in self.windows.iter().zip(digits.iter()) {
            let (abs, negative) = magnitude(*d);
            let first = window.first().copied().unwrap_or(self.offset);
            let entry = lookup(window, abs, &first);
            let entry = Affine::ct_select(&entry, &-entry, negative);
            let sum = acc + entry;
            acc = Projective::ct_select(&sum, &acc, abs.ct_eq(&0));
        }
        digits.zeroize();
        acc + self.neg_offset
    }
}

/// `Gid^r` for a round's pairing value: the per-round table a validator or
/// miner keeps while it seals many payloads to one round.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct GtTable {
    /// Window `i` holds `base^(j·32ⁱ)` for `j = 1..=16`.
    windows: Vec<[Fq12; ENTRIES]>,
}

#[allow(
    clippy::arithmetic_side_effects,
    reason = "field arithmetic in Fq12, not integers"
)]
impl GtTable {
    /// Builds the table of `base`, an element of the cyclotomic subgroup
    /// (any pairing output).
    pub(crate) fn new(base: &Fq12) -> Self {
        let mut windows = Vec::with_capacity(WINDOWS);
        let mut b = *base;
        for _ in 0..WINDOWS {
            let mut window = [b; ENTRIES];
            let mut m = b;
            for slot in window.iter_mut().skip(1) {
                m *= b;
                *slot = m;
            }
            // The next window's base, b^32, is the last entry (b^16) squared.
            b = window.last().unwrap_or(&b).cyclotomic_square();
            windows.push(window);
        }
        Self { windows }
    }

    /// `base^s`, with masked table lookups.
    pub(crate) fn pow(&self, s: &Fr) -> Fq12 {
        let mut digits = recode(s);
        let one = Fq12::one();
        let mut acc = one;
        for (window, d) in self.windows.iter().zip(digits.iter()) {
            let (abs, negative) = magnitude(*d);
            acc *= signed_entry(window, abs, negative, &one);
        }
        digits.zeroize();
        acc
    }
}

/// The window entry for a signed digit; inversion in the cyclotomic
/// subgroup is conjugation.
fn signed_entry(window: &[Fq12; ENTRIES], abs: u8, negative: Choice, one: &Fq12) -> Fq12 {
    let entry = lookup(window, abs, one);
    let mut inverse = entry;
    inverse.conjugate_in_place();
    Fq12::ct_select(&entry, &inverse, negative)
}

/// `base^s` without a precomputed table: five cyclotomic squarings and one
/// product per digit, from the most significant, with a 16-entry table of
/// `base^1..base^16` read by masked scans.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "field arithmetic in Fq12, not integers"
)]
pub(crate) fn gt_pow_windowed(base: &Fq12, s: &Fr) -> Fq12 {
    let mut window = [*base; ENTRIES];
    let mut m = *base;
    for slot in window.iter_mut() {
        *slot = m;
        m *= base;
    }
    let mut digits = recode(s);
    let one = Fq12::one();
    let mut acc = one;
    for d in digits.iter().rev() {
        for _ in 0..RADIX_BITS {
            acc.cyclotomic_square_in_place();
        }
        let (abs, negative) = magnitude(*d);
        acc *= signed_entry(&window, abs, negative, &one);
    }
    digits.zeroize();
    acc
}

#[cfg(test)]
pub(in crate::bls) mod tests {
    use super::*;
    use alloc::vec;
    use ark_bls12_381::{Bls12_381, G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::pairing::Pairing;
    use ark_ec::{AffineRepr, PrimeGroup};
    use ark_ff::{Field, UniformRand};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use crate::bls::hash::{hash_to_g1, hash_to_g2};

    /// Scalars that stress the recoding: 0, 1, small, every carry, q − 1,
    /// 2^k, and random ones.
    pub(in crate::bls) fn scalars() -> Vec<Fr> {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut v = vec![
            Fr::from(0u64),
            Fr::from(1u64),
            Fr::from(8u64),
            Fr::from(9u64),
            Fr::from(15u64),
            Fr::from(16u64),
            Fr::from(0x8888_8888_8888_8888u64),
            Fr::from(0x8421_0842_1084_2108u64),
            Fr::from(u64::MAX),
            -Fr::from(1u64),
            -Fr::from(8u64),
            Fr::from(2u64).pow([254u64]),
            Fr::from(2u64).pow([252u64]) * Fr::from(7u64),
        ];
        v.extend((0..20).map(|_| Fr::rand(&mut rng)));
        v
    }

    #[test]
    fn recoded_digits_reconstruct_the_scalar() {
        for s in scalars() {
            let digits = recode(&s);
            let mut acc = Fr::from(0u64);
            for d in digits.iter().rev() {
                assert!((-16..=16).contains(d));
                acc = acc * Fr::from(32u64) + Fr::from(i64::from(*d));
            }
            assert_eq!(acc, s);
        }
    }

    #[test]
    fn g2_table_agrees_with_arkworks() {
        let offset = hash_to_g2(b"test offset", b"TEST-DST").unwrap();
        let table = CurveTable::new(G2Affine::generator(), offset);
        for s in scalars() {
            assert_eq!(table.mul(&s), G2Projective::generator() * s, "{s}");
        }
    }

    #[test]
    fn g1_table_agrees_with_arkworks() {
        let offset = hash_to_g1(b"test offset", b"TEST-DST").unwrap();
        let table = CurveTable::new(G1Affine::generator(), offset);
        for s in scalars() {
            assert_eq!(table.mul(&s), G1Projective::generator() * s, "{s}");
        }
    }

    #[test]
    fn gt_table_and_window_agree_with_arkworks() {
        let gt = Bls12_381::pairing(G1Affine::generator(), G2Affine::generator());
        let table = GtTable::new(&gt.0);
        for s in scalars() {
            let expected = (gt * s).0;
            assert_eq!(table.pow(&s), expected, "{s}");
            assert_eq!(gt_pow_windowed(&gt.0, &s), expected, "{s}");
        }
    }
}
