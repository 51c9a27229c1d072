//! GRAIL's on-chain read commitment: a participant's bucket and the
//! **read-only** key pair others use to fetch its objects.
//!
//! ```text
//! 128 ASCII characters =
//!   bucket / account id (32, space-padded) ‖ read access key id (32) ‖ read secret (64)
//! ```
//!
//! GRAIL pads with spaces (Python `ljust`) and silently truncates longer
//! values; veil refuses them instead, since a truncated key never works.
//! [`ReadCommitment`] has no place for write credentials: a write pair can
//! only reach a commitment by being passed off as a read pair, which the
//! shell's credential types make impossible.

use core::fmt;

/// Length of a commitment.
pub const COMMITMENT_LEN: usize = 128;
/// Width of the bucket / account id field.
pub const BUCKET_LEN: usize = 32;
/// Width of the read access key id field.
pub const ACCESS_KEY_ID_LEN: usize = 32;
/// Width of the read secret field.
pub const SECRET_LEN: usize = 64;

/// Why a commitment was refused. Never includes the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitmentError {
    /// The commitment is not exactly 128 characters.
    Length {
        /// The length found, in bytes.
        found: usize,
    },
    /// A character outside printable ASCII.
    NotPrintableAscii,
    /// A field is empty (after stripping the padding).
    EmptyField(&'static str),
    /// A field is longer than its width.
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its width.
        max: usize,
    },
    /// A field has a character that cannot survive the padding round trip
    /// (spaces at either end, or anything but printable ASCII).
    InvalidField(&'static str),
}

impl fmt::Display for CommitmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { found } => write!(
                f,
                "a commitment is exactly {COMMITMENT_LEN} ASCII characters, found {found} bytes"
            ),
            Self::NotPrintableAscii => f.write_str("a commitment holds printable ASCII only"),
            Self::EmptyField(field) => write!(f, "commitment field {field} is empty"),
            Self::FieldTooLong { field, max } => {
                write!(
                    f,
                    "{field} is longer than {max} characters (it would be truncated)"
                )
            }
            Self::InvalidField(field) => write!(
                f,
                "{field} must be printable ASCII without leading or trailing spaces"
            ),
        }
    }
}

impl core::error::Error for CommitmentError {}

/// A decoded read commitment, borrowing the fields. Holds read credentials
/// only, by construction.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReadCommitment<'a> {
    /// The bucket, which GRAIL requires to equal the R2 account id.
    pub bucket: &'a str,
    /// The read-only access key id.
    pub read_access_key_id: &'a str,
    /// The read-only secret access key (published on chain by design).
    pub read_secret_access_key: &'a str,
}

impl fmt::Debug for ReadCommitment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadCommitment")
            .field("bucket", &self.bucket)
            .field("read_access_key_id", &self.read_access_key_id)
            .finish_non_exhaustive()
    }
}

fn check_field(value: &str, field: &'static str, max: usize) -> Result<(), CommitmentError> {
    if value.is_empty() {
        return Err(CommitmentError::EmptyField(field));
    }
    if value.len() > max {
        return Err(CommitmentError::FieldTooLong { field, max });
    }
    let printable = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if !printable || value.starts_with(' ') || value.ends_with(' ') {
        return Err(CommitmentError::InvalidField(field));
    }
    Ok(())
}

impl<'a> ReadCommitment<'a> {
    /// Parses a 128-character commitment; each field is stripped of the
    /// padding spaces around it (as GRAIL's parser does).
    ///
    /// # Errors
    ///
    /// A [`CommitmentError`] naming what is wrong.
    pub fn parse(s: &'a str) -> Result<Self, CommitmentError> {
        if s.len() != COMMITMENT_LEN {
            return Err(CommitmentError::Length { found: s.len() });
        }
        if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(CommitmentError::NotPrintableAscii);
        }
        // All ASCII, so these byte offsets are character boundaries.
        let field = |range: core::ops::Range<usize>, name| {
            let v = s.get(range).map(str::trim).unwrap_or("");
            if v.is_empty() {
                Err(CommitmentError::EmptyField(name))
            } else {
                Ok(v)
            }
        };
        Ok(Self {
            bucket: field(0..BUCKET_LEN, "bucket")?,
            read_access_key_id: field(
                BUCKET_LEN..BUCKET_LEN + ACCESS_KEY_ID_LEN,
                "read access key id",
            )?,
            read_secret_access_key: field(
                BUCKET_LEN + ACCESS_KEY_ID_LEN..COMMITMENT_LEN,
                "read secret access key",
            )?,
        })
    }

    /// Encodes the commitment, padding each field with spaces.
    ///
    /// # Errors
    ///
    /// [`CommitmentError::FieldTooLong`] (never truncates),
    /// [`CommitmentError::EmptyField`] or [`CommitmentError::InvalidField`].
    pub fn encode(&self) -> Result<heapless::String<COMMITMENT_LEN>, CommitmentError> {
        check_field(self.bucket, "bucket", BUCKET_LEN)?;
        check_field(
            self.read_access_key_id,
            "read access key id",
            ACCESS_KEY_ID_LEN,
        )?;
        check_field(
            self.read_secret_access_key,
            "read secret access key",
            SECRET_LEN,
        )?;
        let mut out = heapless::String::new();
        for (value, width) in [
            (self.bucket, BUCKET_LEN),
            (self.read_access_key_id, ACCESS_KEY_ID_LEN),
            (self.read_secret_access_key, SECRET_LEN),
        ] {
            out.push_str(value)
                .map_err(|_| CommitmentError::Length { found: 0 })?;
            for _ in value.len()..width {
                out.push(' ')
                    .map_err(|_| CommitmentError::Length { found: 0 })?;
            }
        }
        Ok(out)
    }
}
