//! Command-line values parsed into core types, with errors that name the
//! argument. Numbers are parsed here rather than by clap so that a bad value
//! is a content error (exit 1), not a syntax error (exit 2).

use core::time::Duration;

use veil_core::sign::PublicKey;
use veil_core::{Round, encoding, limits::G2_COMPRESSED_LEN, ss58};

use crate::Error;
use crate::limits::MAX_SCHEDULE;

/// A `u64` in decimal: digits only, no sign, no spaces.
///
/// # Errors
///
/// [`Error::Value`] naming `what`: empty, not digits, or beyond `u64::MAX`.
pub fn parse_u64(what: &'static str, s: &str) -> Result<u64, Error> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::value(
            what,
            format!(
                "'{}' is not a non-negative decimal integer",
                s.escape_debug()
            ),
        ));
    }
    s.parse::<u64>().map_err(|_| {
        Error::value(
            what,
            format!("{s} is larger than the largest 64-bit value ({})", u64::MAX),
        )
    })
}

/// A round number: a `u64` other than 0.
///
/// # Errors
///
/// As [`parse_u64`], plus round 0.
pub fn parse_round(what: &'static str, s: &str) -> Result<Round, Error> {
    Round::new(parse_u64(what, s)?).map_err(|e| Error::value(what, e))
}

/// Hex of at most one G2 point (96 bytes), case-insensitive, optional `0x`.
///
/// # Errors
///
/// [`Error::Value`] naming `what` for anything else.
pub fn parse_signature_hex(what: &'static str, s: &str) -> Result<Vec<u8>, Error> {
    let mut buf = [0u8; G2_COMPRESSED_LEN];
    let bytes = encoding::decode_into(s, &mut buf).map_err(|e| Error::value(what, e))?;
    Ok(bytes.to_vec())
}

/// Seconds, at most [`MAX_SCHEDULE`] (a day).
///
/// # Errors
///
/// As [`parse_u64`], or a value beyond a day.
pub fn parse_secs(what: &'static str, s: &str) -> Result<Duration, Error> {
    let n = parse_u64(what, s)?;
    if n > MAX_SCHEDULE.as_secs() {
        return Err(Error::value(
            what,
            format!("at most {} seconds", MAX_SCHEDULE.as_secs()),
        ));
    }
    Ok(Duration::from_secs(n))
}

/// A duration as drand's `tle -D` takes it, in seconds: one or more
/// `{integer}{unit}` parts (`90s`, `1h30m`, `2d`), units `s`, `m`, `h`, `d`,
/// `M` (30 days) and `y` (365 days); at most 1,000 years.
///
/// # Errors
///
/// An empty value, a part without a number or unit, an unknown unit, or a
/// total past the bound, naming `what`.
pub fn parse_tle_duration(what: &'static str, s: &str) -> Result<u64, Error> {
    const MAX: u64 = 1000 * 365 * 86_400;
    let bad = || {
        Error::value(
            what,
            "a duration such as 30s, 10m, 2h, 1d, 3M or 1y (parts may be combined: 1h30m)",
        )
    };
    let mut total: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let secs = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'M' => 30 * 86_400,
            'y' => 365 * 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(secs)
            .and_then(|p| total.checked_add(p))
            .filter(|t| *t <= MAX)
            .ok_or_else(|| Error::value(what, "at most 1000 years"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Ok(total)
}

/// A count (a `usize`).
///
/// # Errors
///
/// As [`parse_u64`], or a value beyond `usize`.
pub fn parse_count(what: &'static str, s: &str) -> Result<usize, Error> {
    usize::try_from(parse_u64(what, s)?).map_err(|_| Error::value(what, "too large"))
}

/// A subnet id (0 to 65535).
///
/// # Errors
///
/// As [`parse_u64`], or a value beyond `u16`.
pub fn parse_netuid(what: &'static str, s: &str) -> Result<u16, Error> {
    u16::try_from(parse_u64(what, s)?).map_err(|_| Error::value(what, "0 to 65535"))
}

/// An SS58 hotkey that is a valid sr25519 public key.
///
/// # Errors
///
/// [`Error::Value`] naming `what`.
pub fn parse_hotkey(what: &'static str, s: &str) -> Result<PublicKey, Error> {
    let (_, key) = ss58::decode(s.trim()).map_err(|e| Error::value(what, e))?;
    PublicKey::from_bytes(&key).map_err(|e| Error::value(what, e))
}

/// A TCP port, 1 to 65535.
///
/// # Errors
///
/// [`Error::Value`] naming `what`.
pub fn parse_port(what: &'static str, s: &str) -> Result<u16, Error> {
    s.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::value(what, "a port, 1 to 65535"))
}

/// Bytes given as hex (case-insensitive, optional `0x`), of any length.
///
/// # Errors
///
/// [`Error::Value`] naming `what`.
pub fn parse_hex(what: &'static str, s: &str) -> Result<Vec<u8>, Error> {
    encoding::decode_vec(s, s.len()).map_err(|e| Error::value(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tle_durations() {
        for (text, secs) in [
            ("30s", 30),
            ("10m", 600),
            ("2h", 7_200),
            ("1h30m", 5_400),
            ("1d", 86_400),
            ("3M", 90 * 86_400),
            ("1y", 365 * 86_400),
        ] {
            assert_eq!(parse_tle_duration("-D", text).unwrap(), secs, "{text}");
        }
        for bad in [
            "",
            "10",
            "h",
            "10x",
            "-5s",
            "1.5h",
            "99999999999999y",
            "1001y",
        ] {
            let e = parse_tle_duration("-D", bad).unwrap_err().to_string();
            assert!(e.contains("-D"), "{bad}: {e}");
        }
    }

    #[test]
    fn u64_accepts_only_plain_digits() {
        assert_eq!(parse_u64("N", "0").unwrap(), 0);
        assert_eq!(parse_u64("N", "18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "18446744073709551616",
            "١",
        ] {
            assert!(parse_u64("N", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_refuses_zero() {
        assert!(parse_round("R", "0").is_err());
        assert_eq!(parse_round("R", "7").unwrap().get(), 7);
    }
}
