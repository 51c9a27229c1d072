//! veil's signed extrinsics, byte for byte, against an independent decoder:
//! polkadot.js (`tests/peers/chain/chain.mjs decode`) decodes each one under
//! the runtime's metadata and checks its sr25519 signature over the payload
//! it builds itself from the same fields.
//!
//! Two runtimes: spec 218 (`../shared/chain/metadata-spec218.hex`, the one
//! the end-to-end test executes) and a mainnet-shaped one: spec 219's
//! metadata (`@bitgo/sdk-coin-tao` 1.16.4, unpacked by the test set-up) with
//! today's transaction-extension list put in, as subtensor's
//! `runtime/src/lib.rs` (HEAD 14bc6f9f) declares it.

extern crate alloc;

use alloc::sync::Arc;

use serde_json::{Value, json};
use subxt::OfflineClient;
use subxt::dynamic::{self, Value as V};
use subxt::ext::codec::{Decode as _, Encode as _};
use subxt::ext::frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use subxt::utils::H256;
use veil::chain::config::{Signer, SubtensorConfig, TxParams, check_extensions};
use veil_core::sign::Keypair;
use veil_tests::chopsticks::{chain_dir, harness};
use veil_tests::{Scratch, hex_of, shared_file};

const SEED: [u8; 32] = [0x42; 32];

fn key() -> Keypair {
    Keypair::from_mini_secret(&SEED).unwrap()
}

fn hex_file(path: &std::path::Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    veil::args::parse_hex("metadata", text.trim()).unwrap()
}

/// The calls veil sends, dynamically encoded from the metadata.
fn calls() -> Vec<(&'static str, subxt::tx::DynamicPayload<Vec<V>>)> {
    let commitment = [b'a'; 128];
    vec![
        (
            "set_commitment",
            dynamic::tx(
                "Commitments",
                "set_commitment",
                vec![
                    V::u128(2),
                    V::named_composite([(
                        "fields",
                        V::unnamed_composite([V::unnamed_variant(
                            "Raw128",
                            [V::from_bytes(commitment)],
                        )]),
                    )]),
                ],
            ),
        ),
        (
            "serve_axon",
            dynamic::tx(
                "SubtensorModule",
                "serve_axon",
                vec![
                    V::u128(2),
                    V::u128(1000),
                    V::u128(0xCB00_7107), // 203.0.113.7
                    V::u128(8091),
                    V::u128(4),
                    V::u128(4),
                    V::u128(0),
                    V::u128(0),
                ],
            ),
        ),
        (
            "set_weights",
            dynamic::tx(
                "SubtensorModule",
                "set_weights",
                vec![
                    V::u128(2),
                    V::unnamed_composite([V::u128(1), V::u128(2)]),
                    V::unnamed_composite([V::u128(65535), V::u128(21845)]),
                    V::u128(7),
                ],
            ),
        ),
    ]
}

const GENESIS: [u8; 32] = [0x45; 32];
const BLOCK: [u8; 32] = [0x11; 32];

