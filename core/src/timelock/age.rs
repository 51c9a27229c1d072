//! The age v1 file format with drand's `tlock` recipient stanza — what drand
//! `tle` (Go), tlock-js and tlock_age read and write.
//!
//! ```text
//! age-encryption.org/v1
//! -> tlock {round} {chain hash, lowercase hex}
//! {base64(U ‖ V ‖ W), unpadded, 64 columns, last line shorter than 64}
//! --- {base64(HMAC-SHA256(HKDF(file_key, "", "header"), header up to "---"))}
//! {16-byte nonce} {STREAM: ChaCha20-Poly1305 over 64 KiB chunks,
//!                  key HKDF(file_key, nonce, "payload"),
//!                  chunk nonce = u88be(counter) ‖ last-chunk flag}
//! ```
//!
//! Reading takes the **first** `tlock` stanza and ignores the others (rage
//! adds "grease" stanzas); writing emits exactly one. The payload is
//! processed chunk by chunk through caller buffers of `64 KiB + 16` bytes, so
//! memory never depends on the payload size; each chunk is authenticated
//! before its plaintext is returned.

use core::fmt;

use base64ct::{Base64Unpadded, Encoding};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::drand::round::Round;
use crate::encoding::{self, Hex};
use crate::limits::{AGE_CHUNK_LEN, AGE_TAG_LEN, MAX_AGE_HEADER_LEN, MAX_TLOCK_STANZA_BODY_B64};
use crate::timelock::ibe::{self, FileKey, PreparedRound, RoundKey, TlockCiphertext};

/// The first line of every age v1 file.
pub const MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// Size of the payload nonce written after the header.
pub const PAYLOAD_NONCE_LEN: usize = 16;

pub use crate::limits::MAX_SEALED_HEADER_LEN;

/// Why an age file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgeError {
    /// Not an age v1 file.
    NotAge,
    /// The header is malformed; the text says how.
    MalformedHeader(&'static str),
    /// No `tlock` stanza: the file is sealed to some other recipient.
    NoTlockStanza,
    /// The header did not end within the limit (or the input ended first).
    HeaderTooLong {
        /// The limit, in bytes.
        max: usize,
    },
    /// The payload is truncated, or a chunk has an impossible size.
    Truncated,
    /// The payload has no chunk at all. age requires a final chunk even for
    /// an empty plaintext, so that truncation is always detected; tlock-js
    /// 0.9 omits it when encrypting nothing.
    NoFinalChunk,
    /// A caller buffer is too small, or chunks were fed out of order.
    BufferMisuse,
    /// The sealing RNG could not produce a key (practically impossible).
    Sealing,
    /// Decryption or authentication failed. Deliberately says nothing more.
    DecryptionFailed,
}

impl fmt::Display for AgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAge => f.write_str("not an age file"),
            Self::MalformedHeader(why) => write!(f, "malformed age header: {why}"),
            Self::NoTlockStanza => f.write_str("the age file has no tlock recipient stanza"),
            Self::HeaderTooLong { max } => {
                write!(f, "age header missing or longer than {max} bytes")
            }
            Self::Truncated => f.write_str("age payload is truncated"),
            Self::NoFinalChunk => f.write_str(
                "age payload has no final chunk, so truncation cannot be ruled out (tlock-js 0.9 writes such files for an empty plaintext)",
            ),
            Self::BufferMisuse => f.write_str("internal error: age chunk buffer misuse"),
            Self::Sealing => f.write_str("sealing failed"),
            Self::DecryptionFailed => f.write_str("decryption failed"),
        }
    }
}

impl core::error::Error for AgeError {}

fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut okm[..]);
    okm
}

