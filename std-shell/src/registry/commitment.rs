//! One read commitment held in memory: zeroized on drop, compared in
//! constant time, never shown whole by `Debug`.

use core::fmt;

use subtle::ConstantTimeEq as _;
use veil_core::commitment::ReadCommitment;
use zeroize::Zeroizing;

use crate::Error;

/// A read commitment held in memory: the 128-character text, kept whole so
/// it can be re-parsed into a [`ReadCommitment`] without copies. Zeroized on
/// drop; `Debug` shows the bucket and key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Commitment {
    text: Zeroizing<String>,
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.read(), f)
    }
}

impl Commitment {
    /// Parses a 128-character commitment.
    ///
    /// # Errors
    ///
    /// The core's commitment error.
    pub fn parse(text: &str) -> Result<Self, Error> {
        ReadCommitment::parse(text)?;
        Ok(Self {
            text: Zeroizing::new(text.to_owned()),
        })
    }

    /// Encodes `c`.
    ///
    /// # Errors
    ///
    /// When a field is empty or longer than its width (never truncated).
    pub fn from_read(c: &ReadCommitment<'_>) -> Result<Self, Error> {
        let text = c.encode()?;
        Ok(Self {
            text: Zeroizing::new(text.as_str().to_owned()),
        })
    }

    /// The fields.
    #[must_use]
    pub fn read(&self) -> ReadCommitment<'_> {
        // Checked at construction.
        ReadCommitment::parse(&self.text).unwrap_or(ReadCommitment {
            bucket: "",
            read_access_key_id: "",
            read_secret_access_key: "",
        })
    }

    /// The 128-character text (it holds the read secret).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Equality in constant time (the text holds a secret).
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.text.as_bytes().ct_eq(other.text.as_bytes()).into()
    }
}
