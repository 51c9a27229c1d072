//! MIID's `S3Submission` as the shell holds it (owned strings), serialized
//! with exactly MIID's field names. The core checks its shape
//! ([`S3Submission::validate`]).

use serde::{Deserialize, Serialize};
use veil_core::miid::S3Submission;

/// One sealed, signed and stored variation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Where the sealed image is stored.
    pub s3_key: String,
    /// SHA-256 hex of the plaintext PNG.
    pub image_hash: String,
    /// 128 hex characters: the miner's signature of
    /// `challenge:{cid}:hash:{image_hash}`.
    pub signature: String,
    /// The variation type.
    pub variation_type: String,
    /// 16 hex characters.
    pub path_signature: String,
}

impl Submission {
    /// The core's view, for its checks.
    pub fn as_core(&self) -> S3Submission<'_> {
        S3Submission {
            s3_key: &self.s3_key,
            image_hash: &self.image_hash,
            signature: &self.signature,
            variation_type: &self.variation_type,
            path_signature: &self.path_signature,
        }
    }
}
