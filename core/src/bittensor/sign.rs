//! sr25519 signatures as Bittensor hotkeys make them: schnorrkel with the
//! signing context `substrate` (sp-core, bittensor_wallet, polkadot.js all
//! sign and verify with these bytes), randomness from the caller.
//!
//! Verification also accepts a signature over `<Bytes>{msg}</Bytes>`, the
//! wrapping polkadot.js `signRaw` applies and bittensor_wallet's `verify`
//! falls back to. Signature text is 128 lowercase hex characters without
//! `0x` (MIID's wire form); input may be any case, with or without `0x`.

use core::fmt;

use rand_core::{CryptoRng, RngCore};
use schnorrkel::{ExpansionMode, MiniSecretKey, SecretKey, signing_context};
use zeroize::Zeroizing;

use crate::encoding::{self, HexError};
use crate::limits::MAX_WRAPPED_MESSAGE_LEN;

/// The signing context: Substrate's, which every Bittensor verifier uses.
pub const SIGNING_CTX: &[u8] = b"substrate";

/// Why signing material or a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// A seed is 32 bytes (mini secret) or 64 bytes (schnorrkel secret key).
    SeedLength,
    /// The 64-byte secret key is not canonical.
    InvalidSecretKey,
    /// The public key is not a valid Ristretto point.
    InvalidPublicKey,
    /// Signature text is not 64 bytes of hex.
    SignatureEncoding(HexError),
    /// The signature does not verify. Deliberately says nothing more.
    InvalidSignature,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SeedLength => f.write_str(
                "seed must be 32 bytes (mini secret) or 64 bytes (schnorrkel secret key)",
            ),
            Self::InvalidSecretKey => f.write_str("not a valid sr25519 secret key"),
            Self::InvalidPublicKey => f.write_str("not a valid sr25519 public key"),
            Self::SignatureEncoding(e) => write!(f, "signature: {e}"),
            Self::InvalidSignature => f.write_str("invalid signature"),
        }
    }
}

impl core::error::Error for SignError {}

/// An sr25519 public key (32 bytes, a valid Ristretto point).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Validates a public key.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidPublicKey`].
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SignError> {
        schnorrkel::PublicKey::from_bytes(bytes).map_err(|_| SignError::InvalidPublicKey)?;
        Ok(Self(*bytes))
    }

    /// The key bytes.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Verifies `signature` over `msg`, or over `<Bytes>{msg}</Bytes>` when
    /// `msg` is at most [`MAX_WRAPPED_MESSAGE_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidSignature`] when neither verifies.
    pub fn verify(&self, msg: &[u8], signature: &Signature) -> Result<(), SignError> {
        let pk =
            schnorrkel::PublicKey::from_bytes(&self.0).map_err(|_| SignError::InvalidPublicKey)?;
        let sig = schnorrkel::Signature::from_bytes(&signature.0)
            .map_err(|_| SignError::InvalidSignature)?;
        let ctx = signing_context(SIGNING_CTX);
        if pk.verify(ctx.bytes(msg), &sig).is_ok() {
            return Ok(());
        }
        if msg.len() <= MAX_WRAPPED_MESSAGE_LEN {
            let mut wrapped = alloc::vec::Vec::with_capacity(msg.len().saturating_add(15));
            wrapped.extend_from_slice(b"<Bytes>");
            wrapped.extend_from_slice(msg);
            wrapped.extend_from_slice(b"</Bytes>");
            if pk.verify(ctx.bytes(&wrapped), &sig).is_ok() {
                return Ok(());
            }
        }
        Err(SignError::InvalidSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", encoding::Hex(&self.0))
    }
}

/// A 64-byte sr25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    /// Wraps signature bytes (validity is checked by [`PublicKey::verify`]).
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// Parses 128 hex characters, any case, optional `0x`.
    ///
    /// # Errors
    ///
    /// [`SignError::SignatureEncoding`].
    pub fn from_hex(s: &str) -> Result<Self, SignError> {
        encoding::decode_array::<64>(s)
            .map(Self)
            .map_err(SignError::SignatureEncoding)
    }

    /// The bytes.
    pub const fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// 128 lowercase hex characters, no `0x`: MIID's wire form.
    pub fn to_hex(&self) -> heapless::String<128> {
        let mut out = heapless::String::new();
        for b in self.0 {
            // Capacity is exactly 128: pushes cannot fail.
            let _ = fmt::Write::write_fmt(&mut out, format_args!("{b:02x}"));
        }
        out
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", encoding::Hex(&self.0))
    }
}

/// An sr25519 keypair. The secret is zeroized on drop (schnorrkel's
/// `SecretKey` does) and never printed.
pub struct Keypair(schnorrkel::Keypair);

impl Keypair {
    /// From a 32-byte mini secret, expanded as Substrate does
    /// (`ExpansionMode::Ed25519`): bittensor's `secretSeed`.
    ///
    /// # Errors
    ///
    /// None in practice: schnorrkel refuses only a wrong length, which the
    /// array type rules out.
    pub fn from_mini_secret(seed: &[u8; 32]) -> Result<Self, SignError> {
        let mini = MiniSecretKey::from_bytes(seed).map_err(|_| SignError::SeedLength)?;
        Ok(Self(mini.expand_to_keypair(ExpansionMode::Ed25519)))
    }

    /// From the 64-byte schnorrkel secret key (scalar ‖ nonce):
    /// bittensor's `privateKey`.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidSecretKey`] for a non-canonical scalar.
    pub fn from_secret_key(bytes: &[u8; 64]) -> Result<Self, SignError> {
        let secret = SecretKey::from_bytes(bytes).map_err(|_| SignError::InvalidSecretKey)?;
        Ok(Self(secret.to_keypair()))
    }

    /// From a seed of either length: 32 bytes (mini secret) or 64 (secret key).
    ///
    /// # Errors
    ///
    /// [`SignError::SeedLength`] or [`SignError::InvalidSecretKey`].
    pub fn from_seed(seed: &[u8]) -> Result<Self, SignError> {
        if let Ok(mini) = <&[u8; 32]>::try_from(seed) {
            return Self::from_mini_secret(mini);
        }
        if let Ok(full) = <&[u8; 64]>::try_from(seed) {
            return Self::from_secret_key(full);
        }
        Err(SignError::SeedLength)
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.public.to_bytes())
    }

    /// Signs `msg` exactly as given, with randomness from `rng` (schnorrkel's
    /// `attach_rng`: its own default RNG needs `getrandom`).
    pub fn sign(&self, msg: &[u8], rng: &mut (impl CryptoRng + RngCore)) -> Signature {
        let t = schnorrkel::context::attach_rng(signing_context(SIGNING_CTX).bytes(msg), rng);
        Signature(self.0.sign(t).to_bytes())
    }

    /// The 64-byte secret key, for storing it (zeroized on drop).
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.0.secret.to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}
