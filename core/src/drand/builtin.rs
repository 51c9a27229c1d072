//! The drand networks veil knows by name, with their published parameters.

use core::fmt;
use core::num::NonZeroU32;

use hex_literal::hex;

use super::chain::{Chain, ChainError, PublicKey, Scheme};
use super::round::ChainTime;

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
