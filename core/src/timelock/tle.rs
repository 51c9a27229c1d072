//! ideal-lab's TLE format (PyPI `timelock`, bittensor-drand, subtensor) in
//! both of its layouts, sealed and opened in place on a caller buffer.
//!
//! A `TLECiphertext` serialized by ark-serialize (compressed), where a
//! `Vec<u8>` is `u64le(len) ‖ bytes` and a `[u8; N]` has no prefix:
//!
//! ```text
//! tle (≤ 0.2.x, bittensor-drand, subtensor), n + 244 bytes:
//!   U(96) ‖ u64le(32) ‖ V(32) ‖ u64le(32) ‖ W(32) ‖ u64le(n+44) ‖ body ‖ u64le(8) ‖ "AES_GCM_"
//! tle-v03 (timelock 0.3.0), n + 228 bytes:
//!   U(96) ‖ V(32) ‖ W(32) ‖ u64le(n+44) ‖ body ‖ u64le(8) ‖ "AES_GCM_"
//! body = u64le(n+16) ‖ AES-256-GCM(esk, nonce, m) ‖ tag(16) ‖ u64le(12) ‖ nonce(12)
//! ```
//!
//! Every length prefix is checked against the bytes actually present before
//! anything is sliced — the timelock 0.3.0 decoder allocates whatever a
//! hostile prefix says and aborts the process; veil allocates nothing.
//! The format carries no round and no chain: opening relies on the IBE check.

use core::fmt;
use core::ops::Range;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use rand_core::{CryptoRng, RngCore};

use crate::limits::G2_COMPRESSED_LEN;
use crate::timelock::ibe::{self, PreparedRound, RoundKey, TLE_KEY_LEN, TleHeader, TleKey};

/// The cipher-suite tag every TLE ends with.
pub const CIPHER_SUITE: &[u8; 8] = b"AES_GCM_";

const AES_NONCE_LEN: usize = 12;
const AES_TAG_LEN: usize = 16;

/// Which TLE serialization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// V and W length-prefixed: PyPI `timelock`, bittensor-drand, subtensor
    /// (the `tle` crate at rev 5416406, timelock ≤ 0.2). n + 244 bytes.
    Tle,
    /// V and W fixed arrays: the `timelock` crate 0.3.0. n + 228 bytes.
    TleV03,
}

impl Layout {
    /// Bytes added to a plaintext of any length.
    pub const fn overhead(self) -> usize {
        match self {
            Self::Tle => 244,
            Self::TleV03 => 228,
        }
    }

    /// Where the plaintext sits inside a sealed buffer: after U (96), V and
    /// W (32 each, with 8-byte prefixes in `tle`), and the two body length
    /// prefixes (8 each).
    pub const fn payload_offset(self) -> usize {
        match self {
            Self::Tle => 192,
            Self::TleV03 => 176,
        }
    }

    /// The sealed size for `n` plaintext bytes, if representable.
    pub const fn sealed_len(self, n: usize) -> Option<usize> {
        n.checked_add(self.overhead())
    }
}

/// Why a TLE was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TleError {
    /// The bytes are not a TLE of that layout; the text says where.
    Malformed(&'static str),
    /// The caller's buffer does not have the size [`Layout::sealed_len`] gives.
    BufferSize,
    /// The chain cannot be used (signatures must be on G1).
    Chain(ibe::IbeError),
    /// Decryption failed. Deliberately says nothing more.
    DecryptionFailed,
}

impl fmt::Display for TleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed TLE ciphertext: {why}"),
            Self::BufferSize => f.write_str("internal error: TLE buffer size"),
            Self::Chain(e) => e.fmt(f),
            Self::DecryptionFailed => f.write_str("decryption failed"),
        }
    }
}

impl core::error::Error for TleError {}

/// A TLE whose structure checked out: where its parts are in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    layout: Layout,
    header: TleHeader,
    nonce: [u8; AES_NONCE_LEN],
    /// Ciphertext without the tag.
    ciphertext: (usize, usize),
    tag: [u8; AES_TAG_LEN],
}

impl Parsed {
    /// The layout found.
    pub const fn layout(&self) -> Layout {
        self.layout
    }

    /// Plaintext length.
    pub const fn payload_len(&self) -> usize {
        self.ciphertext.1.saturating_sub(self.ciphertext.0)
    }
}

