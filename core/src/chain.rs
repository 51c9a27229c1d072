//! drand chains: schemes, public keys, chain hashes, the built-in networks and
//! chains read from a drand `/info` document.
//!
//! A chain's identity is its hash, which drand computes as (`drand/drand:
//! common/chain/info.go`, `Info.Hash()`):
//!
//! ```text
//! sha256( u32be(period) ‖ i64be(genesis_time) ‖ public_key ‖ groupHash ‖ beaconID )
//! ```
//!
//! with `beaconID` omitted when it is empty or `default`. The scheme id is not
//! part of the hash. veil never takes a chain hash on trust: it recomputes it
//! from the parameters and refuses a document whose `hash` differs.

use core::fmt;
use core::num::NonZeroU32;

use ark_bls12_381::{G1Affine, G2Affine};
use hex_literal::hex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::curve::{g1_from_bytes, g2_from_bytes};
use crate::encoding::{self, HexError, check_json_depth};
use crate::hash::{DST_G1_RFC9380, DST_G2};
use crate::limits::{
    G1_COMPRESSED_LEN, G2_COMPRESSED_LEN, MAX_BEACON_ID_LEN, MAX_CHAIN_INFO_JSON_LEN,
    MAX_JSON_DEPTH,
};
use crate::round::ChainTime;

/// One of the two source groups of BLS12-381.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// G1: 48-byte compressed points.
    G1,
    /// G2: 96-byte compressed points.
    G2,
}

impl Group {
    /// Compressed size of a point of this group, in bytes.
    pub const fn compressed_len(self) -> usize {
        match self {
            Self::G1 => G1_COMPRESSED_LEN,
            Self::G2 => G2_COMPRESSED_LEN,
        }
    }
}

/// A drand signature scheme over BLS12-381 (`drand/drand:crypto/schemes.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `bls-unchained-g1-rfc9380` (quicknet): signatures on G1 with the RFC 9380
    /// G1 tag, public key on G2, message `sha256(u64be(round))`.
    UnchainedG1Rfc9380,
    /// `bls-unchained-on-g1` (fastnet, deprecated): like quicknet but hashed to
    /// G1 with the **G2** tag.
    UnchainedOnG1,
    /// `pedersen-bls-unchained`: signatures on G2, public key on G1, message
    /// `sha256(u64be(round))`.
    PedersenUnchained,
    /// `pedersen-bls-chained` (the `default` mainnet): signatures on G2, public
    /// key on G1, message `sha256(previous_signature ‖ u64be(round))`.
    PedersenChained,
}

impl Scheme {
    /// Every scheme veil knows.
    pub const ALL: [Scheme; 4] = [
        Self::UnchainedG1Rfc9380,
        Self::UnchainedOnG1,
        Self::PedersenUnchained,
        Self::PedersenChained,
    ];

    /// drand's scheme id, as in `/info`'s `schemeID`.
    pub const fn id(self) -> &'static str {
        match self {
            Self::UnchainedG1Rfc9380 => "bls-unchained-g1-rfc9380",
            Self::UnchainedOnG1 => "bls-unchained-on-g1",
            Self::PedersenUnchained => "pedersen-bls-unchained",
            Self::PedersenChained => "pedersen-bls-chained",
        }
    }

    /// The scheme with drand id `id`.
    ///
    /// # Errors
    ///
    /// [`ChainError::UnsupportedScheme`] for any other id (including
    /// `bls-bn254-unchained-on-g1`, which is not a BLS12-381 scheme).
    pub fn from_id(id: &str) -> Result<Self, ChainError> {
        Self::ALL
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or(ChainError::UnsupportedScheme)
    }

    /// The group signatures live in.
    pub const fn signature_group(self) -> Group {
        match self {
            Self::UnchainedG1Rfc9380 | Self::UnchainedOnG1 => Group::G1,
            Self::PedersenUnchained | Self::PedersenChained => Group::G2,
        }
    }

    /// The group the public key lives in (the other one).
    pub const fn public_key_group(self) -> Group {
        match self.signature_group() {
            Group::G1 => Group::G2,
            Group::G2 => Group::G1,
        }
    }

    /// The hash-to-curve domain-separation tag used to hash the message.
    pub const fn dst(self) -> &'static [u8] {
        match self {
            Self::UnchainedG1Rfc9380 => DST_G1_RFC9380,
            Self::UnchainedOnG1 | Self::PedersenUnchained | Self::PedersenChained => DST_G2,
        }
    }

    /// Whether each beacon signs the previous signature too.
    pub const fn is_chained(self) -> bool {
        matches!(self, Self::PedersenChained)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A chain's validated public key: its compressed bytes and the decoded point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// A key on G1 (the `pedersen-*` schemes).
    G1 {
        /// Compressed encoding.
        bytes: [u8; G1_COMPRESSED_LEN],
        /// The decoded point, in the prime-order subgroup, not the identity.
        point: G1Affine,
    },
    /// A key on G2 (quicknet, fastnet).
    G2 {
        /// Compressed encoding.
        bytes: [u8; G2_COMPRESSED_LEN],
        /// The decoded point, in the prime-order subgroup, not the identity.
        point: G2Affine,
    },
}

