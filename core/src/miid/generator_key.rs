//! The miner's generator key, and the seed of each variation it makes.
//!
//! A generator's only randomness is the variation's seed, so whoever can
//! compute the seed can compute the image. The seed is therefore keyed by a
//! secret no one else has — [`GeneratorKey`], derived from the miner's
//! hotkey secret key, domain-separated, never output — over everything that
//! identifies one answer: the caller's hotkey, the challenge, the round the
//! images are sealed to and the index. A caller who replays a real
//! validator's challenge (with its own hotkey, or another round) gets other
//! images; nobody can make a miner's images without asking the miner.
//!
//! ```text
//! key  = sha256("veil/miid/generator-key/v1" ‖ hotkey secret key (64))
//! seed = HMAC-SHA256(key, "veil/miid/variation-seed/v2" ‖ caller (32)
//!                        ‖ u32be(len(cid)) ‖ cid ‖ u64be(round) ‖ u32be(index))
//! ```

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::bittensor::sign::Keypair;

/// Domain tag of [`GeneratorKey::derive`].
pub const GENERATOR_KEY_DOMAIN: &[u8] = b"veil/miid/generator-key/v1";
/// Domain tag of [`GeneratorKey::variation_seed`].
pub const VARIATION_SEED_DOMAIN: &[u8] = b"veil/miid/variation-seed/v2";

/// A miner's generator key (module docs). Zeroized on drop; its `Debug`
/// shows nothing of it.
#[derive(Clone)]
pub struct GeneratorKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for GeneratorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeneratorKey(…)")
    }
}

impl GeneratorKey {
    /// The key of the miner whose hotkey is `keypair`.
    pub fn derive(keypair: &Keypair) -> Self {
        let secret = keypair.secret_bytes();
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(
            &Sha256::new()
                .chain_update(GENERATOR_KEY_DOMAIN)
                .chain_update(secret.as_ref())
                .finalize(),
        );
        Self(key)
    }

    /// The seed of the `index`-th variation answering `caller` (its hotkey's
    /// public key) for `challenge_id`, sealed to `round`.
    pub fn variation_seed(
        &self,
        caller: &[u8; 32],
        challenge_id: &str,
        round: u64,
        index: u32,
    ) -> [u8; 32] {
        let len = u32::try_from(challenge_id.len()).unwrap_or(u32::MAX);
        // HMAC takes a key of any length: this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_ref()) else {
            return [0; 32];
        };
        mac.update(VARIATION_SEED_DOMAIN);
        mac.update(caller);
        mac.update(&len.to_be_bytes());
        mac.update(challenge_id.as_bytes());
        mac.update(&round.to_be_bytes());
        mac.update(&index.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_every_input_and_on_the_secret() {
        let a = GeneratorKey::derive(&Keypair::from_mini_secret(&[1; 32]).unwrap());
        let b = GeneratorKey::derive(&Keypair::from_mini_secret(&[2; 32]).unwrap());
        let s = a.variation_seed(&[9; 32], "c-1", 1000, 0);
        assert_eq!(
            s,
            a.variation_seed(&[9; 32], "c-1", 1000, 0),
            "deterministic"
        );
        for other in [
            b.variation_seed(&[9; 32], "c-1", 1000, 0),
            a.variation_seed(&[8; 32], "c-1", 1000, 0),
            a.variation_seed(&[9; 32], "c-2", 1000, 0),
            a.variation_seed(&[9; 32], "c-1", 1001, 0),
            a.variation_seed(&[9; 32], "c-1", 1000, 1),
        ] {
            assert_ne!(s, other);
        }
        assert_eq!(alloc::format!("{a:?}"), "GeneratorKey(…)");
    }
}