fn header_mac(file_key: &FileKey, mac_input: &[u8]) -> Result<Hmac<Sha256>, AgeError> {
    let key = hkdf32(b"", file_key.expose_secret(), b"header");
    // HMAC takes keys of any length; the error branch is unreachable.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key[..]).map_err(|_| AgeError::DecryptionFailed)?;
    mac.update(mac_input);
    Ok(mac)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// The bytes that start a sealed file — header and payload nonce — and the
/// sealer for the chunks that follow.
pub struct Sealed {
    prefix: heapless::Vec<u8, { MAX_SEALED_HEADER_LEN + PAYLOAD_NONCE_LEN }>,
    /// Seals the payload chunk by chunk.
    pub sealer: StreamSealer,
}

impl Sealed {
    /// Header and payload nonce: write these first.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed").finish_non_exhaustive()
    }
}

/// Starts sealing a file to `prepared`'s round: draws a file key, σ and the
/// payload nonce from `rng`, writes the header.
///
/// # Errors
///
/// [`AgeError::Sealing`] only if the IBE's H3 sampling fails (never in practice).
pub fn seal(
    prepared: &PreparedRound,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Sealed, AgeError> {
    let file_key = FileKey::generate(rng);
    let ct = ibe::tlock_encrypt(prepared, &file_key, rng).map_err(|_| AgeError::Sealing)?;
    let mut body = [0u8; TlockCiphertext::MAX_LEN];
    let body = ct.write_to(&mut body).map_err(|_| AgeError::Sealing)?;

    let mut prefix = heapless::Vec::new();
    write_header(&mut prefix, prepared.round(), prepared.chain_hash(), body)
        .map_err(|()| AgeError::Sealing)?;
    let mac = header_mac(&file_key, &prefix)?.finalize().into_bytes();
    let mut mac_b64 = [0u8; 43];
    let mac_b64 = Base64Unpadded::encode(&mac, &mut mac_b64).map_err(|_| AgeError::Sealing)?;
    push_all(&mut prefix, &[b" ", mac_b64.as_bytes(), b"\n"]).map_err(|()| AgeError::Sealing)?;

    let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    prefix
        .extend_from_slice(&nonce)
        .map_err(|_| AgeError::Sealing)?;
    Ok(Sealed {
        prefix,
        sealer: StreamSealer {
            stream: Stream::new(&file_key, &nonce),
        },
    })
}

fn push_all<const N: usize>(out: &mut heapless::Vec<u8, N>, parts: &[&[u8]]) -> Result<(), ()> {
    parts
        .iter()
        .try_for_each(|p| out.extend_from_slice(p).map_err(|_| ()))
}

/// Writes everything up to and including `---` (the MAC input).
fn write_header<const N: usize>(
    out: &mut heapless::Vec<u8, N>,
    round: Round,
    chain_hash: &[u8; 32],
    body: &[u8],
) -> Result<(), ()> {
    use core::fmt::Write as _;
    let mut line: heapless::String<128> = heapless::String::new();
    writeln!(line, "-> tlock {} {}", round, Hex(chain_hash)).map_err(|_| ())?;
    push_all(out, &[MAGIC, line.as_bytes()])?;
    let mut b64 = [0u8; 172];
    let b64 = Base64Unpadded::encode(body, &mut b64).map_err(|_| ())?;
    // 64 columns; the last line must be shorter than 64, so a body whose
    // encoding is a multiple of 64 ends with an empty line.
    let mut rest = b64.as_bytes();
    loop {
        let (line, tail) = rest.split_at(rest.len().min(64));
        push_all(out, &[line, b"\n"])?;
        rest = tail;
        if line.len() < 64 {
            break;
        }
    }
    out.extend_from_slice(b"---").map_err(|_| ())
}

// ---------------------------------------------------------------------------
// Reading the header
// ---------------------------------------------------------------------------

/// A parsed age header with its tlock stanza, borrowing the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    round: Round,
    chain_hash: [u8; 32],
    body: TlockCiphertext,
    mac: [u8; 32],
    mac_input: &'a [u8],
    len: usize,
}

