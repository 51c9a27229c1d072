//! MIID Phase 4 wire records, signed messages and object keys.
//!
//! Records are JSON, decoded with serde-json-core straight from the input
//! (zero-copy: every string borrows the input, nothing is allocated) and
//! encoded into a caller buffer. Free-text fields (`description`,
//! `detail`) are kept as raw JSON string content ([`JsonStr`]) and unescaped
//! on demand into a caller buffer; every other string is validated to need
//! no escaping at all, so raw and decoded text are the same.
//!
//! ```text
//! VariationRequest { type, intensity, description = "", detail = "" }
//! ImageRequest     { base_image, image_filename, variation_requests,
//!                    target_drand_round, reveal_timestamp, challenge_id }
//!   (the first cut's variation_types + requested_variations are accepted
//!    on input and mapped onto variation_requests)
//! S3Submission     { s3_key, image_hash, signature, variation_type,
//!                    path_signature }   all required
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encoding::{self, check_json_depth};
use crate::limits::{
    MAX_JSON_DEPTH, MAX_KEY_PART_LEN, MAX_MIID_MESSAGE_LEN, MAX_OBJECT_KEY_LEN,
    MAX_VARIATION_REQUESTS,
};
use crate::round::Round;
use crate::sign::Signature;

/// The base variation types; a request may join several with `+`.
pub const VARIATION_TYPES: [&str; 5] = [
    "pose_edit",
    "lighting_edit",
    "expression_edit",
    "background_edit",
    "screen_replay",
];

/// The intensities a variation may ask for.
pub const INTENSITIES: [&str; 3] = ["light", "medium", "far"];

/// Why a record, message or key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Not JSON of the record's shape (a required field missing, a wrong
    /// type, a syntax error).
    Json(&'static str),
    /// Nested deeper than the limit.
    TooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
    /// More variation requests than the limit.
    TooManyVariations {
        /// The most accepted.
        max: usize,
    },
    /// A field's value is not acceptable; the second text says why.
    Field(&'static str, &'static str),
    /// The output buffer is too small.
    BufferFull,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(what) => write!(f, "not a valid {what} JSON record"),
            Self::TooDeep { max } => write!(f, "JSON nests deeper than {max} levels"),
            Self::TooManyVariations { max } => write!(f, "more than {max} variation requests"),
            Self::Field(field, why) => write!(f, "{field}: {why}"),
            Self::BufferFull => f.write_str("output buffer too small"),
        }
    }
}

impl core::error::Error for FrameError {}

// ---------------------------------------------------------------------------
// Field rules
// ---------------------------------------------------------------------------

/// A variation type: known base types joined by `+` (at most one each).
///
/// # Errors
///
/// [`FrameError::Field`].
pub fn check_variation_type(t: &str) -> Result<(), FrameError> {
    let bad = FrameError::Field(
        "variation type",
        "must be pose_edit, lighting_edit, expression_edit, background_edit, screen_replay or a +-joined combination",
    );
    if t.is_empty() || t.len() > 128 {
        return Err(bad);
    }
    let mut seen = [false; VARIATION_TYPES.len()];
    for part in t.split('+') {
        let i = VARIATION_TYPES.iter().position(|k| *k == part).ok_or(bad)?;
        let slot = seen.get_mut(i).ok_or(bad)?;
        if *slot {
            return Err(bad);
        }
        *slot = true;
    }
    Ok(())
}

fn check_intensity(i: &str) -> Result<(), FrameError> {
    if INTENSITIES.contains(&i) {
        Ok(())
    } else {
        Err(FrameError::Field(
            "intensity",
            "must be light, medium or far",
        ))
    }
}

/// One part of an object key (and anything that becomes one: challenge id,
/// file name): 1..=256 bytes, no `/`, no `\`, no `"`, no control
/// characters, not `.` or `..`, and no `..` inside.
///
/// # Errors
///
/// [`FrameError::Field`] naming `field`.
pub fn check_key_part(part: &str, field: &'static str) -> Result<(), FrameError> {
    if part.is_empty() || part.len() > MAX_KEY_PART_LEN {
        return Err(FrameError::Field(field, "must be 1 to 256 bytes"));
    }
    if part.contains("..") || part == "." {
        return Err(FrameError::Field(field, "must not be . or contain .."));
    }
    if part
        .chars()
        .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
    {
        return Err(FrameError::Field(
            field,
            "must not contain /, \\, \" or control characters",
        ));
    }
    Ok(())
}

