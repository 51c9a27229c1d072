//! Reading GRAIL commitments out of subtensor's storage, sans-IO.
//!
//! A read commitment ([`crate::grail`]) is posted with the
//! `Commitments.set_commitment` extrinsic and lands in the storage double map
//! `Commitments.CommitmentOf`:
//!
//! ```text
//! key   = twox128("Commitments") ‖ twox128("CommitmentOf")
//!         ‖ netuid (u16 LE, Identity hasher)
//!         ‖ twox64(account) ‖ account (Twox64Concat hasher)       74 bytes
//! value = Registration { deposit: u64 LE, block: u32 LE,
//!                        info: { fields: compact(n ≤ 3) ‖ Data × n } }
//! ```
//!
//! `Data` is the pallet's own SCALE enum: tag `0` is `None`; tags `1..=129`
//! are `Raw(tag − 1)` followed by exactly that many bytes, with no length
//! prefix; `130..=133` are 32-byte hashes; `134` is
//! `TimelockEncrypted { encrypted: Vec<u8> (≤ 1024), reveal_round: u64 }`;
//! `135` is `ResetBondsFlag`; `136` is `BigRaw(Vec<u8> (≤ 512))`. A GRAIL
//! commitment is one `Raw128` field holding the 128 ASCII characters, so its
//! value is 142 bytes.
//!
//! The runtime decodes a `Registration` through `AppendZerosInput`: a value
//! cut short reads as if padded with zeros. [`Registration::decode`] reads
//! integers, tags and lengths the same way, so it accepts exactly the values
//! the chain accepts; a byte string cut short (which cannot be borrowed
//! zero-padded) decodes as empty, or as 32 zero bytes for a hash, which is
//! never a read commitment either way. Trailing bytes the runtime would never
//! have written are refused. Every length is checked against its bound
//! before any byte is read; nothing allocates.
//!
//! The shell fetches keys and values over JSON-RPC (`state_getKeysPaged`,
//! `state_queryStorageAt`); this module builds the key prefix, reads the
//! hotkey back out of each key, and decodes each value.

use core::fmt;

use hex_literal::hex;

use crate::grail::{CommitmentError, ReadCommitment};

/// `twox128("Commitments") ‖ twox128("CommitmentOf")`.
pub const COMMITMENT_OF_PREFIX: [u8; 32] =
    hex!("ca407206ec1ab726b2636c4b145ac287419a60ae8b01e6dcaebd7317e43c69bf");

/// Length of a full `CommitmentOf` storage key.
pub const STORAGE_KEY_LEN: usize = 32 + 2 + 8 + 32;

pub use crate::limits::{MAX_COMMITMENT_FIELDS as MAX_FIELDS, MAX_TIMELOCK_ENCRYPTED};
/// The bound of `BigRaw`.
pub const MAX_BIG_RAW: usize = 512;

/// Why a storage key or value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageError {
    /// A key is not a `CommitmentOf` key of the subnet asked for.
    ForeignKey,
    /// More fields than the pallet allows.
    TooManyFields(u64),
    /// A `Data` tag the pallet does not define.
    UnknownTag(u8),
    /// A length prefix above its bound.
    TooLong {
        /// The field kind.
        what: &'static str,
        /// The length found.
        found: u64,
    },
    /// A compact integer that is not canonically encoded or too large.
    BadCompact,
    /// Bytes after the registration.
    TrailingBytes,
    /// The registration holds no field with a commitment.
    NoCommitment,
    /// The first field is not `Raw`, or not the commitment string.
    NotReadCommitment(CommitmentError),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForeignKey => f.write_str("not a Commitments.CommitmentOf key of this subnet"),
            Self::TooManyFields(n) => {
                write!(f, "a commitment has at most {MAX_FIELDS} fields, found {n}")
            }
            Self::UnknownTag(t) => write!(f, "unknown commitment data tag {t}"),
            Self::TooLong { what, found } => write!(f, "{what} of {found} bytes is over its bound"),
            Self::BadCompact => f.write_str("malformed SCALE compact integer"),
            Self::TrailingBytes => f.write_str("trailing bytes after the registration"),
            Self::NoCommitment => f.write_str("the registration holds no Raw field"),
            Self::NotReadCommitment(e) => write!(f, "not a read commitment: {e}"),
        }
    }
}

