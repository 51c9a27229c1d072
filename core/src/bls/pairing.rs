//! The BLS12-381 pairing as veil computes it: arkworks' Miller loop, then a
//! final exponentiation whose hard part squares in *compressed* form.
//!
//! Opening a timelock ciphertext is one pairing, and 45 % of a pairing is
//! the final exponentiation `f^((p¹²−1)/r)`. Its hard part raises to
//! `3·Φ₁₂(p)/r = (x−1)²·(x+p)·(x²+p²−1) + 3` (Hayashida, Hayasaka, Teruya,
//! eprint 2020/875), where `x = −0xd201000000010000` is the curve's
//! parameter: five exponentiations by `x`, each 63 squarings in the
//! cyclotomic subgroup. Karabina's compressed squaring (Des. Codes Cryptogr.
//! 2013) squares from four of the six `Fq2` coefficients with six `Fq2`
//! squarings instead of nine; the six powers `m^(2^k)` that `|x|` needs
//! (k = 16, 48, 57, 60, 62, 63) are decompressed together with one
//! inversion. Tested against arkworks' own final exponentiation.
//!
//! Like the rest of arkworks' field arithmetic this is not constant time
//! (inversion, and a fallback for a zero coefficient with probability
//! ~2⁻³⁸¹ per value); the pairing's inputs are a beacon signature and a
//! ciphertext's `U`, both public, but its output is the ciphertext's secret
//! mask, so any data-dependent timing is confined to arkworks' field
//! operations.

use ark_bls12_381::{Bls12_381, Fq2, Fq6Config, Fq12, G1Affine, G2Affine};
use ark_ec::pairing::{Pairing, PairingOutput};
use ark_ff::fields::Fp6Config;
use ark_ff::{AdditiveGroup, CyclotomicMultSubgroup, Field, One, Zero};

/// `|x|` for BLS12-381 (`x` itself is negative).
const X_ABS: u64 = 0xd201_0000_0001_0000;
/// The set bits of `|x|`, ascending: `m^|x| = Π m^(2^k)`.
const X_BITS: [u32; 6] = [16, 48, 57, 60, 62, 63];

/// `e(p, q)`, or `None` when the Miller loop's value is not invertible
/// (never for points of the prime-order groups).
pub(crate) fn pairing(p: G1Affine, q: G2Affine) -> Option<PairingOutput<Bls12_381>> {
    final_exponentiation(&Bls12_381::multi_miller_loop([p], [q]).0).map(PairingOutput)
}

/// `Π e(pᵢ, qᵢ)` with one Miller loop and one final exponentiation.
pub(crate) fn multi_pairing<const N: usize>(
    p: [G1Affine; N],
    q: [G2Affine; N],
) -> Option<PairingOutput<Bls12_381>> {
    final_exponentiation(&Bls12_381::multi_miller_loop(p, q).0).map(PairingOutput)
}

fn mul_by_nonresidue(a: &Fq2) -> Fq2 {
    <Fq6Config as Fp6Config>::mul_fp2_by_nonresidue(*a)
}

/// `f^((p¹²−1)/r)`.
#[allow(clippy::arithmetic_side_effects, reason = "field arithmetic")]
fn final_exponentiation(f: &Fq12) -> Option<Fq12> {
    // Easy part: m = f^((p⁶−1)(p²+1)); conjugation is the p⁶-power.
    let inverse = f.inverse()?;
    let mut m = *f;
    m.conjugate_in_place();
    m *= inverse;
    let mut m_p2 = m;
    m_p2.frobenius_map_in_place(2);
    m *= m_p2;

    // Hard part: m^((x−1)²(x+p)(x²+p²−1) + 3). From here m is in the
    // cyclotomic subgroup, where inversion is conjugation.
    let a = exp_by_x(&m) * conjugate(&m); // m^(x−1)
    let b = exp_by_x(&a) * conjugate(&a); // m^((x−1)²)
    let mut b_p = b;
    b_p.frobenius_map_in_place(1);
    let c = exp_by_x(&b) * b_p; // m^((x−1)²(x+p))
    let mut c_p2 = c;
    c_p2.frobenius_map_in_place(2);
    let d = exp_by_x(&exp_by_x(&c)) * c_p2 * conjugate(&c); // c^(x²+p²−1)
    let m3 = m.cyclotomic_square() * m;
    Some(d * m3)
}

fn conjugate(a: &Fq12) -> Fq12 {
    let mut c = *a;
    c.conjugate_in_place();
    c
}

/// `m^x` for `m` in the cyclotomic subgroup (`x` negative: the conjugate of
/// `m^|x|`).
#[allow(clippy::arithmetic_side_effects, reason = "field arithmetic")]
fn exp_by_x(m: &Fq12) -> Fq12 {
    let mut c = Compressed::of(m);
    let mut powers = [c; X_BITS.len()];
    let mut next = X_BITS.iter().zip(powers.iter_mut()).peekable();
    for k in 1..=63u32 {
        c = c.square();
        if let Some((_, slot)) = next.next_if(|(bit, _)| **bit == k) {
            *slot = c;
        }
    }
    let result = match decompress_all(&powers) {
        Some(full) => full.iter().fold(Fq12::one(), |acc, p| acc * p),
        // A zero denominator (probability ~2⁻³⁸¹): arkworks' exponentiation.
        None => m.cyclotomic_exp([X_ABS]),
    };
    conjugate(&result)
}