fn check_hex(
    s: &str,
    bytes: usize,
    field: &'static str,
    why: &'static str,
) -> Result<(), FrameError> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if bytes.checked_mul(2) == Some(digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(FrameError::Field(field, why))
    }
}

// ---------------------------------------------------------------------------
// Signed messages
// ---------------------------------------------------------------------------

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

/// Domain tag of [`variation_seed`].
pub const VARIATION_SEED_DOMAIN: &[u8] = b"veil/miid/variation-seed/v1";

/// The seed of a miner's `index`-th variation for a challenge:
///
/// ```text
/// sha256( "veil/miid/variation-seed/v1" ‖ hotkey(32) ‖ u32be(len(cid)) ‖ cid ‖ u32be(index) )
/// ```
///
/// Two honest miners (different hotkeys) never derive the same seed, so a
/// deterministic generator never makes byte-identical images for them; one
/// miner re-answering the same challenge makes the same images again.
pub fn variation_seed(hotkey: &[u8; 32], challenge_id: &str, index: u32) -> [u8; 32] {
    let len = u32::try_from(challenge_id.len()).unwrap_or(u32::MAX);
    Sha256::new()
        .chain_update(VARIATION_SEED_DOMAIN)
        .chain_update(hotkey)
        .chain_update(len.to_be_bytes())
        .chain_update(challenge_id.as_bytes())
        .chain_update(index.to_be_bytes())
        .finalize()
        .into()
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

// ---------------------------------------------------------------------------
// Object keys
// ---------------------------------------------------------------------------

/// An object key.
pub type ObjectKey = heapless::String<MAX_OBJECT_KEY_LEN>;

/// The parts of a submission's object key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// The challenge.
    pub challenge_id: &'a str,
    /// The miner's SS58 hotkey.
    pub miner_ss58: &'a str,
    /// 16 hex characters.
    pub path_signature: &'a str,
    /// The base image's file name; `.png`, `.jpg`, `.jpeg` are dropped.
    pub image_filename: &'a str,
    /// The variation type (`+` becomes `_` in the key).
    pub variation_type: &'a str,
    /// Upload time, unix seconds.
    pub unix_ts: u64,
    /// Position in the miner's answer, so keys never collide.
    pub index: u32,
}

/// MIID's `seed_image_name`: the base image's file name without `.png`,
/// `.jpg` or `.jpeg` (any case).
pub fn seed_image_name(name: &str) -> &str {
    [".png", ".jpg", ".jpeg"]
        .into_iter()
        .find_map(|ext| strip_suffix_ignore_case(name, ext))
        .unwrap_or(name)
}

/// `submissions/{cid}/{ss58}/{path_sig}/{seed_image_name}/{type with + → _}_{ts}_{index}.png.tlock`
///
/// # Errors
///
/// [`FrameError::Field`] for any part that is not a safe key part.
pub fn object_key(p: &KeyParts<'_>) -> Result<ObjectKey, FrameError> {
    check_key_part(p.challenge_id, "challenge_id")?;
    check_key_part(p.miner_ss58, "miner hotkey")?;
    check_hex(
        p.path_signature,
        8,
        "path_signature",
        "must be 16 hex characters",
    )?;
    check_variation_type(p.variation_type)?;
    let seed = seed_image_name(p.image_filename);
    check_key_part(seed, "image_filename")?;
    let mut key = ObjectKey::new();
    let mut w = |s: &str| {
        key.push_str(s)
            .map_err(|_| FrameError::Field("object key", "longer than 1024 bytes"))
    };
    for part in [
        "submissions/",
        p.challenge_id,
        "/",
        p.miner_ss58,
        "/",
        p.path_signature,
        "/",
        seed,
        "/",
    ] {
        w(part)?;
    }
    for c in p.variation_type.split('+').enumerate() {
        if c.0 > 0 {
            w("_")?;
        }
        w(c.1)?;
    }
    let mut tail: heapless::String<48> = heapless::String::new();
    fmt::Write::write_fmt(
        &mut tail,
        format_args!("_{}_{}{OBJECT_KEY_SUFFIX}", p.unix_ts, p.index),
    )
    .map_err(|_| FrameError::BufferFull)?;
    w(&tail)?;
    validate_object_key(&key)?;
    Ok(key)
}