impl PublicKey {
    /// Decodes and fully validates a compressed key of `group`: on the curve,
    /// in the prime-order subgroup, not the identity.
    ///
    /// # Errors
    ///
    /// [`ChainError::PublicKeyLength`] for the wrong length,
    /// [`ChainError::InvalidPublicKey`] for anything else.
    pub fn from_bytes(group: Group, bytes: &[u8]) -> Result<Self, ChainError> {
        let wrong_length = ChainError::PublicKeyLength {
            expected: group.compressed_len(),
        };
        match group {
            Group::G1 => {
                let bytes: [u8; G1_COMPRESSED_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
                let point = g1_from_bytes(&bytes).ok_or(ChainError::InvalidPublicKey)?;
                Ok(Self::G1 { bytes, point })
            }
            Group::G2 => {
                let bytes: [u8; G2_COMPRESSED_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
                let point = g2_from_bytes(&bytes).ok_or(ChainError::InvalidPublicKey)?;
                Ok(Self::G2 { bytes, point })
            }
        }
    }

    /// The compressed encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::G1 { bytes, .. } => bytes,
            Self::G2 { bytes, .. } => bytes,
        }
    }

    /// The group the key lives in.
    pub const fn group(&self) -> Group {
        match self {
            Self::G1 { .. } => Group::G1,
            Self::G2 { .. } => Group::G2,
        }
    }
}

/// A drand beacon id (`metadata.beaconID`), bounded by [`MAX_BEACON_ID_LEN`].
pub type BeaconId = heapless::String<MAX_BEACON_ID_LEN>;

/// A drand chain: everything needed to verify its beacons and do its round
/// math. Constructed only through validating paths, so a `Chain` always has a
/// valid public key of the right group and a hash that matches its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    scheme: Scheme,
    public_key: PublicKey,
    time: ChainTime,
    group_hash: [u8; 32],
    beacon_id: BeaconId,
    hash: [u8; 32],
}

impl Chain {
    /// Builds a chain from its parameters and computes its hash.
    ///
    /// `genesis` must not exceed `i64::MAX` (drand hashes it as an `i64`).
    /// `beacon_id` may be empty; it is hashed unless empty or `default`.
    ///
    /// # Errors
    ///
    /// [`ChainError::PublicKeyGroup`] when the key is not in the scheme's key
    /// group, [`ChainError::GenesisOutOfRange`], or
    /// [`ChainError::InvalidBeaconId`].
    pub fn new(
        scheme: Scheme,
        public_key: PublicKey,
        time: ChainTime,
        group_hash: [u8; 32],
        beacon_id: &str,
    ) -> Result<Self, ChainError> {
        if public_key.group() != scheme.public_key_group() {
            return Err(ChainError::PublicKeyGroup {
                expected: scheme.public_key_group(),
            });
        }
        let genesis = i64::try_from(time.genesis()).map_err(|_| ChainError::GenesisOutOfRange)?;
        let beacon_id = parse_beacon_id(beacon_id)?;
        let mut h = Sha256::new();
        h.update(time.period().get().to_be_bytes());
        h.update(genesis.to_be_bytes());
        h.update(public_key.as_bytes());
        h.update(group_hash);
        if !beacon_id.is_empty() && beacon_id.as_str() != "default" {
            h.update(beacon_id.as_bytes());
        }
        Ok(Self {
            scheme,
            public_key,
            time,
            group_hash,
            beacon_id,
            hash: h.finalize().into(),
        })
    }