impl<'a> Header<'a> {
    /// Parses the header at the start of `input`, which may continue with the
    /// payload. Only the first [`MAX_AGE_HEADER_LEN`] bytes are looked at.
    ///
    /// # Errors
    ///
    /// [`AgeError::NotAge`], [`AgeError::MalformedHeader`],
    /// [`AgeError::NoTlockStanza`] or [`AgeError::HeaderTooLong`].
    pub fn parse(input: &'a [u8]) -> Result<Self, AgeError> {
        let window = input.get(..MAX_AGE_HEADER_LEN).unwrap_or(input);
        let too_long = AgeError::HeaderTooLong {
            max: MAX_AGE_HEADER_LEN,
        };
        let mut lines = Lines {
            rest: window,
            pos: 0,
        };
        if Some(lines.next().ok_or(AgeError::NotAge)?) != MAGIC.strip_suffix(b"\n") {
            return Err(AgeError::NotAge);
        }
        let mut tlock: Option<(Round, [u8; 32], TlockCiphertext)> = None;
        let mut stanzas = 0usize;
        loop {
            let line_start = lines.pos;
            let line = lines.next().ok_or(too_long)?;
            if let Some(args) = line.strip_prefix(b"-> ") {
                stanzas = stanzas.saturating_add(1);
                let stanza = parse_stanza(args, &mut lines)?;
                if tlock.is_none() {
                    tlock = stanza;
                }
            } else if let Some(mac) = line.strip_prefix(b"--- ") {
                if stanzas == 0 {
                    return Err(AgeError::MalformedHeader("no recipient stanza"));
                }
                let mac_input = input
                    .get(..line_start.saturating_add(3))
                    .ok_or(AgeError::MalformedHeader("MAC line"))?;
                let mut mac_bytes = [0u8; 32];
                let decoded = Base64Unpadded::decode(mac, &mut mac_bytes).map_err(|_| {
                    AgeError::MalformedHeader("MAC is not 32 bytes of canonical base64")
                })?;
                if decoded.len() != 32 {
                    return Err(AgeError::MalformedHeader(
                        "MAC is not 32 bytes of canonical base64",
                    ));
                }
                let (round, chain_hash, body) = tlock.ok_or(AgeError::NoTlockStanza)?;
                return Ok(Self {
                    round,
                    chain_hash,
                    body,
                    mac: mac_bytes,
                    mac_input,
                    len: lines.pos,
                });
            } else {
                return Err(AgeError::MalformedHeader(
                    "expected a stanza or the MAC line",
                ));
            }
        }
    }

    /// The round the file is sealed to.
    pub const fn round(&self) -> Round {
        self.round
    }

    /// The chain hash named in the stanza.
    pub const fn chain_hash(&self) -> &[u8; 32] {
        &self.chain_hash
    }

    /// Length of the header in bytes, including the MAC line; the payload
    /// nonce follows.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Never true: a header has at least a version line.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Opens the stanza with the round's key, checks the header MAC, and
    /// returns the opener for the payload that starts with `payload_nonce`.
    ///
    /// # Errors
    ///
    /// [`AgeError::DecryptionFailed`] for a wrong key or any tampering.
    pub fn open(
        &self,
        key: &RoundKey,
        payload_nonce: &[u8; PAYLOAD_NONCE_LEN],
    ) -> Result<StreamOpener, AgeError> {
        let file_key =
            ibe::tlock_decrypt(key, &self.body).map_err(|_| AgeError::DecryptionFailed)?;
        header_mac(&file_key, self.mac_input)?
            .verify_slice(&self.mac)
            .map_err(|_| AgeError::DecryptionFailed)?;
        Ok(StreamOpener {
            stream: Stream::new(&file_key, payload_nonce),
        })
    }
}

