//! The real ideal-lab5 `timelock` crates as interop peers.
//!
//! Two releases are linked side by side under renamed dependencies:
//!
//! * `timelock_v001` = `timelock` 0.0.1 (arkworks 0.4, w3f-bls): the legacy
//!   ("old") TLE layout, the one bittensor-drand and subtensor emit:
//!   `U(96) ‖ u64le(32) ‖ V(32) ‖ u64le(32) ‖ W(32) ‖ u64le(Lb) ‖ body ‖
//!   u64le(8) ‖ "AES_GCM_"`, so a message of n bytes gives n + 244 bytes.
//! * `timelock_v030` = `timelock` 0.3.0 (arkworks 0.5): the new layout, where
//!   V and W are fixed 32-byte arrays without a length prefix: n + 228 bytes.
//!
//! In both, `body` is `u64le(n + 16) ‖ AES-256-GCM(ct ‖ tag) ‖ u64le(12) ‖
//! nonce(12)`, the AES key is the caller's 32-byte `esk`, and the identity of
//! a round is `Identity::new(b"", sha256(u64_be(round)))`, hashed to G1 with
//! the quicknet DST, so any BLS12-381 key of the quicknet shape (public key
//! on G2, 96 bytes; signatures on G1, 48 bytes) works, devnet keys included.
//!
//! The crates' randomness (a scalar in 0.0.1, a 32-byte sigma in 0.3.0, then
//! the 12-byte AES nonce) is drawn from a `ChaCha20Rng` seeded with `seed`,
//! so one `(esk, seed)` pair always yields the same ciphertext.
//!
//! Decryption never takes the process down. Before any bytes reach a crate
//! their layout is walked here: every length prefix must fit exactly, and
//! for 0.0.1 V and W must be 32 bytes long. This matters because
//! arkworks 0.5 (used by 0.3.0) pre-allocates a `Vec` from an untrusted
//! length prefix, so old-layout bytes fed to 0.3.0 panic with "capacity
//! overflow" or abort on a failed allocation; and 0.0.1 indexes out of bounds
//! when V or W is longer than 32 bytes. The crate calls are also wrapped in
//! `catch_unwind` as a second line. The walk is stricter than the crates in
//! one way: trailing bytes after the cipher suite are refused (the crates
//! ignore them). The cipher-suite text itself is not checked, as in the
//! crates.

// Each integration test that includes this file uses only some of it.
#![allow(dead_code)]

use core::panic::AssertUnwindSafe;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

use ark_serialize_v04::{CanonicalDeserialize as _, CanonicalSerialize as _};
use timelock_v001::curves::drand::TinyBLS381 as V001Engine;
use timelock_v001::ibe::fullident::Identity as V001Identity;
use timelock_v001::stream_ciphers::AESGCMStreamCipherProvider as V001Aes;
use timelock_v001::tlock::{
    EngineBLS as V001EngineBls, TLECiphertext as V001Ciphertext, tld as v001_tld, tle as v001_tle,
};

use ark_serialize_v05::{CanonicalDeserialize as _, CanonicalSerialize as _};
use timelock_v030::block_ciphers::AESGCMBlockCipherProvider as V030Aes;
use timelock_v030::engines::EngineBLS as V030EngineBls;
use timelock_v030::engines::drand::TinyBLS381 as V030Engine;
use timelock_v030::ibe::fullident::Identity as V030Identity;
use timelock_v030::tlock::{TLECiphertext as V030Ciphertext, tld as v030_tld, tle as v030_tle};

type V001Sig = <V001Engine as V001EngineBls>::SignatureGroup;
type V001Pk = <V001Engine as V001EngineBls>::PublicKeyGroup;
type V030Sig = <V030Engine as V030EngineBls>::SignatureGroup;
type V030Pk = <V030Engine as V030EngineBls>::PublicKeyGroup;

/// Size of a compressed G2 point (the IBE `U`).
const U_LEN: usize = 96;
/// Size of V and W (sigma and the masked esk).
const HASH_LEN: usize = 32;

/// Encrypts `msg` for `round` under `pk` with `timelock` 0.0.1 (old layout,
/// `msg.len() + 244` bytes). `esk` is both the IBE payload and the AES key.
pub(crate) fn v001_encrypt(
    pk: &[u8; 96],
    round: u64,
    msg: &[u8],
    esk: [u8; 32],
    seed: u64,
) -> Vec<u8> {
    let key = V001Pk::deserialize_compressed(&pk[..]).expect("public key: compressed G2 point");
    let id = V001Identity::new(b"", vec![round_identity(round).to_vec()]);
    let rng = ChaCha20Rng::seed_from_u64(seed);
    let ct = v001_tle::<V001Engine, V001Aes, ChaCha20Rng>(key, esk, msg, id, rng)
        .expect("timelock 0.0.1 tle");
    let mut out = Vec::new();
    ct.serialize_compressed(&mut out)
        .expect("serialize TLECiphertext (0.0.1)");
    out
}

