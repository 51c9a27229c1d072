//! Chains read from drand `/info` documents: accepted when the recomputed hash
//! matches, refused — with a reason naming the problem — otherwise.

use veil_core::{Chain, ChainError, Scheme, encoding::HexError, limits};

// drand quicknet `/info` as served by the relays (v1 API).
const QUICKNET_INFO: &str = r#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","groupHash":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","schemeID":"bls-unchained-g1-rfc9380","metadata":{"beaconID":"quicknet"}}"#;

// drand mainnet `default` `/info` (the oldest shape: no schemeID in early
// relays' answers, beaconID "default" not hashed).
const DEFAULT_INFO: &str = r#"{
  "public_key": "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31",
  "period": 30,
  "genesis_time": 1595431050,
  "hash": "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
  "groupHash": "176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a"
}"#;

fn parse(json: &str) -> Result<Chain, ChainError> {
    Chain::from_info_json(json.as_bytes())
}

#[test]
fn real_info_documents_match_builtins() {
    assert_eq!(parse(QUICKNET_INFO), Chain::builtin("quicknet"));
    let default = parse(DEFAULT_INFO).unwrap();
    assert_eq!(default.scheme(), Scheme::PedersenChained);
    assert_eq!(default.hash(), Chain::builtin("default").unwrap().hash());
}

#[test]
fn chains_write_the_info_document_they_read() {
    let quicknet = Chain::builtin("quicknet").unwrap();
    assert_eq!(quicknet.info_json().to_string(), QUICKNET_INFO);
    for b in veil_core::BuiltinChain::ALL {
        let chain = b.chain().unwrap();
        let written = chain.info_json().to_string();
        assert_eq!(parse(&written).as_ref(), Ok(&chain), "{b}: {written}");
    }
}

#[test]
fn unknown_fields_and_v2_names_are_accepted() {
    let extra = QUICKNET_INFO.replace(
        r#""period":3"#,
        r#""period":3,"future":{"nested":[1,2,{"x":"y"}]},"flag":true,"n":null"#,
    );
    assert_eq!(parse(&extra), Chain::builtin("quicknet"));
    let v2 = r#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"genesis_seed":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","chain_hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","scheme":"bls-unchained-g1-rfc9380","beacon_id":"quicknet"}"#;
    assert_eq!(parse(v2), Chain::builtin("quicknet"));
    // Hex may be upper-case and carry 0x.
    let upper = QUICKNET_INFO.replace(
        "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
        "0x52DB9BA70E0CC0F6EAF7803DD07447A1F5477735FD3F661792BA94600C84E971",
    );
    assert_eq!(parse(&upper), Chain::builtin("quicknet"));
}

