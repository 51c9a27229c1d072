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

pub mod generator_key;
pub mod json;
pub mod keys;
pub mod messages;
pub mod records;

use core::fmt;

pub use generator_key::{GENERATOR_KEY_DOMAIN, GeneratorKey, VARIATION_SEED_DOMAIN};
pub use json::JsonStr;
pub use keys::{
    KeyParts, OBJECT_KEY_SUFFIX, ObjectKey, ParsedKey, key_type_part, object_key, parse_object_key,
    seed_image_name, validate_object_key,
};
pub use messages::{ImageHasher, Message, image_message, path_message, path_signature};
pub use records::{ImageRequestMeta, S3Submission, ScreenReplayUav, VariationRequest};

use crate::limits::MAX_KEY_PART_LEN;

/// The base variation types; a request may join several with `+`.
pub const VARIATION_TYPES: [&str; 5] = [
    "pose_edit",
    "lighting_edit",
    "expression_edit",
    "background_edit",
    "screen_replay",
];

/// The intensities a variation may ask for (per part of a combined type;
/// `screen_replay` also takes [`SCREEN_REPLAY_INTENSITY`]).
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

/// The intensity MIID gives a screen-replay request: a real capture has no
/// strength to choose.
pub const SCREEN_REPLAY_INTENSITY: &str = "standard";

/// Whether `intensity` may go with the base type `part`.
fn intensity_fits(part: &str, intensity: &str) -> bool {
    INTENSITIES.contains(&intensity)
        || (part == "screen_replay" && intensity == SCREEN_REPLAY_INTENSITY)
}

/// Each base type of `kind` with its intensity. `intensity` is one value
/// for every part (`medium`), or — as MIID's validator sends combined
/// types — one per part, `+`-joined in the same order (`far+light` for
/// `lighting_edit+pose_edit`). Each is `light`, `medium` or `far`;
/// `standard` only for `screen_replay`.
///
/// # Errors
///
/// [`FrameError::Field`] (`intensity`) for a count that does not match the
/// parts or a value that does not fit its part; [`check_variation_type`]'s
/// error for `kind`.
pub fn part_intensities<'a>(
    kind: &'a str,
    intensity: &'a str,
) -> Result<PartIntensities<'a>, FrameError> {
    check_variation_type(kind)?;
    let bad = FrameError::Field(
        "intensity",
        "must be light, medium or far (standard for screen_replay), one for the type or one per +-joined part",
    );
    let per_part = intensity.contains('+');
    if per_part {
        let parts = kind.split('+').count();
        if intensity.split('+').count() != parts {
            return Err(FrameError::Field(
                "intensity",
                "a +-joined intensity needs one value per part of the type",
            ));
        }
    }
    let pairs = PartIntensities {
        kinds: kind.split('+'),
        intensities: per_part.then(|| intensity.split('+')),
        single: intensity,
    };
    if pairs.clone().all(|(k, i)| intensity_fits(k, i)) {
        Ok(pairs)
    } else {
        Err(bad)
    }
}

/// The `(base type, intensity)` pairs of one request ([`part_intensities`]).
#[derive(Clone, Debug)]
pub struct PartIntensities<'a> {
    kinds: core::str::Split<'a, char>,
    intensities: Option<core::str::Split<'a, char>>,
    single: &'a str,
}

impl<'a> Iterator for PartIntensities<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let kind = self.kinds.next()?;
        let intensity = match &mut self.intensities {
            Some(each) => each.next()?,
            None => self.single,
        };
        Some((kind, intensity))
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