/// LF-terminated lines of the header window; `pos` is the offset after the
/// last line returned.
struct Lines<'a> {
    rest: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let end = self.rest.iter().position(|&b| b == b'\n')?;
        let (line, tail) = self.rest.split_at(end);
        self.rest = tail.get(1..)?;
        self.pos = self.pos.saturating_add(end).saturating_add(1);
        Some(line)
    }
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Parses one stanza (its `-> ` line already split off) and its body.
/// Returns the tlock contents when it is a tlock stanza.
fn parse_stanza(
    args: &[u8],
    lines: &mut Lines<'_>,
) -> Result<Option<(Round, [u8; 32], TlockCiphertext)>, AgeError> {
    let mut parts = args.split(|&b| b == b' ');
    let is_vchar_arg = |a: &&[u8]| !a.is_empty() && a.iter().all(|b| (0x21..=0x7e).contains(b));
    if !parts.clone().all(|a| is_vchar_arg(&a)) {
        return Err(AgeError::MalformedHeader("stanza arguments"));
    }
    let is_tlock = parts.next() == Some(b"tlock");

    // The body: base64 lines of at most 64 columns, ending with a shorter one.
    let mut body_b64: heapless::Vec<u8, MAX_TLOCK_STANZA_BODY_B64> = heapless::Vec::new();
    let mut body_fits = true;
    loop {
        let line = lines.next().ok_or(AgeError::HeaderTooLong {
            max: MAX_AGE_HEADER_LEN,
        })?;
        if line.len() > 64 || !line.iter().all(|&b| is_base64_char(b)) {
            return Err(AgeError::MalformedHeader("stanza body"));
        }
        if is_tlock && body_fits {
            body_fits = body_b64.extend_from_slice(line).is_ok();
        }
        if line.len() < 64 {
            break;
        }
    }
    if !is_tlock {
        return Ok(None);
    }
    let (Some(round), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AgeError::MalformedHeader(
            "a tlock stanza takes a round and a chain hash",
        ));
    };
    let round = core::str::from_utf8(round)
        .ok()
        .filter(|s| s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .and_then(|r| Round::new(r).ok())
        .ok_or(AgeError::MalformedHeader(
            "tlock round is not a round number",
        ))?;
    let chain_hash = core::str::from_utf8(hash)
        .ok()
        .and_then(|s| encoding::decode_array::<32>(s).ok())
        .ok_or(AgeError::MalformedHeader(
            "tlock chain hash is not 32 bytes of hex",
        ))?;
    let mut body = [0u8; TlockCiphertext::MAX_LEN];
    let body = body_fits
        .then(|| Base64Unpadded::decode(&body_b64[..], &mut body).ok())
        .flatten()
        .ok_or(AgeError::MalformedHeader(
            "tlock stanza body is not 80 or 128 bytes of canonical base64",
        ))?;
    let body = TlockCiphertext::from_bytes(body)
        .map_err(|_| AgeError::MalformedHeader("tlock stanza body is not 80 or 128 bytes"))?;
    Ok(Some((round, chain_hash, body)))
}

// ---------------------------------------------------------------------------
// STREAM
// ---------------------------------------------------------------------------

pub use crate::limits::MAX_CHUNK_CIPHERTEXT_LEN;

/// The STREAM construction's shared state: key, counter, and whether the
/// last chunk has been processed.
struct Stream {
    aead: ChaCha20Poly1305,
    counter: u64,
    done: bool,
}

impl Stream {
    fn new(file_key: &FileKey, nonce: &[u8; PAYLOAD_NONCE_LEN]) -> Self {
        let key = hkdf32(nonce, file_key.expose_secret(), b"payload");
        Self {
            aead: ChaCha20Poly1305::new(Key::from_slice(&key[..])),
            counter: 0,
            done: false,
        }
    }

    /// u88 big-endian counter (the top 3 bytes stay 0: a u64 counter cannot
    /// overflow in practice and is checked anyway) ‖ last flag.
    fn nonce(&self, last: bool) -> Nonce {
        let mut n = [0u8; 12];
        if let Some(c) = n.get_mut(3..11) {
            c.copy_from_slice(&self.counter.to_be_bytes());
        }
        if let Some(flag) = n.get_mut(11) {
            *flag = u8::from(last);
        }
        n.into()
    }

    fn advance(&mut self, last: bool) -> Result<(), AgeError> {
        self.counter = self.counter.checked_add(1).ok_or(AgeError::Truncated)?;
        self.done = last;
        Ok(())
    }
}

/// Seals plaintext chunks in place.
pub struct StreamSealer {
    stream: Stream,
}

