//! sr25519 sign/verify (schnorrkel, substrate context), SS58, and MIID
//! framing: S3Submission encode/decode and ImageRequest metadata decoding.

use core::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::miid::{self, ImageRequestMeta, S3Submission};
use veil_core::sign::Keypair;
use veil_core::ss58;

fn sign(c: &mut Criterion) {
    let kp = Keypair::from_mini_secret(&[7; 32]).unwrap();
    let pk = kp.public();
    let msg = b"challenge:challenge_1767000000_5DfhGyQd:hash:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let sig = kp.sign(msg, &mut rng);
    let mut g = c.benchmark_group("sr25519");
    g.bench_function("sign", |b| b.iter(|| kp.sign(black_box(msg), &mut rng)));
    g.bench_function("verify", |b| {
        b.iter(|| pk.verify(black_box(msg), &sig).unwrap())
    });
    let wrapped = kp.sign(
        &[b"<Bytes>".as_slice(), msg, b"</Bytes>"].concat(),
        &mut rng,
    );
    g.bench_function("verify <Bytes>-wrapped (second try)", |b| {
        b.iter(|| pk.verify(black_box(msg), &wrapped).unwrap())
    });
    let addr = ss58::encode(42, &pk.to_bytes());
    g.bench_function("ss58 decode", |b| {
        b.iter(|| ss58::decode(black_box(&addr)).unwrap())
    });
    g.finish();
}

fn framing(c: &mut Criterion) {
    let key = "submissions/challenge_1767000000_5Dfh/5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV/0123456789abcdef/face/pose_edit_1767000000_0.png.tlock";
    let sig = "4eeb6405aa4e355dd29e59c5d394ef62d01877d7166313a463050f8c515a43228b706d445cfc42e1fa1b06618079ba451bc0602f4b3c30451b226ac992d77e81";
    let s = S3Submission::new(
        key,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        sig,
        "pose_edit",
        "0123456789abcdef",
    );
    let mut buf = [0u8; 2048];
    let json = s.encode(&mut buf).unwrap().to_vec();
    let mut g = c.benchmark_group("miid_framing");
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("S3Submission encode", |b| {
        b.iter(|| s.encode(black_box(&mut buf)).unwrap().len())
    });
    g.bench_function("S3Submission decode", |b| {
        b.iter(|| S3Submission::decode(black_box(&json)).unwrap())
    });
    // An ImageRequest carrying a 1 MiB base64 image that the decoder skips.
    let image = "A".repeat(1 << 20);
    let req = format!(
        r#"{{"base_image":"{image}","image_filename":"face.png","variation_requests":[{{"type":"pose_edit","intensity":"far","description":"d","detail":"x"}}],"target_drand_round":34169651,"reveal_timestamp":1795312317,"challenge_id":"c1"}}"#
    );
    g.throughput(Throughput::Bytes(req.len() as u64));
    g.bench_function("ImageRequest meta decode (1 MiB image skipped)", |b| {
        b.iter(|| ImageRequestMeta::decode(black_box(req.as_bytes())).unwrap())
    });
    g.throughput(Throughput::Elements(1));
    let parts = miid::KeyParts {
        challenge_id: "challenge_1767000000_5Dfh",
        miner_ss58: "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV",
        path_signature: "0123456789abcdef",
        image_filename: "face.png",
        variation_type: "lighting_edit+pose_edit",
        unix_ts: 1_767_000_000,
        index: 0,
    };
    g.bench_function("object_key build+validate", |b| {
        b.iter(|| miid::object_key(black_box(&parts)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, sign, framing);
criterion_main!(benches);
