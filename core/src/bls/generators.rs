//! `s·G1` and `s·G2` for the groups' generators: through process-wide
//! fixed-base tables built on first use (feature `precomputed-tables`), or
//! arkworks' own multiplication without them.

#[cfg(feature = "precomputed-tables")]
use alloc::boxed::Box;

use ark_bls12_381::Fr;
#[cfg(feature = "precomputed-tables")]
use ark_bls12_381::{G1Affine, G1Projective, G2Affine, G2Projective, g1, g2};
#[cfg(not(feature = "precomputed-tables"))]
use ark_bls12_381::{G1Projective, G2Projective};
#[cfg(feature = "precomputed-tables")]
use ark_ec::AffineRepr;
#[cfg(not(feature = "precomputed-tables"))]
use ark_ec::PrimeGroup;
#[cfg(feature = "precomputed-tables")]
use once_cell::race::OnceBox;

#[cfg(feature = "precomputed-tables")]
use super::fixed_base::CurveTable;
#[cfg(feature = "precomputed-tables")]
use super::hash::{hash_to_g1, hash_to_g2};

/// The tag of the offsets' hash to the curve: the points only need a
/// discrete logarithm nobody knows.
#[cfg(feature = "precomputed-tables")]
const OFFSET_DST: &[u8] = b"VEIL-FIXED-BASE-OFFSET-V1_XMD:SHA-256_SSWU_RO_";

/// `s·G2` through the process-wide generator table (built on first use).
#[cfg(feature = "precomputed-tables")]
pub(crate) fn g2_mul(s: &Fr) -> G2Projective {
    static TABLE: OnceBox<CurveTable<g2::Config>> = OnceBox::new();
    TABLE
        .get_or_init(|| {
            // The hash cannot fail for this tag and message (tested); the
            // generator fallback would still multiply correctly.
            let offset = hash_to_g2(b"G2", OFFSET_DST).unwrap_or_else(G2Affine::generator);
            Box::new(CurveTable::new(G2Affine::generator(), offset))
        })
        .mul(s)
}

/// `s·G1` through the process-wide generator table (built on first use).
#[cfg(feature = "precomputed-tables")]
pub(crate) fn g1_mul(s: &Fr) -> G1Projective {
    static TABLE: OnceBox<CurveTable<g1::Config>> = OnceBox::new();
    TABLE
        .get_or_init(|| {
            let offset = hash_to_g1(b"G1", OFFSET_DST).unwrap_or_else(G1Affine::generator);
            Box::new(CurveTable::new(G1Affine::generator(), offset))
        })
        .mul(s)
}

/// `s·G2` by arkworks' own multiplication (no tables in this build).
#[cfg(not(feature = "precomputed-tables"))]
#[allow(clippy::arithmetic_side_effects, reason = "group arithmetic")]
pub(crate) fn g2_mul(s: &Fr) -> G2Projective {
    G2Projective::generator() * s
}

/// `s·G1` by arkworks' own multiplication (no tables in this build).
#[cfg(not(feature = "precomputed-tables"))]
#[allow(clippy::arithmetic_side_effects, reason = "group arithmetic")]
pub(crate) fn g1_mul(s: &Fr) -> G1Projective {
    G1Projective::generator() * s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bls12_381::{G1Projective, G2Projective};
    use ark_ec::PrimeGroup;

    use super::super::fixed_base::tests::scalars;

    #[test]
    #[cfg(feature = "precomputed-tables")]
    fn generator_tables_agree_with_arkworks() {
        assert!(hash_to_g2(b"G2", OFFSET_DST).is_some());
        assert!(hash_to_g1(b"G1", OFFSET_DST).is_some());
        for s in scalars() {
            assert_eq!(g2_mul(&s), G2Projective::generator() * s);
            assert_eq!(g1_mul(&s), G1Projective::generator() * s);
        }
    }
}
