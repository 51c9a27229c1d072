//! Text encodings shared by every wire format: hex in, hex out.
//!
//! Hex input is case-insensitive and may carry a `0x`/`0X` prefix (what
//! bittensor tooling prints); hex output is always lowercase without a prefix.

use core::fmt;

/// Why a hex string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HexError {
    /// The string decodes to a different number of bytes than required.
    WrongLength {
        /// The number of bytes required.
        expected: usize,
        /// The number of hex digits found (after any `0x`).
        found_digits: usize,
    },
    /// The string decodes to more bytes than the buffer holds.
    TooLong {
        /// The largest number of bytes accepted.
        max: usize,
    },
    /// An odd number of hex digits.
    OddLength,
    /// A character that is not a hex digit.
    InvalidCharacter,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength {
                expected,
                found_digits,
            } => write!(
                f,
                "expected {expected} bytes ({} hex digits), found {found_digits} hex digits",
                expected.saturating_mul(2)
            ),
            Self::TooLong { max } => write!(f, "longer than {max} bytes"),
            Self::OddLength => f.write_str("odd number of hex digits"),
            Self::InvalidCharacter => f.write_str("not a hex string"),
        }
    }
}

impl core::error::Error for HexError {}

/// Strips one leading `0x` or `0X`.
fn strip_prefix(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

/// Decodes hex (case-insensitive, optional `0x`) into exactly `N` bytes.
///
/// # Errors
///
/// [`HexError::WrongLength`] when the digit count is not `2·N`, otherwise
/// [`HexError::InvalidCharacter`] for a non-hex character.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let digits = strip_prefix(s);
    if digits.len() != N.saturating_mul(2) {
        return Err(HexError::WrongLength {
            expected: N,
            found_digits: digits.len(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| HexError::InvalidCharacter)?;
    Ok(out)
}

/// Decodes hex (case-insensitive, optional `0x`) into the front of `buf` and
/// returns the decoded prefix. The length is checked before any decoding.
///
/// # Errors
///
/// [`HexError::TooLong`] when the result would not fit in `buf`,
/// [`HexError::OddLength`] or [`HexError::InvalidCharacter`] otherwise.
pub fn decode_into<'b>(s: &str, buf: &'b mut [u8]) -> Result<&'b [u8], HexError> {
    let digits = strip_prefix(s);
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    let n = digits.len() / 2;
    let max = buf.len();
    let out = buf.get_mut(..n).ok_or(HexError::TooLong { max })?;
    hex::decode_to_slice(digits, out).map_err(|_| HexError::InvalidCharacter)?;
    Ok(out)
}

/// Decodes hex (case-insensitive, optional `0x`) of at most `max` bytes
/// into a new vector; the length is checked before anything is allocated.
///
/// # Errors
///
/// As [`decode_into`].
pub fn decode_vec(s: &str, max: usize) -> Result<alloc::vec::Vec<u8>, HexError> {
    let digits = strip_prefix(s);
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    if digits.len() / 2 > max {
        return Err(HexError::TooLong { max });
    }
    let mut out = alloc::vec![0u8; digits.len() / 2];
    hex::decode_to_slice(digits, &mut out).map_err(|_| HexError::InvalidCharacter)?;
    Ok(out)
}

/// Lowercase hex of `bytes` into `out`, which must be exactly twice as long.
///
/// # Errors
///
/// [`HexError::WrongLength`] when `out.len() != 2 * bytes.len()`.
pub fn encode_into<'o>(bytes: &[u8], out: &'o mut [u8]) -> Result<&'o str, HexError> {
    hex::encode_to_slice(bytes, out).map_err(|_| HexError::WrongLength {
        expected: bytes.len(),
        found_digits: out.len(),
    })?;
    core::str::from_utf8(out).map_err(|_| HexError::InvalidCharacter)
}

/// A value that displays as lowercase hex, without allocating.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Checks that a JSON text nests arrays/objects at most `max_depth` deep,
/// ignoring brackets inside strings. Run before any recursive parse.
///
/// # Errors
///
/// Returns `Err(())` when the depth is exceeded.
pub(crate) fn check_json_depth(json: &[u8], max_depth: usize) -> Result<(), ()> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.checked_add(1).ok_or(())?;
                if depth > max_depth {
                    return Err(());
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_array_accepts_prefix_and_any_case() {
        assert_eq!(decode_array::<2>("0xABcd"), Ok([0xab, 0xcd]));
        assert_eq!(decode_array::<2>("0XabCD"), Ok([0xab, 0xcd]));
        assert_eq!(decode_array::<2>("abcd"), Ok([0xab, 0xcd]));
    }

    #[test]
    fn decode_array_rejects_bad_input() {
        assert_eq!(
            decode_array::<2>("abc"),
            Err(HexError::WrongLength {
                expected: 2,
                found_digits: 3
            })
        );
        assert_eq!(decode_array::<2>("zzzz"), Err(HexError::InvalidCharacter));
        // Only one prefix is stripped.
        assert_eq!(decode_array::<2>("0x0x12"), Err(HexError::InvalidCharacter));
        // A multi-byte character must not be mistaken for two digits.
        assert_eq!(decode_array::<1>("é"), Err(HexError::InvalidCharacter));
    }

    #[test]
    fn decode_into_bounds_length_before_decoding() {
        let mut buf = [0u8; 2];
        assert_eq!(
            decode_into("010203", &mut buf),
            Err(HexError::TooLong { max: 2 })
        );
        assert_eq!(decode_into("0x0102", &mut buf), Ok(&[1u8, 2][..]));
        assert_eq!(decode_into("", &mut buf), Ok(&[][..]));
        assert_eq!(decode_into("012", &mut buf), Err(HexError::OddLength));
    }

    #[test]
    fn hex_display_is_lowercase() {
        let mut out = [0u8; 4];
        assert_eq!(encode_into(&[0xAB, 0x01], &mut out), Ok("ab01"));
        assert_eq!(alloc::format!("{}", Hex(&[0xAB, 0x01])), "ab01");
    }

    #[test]
    fn json_depth_ignores_brackets_in_strings() {
        assert!(check_json_depth(br#"{"a":"[[[[[[[["}"#, 1).is_ok());
        assert!(check_json_depth(br#"{"a":"\"[[["}"#, 1).is_ok());
        assert!(check_json_depth(br#"{"a":[[1]]}"#, 2).is_err());
        assert!(check_json_depth(br#"{"a":[[1]]}"#, 3).is_ok());
    }
}
