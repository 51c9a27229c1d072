//! Beacon verification per scheme (one multi-Miller loop + one final
//! exponentiation + hash-to-curve + subgroup check of the signature), and
//! chain construction from a drand `/info` document.

use core::hint::black_box;
use criterion::{Criterion, criterion_group, criterion_main};
use veil_core::{Beacon, Chain, Round};

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// Public beacons (sources: drand/tlock tests, drand-client test/data.ts,
// tlock-rs tests, tlock-js mock client).
const CASES: &[(&str, &str, u64, &str, Option<&str>)] = &[
    (
        "quicknet (g1-rfc9380)",
        "quicknet",
        1000,
        "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39",
        None,
    ),
    (
        "fastnet (unchained-on-g1)",
        "fastnet",
        1000,
        "b09eacd45767c4d58306b98901ad0d6086e2663766f3a4ec71d00cf26f0f49eaf248abc7151c60cf419c4e8b37e80412",
        None,
    ),
    (
        "testnet-unchained (pedersen-unchained, G2 sig)",
        "testnet-unchained",
        1000,
        "a4721e6c3eafcd823f138cd29c6c82e8c5149101d0bb4bafddbac1c2d1fe3738895e4e21dd4b8b41bf007046440220910bb1cdb91f50a84a0d7f33ff2e8577aa62ac64b35a291a728a9db5ac91e06d1312b48a376138d77b4d6ad27c24221afe",
        None,
    ),
    (
        "default (pedersen-chained, G2 sig)",
        "default",
        1,
        "8d61d9100567de44682506aea1a7a6fa6e5491cd27a0a0ed349ef6910ac5ac20ff7bc3e09d7c046566c9f7f3c6f3b10104990e7cb424998203d8f7de586fb7fa5f60045417a432684f85093b06ca91c769f0e7ca19268375e659c2a2352b4655",
        Some("176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a"),
    ),
];

fn verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("beacon_verify");
    for &(label, chain, round, sig, prev) in CASES {
        let chain = Chain::builtin(chain).unwrap();
        let sig = hex(sig);
        let prev = prev.map(hex);
        let beacon = Beacon {
            round: Round::new(round).unwrap(),
            signature: &sig,
            previous_signature: prev.as_deref(),
        };
        chain
            .verify_beacon(&beacon)
            .expect("benchmark beacon is valid");
        g.bench_function(label, |b| {
            b.iter(|| chain.verify_beacon(black_box(&beacon)))
        });
    }
    g.finish();
}

fn hash_to_curve(c: &mut Criterion) {
    let msg = veil_core::hash::unchained_message(Round::new(1000).unwrap());
    let mut g = c.benchmark_group("hash_to_curve");
    g.bench_function("hash-to-G1 (quicknet round identity)", |b| {
        b.iter(|| veil_core::hash::hash_to_g1(black_box(&msg), veil_core::hash::DST_G1_RFC9380))
    });
    g.bench_function("hash-to-G2 (pedersen round identity)", |b| {
        b.iter(|| veil_core::hash::hash_to_g2(black_box(&msg), veil_core::hash::DST_G2))
    });
    g.finish();
}

fn chain_info(c: &mut Criterion) {
    let info = br#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","groupHash":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","schemeID":"bls-unchained-g1-rfc9380","metadata":{"beaconID":"quicknet"}}"#;
    c.bench_function("chain_from_info_json (quicknet)", |b| {
        b.iter(|| Chain::from_info_json(black_box(info)).unwrap())
    });
    c.bench_function("chain_builtin (quicknet)", |b| {
        b.iter(|| Chain::builtin(black_box("quicknet")).unwrap())
    });
}

criterion_group!(benches, verify, hash_to_curve, chain_info);
criterion_main!(benches);
