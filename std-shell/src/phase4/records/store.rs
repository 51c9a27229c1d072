//! How the results record where a miner's objects are: never a secret.

use serde::{Deserialize, Serialize};

/// Where the validator read a miner's objects, as the results record it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreRecord {
    /// A store named by a spec (`dir:/abs/path`, `s3://BUCKET`,
    /// `public:URL`), reopened as such by the reveal.
    Store {
        /// The spec ([`crate::store::record_spec`]).
        spec: String,
        /// For people.
        describe: String,
    },
    /// The bucket of the miner's commitment: the reveal reads its read keys
    /// from the commitments registry again (they are never stored here).
    Commitment {
        /// The bucket (GRAIL: the account id).
        bucket: String,
        /// For people.
        describe: String,
    },
}
