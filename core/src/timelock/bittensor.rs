//! bittensor's timelock envelope: what bittensor-drand's `encrypt` and
//! `encrypt_at_round`, `bittensor.timelock` and today's MIID miners write.
//!
//! ```text
//! SCALE UserData { encrypted_data: Vec<u8>, reveal_round: u64 }
//!   = compact(len) ‖ TLE (layout `tle`, n + 244 bytes) ‖ u64le(round)
//! ```
//!
//! SCALE's compact length is canonical (shortest form); veil refuses any
//! other, and anything after the round.

use core::ops::Range;

use rand_core::{CryptoRng, RngCore};

use crate::drand::round::Round;
use crate::timelock::ibe::PreparedRound;
use crate::timelock::tle::{self, Layout, TleError};

/// Size of the compact encoding of `n`.
pub const fn compact_len(n: usize) -> usize {
    if n < 1 << 6 {
        1
    } else if n < 1 << 14 {
        2
    } else if n < 1 << 30 {
        4
    } else {
        // Big-integer mode: one byte of length, then the minimal LE bytes
        // (at least 4, since n ≥ 2^30).
        let bytes = (n.ilog2() / 8) as usize; // ≤ 7 on 64-bit
        bytes.saturating_add(2)
    }
}

fn write_compact(n: usize, out: &mut [u8]) -> Option<usize> {
    let len = compact_len(n);
    let dst = out.get_mut(..len)?;
    let shifted = u64::try_from(n).ok()?.checked_shl(2)?;
    match len {
        1 => dst.copy_from_slice(shifted.to_le_bytes().get(..1)?),
        // The two low bits say the mode: 0b01 two bytes, 0b10 four.
        2 => dst.copy_from_slice((shifted | 1).to_le_bytes().get(..2)?),
        4 => dst.copy_from_slice((shifted | 2).to_le_bytes().get(..4)?),
        _ => {
            let (first, rest) = dst.split_first_mut()?;
            let extra = u8::try_from(rest.len().checked_sub(4)?).ok()?;
            *first = extra.checked_shl(2)? | 3;
            rest.copy_from_slice(u64::try_from(n).ok()?.to_le_bytes().get(..rest.len())?);
        }
    }
    Some(len)
}

/// Reads a canonical compact integer: `(value, bytes used)`.
fn read_compact(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let (v, used) = match first & 3 {
        0 => (u64::from(first >> 2), 1),
        1 => {
            let raw = u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?);
            (u64::from(raw >> 2), 2)
        }
        2 => {
            let raw = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
            (u64::from(raw >> 2), 4)
        }
        _ => {
            let n = usize::from(first >> 2).checked_add(4)?;
            if n > 8 {
                return None;
            }
            let mut le = [0u8; 8];
            le.get_mut(..n)?.copy_from_slice(bytes.get(1..=n)?);
            (u64::from_le_bytes(le), n.checked_add(1)?)
        }
    };
    // Canonical: the value needs this many bytes.
    let canonical = usize::try_from(v).ok().map(compact_len) == Some(used);
    canonical.then_some((v, used))
}

/// The sealed size for `n` plaintext bytes.
pub fn sealed_len(n: usize) -> Option<usize> {
    let tle = Layout::Tle.sealed_len(n)?;
    compact_len(tle).checked_add(tle)?.checked_add(8)
}

/// Where the plaintext goes in a buffer of [`sealed_len`]`(n)` bytes.
pub fn payload_offset(n: usize) -> Option<usize> {
    let tle = Layout::Tle.sealed_len(n)?;
    compact_len(tle).checked_add(Layout::Tle.payload_offset())
}