/// Signs each call offline under `metadata` and has polkadot.js decode and
/// verify it.
fn sign_and_decode(metadata_bytes: &[u8], spec: u32, user_extensions: Option<&Value>, tag: &str) {
    let Some(dir) = chain_dir() else { return };
    let scratch = Scratch::new(tag);
    let metadata_path = scratch.path().join("metadata.hex");
    std::fs::write(&metadata_path, format!("0x{}", hex_of(metadata_bytes))).unwrap();
    let user_path = scratch.path().join("user.json");
    if let Some(u) = user_extensions {
        std::fs::write(&user_path, u.to_string()).unwrap();
    }
    let metadata = subxt::Metadata::decode_from(metadata_bytes).unwrap();
    let config = SubtensorConfig::offline(spec, 1, H256(GENESIS), Arc::new(metadata));
    let client = OfflineClient::new_with_config(config);
    let at = client.at_block(0u64).unwrap();
    let key = key();
    for (name, call) in calls() {
        let params = TxParams {
            tip: 7,
            mortal_blocks: 64,
            nonce: Some(5),
            block: Some((1000, H256(BLOCK))),
        };
        let mut signable = at.tx().create_v4_signable_offline(&call, params).unwrap();
        let bytes = signable.sign(&Signer(&key)).unwrap().into_encoded();
        let hex = format!("0x{}", hex_of(&bytes));
        let mut args = vec![
            "decode".to_owned(),
            metadata_path.display().to_string(),
            hex.clone(),
            spec.to_string(),
            "1".to_owned(),
            format!("0x{}", hex_of(&GENESIS)),
            format!("0x{}", hex_of(&BLOCK)),
        ];
        if user_extensions.is_some() {
            args.push(user_path.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = harness(&dir, &args);
        assert_eq!(d["signed"], true, "{name}: {d}");
        assert_eq!(
            d["verified"], true,
            "{name}: signature over polkadot.js's payload: {d}"
        );
        assert_eq!(d["bytes"], true, "{name}: re-encoded bytes differ: {d}");
        assert_eq!(d["signer"], veil::keys::address_of(&key.public()), "{name}");
        assert_eq!(d["nonce"], 5, "{name}: {d}");
        assert_eq!(d["tip"], "7", "{name}: {d}");
        let camel = match name {
            "set_commitment" => "setCommitment",
            "serve_axon" => "serveAxon",
            _ => "setWeights",
        };
        assert_eq!(d["method"], camel, "{name}: {d}");
        assert!(
            d["era"].to_string().to_lowercase().contains("mortal"),
            "{name}: {d}"
        );
        eprintln!(
            "{tag} {name}: {} bytes decoded and verified by polkadot.js",
            bytes.len()
        );
    }
}

#[test]
fn spec_218_extrinsics_decode_and_verify_with_polkadot_js() {
    let Some(path) = shared_file("chain/metadata-spec218.hex") else {
        return;
    };
    let bytes = hex_file(&path);
    let metadata = subxt::Metadata::decode_from(&bytes).unwrap();
    // spec 218's list, read from its metadata.
    assert_eq!(
        check_extensions(&metadata).unwrap(),
        [
            "CheckNonZeroSender",
            "CheckSpecVersion",
            "CheckTxVersion",
            "CheckGenesis",
            "CheckMortality",
            "CheckNonce",
            "CheckWeight",
            "ChargeTransactionPayment",
            "SubtensorSignedExtension",
            "CommitmentsSignedExtension",
            "CheckMetadataHash",
        ]
    );
    sign_and_decode(&bytes, 218, None, "xt218");
}

/// Today's extension list (subtensor HEAD 14bc6f9f, `runtime/src/lib.rs`
/// `TransactionExtensions`), put into spec 219's metadata: the wrapper
/// carries a compact tip; the four custom ones carry nothing.
fn with_todays_extensions(bytes: &[u8], extra: Option<(&str, bool)>) -> Vec<u8> {
    use scale_info::{Field, PortableType, Type, TypeDef, TypeDefComposite};
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..]).unwrap();
    let RuntimeMetadata::V14(m) = &mut prefixed.1 else {
        panic!("spec 219's metadata is V14")
    };
    let find = |name: &str| {
        m.extrinsic
            .signed_extensions
            .iter()
            .find(|e| e.identifier == name)
            .unwrap_or_else(|| panic!("{name} in spec 219"))
            .clone()
    };
    let payment = find("ChargeTransactionPayment");
    let empty = find("SubtensorSignedExtension");
    let u32_ty = m
        .types
        .types
        .iter()
        .find(|t| {
            matches!(
                t.ty.type_def,
                TypeDef::Primitive(scale_info::TypeDefPrimitive::U32)
            )
        })
        .unwrap()
        .id;
    let mut push_type = |fields: Vec<Field<scale_info::form::PortableForm>>, name: &str| {
        let id = u32::try_from(m.types.types.len()).unwrap();
        m.types.types.push(PortableType {
            id,
            ty: Type {
                path: scale_info::Path {
                    segments: vec!["veil_test".into(), name.into()],
                },
                type_params: vec![],
                type_def: TypeDef::Composite(TypeDefComposite { fields }),
                docs: vec![],
            },
        });
        id
    };
    let wrapper_ty = push_type(
        vec![Field {
            name: None,
            ty: payment.ty,
            type_name: Some("ChargeTransactionPayment<T>".into()),
            docs: vec![],
        }],
        "ChargeTransactionPaymentWrapper",
    );
    let extra_ty = extra.map(|(name, non_empty)| {
        let fields = if non_empty {
            vec![Field {
                name: Some("data".into()),
                ty: u32_ty.into(),
                type_name: Some("u32".into()),
                docs: vec![],
            }]
        } else {
            vec![]
        };
        (name.to_owned(), push_type(fields, name))
    });
    let mut list = Vec::new();
    for e in m.extrinsic.signed_extensions.drain(..) {
        match e.identifier.as_str() {
            "ChargeTransactionPayment" => {
                let mut w = e.clone();
                w.identifier = "ChargeTransactionPaymentWrapper".into();
                w.ty = wrapper_ty.into();
                list.push(w);
                for name in [
                    "SudoTransactionExtension",
                    "CheckShieldedTxValidity",
                    "SubtensorTransactionExtension",
                    "DrandPriority",
                ] {
                    let mut x = empty.clone();
                    x.identifier = name.into();
                    list.push(x);
                }
                if let Some((name, ty)) = &extra_ty {
                    let mut x = empty.clone();
                    x.identifier = name.clone();
                    x.ty = (*ty).into();
                    list.push(x);
                }
            }
            "SubtensorSignedExtension" | "CommitmentsSignedExtension" => {}
            _ => list.push(e),
        }
    }
    m.extrinsic.signed_extensions = list;
    prefixed.encode()
}