/// A submission's object key taken apart: the inverse of [`object_key`].
///
/// Every part borrows the key. `type_part` is the variation type as the key
/// writes it (`+` became `_`, so it cannot be turned back without knowing
/// the type claimed: compare it with [`key_type_part`] of that type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The challenge.
    pub challenge_id: &'a str,
    /// The miner's SS58 hotkey.
    pub miner_ss58: &'a str,
    /// The path signature (as written; [`object_key`] writes 16 hex).
    pub path_signature: &'a str,
    /// The base image's [`seed_image_name`].
    pub seed_name: &'a str,
    /// The variation type with `+` written as `_`.
    pub type_part: &'a str,
    /// The upload time the miner wrote, unix seconds.
    pub unix_ts: u64,
    /// The position the miner wrote.
    pub index: u64,
}

/// The file suffix of every submission key.
pub const OBJECT_KEY_SUFFIX: &str = ".png.tlock";

/// Takes apart a key of exactly the layout [`object_key`] builds:
/// `submissions/{cid}/{ss58}/{path_sig}/{seed}/{type}_{ts}_{index}.png.tlock`
/// with decimal `ts` and `index`.
///
/// # Errors
///
/// [`FrameError::Field`] (`s3_key`) when the key is not a valid object key
/// ([`validate_object_key`]), has another number of parts, or its file name
/// is not `{type}_{ts}_{index}.png.tlock`.
pub fn parse_object_key(key: &str) -> Result<ParsedKey<'_>, FrameError> {
    validate_object_key(key)?;
    let mut parts = key.split('/');
    let (
        Some("submissions"),
        Some(challenge_id),
        Some(miner_ss58),
        Some(path_signature),
        Some(seed_name),
        Some(file),
        None,
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return Err(FrameError::Field(
            "s3_key",
            "must be submissions/{cid}/{miner}/{path_signature}/{seed}/{file}",
        ));
    };
    let bad_name = FrameError::Field(
        "s3_key",
        "the file name must be {type}_{unix_ts}_{index}.png.tlock",
    );
    let stem = file.strip_suffix(OBJECT_KEY_SUFFIX).ok_or(bad_name)?;
    let (rest, index) = stem.rsplit_once('_').ok_or(bad_name)?;
    let (type_part, unix_ts) = rest.rsplit_once('_').ok_or(bad_name)?;
    let number = |n: &str| {
        if n.is_empty() || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_name);
        }
        n.parse::<u64>().map_err(|_| bad_name)
    };
    if type_part.is_empty() {
        return Err(bad_name);
    }
    Ok(ParsedKey {
        challenge_id,
        miner_ss58,
        path_signature,
        seed_name,
        type_part,
        unix_ts: number(unix_ts)?,
        index: number(index)?,
    })
}

/// How [`object_key`] writes `variation_type` in the file name: `+` as `_`.
/// Compares equal to [`ParsedKey::type_part`] of a key built for that type.
pub fn key_type_part(variation_type: &str) -> impl Iterator<Item = char> + '_ {
    variation_type
        .chars()
        .map(|c| if c == '+' { '_' } else { c })
}

/// `name` without `ext` (any case), when something is left.
fn strip_suffix_ignore_case<'n>(name: &'n str, ext: &str) -> Option<&'n str> {
    let cut = name.len().checked_sub(ext.len()).filter(|c| *c > 0)?;
    let (head, tail) = (name.get(..cut)?, name.get(cut..)?);
    tail.eq_ignore_ascii_case(ext).then_some(head)
}

