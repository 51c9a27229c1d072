//! How veil signs for subtensor: the chain's types, its transaction
//! extensions encoded from the metadata the node serves, and the hotkey as
//! signer.
//!
//! ## Transaction extensions
//!
//! A signed extrinsic carries, for each extension the runtime lists in its
//! metadata and in that order, a *value* (in the extrinsic) and an
//! *implicit* (signed, never sent). The list changes between runtimes:
//! spec 218 ends `ChargeTransactionPayment, SubtensorSignedExtension,
//! CommitmentsSignedExtension, CheckMetadataHash`; today's runtime
//! (subtensor `runtime/src/lib.rs`) ends `ChargeTransactionPaymentWrapper,
//! SudoTransactionExtension, CheckShieldedTxValidity,
//! SubtensorTransactionExtension, DrandPriority, CheckMetadataHash`. So the
//! list is read from the metadata and each entry is encoded from its type:
//!
//! | extension | value | implicit |
//! |---|---|---|
//! | an empty type (no bytes) | nothing | nothing |
//! | `CheckSpecVersion`, `CheckTxVersion` | — | u32 |
//! | `CheckGenesis` | — | genesis hash |
//! | `CheckMortality` | era | hash of the era's birth block |
//! | `CheckNonce` | compact nonce | — |
//! | `ChargeTransactionPayment`, `ChargeTransactionPaymentWrapper` | compact tip | — |
//! | `CheckMetadataHash` | mode 0 (off) | `None` |
//! | any other non-empty one | a clear error naming it | |

use core::fmt;

use scale_info::PortableRegistry;
use subxt::config::substrate::{BlakeTwo256, SubstrateHeader};
use subxt::config::transaction_extensions::Params;
use subxt::config::{ClientState, Config, TransactionExtensions};
use subxt::error::TransactionExtensionError;
use subxt::ext::codec::Encode as _;
use subxt::ext::frame_decode::extrinsics::{
    TransactionExtensions as EncodeExtensions, TransactionExtensionsError,
};
use subxt::ext::scale_encode::EncodeAsType as _;
use subxt::utils::{AccountId32, Era, H256, MultiAddress, MultiSignature};
use subxt::{ArcMetadata, SubstrateConfig};
use veil_core::sign::Keypair;

/// Extensions whose bytes veil knows how to fill (any other must be empty).
pub const KNOWN_EXTENSIONS: [&str; 8] = [
    "CheckSpecVersion",
    "CheckTxVersion",
    "CheckGenesis",
    "CheckMortality",
    "CheckNonce",
    "ChargeTransactionPayment",
    "ChargeTransactionPaymentWrapper",
    "CheckMetadataHash",
];

/// subtensor's types, with the metadata cache of [`SubstrateConfig`] (so a
/// client does not download the metadata again for every block).
#[derive(Clone, Debug, Default)]
pub struct SubtensorConfig(SubstrateConfig);

impl SubtensorConfig {
    /// A config that knows nothing yet (an online client fills it).
    pub fn new() -> Self {
        Self(SubstrateConfig::new())
    }

    /// A config for signing offline: one runtime (`spec`, `tx_version`,
    /// `metadata`) from block 0 on, and the chain's genesis hash.
    pub fn offline(spec: u32, tx_version: u32, genesis: H256, metadata: ArcMetadata) -> Self {
        Self(
            SubstrateConfig::builder()
                .set_genesis_hash(genesis)
                .set_metadata_for_spec_versions([(spec, metadata)])
                .set_spec_version_for_block_ranges([
                    subxt::config::substrate::SpecVersionForRange {
                        block_range: 0..u64::MAX,
                        spec_version: spec,
                        transaction_version: tx_version,
                    },
                ])
                .build(),
        )
    }
}

impl Config for SubtensorConfig {
    type AccountId = AccountId32;
    type Address = MultiAddress<AccountId32, ()>;
    type Signature = MultiSignature;
    type Hasher = BlakeTwo256;
    type Header = SubstrateHeader<H256>;
    type TransactionExtensions = Extensions;
    type AssetId = u32;

    fn genesis_hash(&self) -> Option<H256> {
        self.0.genesis_hash()
    }

    fn spec_and_transaction_version_for_block_number(&self, block: u64) -> Option<(u32, u32)> {
        self.0.spec_and_transaction_version_for_block_number(block)
    }

    fn metadata_for_spec_version(&self, spec: u32) -> Option<ArcMetadata> {
        self.0.metadata_for_spec_version(spec)
    }

    fn set_metadata_for_spec_version(&self, spec: u32, metadata: ArcMetadata) {
        self.0.set_metadata_for_spec_version(spec, metadata);
    }
}

/// What a caller chooses for one extrinsic; subxt injects the rest.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxParams {
    /// The tip, in rao.
    pub tip: u128,
    /// Mortality in blocks (rounded up to a power of two, 4..=65536); 0 is
    /// immortal.
    pub mortal_blocks: u64,
    /// The nonce; `None` takes the one subxt reads at the anchor block.
    pub nonce: Option<u64>,
    /// The anchor block (number, hash), injected by subxt when online.
    pub block: Option<(u64, H256)>,
}

impl Params<SubtensorConfig> for TxParams {
    fn inject_account_nonce(&mut self, nonce: u64) {
        self.nonce.get_or_insert(nonce);
    }

    fn inject_block(&mut self, number: u64, hash: H256) {
        self.block = Some((number, hash));
    }
}

impl subxt::tx::DefaultParams for TxParams {
    fn default_params() -> Self {
        Self {
            mortal_blocks: 64,
            ..Self::default()
        }
    }
}