fn mainnet_metadata() -> Option<Vec<u8>> {
    let dir = chain_dir()?;
    Some(hex_file(&dir.join("metadata/spec219-mainnet.hex")))
}

#[test]
fn todays_extension_list_encodes_and_verifies_with_polkadot_js() {
    let Some(bytes) = mainnet_metadata() else {
        return;
    };
    let today = with_todays_extensions(&bytes, None);
    let metadata = subxt::Metadata::decode_from(&today).unwrap();
    assert_eq!(
        check_extensions(&metadata).unwrap(),
        [
            "CheckNonZeroSender",
            "CheckSpecVersion",
            "CheckTxVersion",
            "CheckGenesis",
            "CheckMortality",
            "CheckNonce",
            "CheckWeight",
            "ChargeTransactionPaymentWrapper",
            "SudoTransactionExtension",
            "CheckShieldedTxValidity",
            "SubtensorTransactionExtension",
            "DrandPriority",
            "CheckMetadataHash",
        ]
    );
    // polkadot.js knows none of the new names: it is told what subtensor's
    // source says they carry (the wrapper a compact tip, the rest nothing).
    let empty = json!({"extrinsic": {}, "payload": {}});
    let user = json!({
        "ChargeTransactionPaymentWrapper": {"extrinsic": {"tip": "Compact<Balance>"}, "payload": {}},
        "SudoTransactionExtension": empty,
        "CheckShieldedTxValidity": empty,
        "SubtensorTransactionExtension": empty,
        "DrandPriority": empty,
    });
    sign_and_decode(&today, 219, Some(&user), "xt219");
}

#[test]
fn an_unknown_extension_that_carries_data_is_refused_by_name() {
    let Some(bytes) = mainnet_metadata() else {
        return;
    };
    // An empty unknown one is fine.
    let fine = with_todays_extensions(&bytes, Some(("FutureNoOp", false)));
    assert!(check_extensions(&subxt::Metadata::decode_from(&fine).unwrap()).is_ok());
    // One that carries bytes veil cannot know is named, and nothing is signed.
    let bad = with_todays_extensions(&bytes, Some(("FutureFeeSplit", true)));
    let metadata = subxt::Metadata::decode_from(&bad).unwrap();
    let e = check_extensions(&metadata).unwrap_err();
    assert!(e.contains("`FutureFeeSplit`"), "{e}");
    let config = SubtensorConfig::offline(219, 1, H256(GENESIS), Arc::new(metadata));
    let client = OfflineClient::new_with_config(config);
    let at = client.at_block(0u64).unwrap();
    let (_, call) = calls().remove(2);
    let err = at
        .tx()
        .create_v4_signable_offline(&call, TxParams::default())
        .err()
        .expect("an extrinsic for a runtime veil cannot sign for");
    assert!(err.to_string().contains("FutureFeeSplit"), "{err}");
}