/// An element of the cyclotomic subgroup by four of its six `Fq2`
/// coefficients (`Fq12 = Fq6[w]`, `Fq6 = Fq2[v]`): `g1 = c0.c1`,
/// `g2 = c0.c2`, `g3 = c1.c0`, `g5 = c1.c2`; `g0 = c0.c0` and `g4 = c1.c1`
/// follow from them.
#[derive(Clone, Copy)]
struct Compressed {
    g1: Fq2,
    g2: Fq2,
    g3: Fq2,
    g5: Fq2,
}

#[allow(clippy::arithmetic_side_effects, reason = "field arithmetic")]
impl Compressed {
    fn of(m: &Fq12) -> Self {
        Self {
            g1: m.c0.c1,
            g2: m.c0.c2,
            g3: m.c1.c0,
            g5: m.c1.c2,
        }
    }

    /// Karabina's squaring on the compressed coefficients (ξ = 1 + u):
    /// `g1' = 3·g3² + 3ξ·g2² − 2·g1`, `g2' = 3ξ·g5² + 3·g1² − 2·g2`,
    /// `g3' = 6ξ·g1·g5 + 2·g3`, `g5' = 6·g2·g3 + 2·g5`.
    fn square(&self) -> Self {
        let Self { g1, g2, g3, g5 } = *self;
        let g1_sq = g1.square();
        let g2_sq = g2.square();
        let g3_sq = g3.square();
        let g5_sq = g5.square();
        // 2·g1·g5 and 2·g2·g3 from one more squaring each.
        let g1g5_2 = (g1 + g5).square() - g1_sq - g5_sq;
        let g2g3_2 = (g2 + g3).square() - g2_sq - g3_sq;
        let three = |a: Fq2| a.double() + a;
        Self {
            g1: three(g3_sq + mul_by_nonresidue(&g2_sq)) - g1.double(),
            g2: three(mul_by_nonresidue(&g5_sq) + g1_sq) - g2.double(),
            g3: three(mul_by_nonresidue(&g1g5_2)) + g3.double(),
            g5: three(g2g3_2) + g5.double(),
        }
    }
}

/// Decompresses several values with one inversion:
/// `g4 = (ξ·g5² + 3·g1² − 2·g2) / (4·g3)`,
/// `g0 = ξ·(2·g4² + g3·g5 − 3·g1·g2) + 1`. `None` if some `g3` is zero.
#[allow(clippy::arithmetic_side_effects, reason = "field arithmetic")]
fn decompress_all<const N: usize>(values: &[Compressed; N]) -> Option<[Fq12; N]> {
    let mut denominators = values.map(|v| v.g3.double().double());
    if denominators.iter().any(Zero::is_zero) {
        return None;
    }
    ark_ff::batch_inversion(&mut denominators);
    let mut out = [Fq12::one(); N];
    for ((v, inv), slot) in values.iter().zip(denominators.iter()).zip(out.iter_mut()) {
        let g1_sq = v.g1.square();
        let numerator = mul_by_nonresidue(&v.g5.square()) + g1_sq.double() + g1_sq - v.g2.double();
        let g4 = numerator * inv;
        let g1g2 = v.g1 * v.g2;
        let g0 = mul_by_nonresidue(&(g4.square().double() + v.g3 * v.g5 - g1g2.double() - g1g2))
            + Fq2::one();
        slot.c0.c0 = g0;
        slot.c0.c1 = v.g1;
        slot.c0.c2 = v.g2;
        slot.c1.c0 = v.g3;
        slot.c1.c1 = g4;
        slot.c1.c2 = v.g5;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bls12_381::{Fr, G1Projective, G2Projective};
    use ark_ec::{CurveGroup, PrimeGroup};
    use ark_ff::UniformRand;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn random_points(rng: &mut ChaCha20Rng) -> (G1Affine, G2Affine) {
        (
            (G1Projective::generator() * Fr::rand(rng)).into_affine(),
            (G2Projective::generator() * Fr::rand(rng)).into_affine(),
        )
    }

    #[test]
    fn final_exponentiation_agrees_with_arkworks() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        for _ in 0..8 {
            let (p, q) = random_points(&mut rng);
            let f = Bls12_381::multi_miller_loop([p], [q]);
            assert_eq!(
                final_exponentiation(&f.0),
                Bls12_381::final_exponentiation(f).map(|o| o.0)
            );
            assert_eq!(pairing(p, q), Some(Bls12_381::pairing(p, q)));
        }
        // An arbitrary (not Miller-loop) input too.
        let f = Fq12::rand(&mut rng);
        assert_eq!(
            final_exponentiation(&f),
            Bls12_381::final_exponentiation(ark_ec::pairing::MillerLoopOutput(f)).map(|o| o.0)
        );
        assert_eq!(final_exponentiation(&Fq12::zero()), None);
    }

    #[test]
    fn compressed_squaring_matches_cyclotomic_squaring() {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let (p, q) = random_points(&mut rng);
        let m = Bls12_381::pairing(p, q).0;
        let mut plain = m;
        let mut c = Compressed::of(&m);
        for _ in 0..5 {
            plain.cyclotomic_square_in_place();
            c = c.square();
            assert_eq!(decompress_all(&[c]).unwrap()[0], plain);
        }
        let mut expected = m.cyclotomic_exp([X_ABS]);
        expected.conjugate_in_place();
        assert_eq!(exp_by_x(&m), expected);
    }

    #[test]
    fn multi_pairing_is_the_product() {
        let mut rng = ChaCha20Rng::seed_from_u64(13);
        let (p1, q1) = random_points(&mut rng);
        let (p2, q2) = random_points(&mut rng);
        let product = Bls12_381::pairing(p1, q1).0 * Bls12_381::pairing(p2, q2).0;
        assert_eq!(multi_pairing([p1, p2], [q1, q2]).unwrap().0, product);
    }
}