/// A little reader over the input that refuses to go past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TleError> {
        let end = self.pos.checked_add(n).ok_or(TleError::Malformed(what))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(TleError::Malformed(what))?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], TleError> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| TleError::Malformed(what))
    }

    fn u64le(&mut self, what: &'static str) -> Result<u64, TleError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length prefix that must equal `expected`.
    fn prefix_eq(&mut self, expected: usize, what: &'static str) -> Result<(), TleError> {
        let n = self.u64le(what)?;
        if usize::try_from(n).ok() == Some(expected) {
            Ok(())
        } else {
            Err(TleError::Malformed(what))
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }
}

/// Checks the structure of `bytes` as a TLE of `layout`: every prefix must
/// match the bytes present exactly, nothing may trail.
///
/// # Errors
///
/// [`TleError::Malformed`] naming the first part that does not fit.
pub fn parse(bytes: &[u8], layout: Layout) -> Result<Parsed, TleError> {
    let mut c = Cursor { bytes, pos: 0 };
    let u: [u8; G2_COMPRESSED_LEN] = c.array("U")?;
    if layout == Layout::Tle {
        c.prefix_eq(TLE_KEY_LEN, "V length")?;
    }
    let v = c.array("V")?;
    if layout == Layout::Tle {
        c.prefix_eq(TLE_KEY_LEN, "W length")?;
    }
    let w = c.array("W")?;
    // u64le(body_len) ‖ body ‖ u64le(8) ‖ "AES_GCM_" must be exactly what is left.
    let body_len = c
        .remaining()
        .checked_sub(8 + 16)
        .ok_or(TleError::Malformed("body length"))?;
    c.prefix_eq(body_len, "body length")?;
    let ct_len = body_len
        .checked_sub(8 + 8 + AES_NONCE_LEN)
        .filter(|n| *n >= AES_TAG_LEN)
        .ok_or(TleError::Malformed("AES ciphertext length"))?;
    c.prefix_eq(ct_len, "AES ciphertext length")?;
    let start = c.pos;
    c.take(ct_len, "AES ciphertext")?;
    let tag_start = start.saturating_add(ct_len.saturating_sub(AES_TAG_LEN));
    let tag: [u8; AES_TAG_LEN] = bytes
        .get(tag_start..c.pos)
        .and_then(|t| t.try_into().ok())
        .ok_or(TleError::Malformed("AES tag"))?;
    c.prefix_eq(AES_NONCE_LEN, "AES nonce length")?;
    let nonce = c.array("AES nonce")?;
    c.prefix_eq(CIPHER_SUITE.len(), "cipher suite length")?;
    if c.take(CIPHER_SUITE.len(), "cipher suite")? != CIPHER_SUITE {
        return Err(TleError::Malformed("cipher suite is not AES_GCM_"));
    }
    if c.remaining() != 0 {
        return Err(TleError::Malformed("trailing bytes"));
    }
    Ok(Parsed {
        layout,
        header: TleHeader { u, v, w },
        nonce,
        ciphertext: (start, tag_start),
        tag,
    })
}

/// Opens a parsed TLE in place: `buf` is the same bytes given to [`parse`].
/// Returns the plaintext's range in `buf`; nothing is decrypted in `buf`
/// unless the IBE check and the AES-GCM tag both pass.
///
/// # Errors
///
/// [`TleError::DecryptionFailed`] for a wrong key or any tampering.
pub fn open_in_place(
    parsed: &Parsed,
    buf: &mut [u8],
    key: &RoundKey,
) -> Result<Range<usize>, TleError> {
    let esk = ibe::tle_decrypt(key, &parsed.header).map_err(|_| TleError::DecryptionFailed)?;
    let (start, end) = parsed.ciphertext;
    let ct = buf.get_mut(start..end).ok_or(TleError::BufferSize)?;
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(esk.expose_secret()))
        .decrypt_in_place_detached(
            Nonce::from_slice(&parsed.nonce),
            b"",
            ct,
            Tag::from_slice(&parsed.tag),
        )
        .map_err(|_| TleError::DecryptionFailed)?;
    Ok(start..end)
}

/// Seals in place: `buf` has exactly [`Layout::sealed_len`]`(n)` bytes with
/// the plaintext at [`Layout::payload_offset`]; the rest is overwritten.
/// The AES key, σ and the nonce come from `rng`.
///
/// # Errors
///
/// [`TleError::BufferSize`], or [`TleError::Chain`] for a chain whose
/// signatures are not on G1.
pub fn seal_in_place(
    prepared: &PreparedRound,
    layout: Layout,
    buf: &mut [u8],
    n: usize,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<(), TleError> {
    if layout.sealed_len(n) != Some(buf.len()) {
        return Err(TleError::BufferSize);
    }
    let esk = TleKey::generate(rng);
    let header = ibe::tle_encrypt(prepared, &esk, rng).map_err(TleError::Chain)?;
    let mut nonce = [0u8; AES_NONCE_LEN];
    rng.fill_bytes(&mut nonce);

    let off = layout.payload_offset();
    let end = off.checked_add(n).ok_or(TleError::BufferSize)?;
    let pt = buf.get_mut(off..end).ok_or(TleError::BufferSize)?;
    let tag = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(esk.expose_secret()))
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", pt)
        .map_err(|_| TleError::BufferSize)?;

    let ct_len = n.checked_add(AES_TAG_LEN).ok_or(TleError::BufferSize)?;
    let body_len = ct_len
        .checked_add(8 + 8 + AES_NONCE_LEN)
        .ok_or(TleError::BufferSize)?;
    let le = |x: usize| {
        u64::try_from(x)
            .map(u64::to_le_bytes)
            .map_err(|_| TleError::BufferSize)
    };
    let mut w = Writer { buf, pos: 0 };
    w.put(&header.u)?;
    if layout == Layout::Tle {
        w.put(&le(TLE_KEY_LEN)?)?;
    }
    w.put(&header.v)?;
    if layout == Layout::Tle {
        w.put(&le(TLE_KEY_LEN)?)?;
    }
    w.put(&header.w)?;
    w.put(&le(body_len)?)?;
    w.put(&le(ct_len)?)?;
    if w.pos != off {
        return Err(TleError::BufferSize);
    }
    w.pos = end; // the ciphertext is already in place
    w.put(&tag)?;
    w.put(&le(AES_NONCE_LEN)?)?;
    w.put(&nonce)?;
    w.put(&le(CIPHER_SUITE.len())?)?;
    w.put(CIPHER_SUITE)?;
    if w.pos != w.buf.len() {
        return Err(TleError::BufferSize);
    }
    Ok(())
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), TleError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(TleError::BufferSize)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(TleError::BufferSize)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
}
