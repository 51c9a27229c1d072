//! SS58 addresses (Substrate's base58 account format) for 32-byte keys.
//!
//! ```text
//! base58( prefix ‖ key(32) ‖ blake2b-512("SS58PRE" ‖ prefix ‖ key)[..2] )
//! ```
//!
//! The prefix is one byte for network ids 0–63 and two bytes for 64–16383.
//! Bittensor uses 42 (the generic Substrate id). Any prefix is readable; the
//! checksum is always enforced.

use core::fmt;

use blake2::{Blake2b512, Digest};

use crate::limits::MAX_SS58_LEN;

/// The network id Bittensor addresses use.
pub const BITTENSOR_PREFIX: u16 = 42;

/// An SS58 address as text (at most 50 characters for a 32-byte key).
pub type Address = heapless::String<MAX_SS58_LEN>;

/// Why an address was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ss58Error {
    /// Not base58, or longer than any SS58 address of a 32-byte key.
    Encoding,
    /// The decoded bytes are not a prefix, a 32-byte key and a checksum.
    Length,
    /// The prefix byte is not a valid SS58 network id encoding.
    Prefix,
    /// The checksum does not match: a mistyped address.
    Checksum,
}

impl fmt::Display for Ss58Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Encoding => "SS58 address is not base58 text",
            Self::Length => "SS58 address does not hold a 32-byte public key",
            Self::Prefix => "SS58 address has an invalid network prefix",
            Self::Checksum => "SS58 address checksum does not match (mistyped?)",
        })
    }
}

impl core::error::Error for Ss58Error {}

fn prefix_bytes(prefix: u16) -> ([u8; 2], usize) {
    let id = prefix & 0x3fff;
    let [lo, hi] = id.to_le_bytes();
    if id < 64 {
        ([lo, 0], 1)
    } else {
        // Substrate's two-byte form: the low 8 bits are split around the
        // 0b01 marker so that the first byte lands in 64..=127.
        let first = ((lo & 0b1111_1100) >> 2) | 0b0100_0000;
        let second = hi | ((lo & 0b11) << 6);
        ([first, second], 2)
    }
}

fn checksum(prefix: &[u8], key: &[u8; 32]) -> [u8; 2] {
    let h = Blake2b512::new()
        .chain_update(b"SS58PRE")
        .chain_update(prefix)
        .chain_update(key)
        .finalize();
    [
        h.first().copied().unwrap_or(0),
        h.get(1).copied().unwrap_or(0),
    ]
}

/// The SS58 address of `key` under network id `prefix` (0..=16383).
pub fn encode(prefix: u16, key: &[u8; 32]) -> Address {
    let (p, n) = prefix_bytes(prefix);
    let p = p.get(..n).unwrap_or(&[]);
    let mut raw = [0u8; 36];
    let total = n.saturating_add(34);
    if let Some(dst) = raw.get_mut(..total) {
        let (a, rest) = dst.split_at_mut(n);
        let (b, c) = rest.split_at_mut(32);
        a.copy_from_slice(p);
        b.copy_from_slice(key);
        c.copy_from_slice(&checksum(p, key));
    }
    let mut text = [0u8; MAX_SS58_LEN];
    let len = bs58::encode(raw.get(..total).unwrap_or(&[]))
        .onto(&mut text[..])
        .unwrap_or(0);
    let mut out = Address::new();
    for &b in text.get(..len).unwrap_or(&[]) {
        let _ = out.push(char::from(b));
    }
    out
}

/// Decodes an address of any network id: `(prefix, key)`.
///
/// # Errors
///
/// An [`Ss58Error`] naming what is wrong.
pub fn decode(address: &str) -> Result<(u16, [u8; 32]), Ss58Error> {
    if address.len() > MAX_SS58_LEN {
        return Err(Ss58Error::Encoding);
    }
    let mut raw = [0u8; MAX_SS58_LEN];
    let n = bs58::decode(address)
        .onto(&mut raw[..])
        .map_err(|_| Ss58Error::Encoding)?;
    let raw = raw.get(..n).ok_or(Ss58Error::Length)?;
    let (prefix, prefix_len): (u16, usize) = match raw.first().copied().ok_or(Ss58Error::Length)? {
        b @ 0..=63 => (u16::from(b), 1),
        b @ 64..=127 => {
            let second = raw.get(1).copied().ok_or(Ss58Error::Length)?;
            let lower = (b << 2) | (second >> 6);
            let upper = second & 0b0011_1111;
            (u16::from(lower) | (u16::from(upper) << 8), 2)
        }
        _ => return Err(Ss58Error::Prefix),
    };
    if Some(raw.len()) != prefix_len.checked_add(34) {
        return Err(Ss58Error::Length);
    }
    let (p, rest) = raw.split_at(prefix_len);
    let (key, check) = rest.split_at(32);
    let key: [u8; 32] = key.try_into().map_err(|_| Ss58Error::Length)?;
    if checksum(p, &key) != check {
        return Err(Ss58Error::Checksum);
    }
    Ok((prefix, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_byte_prefixes_round_trip() {
        for prefix in [0u16, 1, 42, 63, 64, 65, 255, 256, 1000, 16383] {
            let key = [prefix.to_le_bytes()[0]; 32];
            let addr = encode(prefix, &key);
            assert_eq!(decode(&addr), Ok((prefix, key)), "{prefix}");
        }
    }
}
