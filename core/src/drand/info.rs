//! drand's `/info` document (v1 HTTP API), both ways: a chain is read from
//! one ([`Chain::from_info_json`]: every parameter validated, the hash
//! recomputed) and writes one ([`Chain::info_json`]).

use core::fmt;
use core::num::NonZeroU32;

use serde::Deserialize;

use super::chain::{Chain, ChainError, PublicKey, Scheme};
use super::round::ChainTime;
use crate::encoding::{self, check_json_depth};
use crate::limits::{G2_COMPRESSED_LEN, MAX_CHAIN_INFO_JSON_LEN, MAX_JSON_DEPTH};

impl Chain {
    /// Parses a drand `/info` JSON document (v1 HTTP API), validates every
    /// parameter, recomputes the chain hash and compares it with the
    /// document's `hash`.
    ///
    /// Accepted fields: `public_key`, `period`, `genesis_time`, `hash`,
    /// `groupHash`, `schemeID` (absent means `pedersen-bls-chained`, as in
    /// drand) and `metadata.beaconID` (absent means `default`). The v2 names
    /// `chain_hash`, `genesis_seed`, `scheme` and `beacon_id` are accepted as
    /// aliases. Unknown fields are ignored.
    ///
    /// # Errors
    ///
    /// A [`ChainError`] naming the problem: size or depth limits, malformed
    /// JSON, a missing or malformed field, an invalid public key, or
    /// [`ChainError::HashMismatch`].
    pub fn from_info_json(json: &[u8]) -> Result<Self, ChainError> {
        if json.len() > MAX_CHAIN_INFO_JSON_LEN {
            return Err(ChainError::InfoTooLarge {
                max: MAX_CHAIN_INFO_JSON_LEN,
            });
        }
        check_json_depth(json, MAX_JSON_DEPTH).map_err(|()| ChainError::InfoTooDeep {
            max: MAX_JSON_DEPTH,
        })?;
        let (info, _) = serde_json_core::from_slice::<InfoJson<'_>>(json)
            .map_err(|_| ChainError::InvalidJson)?;

        let scheme = match info.scheme_id {
            Some(id) => Scheme::from_id(id)?,
            None => Scheme::PedersenChained,
        };
        let pk_hex = info
            .public_key
            .ok_or(ChainError::MissingField("public_key"))?;
        let mut pk_buf = [0u8; G2_COMPRESSED_LEN];
        let pk_bytes = encoding::decode_into(pk_hex, &mut pk_buf)
            .map_err(|e| ChainError::BadHex("public_key", e))?;
        let public_key = PublicKey::from_bytes(scheme.public_key_group(), pk_bytes)?;

        let period = info.period.ok_or(ChainError::MissingField("period"))?;
        let period = u32::try_from(period)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(ChainError::PeriodOutOfRange)?;
        let genesis = info
            .genesis_time
            .ok_or(ChainError::MissingField("genesis_time"))?;
        let genesis = u64::try_from(genesis).map_err(|_| ChainError::GenesisOutOfRange)?;

        let group_hash = info
            .group_hash
            .ok_or(ChainError::MissingField("groupHash"))?;
        let group_hash = encoding::decode_array::<32>(group_hash)
            .map_err(|e| ChainError::BadHex("groupHash", e))?;
        let claimed = info.hash.ok_or(ChainError::MissingField("hash"))?;
        let claimed =
            encoding::decode_array::<32>(claimed).map_err(|e| ChainError::BadHex("hash", e))?;

        let beacon_id = info
            .beacon_id
            .or(info.metadata.and_then(|m| m.beacon_id))
            .unwrap_or("");
        let chain = Self::new(
            scheme,
            public_key,
            ChainTime::new(genesis, period),
            group_hash,
            beacon_id,
        )?;
        // Public parameters: an ordinary comparison is fine here.
        if chain.hash != claimed {
            return Err(ChainError::HashMismatch);
        }
        Ok(chain)
    }

    /// The chain's drand `/info` JSON (v1 field names), the document
    /// [`Chain::from_info_json`] reads: `public_key`, `period`,
    /// `genesis_time`, `hash`, `groupHash`, `schemeID` and
    /// `metadata.beaconID`. Written through [`fmt::Display`], without
    /// allocating; every string in it needs no escaping (hex, scheme ids,
    /// and beacon ids of `[A-Za-z0-9._-]`).
    pub const fn info_json(&self) -> InfoJsonWriter<'_> {
        InfoJsonWriter(self)
    }
}

/// A chain's `/info` JSON, written by [`fmt::Display`] ([`Chain::info_json`]).
#[derive(Clone, Copy, Debug)]
pub struct InfoJsonWriter<'a>(&'a Chain);

impl fmt::Display for InfoJsonWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        write!(
            f,
            "{{\"public_key\":\"{}\",\"period\":{},\"genesis_time\":{},\"hash\":\"{}\",\
             \"groupHash\":\"{}\",\"schemeID\":\"{}\",\"metadata\":{{\"beaconID\":\"{}\"}}}}",
            encoding::Hex(c.public_key.as_bytes()),
            c.time.period().get(),
            c.time.genesis(),
            encoding::Hex(&c.hash),
            encoding::Hex(&c.group_hash),
            c.scheme.id(),
            c.beacon_id.as_str(),
        )
    }
}

#[derive(Deserialize)]
struct InfoMetadata<'a> {
    #[serde(rename = "beaconID", borrow, default)]
    beacon_id: Option<&'a str>,
}

/// The fields of a drand `/info` document veil reads. Every field is optional
/// here so that a missing one is reported by name.
#[derive(Deserialize)]
struct InfoJson<'a> {
    #[serde(borrow, default)]
    public_key: Option<&'a str>,
    #[serde(default)]
    period: Option<u64>,
    #[serde(default)]
    genesis_time: Option<i64>,
    #[serde(borrow, default, alias = "chain_hash")]
    hash: Option<&'a str>,
    #[serde(rename = "groupHash", alias = "genesis_seed", borrow, default)]
    group_hash: Option<&'a str>,
    #[serde(rename = "schemeID", alias = "scheme", borrow, default)]
    scheme_id: Option<&'a str>,
    #[serde(borrow, default)]
    beacon_id: Option<&'a str>,
    #[serde(borrow, default)]
    metadata: Option<InfoMetadata<'a>>,
}
