//! What a miner signs (the image and path messages), the path signature,
//! and the image hash.

use core::fmt;

use sha2::{Digest, Sha256};

use super::{FrameError, check_hex, check_key_part};
use crate::bittensor::sign::Signature;
use crate::encoding;
use crate::limits::MAX_MIID_MESSAGE_LEN;

/// Text of a signed MIID message.
pub type Message = heapless::String<MAX_MIID_MESSAGE_LEN>;

/// `challenge:{challenge_id}:hash:{sha256 hex}`: what a miner signs for each
/// image (its UTF-8 bytes, exactly).
///
/// # Errors
///
/// [`FrameError::Field`] for a bad challenge id or a hash that is not 64
/// hex characters.
pub fn image_message(challenge_id: &str, image_hash_hex: &str) -> Result<Message, FrameError> {
    check_key_part(challenge_id, "challenge_id")?;
    check_hex(
        image_hash_hex,
        32,
        "image_hash",
        "must be 64 hex characters (SHA-256)",
    )?;
    let mut m = Message::new();
    fmt::Write::write_fmt(
        &mut m,
        format_args!("challenge:{challenge_id}:hash:{image_hash_hex}"),
    )
    .map_err(|_| FrameError::BufferFull)?;
    Ok(m)
}

/// `{challenge_id}:{miner_ss58}`: what a miner signs once per request; the
/// first 16 hex characters of that signature are its `path_signature`.
///
/// # Errors
///
/// [`FrameError::Field`] for a bad challenge id or address text.
pub fn path_message(challenge_id: &str, miner_ss58: &str) -> Result<Message, FrameError> {
    check_key_part(challenge_id, "challenge_id")?;
    check_key_part(miner_ss58, "miner hotkey")?;
    let mut m = Message::new();
    fmt::Write::write_fmt(&mut m, format_args!("{challenge_id}:{miner_ss58}"))
        .map_err(|_| FrameError::BufferFull)?;
    Ok(m)
}

/// The path signature: the first 16 hex characters of the signature of
/// [`path_message`]. sr25519 signatures are randomized, so it is an
/// unguessable path segment, not something anyone can re-derive.
pub fn path_signature(sig: &Signature) -> heapless::String<16> {
    let hex = sig.to_hex();
    let mut out = heapless::String::new();
    let _ = out.push_str(hex.get(..16).unwrap_or(""));
    out
}

/// Incremental SHA-256 of an image, hex-encoded as MIID's `image_hash`.
#[derive(Clone, Debug, Default)]
pub struct ImageHasher(Sha256);

impl ImageHasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    /// Feeds more image bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The 64 lowercase hex characters.
    pub fn finalize_hex(self) -> heapless::String<64> {
        let digest: [u8; 32] = self.0.finalize().into();
        let mut out = [0u8; 64];
        let mut s = heapless::String::new();
        if let Ok(text) = encoding::encode_into(&digest, &mut out) {
            let _ = s.push_str(text);
        }
        s
    }
}