    /// A built-in chain by name or alias; see [`BuiltinChain::from_name`].
    ///
    /// # Errors
    ///
    /// [`ChainError::UnknownChain`] for any other name.
    pub fn builtin(name: &str) -> Result<Self, ChainError> {
        BuiltinChain::from_name(name)?.chain()
    }

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

    /// The signature scheme.
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The group public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The chain's clock (genesis and period), for round math.
    pub const fn time(&self) -> ChainTime {
        self.time
    }

    /// The genesis seed (`groupHash`).
    pub const fn group_hash(&self) -> &[u8; 32] {
        &self.group_hash
    }

    /// The beacon id (may be empty).
    pub fn beacon_id(&self) -> &str {
        self.beacon_id.as_str()
    }

    /// The chain hash, recomputed from the parameters.
    pub const fn hash(&self) -> &[u8; 32] {
        &self.hash
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

/// The drand networks veil knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuiltinChain {
    /// drand mainnet `quicknet` (3 s, `bls-unchained-g1-rfc9380`): the default.
    Quicknet,
    /// drand testnet `quicknet-t` (3 s, `bls-unchained-g1-rfc9380`).
    QuicknetT,
    /// drand mainnet `default` (30 s, `pedersen-bls-chained`). Alias `mainnet`.
    Default,
    /// drand mainnet `fastnet` (3 s, `bls-unchained-on-g1`; deprecated by drand).
    Fastnet,
    /// drand testnet `testnet-unchained-3s` (3 s, `pedersen-bls-unchained`).
    /// Alias `testnet-unchained-3s`.
    TestnetUnchained,
}

/// Parameters of a built-in chain. Source: drand's `/info` of each network, as
/// quoted in drand/tlock `networks/fixed`, tlock-js `src/drand/defaults.ts` and
/// drand-rs `chain.rs`; every hash recomputed and matched (shared
/// `vectors/chains.json`).
struct BuiltinParams {
    scheme: Scheme,
    public_key: &'static [u8],
    period: NonZeroU32,
    genesis: u64,
    group_hash: [u8; 32],
    beacon_id: &'static str,
    hash: [u8; 32],
}

const THREE_SECONDS: NonZeroU32 = NonZeroU32::new(3).unwrap();
const THIRTY_SECONDS: NonZeroU32 = NonZeroU32::new(30).unwrap();

impl BuiltinChain {
    /// Every built-in chain, the default first.
    pub const ALL: [BuiltinChain; 5] = [
        Self::Quicknet,
        Self::QuicknetT,
        Self::Default,
        Self::Fastnet,
        Self::TestnetUnchained,
    ];