#[test]
fn any_changed_parameter_breaks_the_hash() {
    for (from, to) in [
        (r#""period":3"#, r#""period":4"#),
        ("1692803367", "1692803368"),
        (r#""beaconID":"quicknet""#, r#""beaconID":"quicknet2""#),
        (r#""beaconID":"quicknet""#, r#""beaconID":"default""#),
        ("f477d5c8", "f477d5c9"),
        ("52db9ba7", "52db9ba8"),
    ] {
        let changed = QUICKNET_INFO.replace(from, to);
        assert_ne!(changed, QUICKNET_INFO);
        assert_eq!(
            parse(&changed),
            Err(ChainError::HashMismatch),
            "{from} -> {to}"
        );
    }
    // A different scheme id for the same key is refused: quicknet's key is on
    // G2, a pedersen key must be on G1.
    let changed = QUICKNET_INFO.replace("bls-unchained-g1-rfc9380", "pedersen-bls-unchained");
    assert_eq!(
        parse(&changed),
        Err(ChainError::PublicKeyLength { expected: 48 })
    );
    // The scheme id is not in drand's hash: fastnet's scheme with quicknet's
    // parameters hashes the same. veil accepts it as drand would; the DST then
    // differs, so quicknet beacons do not verify under it.
    let changed = QUICKNET_INFO.replace("bls-unchained-g1-rfc9380", "bls-unchained-on-g1");
    assert_eq!(parse(&changed).unwrap().scheme(), Scheme::UnchainedOnG1);
}

#[test]
fn malformed_documents_name_the_problem() {
    let cases: Vec<(String, ChainError)> = vec![
        ("".into(), ChainError::InvalidJson),
        ("[]".into(), ChainError::InvalidJson),
        ("{".into(), ChainError::InvalidJson),
        ("null".into(), ChainError::InvalidJson),
        (
            QUICKNET_INFO.replace(r#""period":3"#, r#""period":"3""#),
            ChainError::InvalidJson,
        ),
        (
            QUICKNET_INFO.replace(r#""period":3,"#, ""),
            ChainError::MissingField("period"),
        ),
        (
            QUICKNET_INFO.replace(r#""period":3"#, r#""period":0"#),
            ChainError::PeriodOutOfRange,
        ),
        (
            QUICKNET_INFO.replace(r#""period":3"#, r#""period":4294967296"#),
            ChainError::PeriodOutOfRange,
        ),
        (
            QUICKNET_INFO.replace("1692803367", "-1"),
            ChainError::GenesisOutOfRange,
        ),
        (
            QUICKNET_INFO.replace("1692803367", "99999999999999999999"),
            ChainError::InvalidJson,
        ),
        (
            QUICKNET_INFO.replace("bls-unchained-g1-rfc9380", "bls-bn254-unchained-on-g1"),
            ChainError::UnsupportedScheme,
        ),
        (
            QUICKNET_INFO.replace(r#""beaconID":"quicknet""#, r#""beaconID":"quick net""#),
            ChainError::InvalidBeaconId,
        ),
        (
            QUICKNET_INFO.replace(r#""beaconID":"quicknet""#, r#""beaconID":"quick\"net""#),
            ChainError::InvalidBeaconId,
        ),
        (
            QUICKNET_INFO.replace(
                r#""beaconID":"quicknet""#,
                &format!(r#""beaconID":"{}""#, "a".repeat(65)),
            ),
            ChainError::InvalidBeaconId,
        ),
        (
            QUICKNET_INFO.replace("83cf0f28", "83cf0f29"),
            ChainError::InvalidPublicKey,
        ),
        (
            QUICKNET_INFO.replace("83cf0f28", "zzcf0f28"),
            ChainError::BadHex("public_key", HexError::InvalidCharacter),
        ),
        (
            QUICKNET_INFO.replace("83cf0f28", "83cf0f2800"),
            ChainError::BadHex("public_key", HexError::TooLong { max: 96 }),
        ),
        (
            QUICKNET_INFO.replace("52db9ba7", "52db9b"),
            ChainError::BadHex(
                "hash",
                HexError::WrongLength {
                    expected: 32,
                    found_digits: 62,
                },
            ),
        ),
        (
            QUICKNET_INFO.replace(r#""groupHash""#, r#""group""#),
            ChainError::MissingField("groupHash"),
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(parse(&json), Err(expected), "{json}");
        // Every error renders as one line.
        assert!(!expected.to_string().contains('\n'));
    }
}

#[test]
fn size_and_depth_are_bounded_before_parsing() {
    let big = format!(
        "{}{}",
        " ".repeat(limits::MAX_CHAIN_INFO_JSON_LEN),
        QUICKNET_INFO
    );
    assert_eq!(
        parse(&big),
        Err(ChainError::InfoTooLarge {
            max: limits::MAX_CHAIN_INFO_JSON_LEN
        })
    );
    // Padding up to the limit is fine.
    let padded = format!(
        "{QUICKNET_INFO}{}",
        " ".repeat(limits::MAX_CHAIN_INFO_JSON_LEN - QUICKNET_INFO.len())
    );
    assert_eq!(parse(&padded), Chain::builtin("quicknet"));
    // Deep nesting in an ignored field would otherwise recurse without bound.
    let deep = QUICKNET_INFO.replace(
        r#""period":3"#,
        &format!(r#""period":3,"x":{}{}"#, "[".repeat(5000), "]".repeat(5000)),
    );
    assert_eq!(
        parse(&deep),
        Err(ChainError::InfoTooDeep {
            max: limits::MAX_JSON_DEPTH
        })
    );
}