/// The extension bytes of one extrinsic.
#[derive(Clone, Debug)]
pub struct Extensions {
    spec: u32,
    tx_version: u32,
    genesis: H256,
    nonce: u64,
    tip: u128,
    era: Era,
    birth: H256,
}

/// Whether `ty` encodes to no bytes (a composite or tuple of empty types,
/// or an array of length 0).
pub fn is_empty_type(ty: u32, types: &PortableRegistry) -> bool {
    fn go(ty: u32, types: &PortableRegistry, depth: u8) -> bool {
        let Some(t) = types.resolve(ty) else {
            return false;
        };
        if depth > 16 {
            return false;
        }
        match &t.type_def {
            scale_info::TypeDef::Composite(c) => {
                c.fields.iter().all(|f| go(f.ty.id, types, depth + 1))
            }
            scale_info::TypeDef::Tuple(t) => t.fields.iter().all(|f| go(f.id, types, depth + 1)),
            scale_info::TypeDef::Array(a) => a.len == 0 || go(a.type_param.id, types, depth + 1),
            _ => false,
        }
    }
    go(ty, types, 0)
}

/// The runtime's extension list (version 0, as v4 extrinsics use), each
/// with whether veil can fill it: the first non-empty extension veil does
/// not know is an error naming it.
///
/// # Errors
///
/// The name of an extension that carries bytes veil cannot fill.
pub fn check_extensions(metadata: &subxt::Metadata) -> Result<Vec<String>, String> {
    let types = metadata.types();
    let mut names = Vec::new();
    for e in metadata
        .extrinsic()
        .transaction_extensions_by_version(0)
        .into_iter()
        .flatten()
    {
        let empty = is_empty_type(e.extra_ty(), types) && is_empty_type(e.additional_ty(), types);
        if !empty && !KNOWN_EXTENSIONS.contains(&e.identifier()) {
            return Err(format!(
                "the runtime's transaction extension `{}` carries data veil does not know how to fill",
                e.identifier()
            ));
        }
        names.push(e.identifier().to_owned());
    }
    Ok(names)
}

impl TransactionExtensions<SubtensorConfig> for Extensions {
    type Params = TxParams;

    fn new(
        client: &ClientState<SubtensorConfig>,
        params: TxParams,
    ) -> Result<Self, TransactionExtensionError> {
        check_extensions(&client.metadata).map_err(TransactionExtensionError::custom)?;
        let (era, birth) = match params.block {
            Some((number, hash)) if params.mortal_blocks > 0 => {
                (Era::mortal(params.mortal_blocks, number), hash)
            }
            _ => (Era::Immortal, client.genesis_hash),
        };
        Ok(Self {
            spec: client.spec_version,
            tx_version: client.transaction_version,
            genesis: client.genesis_hash,
            nonce: params.nonce.unwrap_or(0),
            tip: params.tip,
            era,
            birth,
        })
    }

    fn inject_signature(&mut self, _: &AccountId32, _: &MultiSignature) {}
}

fn failed(name: &str, e: impl fmt::Display) -> TransactionExtensionsError {
    TransactionExtensionsError::Other {
        extension_name: name.to_owned(),
        error: e.to_string().into(),
    }
}

impl EncodeExtensions<PortableRegistry> for Extensions {
    fn contains_extension(&self, name: &str) -> bool {
        KNOWN_EXTENSIONS.contains(&name)
    }

    // Called only for extensions whose value type is not empty.
    fn encode_extension_value_to(
        &self,
        name: &str,
        ty: u32,
        types: &PortableRegistry,
        out: &mut Vec<u8>,
    ) -> Result<(), TransactionExtensionsError> {
        match name {
            "CheckMortality" => {
                self.era.encode_to(out);
                Ok(())
            }
            "CheckNonce" => self
                .nonce
                .encode_as_type_to(ty, types, out)
                .map_err(|e| failed(name, e)),
            "ChargeTransactionPayment" | "ChargeTransactionPaymentWrapper" => self
                .tip
                .encode_as_type_to(ty, types, out)
                .map_err(|e| failed(name, e)),
            "CheckMetadataHash" => {
                out.push(0);
                Ok(())
            }
            _ => Err(failed(
                name,
                "an extension veil does not know carries a value",
            )),
        }
    }

    // Called only for extensions whose implicit type is not empty.
    fn encode_extension_implicit_to(
        &self,
        name: &str,
        ty: u32,
        types: &PortableRegistry,
        out: &mut Vec<u8>,
    ) -> Result<(), TransactionExtensionsError> {
        match name {
            "CheckSpecVersion" => self
                .spec
                .encode_as_type_to(ty, types, out)
                .map_err(|e| failed(name, e)),
            "CheckTxVersion" => self
                .tx_version
                .encode_as_type_to(ty, types, out)
                .map_err(|e| failed(name, e)),
            "CheckGenesis" => {
                self.genesis.encode_to(out);
                Ok(())
            }
            "CheckMortality" => {
                self.birth.encode_to(out);
                Ok(())
            }
            "CheckMetadataHash" => {
                out.push(0);
                Ok(())
            }
            _ => Err(failed(
                name,
                "an extension veil does not know carries an implicit",
            )),
        }
    }
}

/// A hotkey (or coldkey) signing extrinsics: sr25519 over the signer
/// payload with the `substrate` context, randomness from the OS.
pub struct Signer<'a>(pub &'a Keypair);

impl fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Signer").field(&self.0.public()).finish()
    }
}

impl subxt::tx::Signer<SubtensorConfig> for Signer<'_> {
    fn account_id(&self) -> AccountId32 {
        AccountId32(self.0.public().to_bytes())
    }

    fn sign(&self, payload: &[u8]) -> MultiSignature {
        let mut rng = rand_core::OsRng;
        MultiSignature::Sr25519(self.0.sign(payload, &mut rng).to_bytes())
    }
}