    /// The canonical name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Quicknet => "quicknet",
            Self::QuicknetT => "quicknet-t",
            Self::Default => "default",
            Self::Fastnet => "fastnet",
            Self::TestnetUnchained => "testnet-unchained",
        }
    }

    /// The chain named `name`: a canonical name, or the aliases `mainnet`
    /// (= `default`) and `testnet-unchained-3s` (= `testnet-unchained`).
    ///
    /// # Errors
    ///
    /// [`ChainError::UnknownChain`] for anything else.
    pub fn from_name(name: &str) -> Result<Self, ChainError> {
        match name {
            "mainnet" => Ok(Self::Default),
            "testnet-unchained-3s" => Ok(Self::TestnetUnchained),
            _ => Self::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or(ChainError::UnknownChain),
        }
    }

    /// The chain hash drand publishes for this network.
    pub fn published_hash(self) -> [u8; 32] {
        self.params().hash
    }

    /// Builds the chain, validating its key and recomputing its hash.
    ///
    /// # Errors
    ///
    /// Never in practice: the parameters are constants checked by tests. An
    /// error here would mean a corrupted constant, and is reported rather than
    /// trusted ([`ChainError::HashMismatch`]).
    pub fn chain(self) -> Result<Chain, ChainError> {
        let p = self.params();
        let public_key = PublicKey::from_bytes(p.scheme.public_key_group(), p.public_key)?;
        let chain = Chain::new(
            p.scheme,
            public_key,
            ChainTime::new(p.genesis, p.period),
            p.group_hash,
            p.beacon_id,
        )?;
        if chain.hash != p.hash {
            return Err(ChainError::HashMismatch);
        }
        Ok(chain)
    }

    fn params(self) -> BuiltinParams {
        match self {
            Self::Quicknet => BuiltinParams {
                scheme: Scheme::UnchainedG1Rfc9380,
                public_key: &hex!(
                    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
                    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
                    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
                ),
                period: THREE_SECONDS,
                genesis: 1_692_803_367,
                group_hash: hex!(
                    "f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e"
                ),
                beacon_id: "quicknet",
                hash: hex!("52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"),
            },
            Self::QuicknetT => BuiltinParams {
                scheme: Scheme::UnchainedG1Rfc9380,
                public_key: &hex!(
                    "b15b65b46fb29104f6a4b5d1e11a8da6344463973d423661bb0804846a0ecd1e"
                    "f93c25057f1c0baab2ac53e56c662b66072f6d84ee791a3382bfb055afab1e6a"
                    "375538d8ffc451104ac971d2dc9b168e2d3246b0be2015969cbaac298f6502da"
                ),
                period: THREE_SECONDS,
                genesis: 1_689_232_296,
                group_hash: hex!(
                    "40d49d910472d4adb1d67f65db8332f11b4284eecf05c05c5eacd5eef7d40e2d"
                ),
                beacon_id: "quicknet-t",
                hash: hex!("cc9c398442737cbd141526600919edd69f1d6f9b4adb67e4d912fbc64341a9a5"),
            },
            Self::Default => BuiltinParams {
                scheme: Scheme::PedersenChained,
                public_key: &hex!(
                    "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a5699"
                    "37c529eeda66c7293784a9402801af31"
                ),
                period: THIRTY_SECONDS,
                genesis: 1_595_431_050,
                group_hash: hex!(
                    "176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a"
                ),
                beacon_id: "default",
                hash: hex!("8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce"),
            },
            Self::Fastnet => BuiltinParams {
                scheme: Scheme::UnchainedOnG1,
                public_key: &hex!(
                    "a0b862a7527fee3a731bcb59280ab6abd62d5c0b6ea03dc4ddf6612fdfc9d01f"
                    "01c31542541771903475eb1ec6615f8d0df0b8b6dce385811d6dcf8cbefb8759"
                    "e5e616a3dfd054c928940766d9a5b9db91e3b697e5d70a975181e007f87fca5e"
                ),
                period: THREE_SECONDS,
                genesis: 1_677_685_200,
                group_hash: hex!(
                    "a81e9d63f614ccdb144b8ff79fbd4d5a2d22055c0bfe4ee9a8092003dab1c6c0"
                ),
                beacon_id: "fastnet",
                hash: hex!("dbd506d6ef76e5f386f41c651dcb808c5bcbd75471cc4eafa3f4df7ad4e4c493"),
            },
            Self::TestnetUnchained => BuiltinParams {
                scheme: Scheme::PedersenUnchained,
                public_key: &hex!(
                    "8200fc249deb0148eb918d6e213980c5d01acd7fc251900d9260136da3b54836"
                    "ce125172399ddc69c4e3e11429b62c11"
                ),
                period: THREE_SECONDS,
                genesis: 1_651_677_099,
                group_hash: hex!(
                    "65083634d852ae169e21b6ce5f0410be9ed4cc679b9970236f7875cff667e13d"
                ),
                beacon_id: "testnet-unchained-3s",
                hash: hex!("7672797f548f3f4748ac4bf3352fc6c6b6468c9ad40ad456a397545c6e2df5bf"),
            },
        }
    }
}

