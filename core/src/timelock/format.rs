//! Which of the four timelock formats a ciphertext is in.
//!
//! Detection is unambiguous because each test is a full structural match,
//! tried in this order:
//!
//! 1. **age**: the input starts with `age-encryption.org/v1\n`;
//! 2. **age, armored**: optional whitespace, then
//!    `-----BEGIN AGE ENCRYPTED FILE-----`;
//! 3. **bittensor**: a canonical SCALE compact length `L`, then exactly `L`
//!    bytes that parse as a `tle` TLE, then exactly 8 bytes of non-zero round;
//! 4. **tle**: the `n + 244` layout with every length prefix matching;
//! 5. **tle-v03**: the `n + 228` layout with every length prefix matching.
//!
//! The first two are decided by a prefix (both begin with ASCII text that no
//! binary format can start with: a TLE starts with a compressed G2 point,
//! whose first byte has the top bit set, and a bittensor envelope's inner
//! TLE has `u64le(32)` where a text would be). The last three need the whole
//! input; a TLE cannot also be a bittensor envelope of itself because their
//! length prefixes sit at different offsets and must match the total length
//! exactly, and the two TLE layouts differ in the `u64le(32)` prefixes (an
//! `n + 228` input would need 16 bytes of its random V to spell them).

use core::fmt;

use super::{armor, bittensor};
use crate::timelock::tle::{self, Layout};

/// A timelock ciphertext format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// age v1 with a `tlock` stanza (drand tle, tlock-js); binary or armored.
    Age,
    /// ideal-lab TLE, V/W length-prefixed (PyPI `timelock`, bittensor-drand).
    Tle,
    /// ideal-lab TLE as the timelock crate 0.3.0 writes it.
    TleV03,
    /// bittensor's SCALE `UserData` envelope around a `tle` TLE.
    Bittensor,
}

impl Format {
    /// The name used on the command line and in `inspect`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Tle => "tle",
            Self::TleV03 => "tle-v03",
            Self::Bittensor => "bittensor",
        }
    }

    /// The format named `name`.
    ///
    /// # Errors
    ///
    /// [`UnknownFormat`] for any other name.
    pub fn from_name(name: &str) -> Result<Self, UnknownFormat> {
        [Self::Age, Self::Tle, Self::TleV03, Self::Bittensor]
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or(UnknownFormat)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name veil does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownFormat;

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown format (expected age, tle, tle-v03 or bittensor)")
    }
}

impl core::error::Error for UnknownFormat {}

pub use crate::limits::DETECT_PREFIX_LEN;

/// The streaming formats, decided from the first bytes: `Some((Age, armored))`
/// for age, `None` when the input must be read whole and given to
/// [`detect_whole`].
pub fn detect_streaming(prefix: &[u8]) -> Option<(Format, bool)> {
    if prefix.starts_with(crate::timelock::age::MAGIC) {
        Some((Format::Age, false))
    } else if armor::looks_armored(prefix) {
        Some((Format::Age, true))
    } else {
        None
    }
}

/// The whole-buffer formats: bittensor, then tle, then tle-v03.
pub fn detect_whole(bytes: &[u8]) -> Option<Format> {
    if let Ok((_, inner)) = bittensor::parse(bytes)
        && bytes
            .get(inner)
            .is_some_and(|t| tle::parse(t, Layout::Tle).is_ok())
    {
        return Some(Format::Bittensor);
    }
    if tle::parse(bytes, Layout::Tle).is_ok() {
        return Some(Format::Tle);
    }
    if tle::parse(bytes, Layout::TleV03).is_ok() {
        return Some(Format::TleV03);
    }
    None
}