/// Seals in place (see [`tle::seal_in_place`]); the round written in the
/// envelope is `prepared`'s.
///
/// # Errors
///
/// As [`tle::seal_in_place`].
pub fn seal_in_place(
    prepared: &PreparedRound,
    buf: &mut [u8],
    n: usize,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<(), TleError> {
    let tle_len = Layout::Tle.sealed_len(n).ok_or(TleError::BufferSize)?;
    if sealed_len(n) != Some(buf.len()) {
        return Err(TleError::BufferSize);
    }
    let prefix = write_compact(tle_len, buf).ok_or(TleError::BufferSize)?;
    let (_, rest) = buf.split_at_mut(prefix);
    let (tle_buf, round) = rest.split_at_mut(tle_len);
    tle::seal_in_place(prepared, Layout::Tle, tle_buf, n, rng)?;
    round.copy_from_slice(&prepared.round().get().to_le_bytes());
    Ok(())
}

/// Splits an envelope into its round and the range of its TLE.
///
/// # Errors
///
/// [`TleError::Malformed`] when the bytes are not exactly one envelope.
pub fn parse(bytes: &[u8]) -> Result<(Round, Range<usize>), TleError> {
    let (len, used) = read_compact(bytes).ok_or(TleError::Malformed("envelope length"))?;
    let len = usize::try_from(len).map_err(|_| TleError::Malformed("envelope length"))?;
    let end = used
        .checked_add(len)
        .ok_or(TleError::Malformed("envelope length"))?;
    if end.checked_add(8) != Some(bytes.len()) {
        return Err(TleError::Malformed("envelope length"));
    }
    let round: [u8; 8] = bytes
        .get(end..)
        .and_then(|r| r.try_into().ok())
        .ok_or(TleError::Malformed("envelope round"))?;
    let round = Round::new(u64::from_le_bytes(round))
        .map_err(|_| TleError::Malformed("envelope round is 0"))?;
    Ok((round, used..end))
}

/// The round of an envelope of `size` bytes read from its ends only:
/// `head`, its first bytes (at least the compact length's, up to 9), and
/// `tail`, its last 8; the compact length must account for exactly `size`.
/// What a reader that will not fetch the whole envelope can check; the TLE
/// inside is not parsed (opening it does that).
///
/// # Errors
///
/// [`TleError::Malformed`] when the length does not match `size` or the
/// round is 0.
pub fn round_from_ends(head: &[u8], tail: [u8; 8], size: u64) -> Result<Round, TleError> {
    let (len, used) = read_compact(head).ok_or(TleError::Malformed("envelope length"))?;
    let end = u64::try_from(used)
        .ok()
        .and_then(|u| u.checked_add(len))
        .and_then(|e| e.checked_add(8))
        .ok_or(TleError::Malformed("envelope length"))?;
    if end != size {
        return Err(TleError::Malformed("envelope length"));
    }
    Round::new(u64::from_le_bytes(tail)).map_err(|_| TleError::Malformed("envelope round is 0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trips_at_every_mode_boundary() {
        for n in [
            0usize,
            1,
            63,
            64,
            16383,
            16384,
            (1 << 30) - 1,
            1 << 30,
            usize::MAX,
        ] {
            let mut buf = [0u8; 16];
            let used = write_compact(n, &mut buf).unwrap();
            assert_eq!(used, compact_len(n));
            assert_eq!(read_compact(&buf[..used]), Some((n as u64, used)), "{n}");
        }
        // Non-canonical: 1 written in two-byte mode.
        assert_eq!(read_compact(&[0x05, 0x00]), None);
        assert_eq!(read_compact(&[]), None);
        assert_eq!(read_compact(&[0xff]), None);
    }

    #[test]
    fn the_round_read_from_the_ends_matches_a_whole_parse() {
        for inner in [0usize, 63, 64, 16_384, 70_000] {
            let mut env = alloc::vec![0u8; 9 + inner + 8];
            let used = write_compact(inner, &mut env).unwrap();
            env.truncate(used + inner + 8);
            let end = env.len();
            env[end - 8..].copy_from_slice(&12_345u64.to_le_bytes());
            let (whole, _) = parse(&env).unwrap();
            let tail: [u8; 8] = env[end - 8..].try_into().unwrap();
            let head = &env[..env.len().min(9)];
            let size = env.len() as u64;
            assert_eq!(round_from_ends(head, tail, size).unwrap(), whole);
            assert!(round_from_ends(head, tail, size + 1).is_err());
            assert!(round_from_ends(head, [0; 8], size).is_err());
        }
    }
}