/// Checks a submission key: `submissions/` prefix, at least 6 parts, each a
/// safe key part, `.tlock` suffix, at most 1024 bytes.
///
/// # Errors
///
/// [`FrameError::Field`] naming the rule broken.
pub fn validate_object_key(key: &str) -> Result<(), FrameError> {
    if key.len() > MAX_OBJECT_KEY_LEN {
        return Err(FrameError::Field("s3_key", "longer than 1024 bytes"));
    }
    if !key.starts_with("submissions/") {
        return Err(FrameError::Field("s3_key", "must start with submissions/"));
    }
    if !key.ends_with(".tlock") {
        return Err(FrameError::Field("s3_key", "must end with .tlock"));
    }
    let mut parts = 0usize;
    for part in key.split('/') {
        check_key_part(part, "s3_key")?;
        parts = parts.saturating_add(1);
    }
    if parts < 6 {
        return Err(FrameError::Field("s3_key", "must have at least 6 parts"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// JSON strings
// ---------------------------------------------------------------------------

/// The raw content of a JSON string as it appears in the input (escapes not
/// yet resolved): free text borrowed without copying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct JsonStr<'a>(#[serde(borrow)] pub &'a str);

impl JsonStr<'_> {
    /// Resolves the escapes into `buf` (which needs at most the raw length).
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] for an invalid escape, [`FrameError::BufferFull`].
    pub fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, FrameError> {
        let bad = FrameError::Field("string", "invalid JSON escape");
        let mut out = 0usize;
        let mut put = |buf: &mut [u8], bytes: &[u8]| -> Result<(), FrameError> {
            let end = out.checked_add(bytes.len()).ok_or(FrameError::BufferFull)?;
            buf.get_mut(out..end)
                .ok_or(FrameError::BufferFull)?
                .copy_from_slice(bytes);
            out = end;
            Ok(())
        };
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                put(buf, c.encode_utf8(&mut [0; 4]).as_bytes())?;
                continue;
            }
            let e = match chars.next().ok_or(bad)? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let hi = hex4(&mut chars).ok_or(bad)?;
                    let code = if (0xD800..0xDC00).contains(&hi) {
                        if chars.next() != Some('\\') || chars.next() != Some('u') {
                            return Err(bad);
                        }
                        let lo = hex4(&mut chars).ok_or(bad)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(bad);
                        }
                        hi.checked_sub(0xD800)
                            .and_then(|h| h.checked_shl(10))
                            .zip(lo.checked_sub(0xDC00))
                            .and_then(|(h, l)| (h | l).checked_add(0x10000))
                            .ok_or(bad)?
                    } else {
                        hi
                    };
                    char::from_u32(code).ok_or(bad)?
                }
                _ => return Err(bad),
            };
            put(buf, e.encode_utf8(&mut [0; 4]).as_bytes())?;
        }
        let written = buf.get(..out).ok_or(FrameError::BufferFull)?;
        core::str::from_utf8(written).map_err(|_| bad)
    }
}

/// Four hex digits of a `\u` escape.
fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let mut v = 0u32;
    for _ in 0..4 {
        v = (v << 4) | chars.next()?.to_digit(16)?;
    }
    Some(v)
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

fn from_json<'a, T: Deserialize<'a>>(json: &'a [u8], what: &'static str) -> Result<T, FrameError> {
    check_json_depth(json, MAX_JSON_DEPTH).map_err(|()| FrameError::TooDeep {
        max: MAX_JSON_DEPTH,
    })?;
    serde_json_core::from_slice::<T>(json)
        .map(|(v, _)| v)
        .map_err(|_| FrameError::Json(what))
}

/// A variation the validator asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct VariationRequest<'a> {
    /// A known type or a `+`-joined combination.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// `light`, `medium` or `far`.
    #[serde(borrow)]
    pub intensity: &'a str,
    /// Free text (raw JSON content on input).
    #[serde(borrow, default)]
    pub description: &'a str,
    /// Free text (raw JSON content on input).
    #[serde(borrow, default)]
    pub detail: &'a str,
}

impl<'a> VariationRequest<'a> {
    fn validate(&self) -> Result<(), FrameError> {
        check_variation_type(self.kind)?;
        check_intensity(self.intensity)
    }

    /// `description` as raw JSON content, for [`JsonStr::unescape_into`].
    pub const fn description_raw(&self) -> JsonStr<'a> {
        JsonStr(self.description)
    }

    /// `detail` as raw JSON content, for [`JsonStr::unescape_into`].
    pub const fn detail_raw(&self) -> JsonStr<'a> {
        JsonStr(self.detail)
    }
}

#[derive(Deserialize)]
struct ImageRequestWire<'a> {
    #[serde(borrow)]
    image_filename: &'a str,
    #[serde(borrow, default)]
    variation_requests: Option<heapless::Vec<VariationRequest<'a>, MAX_VARIATION_REQUESTS>>,
    #[serde(borrow, default)]
    variation_types: Option<heapless::Vec<&'a str, MAX_VARIATION_REQUESTS>>,
    #[serde(default)]
    requested_variations: Option<u32>,
    target_drand_round: u64,
    reveal_timestamp: u64,
    #[serde(borrow, default)]
    challenge_id: Option<&'a str>,
}

