//! Constant-time helpers over arkworks' field and curve types: selection
//! by a mask ([`CtSelect`]), equality of field elements ([`CtEqField`]) and
//! of a Jacobian point with an affine one ([`projective_eq_affine`]). The
//! fixed-base tables read their entries through them, and the IBE checks
//! `U = r·G` with them.

use ark_bls12_381::{Fq, Fq2, Fq6, Fq12};
use ark_ec::AffineRepr;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ff::{BigInt, Field};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Returns `b` where `choice` is set, `a` otherwise, without branching on it.
pub(crate) trait CtSelect: Sized {
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self;
}

impl CtSelect for Fq {
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self {
        let mut limbs = a.0.0;
        for (x, y) in limbs.iter_mut().zip(b.0.0.iter()) {
            x.conditional_assign(y, choice);
        }
        Self::new_unchecked(BigInt(limbs))
    }
}

impl CtSelect for Fq2 {
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self::new(
            Fq::ct_select(&a.c0, &b.c0, choice),
            Fq::ct_select(&a.c1, &b.c1, choice),
        )
    }
}

impl CtSelect for Fq6 {
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self::new(
            Fq2::ct_select(&a.c0, &b.c0, choice),
            Fq2::ct_select(&a.c1, &b.c1, choice),
            Fq2::ct_select(&a.c2, &b.c2, choice),
        )
    }
}

impl CtSelect for Fq12 {
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self::new(
            Fq6::ct_select(&a.c0, &b.c0, choice),
            Fq6::ct_select(&a.c1, &b.c1, choice),
        )
    }
}

/// Affine table entries are never the identity, so only `x` and `y` move.
impl<P: SWCurveConfig> CtSelect for Affine<P>
where
    P::BaseField: CtSelect,
{
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self::new_unchecked(
            CtSelect::ct_select(&a.x, &b.x, choice),
            CtSelect::ct_select(&a.y, &b.y, choice),
        )
    }
}

impl<P: SWCurveConfig> CtSelect for Projective<P>
where
    P::BaseField: CtSelect,
{
    fn ct_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self::new_unchecked(
            CtSelect::ct_select(&a.x, &b.x, choice),
            CtSelect::ct_select(&a.y, &b.y, choice),
            CtSelect::ct_select(&a.z, &b.z, choice),
        )
    }
}

/// Equality of field elements in constant time. arkworks keeps elements
/// fully reduced (Montgomery form below the modulus), so equal values have
/// equal limbs.
pub(crate) trait CtEqField {
    fn ct_eq_field(&self, other: &Self) -> Choice;
}

impl CtEqField for Fq {
    fn ct_eq_field(&self, other: &Self) -> Choice {
        self.0
            .0
            .iter()
            .zip(other.0.0.iter())
            .fold(Choice::from(1), |acc, (a, b)| acc & a.ct_eq(b))
    }
}

impl CtEqField for Fq2 {
    fn ct_eq_field(&self, other: &Self) -> Choice {
        self.c0.ct_eq_field(&other.c0) & self.c1.ct_eq_field(&other.c1)
    }
}

/// Whether the Jacobian point `p` is the affine point `a`: `X = x·Z²` and
/// `Y = y·Z³`, compared in constant time, so nothing about `p` (a secret
/// multiple) leaks beyond the answer. The identity never matches: `a` is
/// public, and `p` (with `Z = 0`) fails `Y = y·0` since arkworks' identity
/// has `Y = 1`.
#[allow(clippy::arithmetic_side_effects, reason = "field arithmetic")]
pub(crate) fn projective_eq_affine<P: SWCurveConfig>(p: &Projective<P>, a: &Affine<P>) -> Choice
where
    P::BaseField: CtEqField,
{
    if a.is_zero() {
        return Choice::from(0);
    }
    let z2 = p.z.square();
    let z3 = z2 * p.z;
    p.x.ct_eq_field(&(a.x * z2)) & p.y.ct_eq_field(&(a.y * z3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bls12_381::{Fr, G1Projective, G2Affine, G2Projective};
    use ark_ec::{CurveGroup, PrimeGroup};
    use ark_ff::{UniformRand, Zero};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn projective_equality_matches_arkworks() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        for _ in 0..10 {
            let s = Fr::rand(&mut rng);
            let p = G2Projective::generator() * s;
            // A Jacobian representative with Z ≠ 1, as a table multiplication leaves it.
            let q = p + G2Projective::generator() - G2Projective::generator();
            let a = p.into_affine();
            assert!(bool::from(projective_eq_affine(&q, &a)));
            assert!(!bool::from(projective_eq_affine(&q, &(-a))));
            let other = (p + G2Projective::generator()).into_affine();
            assert!(!bool::from(projective_eq_affine(&q, &other)));
            assert!(!bool::from(projective_eq_affine(&q, &G2Affine::zero())));
            let g1 = G1Projective::generator() * s;
            assert!(bool::from(projective_eq_affine(
                &(g1 + g1 - g1),
                &g1.into_affine()
            )));
        }
        // The identity never equals a point, nor the affine identity.
        assert!(!bool::from(projective_eq_affine(
            &G2Projective::zero(),
            &G2Affine::generator()
        )));
    }
}
