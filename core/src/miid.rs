//! MIID Phase 4: wire records ([`records`]), signed messages and
//! seeds ([`messages`]), object keys built and parsed ([`keys`]), and raw
//! JSON strings ([`json`]); here, the vocabulary and rules they share.
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

pub mod json;
pub mod keys;
pub mod messages;
pub mod records;

use core::fmt;

pub use json::JsonStr;
pub use keys::{
    KeyParts, OBJECT_KEY_SUFFIX, ObjectKey, ParsedKey, key_type_part, object_key, parse_object_key,
    seed_image_name, validate_object_key,
};
pub use messages::{
    ImageHasher, Message, VARIATION_SEED_DOMAIN, image_message, path_message, path_signature,
    variation_seed,
};
pub use records::{ImageRequestMeta, S3Submission, VariationRequest};

use crate::limits::MAX_KEY_PART_LEN;

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

pub(crate) fn check_intensity(i: &str) -> Result<(), FrameError> {
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

pub(crate) fn check_hex(
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