impl StreamSealer {
    /// Seals `buf[..len]` in place and appends the tag, returning the
    /// `len + 16` ciphertext bytes. Every chunk but the last must hold exactly
    /// 64 KiB; the last holds at most 64 KiB and is empty only when it is the
    /// only chunk (empty plaintext).
    ///
    /// # Errors
    ///
    /// [`AgeError::BufferMisuse`] when the rules above are broken or `buf` is
    /// shorter than `len + 16`.
    pub fn seal_chunk<'b>(
        &mut self,
        buf: &'b mut [u8],
        len: usize,
        last: bool,
    ) -> Result<&'b [u8], AgeError> {
        let s = &mut self.stream;
        let size_ok = if last {
            len <= AGE_CHUNK_LEN && (len > 0 || s.counter == 0)
        } else {
            len == AGE_CHUNK_LEN
        };
        if s.done || !size_ok {
            return Err(AgeError::BufferMisuse);
        }
        let total = len.checked_add(AGE_TAG_LEN).ok_or(AgeError::BufferMisuse)?;
        let chunk = buf.get_mut(..total).ok_or(AgeError::BufferMisuse)?;
        let (pt, tag_out) = chunk.split_at_mut(len);
        let tag = s
            .aead
            .encrypt_in_place_detached(&s.nonce(last), b"", pt)
            .map_err(|_| AgeError::BufferMisuse)?;
        tag_out.copy_from_slice(&tag);
        s.advance(last)?;
        Ok(chunk)
    }

    /// Whether the last chunk has been sealed.
    pub const fn is_finished(&self) -> bool {
        self.stream.done
    }
}

/// Opens ciphertext chunks in place, releasing each only once authenticated.
pub struct StreamOpener {
    stream: Stream,
}

impl StreamOpener {
    /// Opens one chunk of `buf` (its whole length is the chunk: `64 KiB + 16`
    /// for every chunk but the last, `16..=64 KiB + 16` for the last, exactly
    /// 16 only when the payload is empty) and returns the plaintext.
    ///
    /// # Errors
    ///
    /// [`AgeError::Truncated`] for an impossible size,
    /// [`AgeError::DecryptionFailed`] when authentication fails (wrong
    /// position, wrong flag, tampering), [`AgeError::BufferMisuse`] after the
    /// last chunk.
    pub fn open_chunk<'b>(&mut self, buf: &'b mut [u8], last: bool) -> Result<&'b [u8], AgeError> {
        let s = &mut self.stream;
        if s.done {
            return Err(AgeError::BufferMisuse);
        }
        if buf.is_empty() && s.counter == 0 {
            return Err(AgeError::NoFinalChunk);
        }
        let len = buf
            .len()
            .checked_sub(AGE_TAG_LEN)
            .ok_or(AgeError::Truncated)?;
        let size_ok = if last {
            len <= AGE_CHUNK_LEN && (len > 0 || s.counter == 0)
        } else {
            len == AGE_CHUNK_LEN
        };
        if !size_ok {
            return Err(AgeError::Truncated);
        }
        let (ct, tag) = buf.split_at_mut(len);
        let tag = Tag::from_slice(tag);
        s.aead
            .decrypt_in_place_detached(&s.nonce(last), b"", ct, tag)
            .map_err(|_| AgeError::DecryptionFailed)?;
        s.advance(last)?;
        Ok(ct)
    }

    /// Whether the last chunk has been opened: the payload is complete.
    pub const fn is_finished(&self) -> bool {
        self.stream.done
    }
}

/// The plaintext length of a payload of `payload_len` bytes after the header
/// and nonce (64 KiB + 16 per full chunk), without decrypting anything.
/// `None` when no valid payload has that length.
pub fn plaintext_len(payload_len: u64) -> Option<u64> {
    let full = (AGE_CHUNK_LEN + AGE_TAG_LEN) as u64;
    let tag = AGE_TAG_LEN as u64;
    let chunks = payload_len.div_ceil(full).max(1);
    let pt = payload_len.checked_sub(chunks.checked_mul(tag)?)?;
    // A last chunk needs its tag; a non-empty payload cannot end in an empty chunk.
    (pt > 0 || chunks == 1).then_some(pt)
}