impl fmt::Display for BuiltinChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A beacon id: at most [`MAX_BEACON_ID_LEN`] bytes of `[A-Za-z0-9._-]`, the
/// characters drand beacon ids are made of. Anything else (escapes, spaces,
/// control characters) is refused rather than hashed.
fn parse_beacon_id(id: &str) -> Result<BeaconId, ChainError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !id.bytes().all(allowed) {
        return Err(ChainError::InvalidBeaconId);
    }
    BeaconId::try_from(id).map_err(|_| ChainError::InvalidBeaconId)
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

/// Why a chain was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// No built-in chain has that name.
    UnknownChain,
    /// The scheme id is not one of the four BLS12-381 drand schemes.
    UnsupportedScheme,
    /// The `/info` document is larger than the limit.
    InfoTooLarge {
        /// The largest size accepted, in bytes.
        max: usize,
    },
    /// The `/info` document nests deeper than the limit.
    InfoTooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
    /// The `/info` document is not a JSON object of the expected shape.
    InvalidJson,
    /// A required field is absent.
    MissingField(&'static str),
    /// A field is not hex of the expected length.
    BadHex(&'static str, HexError),
    /// The public key has the wrong length for its group.
    PublicKeyLength {
        /// The expected length, in bytes.
        expected: usize,
    },
    /// The public key is not a valid point of the prime-order subgroup (or is
    /// the identity).
    InvalidPublicKey,
    /// The public key is not in the group the scheme puts keys in.
    PublicKeyGroup {
        /// The group the scheme requires.
        expected: Group,
    },
    /// The period is 0 or does not fit drand's 32-bit field.
    PeriodOutOfRange,
    /// The genesis time is negative or beyond `i64::MAX`.
    GenesisOutOfRange,
    /// The beacon id is too long or has characters drand ids never have.
    InvalidBeaconId,
    /// The chain hash in the document differs from the one recomputed from its
    /// parameters.
    HashMismatch,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownChain => f.write_str(
                "unknown chain name (built-in: quicknet, quicknet-t, default, fastnet, testnet-unchained)",
            ),
            Self::UnsupportedScheme => f.write_str(
                "unsupported drand scheme (supported: bls-unchained-g1-rfc9380, bls-unchained-on-g1, pedersen-bls-unchained, pedersen-bls-chained)",
            ),
            Self::InfoTooLarge { max } => write!(f, "chain info is larger than {max} bytes"),
            Self::InfoTooDeep { max } => write!(f, "chain info nests deeper than {max} levels"),
            Self::InvalidJson => f.write_str("chain info is not a valid drand /info JSON object"),
            Self::MissingField(name) => write!(f, "chain info has no `{name}` field"),
            Self::BadHex(name, e) => write!(f, "chain info field `{name}`: {e}"),
            Self::PublicKeyLength { expected } => {
                write!(f, "public key must be {expected} bytes for this scheme")
            }
            Self::InvalidPublicKey => {
                f.write_str("public key is not a valid point of the BLS12-381 prime-order subgroup")
            }
            Self::PublicKeyGroup { expected } => write!(f, "public key must be on {expected:?}"),
            Self::PeriodOutOfRange => f.write_str("period must be between 1 and 4294967295 seconds"),
            Self::GenesisOutOfRange => {
                f.write_str("genesis_time must be between 0 and 9223372036854775807")
            }
            Self::InvalidBeaconId => write!(
                f,
                "beacon id must be at most {MAX_BEACON_ID_LEN} characters of [A-Za-z0-9._-]"
            ),
            Self::HashMismatch => {
                f.write_str("chain hash does not match the hash recomputed from the chain parameters")
            }
        }
    }
}

impl core::error::Error for ChainError {}