impl core::error::Error for StorageError {}

/// The storage prefix of subnet `netuid`'s commitments (what
/// `state_getKeysPaged` enumerates).
#[must_use]
pub fn storage_prefix(netuid: u16) -> [u8; 34] {
    let mut out = [0u8; 34];
    out[..32].copy_from_slice(&COMMITMENT_OF_PREFIX);
    out[32..].copy_from_slice(&netuid.to_le_bytes());
    out
}

/// The account (hotkey public key) a `CommitmentOf` key of `netuid` is for.
///
/// The `twox64` half of the hasher is not recomputed: it only spreads keys
/// in the trie, and the account follows it in the clear.
///
/// # Errors
///
/// [`StorageError::ForeignKey`] unless `key` is 74 bytes under
/// [`storage_prefix`]`(netuid)`.
pub fn account_of_key(key: &[u8], netuid: u16) -> Result<[u8; 32], StorageError> {
    if key.len() != STORAGE_KEY_LEN || key.get(..34) != Some(&storage_prefix(netuid)[..]) {
        return Err(StorageError::ForeignKey);
    }
    key.get(42..)
        .and_then(|a| <[u8; 32]>::try_from(a).ok())
        .ok_or(StorageError::ForeignKey)
}

/// One `Data` field of a commitment, borrowing the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Data<'a> {
    /// Tag 0.
    None,
    /// `Raw0` … `Raw128`.
    Raw(&'a [u8]),
    /// A BLAKE2b-256 hash.
    BlakeTwo256(&'a [u8]),
    /// A SHA-256 hash.
    Sha256(&'a [u8]),
    /// A Keccak-256 hash.
    Keccak256(&'a [u8]),
    /// A SHA3-256 hash.
    ShaThree256(&'a [u8]),
    /// A timelocked commitment.
    TimelockEncrypted {
        /// The ciphertext.
        encrypted: &'a [u8],
        /// The drand round it opens at.
        reveal_round: u64,
    },
    /// A request to reset bonds.
    ResetBondsFlag,
    /// Up to 512 raw bytes.
    BigRaw(&'a [u8]),
}

/// A decoded `Registration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration<'a> {
    /// The deposit held (zero while commitments are free).
    pub deposit: u64,
    /// The block the commitment was made at.
    pub block: u32,
    /// The fields, at most [`MAX_FIELDS`].
    pub fields: heapless::Vec<Data<'a>, MAX_FIELDS>,
}

/// Zero-extended reads, as the runtime's `AppendZerosInput`: past the end of
/// the value every byte reads as zero. Slices past the end cannot be
/// borrowed, so a length that runs off the end is reported as `None` and
/// mapped by the caller to the zero-filled value it would decode to.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte();
        }
        out
    }

    /// `n` bytes, or `None` when they run past the end (they would be
    /// partly zero padding, which a borrowed slice cannot hold).
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end);
        self.pos = end;
        out
    }

    fn compact(&mut self) -> Result<u64, StorageError> {
        let first = self.byte();
        let value = match first & 0b11 {
            0 => u64::from(first >> 2),
            1 => {
                let v = u64::from(u16::from_le_bytes([first, self.byte()]) >> 2);
                if v < 1 << 6 {
                    return Err(StorageError::BadCompact);
                }
                v
            }
            2 => {
                let [b1, b2, b3] = self.array::<3>();
                let v = u64::from(u32::from_le_bytes([first, b1, b2, b3]) >> 2);
                if v < 1 << 14 {
                    return Err(StorageError::BadCompact);
                }
                v
            }
            _ => {
                let n = usize::from(first >> 2) + 4;
                if n > 8 {
                    return Err(StorageError::BadCompact);
                }
                let mut le = [0u8; 8];
                for b in le.iter_mut().take(n) {
                    *b = self.byte();
                }
                let v = u64::from_le_bytes(le);
                // The big-integer mode must need all its bytes.
                // n is 5..=8 here, so the shift is 32..=56 bits.
                let top_byte_shift = n.saturating_sub(1).saturating_mul(8);
                if v < 1 << 30 || (n > 4 && v >> top_byte_shift == 0) {
                    return Err(StorageError::BadCompact);
                }
                v
            }
        };
        Ok(value)
    }

    /// A compact-length-prefixed byte string bounded by `max`.
    fn bounded(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], StorageError> {
        let n = self.compact()?;
        let len = usize::try_from(n)
            .ok()
            .filter(|&l| l <= max)
            .ok_or(StorageError::TooLong { what, found: n })?;
        Ok(self.take(len).unwrap_or(&[]))
    }

    /// Whether every byte was consumed (reads past the end count as padding).
    fn finished(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

impl<'a> Registration<'a> {
    /// Decodes a `CommitmentOf` value.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] for bad tags, lengths over their bounds, more than
    /// three fields, non-canonical compacts or trailing bytes.
    pub fn decode(value: &'a [u8]) -> Result<Self, StorageError> {
        let mut r = Reader {
            bytes: value,
            pos: 0,
        };
        let deposit = u64::from_le_bytes(r.array());
        let block = u32::from_le_bytes(r.array());
        let n = r.compact()?;
        if n > MAX_FIELDS as u64 {
            return Err(StorageError::TooManyFields(n));
        }
        let mut fields = heapless::Vec::new();
        for _ in 0..n {
            let tag = r.byte();
            let hash = |r: &mut Reader<'a>| r.take(32).unwrap_or(&[0u8; 32]);
            let field = match tag {
                0 => Data::None,
                1..=129 => Data::Raw(r.take(usize::from(tag.saturating_sub(1))).unwrap_or(&[])),
                130 => Data::BlakeTwo256(hash(&mut r)),
                131 => Data::Sha256(hash(&mut r)),
                132 => Data::Keccak256(hash(&mut r)),
                133 => Data::ShaThree256(hash(&mut r)),
                134 => Data::TimelockEncrypted {
                    encrypted: r.bounded("TimelockEncrypted", MAX_TIMELOCK_ENCRYPTED)?,
                    reveal_round: u64::from_le_bytes(r.array()),
                },
                135 => Data::ResetBondsFlag,
                136 => Data::BigRaw(r.bounded("BigRaw", MAX_BIG_RAW)?),
                t => return Err(StorageError::UnknownTag(t)),
            };
            // Cannot fail: at most MAX_FIELDS iterations.
            let _ = fields.push(field);
        }
        if !r.finished() {
            return Err(StorageError::TrailingBytes);
        }
        Ok(Self {
            deposit,
            block,
            fields,
        })
    }

    /// The GRAIL read commitment: the first field, which must be `Raw` and
    /// hold the 128-character string (GRAIL and templar read
    /// `fields[0][0]`).
    ///
    /// # Errors
    ///
    /// [`StorageError::NoCommitment`] when the first field is missing or not
    /// `Raw`; [`StorageError::NotReadCommitment`] when its bytes do not
    /// parse.
    pub fn read_commitment(&self) -> Result<ReadCommitment<'a>, StorageError> {
        match self.fields.first() {
            Some(Data::Raw(bytes)) => {
                let s = core::str::from_utf8(bytes).map_err(|_| {
                    StorageError::NotReadCommitment(CommitmentError::NotPrintableAscii)
                })?;
                ReadCommitment::parse(s).map_err(StorageError::NotReadCommitment)
            }
            _ => Err(StorageError::NoCommitment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV_ROOT: [u8; 32] =
        hex!("46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a");

    fn commitment() -> [u8; 128] {
        let mut c = [b' '; 128];
        c[..32].copy_from_slice(b"0123456789abcdef0123456789abcdef");
        c[32..52].copy_from_slice(b"AKIAREADREADREADREAD");
        c[64..104].copy_from_slice(b"readsecretreadsecretreadsecretreadsecret");
        c
    }

    fn value(fields: &[&[u8]]) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec::Vec::new();
        v.extend_from_slice(&0u64.to_le_bytes());
        v.extend_from_slice(&1234u32.to_le_bytes());
        v.push(u8::try_from(fields.len() * 4).unwrap());
        for f in fields {
            v.extend_from_slice(f);
        }
        v
    }

    #[test]
    fn a_grail_commitment_is_142_bytes_and_decodes() {
        let mut raw = alloc::vec![0x81];
        raw.extend_from_slice(&commitment());
        let v = value(&[&raw]);
        assert_eq!(v.len(), 142);
        let reg = Registration::decode(&v).unwrap();
        assert_eq!((reg.deposit, reg.block), (0, 1234));
        let c = reg.read_commitment().unwrap();
        assert_eq!(c.bucket, "0123456789abcdef0123456789abcdef");
        assert_eq!(c.read_access_key_id, "AKIAREADREADREADREAD");
    }

    #[test]
    fn keys_of_other_subnets_or_pallets_are_refused() {
        // The worked example of the reference notes: netuid 81 and the
        // Substrate dev phrase's root account (twox64 504d8899f6c69245).
        let mut key = alloc::vec::Vec::from(storage_prefix(81));
        key.extend_from_slice(&hex!("504d8899f6c69245"));
        key.extend_from_slice(&DEV_ROOT);
        assert_eq!(account_of_key(&key, 81), Ok(DEV_ROOT));
        assert_eq!(account_of_key(&key, 82), Err(StorageError::ForeignKey));
        assert_eq!(account_of_key(&key[1..], 81), Err(StorageError::ForeignKey));
        key[0] ^= 1;
        assert_eq!(account_of_key(&key, 81), Err(StorageError::ForeignKey));
    }

    #[test]
    fn every_data_kind_decodes_and_bounds_hold() {
        let mut tle = alloc::vec![134, 8];
        tle.extend_from_slice(&[7, 7]);
        tle.extend_from_slice(&99u64.to_le_bytes());
        let mut sha = alloc::vec![131];
        sha.extend_from_slice(&[5; 32]);
        let v = value(&[&[0], &tle, &sha]);
        let reg = Registration::decode(&v).unwrap();
        assert_eq!(reg.fields[0], Data::None);
        assert_eq!(
            reg.fields[1],
            Data::TimelockEncrypted {
                encrypted: &[7, 7],
                reveal_round: 99
            }
        );
        assert_eq!(reg.fields[2], Data::Sha256(&[5; 32]));
        assert_eq!(reg.read_commitment(), Err(StorageError::NoCommitment));

        // 513 bytes of BigRaw: compact(513) = 0x0805.
        let v = value(&[&[136, 0x05, 0x08]]);
        assert_eq!(
            Registration::decode(&v),
            Err(StorageError::TooLong {
                what: "BigRaw",
                found: 513
            })
        );
        let mut v = value(&[]);
        v[12] = 4 * 4;
        assert_eq!(
            Registration::decode(&v),
            Err(StorageError::TooManyFields(4))
        );
        assert_eq!(
            Registration::decode(&value(&[&[137]])),
            Err(StorageError::UnknownTag(137))
        );
        let mut v = value(&[&[1]]);
        v.push(0);
        assert_eq!(Registration::decode(&v), Err(StorageError::TrailingBytes));
        // compact 1 written in two-byte mode is not canonical.
        let mut v = value(&[]);
        v.truncate(12);
        v.extend_from_slice(&[0x05, 0x00]);
        assert_eq!(Registration::decode(&v), Err(StorageError::BadCompact));
    }

    #[test]
    fn short_values_read_as_zero_padded_like_the_runtime() {
        assert_eq!(
            Registration::decode(&[]).unwrap(),
            Registration {
                deposit: 0,
                block: 0,
                fields: heapless::Vec::new()
            }
        );
        // A Raw128 cut short: the runtime would read zeros, which is not a
        // commitment; the field reads as empty and the commitment is refused.
        let mut raw = alloc::vec![0x81];
        raw.extend_from_slice(&commitment()[..100]);
        let v = value(&[&raw]);
        let reg = Registration::decode(&v).unwrap();
        assert!(matches!(
            reg.read_commitment(),
            Err(StorageError::NotReadCommitment(_))
        ));
    }
}