/// Decrypts old-layout bytes with `timelock` 0.0.1 and a compressed G1
/// signature; `None` for anything the crate refuses or that is malformed.
pub(crate) fn v001_decrypt(ct: &[u8], sig: &[u8; 48]) -> Option<Vec<u8>> {
    if !old_layout_fits(ct) {
        return None;
    }
    shielded(|| {
        let ciphertext = V001Ciphertext::<V001Engine>::deserialize_compressed(ct).ok()?;
        let signature = V001Sig::deserialize_compressed(&sig[..]).ok()?;
        v001_tld::<V001Engine, V001Aes>(ciphertext, signature).ok()
    })
}

/// Encrypts `msg` for `round` under `pk` with `timelock` 0.3.0 (new layout,
/// `msg.len() + 228` bytes). `esk` is both the IBE payload and the AES key.
pub(crate) fn v030_encrypt(
    pk: &[u8; 96],
    round: u64,
    msg: &[u8],
    esk: [u8; 32],
    seed: u64,
) -> Vec<u8> {
    let key = V030Pk::deserialize_compressed(&pk[..]).expect("public key: compressed G2 point");
    let id = V030Identity::new(b"", &round_identity(round));
    let rng = ChaCha20Rng::seed_from_u64(seed);
    let ct = v030_tle::<V030Engine, V030Aes, ChaCha20Rng>(key, esk, msg, id, rng)
        .expect("timelock 0.3.0 tle");
    let mut out = Vec::new();
    ct.serialize_compressed(&mut out)
        .expect("serialize TLECiphertext (0.3.0)");
    out
}

/// Decrypts new-layout bytes with `timelock` 0.3.0 and a compressed G1
/// signature; `None` for anything the crate refuses or that is malformed
/// (old-layout bytes included, which the crate itself cannot survive).
pub(crate) fn v030_decrypt(ct: &[u8], sig: &[u8; 48]) -> Option<Vec<u8>> {
    if !new_layout_fits(ct) {
        return None;
    }
    shielded(|| {
        let ciphertext = V030Ciphertext::<V030Engine>::deserialize_compressed(ct).ok()?;
        let signature = V030Sig::deserialize_compressed(&sig[..]).ok()?;
        v030_tld::<V030Engine, V030Aes>(ciphertext, signature).ok()
    })
}

/// The message both releases hash to G1 for a drand round: the SHA-256 of
/// the round number in big-endian order (no context prefix).
fn round_identity(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// Runs a crate call, turning a panic into `None`.
fn shielded<T>(call: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(AssertUnwindSafe(call))
        .ok()
        .flatten()
}

/// A cursor over serialized bytes that never reads past the end.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    /// An arkworks `Vec<u8>`: `u64le(len) ‖ len bytes`.
    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let len: [u8; 8] = self.take(8)?.try_into().ok()?;
        let len = usize::try_from(u64::from_le_bytes(len)).ok()?;
        self.take(len)
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// The part both layouts share after V and W: the body (an AES output of
/// two prefixed vectors, filling the body exactly) and the cipher suite,
/// ending exactly at the end of the input.
fn tail_fits(mut cur: Cursor<'_>) -> bool {
    let Some(body) = cur.prefixed() else {
        return false;
    };
    let mut inner = Cursor::new(body);
    let body_ok = inner.prefixed().is_some() && inner.prefixed().is_some() && inner.is_empty();
    body_ok && cur.prefixed().is_some() && cur.is_empty()
}

/// Old layout: `U ‖ u64le(32) ‖ V ‖ u64le(32) ‖ W ‖ tail`.
fn old_layout_fits(ct: &[u8]) -> bool {
    let mut cur = Cursor::new(ct);
    let fixed = cur.take(U_LEN).is_some()
        && cur.prefixed().is_some_and(|v| v.len() == HASH_LEN)
        && cur.prefixed().is_some_and(|w| w.len() == HASH_LEN);
    fixed && tail_fits(cur)
}

/// New layout: `U ‖ V(32) ‖ W(32) ‖ tail`.
fn new_layout_fits(ct: &[u8]) -> bool {
    let mut cur = Cursor::new(ct);
    let fixed = cur.take(U_LEN + 2 * HASH_LEN).is_some();
    fixed && tail_fits(cur)
}