/// An `ImageRequest` without its base64 image (which the shell streams):
/// everything a miner needs to know about the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRequestMeta<'a> {
    /// The base image's file name (a safe key part).
    pub image_filename: &'a str,
    /// What to make.
    pub variation_requests: heapless::Vec<VariationRequest<'a>, MAX_VARIATION_REQUESTS>,
    /// The round to seal every variation to.
    pub target_drand_round: Round,
    /// When that round is emitted, unix seconds.
    pub reveal_timestamp: u64,
    /// The challenge, when the validator names one.
    pub challenge_id: Option<&'a str>,
}

impl<'a> ImageRequestMeta<'a> {
    /// Decodes an `ImageRequest` (today's shape or the first cut's
    /// `variation_types` + `requested_variations`, which becomes one request
    /// per listed type at intensity `medium`, repeated in order up to
    /// `requested_variations`). `base_image` and unknown fields are skipped
    /// without being copied.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] naming the problem.
    pub fn decode(json: &'a [u8]) -> Result<Self, FrameError> {
        let w: ImageRequestWire<'a> = from_json(json, "ImageRequest")?;
        check_key_part(w.image_filename, "image_filename")?;
        if let Some(cid) = w.challenge_id {
            check_key_part(cid, "challenge_id")?;
        }
        let target_drand_round = Round::new(w.target_drand_round)
            .map_err(|_| FrameError::Field("target_drand_round", "round 0 does not exist"))?;
        let variation_requests = match (w.variation_requests, w.variation_types) {
            (Some(v), _) if !v.is_empty() => v,
            (_, Some(types)) if !types.is_empty() => {
                let n = w.requested_variations.map_or(types.len(), |n| n as usize);
                if n > MAX_VARIATION_REQUESTS {
                    return Err(FrameError::TooManyVariations {
                        max: MAX_VARIATION_REQUESTS,
                    });
                }
                types
                    .iter()
                    .cycle()
                    .take(n)
                    .map(|t| VariationRequest {
                        kind: t,
                        intensity: "medium",
                        description: "",
                        detail: "",
                    })
                    .collect()
            }
            _ => heapless::Vec::new(),
        };
        for v in &variation_requests {
            v.validate()?;
        }
        Ok(Self {
            image_filename: w.image_filename,
            variation_requests,
            target_drand_round,
            reveal_timestamp: w.reveal_timestamp,
            challenge_id: w.challenge_id,
        })
    }
}

/// A miner's answer for one sealed image. Every field is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct S3Submission<'a> {
    /// Where the sealed image is stored ([`validate_object_key`]).
    #[serde(borrow)]
    pub s3_key: &'a str,
    /// SHA-256 of the plaintext PNG, 64 hex characters.
    #[serde(borrow)]
    pub image_hash: &'a str,
    /// Signature of [`image_message`], 128 hex characters.
    #[serde(borrow)]
    pub signature: &'a str,
    /// The variation type.
    #[serde(borrow)]
    pub variation_type: &'a str,
    /// 16 hex characters ([`path_signature`]).
    #[serde(borrow)]
    pub path_signature: &'a str,
}

impl<'a> S3Submission<'a> {
    /// Checks every field's shape.
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] naming the field.
    pub fn validate(&self) -> Result<(), FrameError> {
        validate_object_key(self.s3_key)?;
        check_hex(
            self.image_hash,
            32,
            "image_hash",
            "must be 64 hex characters (SHA-256)",
        )?;
        check_hex(
            self.signature,
            64,
            "signature",
            "must be 128 hex characters",
        )?;
        check_variation_type(self.variation_type)?;
        check_hex(
            self.path_signature,
            8,
            "path_signature",
            "must be 16 hex characters",
        )
    }

    /// Decodes and validates one record.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] naming the problem.
    pub fn decode(json: &'a [u8]) -> Result<Self, FrameError> {
        let s: Self = from_json(json, "S3Submission")?;
        s.validate()?;
        Ok(s)
    }

    /// Validates and encodes into `out`, returning the bytes written.
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] or [`FrameError::BufferFull`].
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], FrameError> {
        self.validate()?;
        let n = serde_json_core::to_slice(self, out).map_err(|_| FrameError::BufferFull)?;
        out.get(..n).ok_or(FrameError::BufferFull)
    }
}
