//! Timelock: the per-round preparation, the IBE of each flavour, and every
//! format's seal/open at 1 KiB and 1 MiB (in memory, key ready: the beacon
//! is verified once per round, outside the loop, as a reveal does).

use core::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::ibe::{self, FileKey, PreparedRound, RoundKey, TleKey};
use veil_core::limits::AGE_CHUNK_LEN;
use veil_core::tle::{self, Layout};
use veil_core::{Beacon, Chain, Round, bittensor};

// drand quicknet round 1000 (public beacon).
const SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn setup() -> (PreparedRound, RoundKey, Chain) {
    let chain = Chain::builtin("quicknet").unwrap();
    let round = Round::new(1000).unwrap();
    let sig = hex::decode(SIG).unwrap();
    let beacon = chain
        .verify_beacon(&Beacon {
            round,
            signature: &sig,
            previous_signature: None,
        })
        .unwrap();
    (
        PreparedRound::new(&chain, round).unwrap(),
        RoundKey::from_verified(&beacon),
        chain,
    )
}

fn age_seal(p: &PreparedRound, pt: &[u8], rng: &mut ChaCha20Rng, chunk: &mut [u8]) -> Vec<u8> {
    let mut sealed = age::seal(p, rng).unwrap();
    let mut out = Vec::with_capacity(pt.len() + 512);
    out.extend_from_slice(sealed.prefix());
    let pieces: Vec<&[u8]> = if pt.is_empty() {
        vec![&[]]
    } else {
        pt.chunks(AGE_CHUNK_LEN).collect()
    };
    for (i, c) in pieces.iter().enumerate() {
        chunk[..c.len()].copy_from_slice(c);
        out.extend_from_slice(
            sealed
                .sealer
                .seal_chunk(chunk, c.len(), i + 1 == pieces.len())
                .unwrap(),
        );
    }
    out
}

fn age_open(sealed: &[u8], key: &RoundKey, chunk: &mut [u8], out: &mut Vec<u8>) {
    out.clear();
    let hdr = Header::parse(sealed).unwrap();
    let rest = &sealed[hdr.len()..];
    let nonce: [u8; PAYLOAD_NONCE_LEN] = rest[..PAYLOAD_NONCE_LEN].try_into().unwrap();
    let mut opener = hdr.open(key, &nonce).unwrap();
    let payload = &rest[PAYLOAD_NONCE_LEN..];
    let n = payload.len().div_ceil(MAX_CHUNK_CIPHERTEXT_LEN);
    for (i, c) in payload.chunks(MAX_CHUNK_CIPHERTEXT_LEN).enumerate() {
        let buf = &mut chunk[..c.len()];
        buf.copy_from_slice(c);
        out.extend_from_slice(opener.open_chunk(buf, i + 1 == n).unwrap());
    }
}

fn whole_seal(
    p: &PreparedRound,
    bittensor_fmt: bool,
    layout: Layout,
    pt: &[u8],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let n = pt.len();
    if bittensor_fmt {
        let mut buf = vec![0u8; bittensor::sealed_len(n).unwrap()];
        let off = bittensor::payload_offset(n).unwrap();
        buf[off..off + n].copy_from_slice(pt);
        bittensor::seal_in_place(p, &mut buf, n, rng).unwrap();
        buf
    } else {
        let mut buf = vec![0u8; layout.sealed_len(n).unwrap()];
        let off = layout.payload_offset();
        buf[off..off + n].copy_from_slice(pt);
        tle::seal_in_place(p, layout, &mut buf, n, rng).unwrap();
        buf
    }
}

fn whole_open(sealed: &mut [u8], bittensor_fmt: bool, layout: Layout, key: &RoundKey) -> usize {
    let range = if bittensor_fmt {
        bittensor::parse(sealed).unwrap().1
    } else {
        0..sealed.len()
    };
    let inner = &mut sealed[range];
    let parsed = tle::parse(inner, layout).unwrap();
    tle::open_in_place(&parsed, inner, key).unwrap().len()
}

fn primitives(c: &mut Criterion) {
    let (prepared, key, chain) = setup();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("timelock_primitives");
    g.bench_function("prepare_round (hash-to-G1 + pairing)", |b| {
        b.iter(|| PreparedRound::new(black_box(&chain), Round::new(1000).unwrap()).unwrap())
    });
    let fk = FileKey::from_bytes([7; 16]);
    g.bench_function("ibe drand/kyber encrypt (prepared)", |b| {
        b.iter(|| ibe::tlock_encrypt(&prepared, &fk, &mut rng).unwrap())
    });
    let ct = ibe::tlock_encrypt(&prepared, &fk, &mut rng).unwrap();
    g.bench_function("ibe drand/kyber decrypt", |b| {
        b.iter(|| ibe::tlock_decrypt(&key, black_box(&ct)).unwrap())
    });
    let esk = TleKey::from_bytes([9; 32]);
    g.bench_function("ibe ideal-lab encrypt (prepared)", |b| {
        b.iter(|| ibe::tle_encrypt(&prepared, &esk, &mut rng).unwrap())
    });
    let hdr = ibe::tle_encrypt(&prepared, &esk, &mut rng).unwrap();
    g.bench_function("ibe ideal-lab decrypt", |b| {
        b.iter(|| ibe::tle_decrypt(&key, black_box(&hdr)).unwrap())
    });
    g.finish();
}

fn formats(c: &mut Criterion) {
    let (prepared, key, _) = setup();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut chunk = vec![0u8; MAX_CHUNK_CIPHERTEXT_LEN];
    let mut out = Vec::new();
    for size in [1024usize, 1 << 20] {
        let pt = vec![0xA5u8; size];
        let mut g = c.benchmark_group(format!(
            "timelock_{}",
            if size == 1024 { "1KiB" } else { "1MiB" }
        ));
        g.throughput(Throughput::Bytes(size as u64));
        if size > 1024 {
            g.sample_size(20);
        }
        g.bench_function(BenchmarkId::new("seal", "age"), |b| {
            b.iter(|| age_seal(&prepared, black_box(&pt), &mut rng, &mut chunk))
        });
        let sealed = age_seal(&prepared, &pt, &mut rng, &mut chunk);
        g.bench_function(BenchmarkId::new("open", "age"), |b| {
            b.iter(|| age_open(black_box(&sealed), &key, &mut chunk, &mut out))
        });
        for (name, bt, layout) in [
            ("tle", false, Layout::Tle),
            ("tle-v03", false, Layout::TleV03),
            ("bittensor", true, Layout::Tle),
        ] {
            g.bench_function(BenchmarkId::new("seal", name), |b| {
                b.iter(|| whole_seal(&prepared, bt, layout, black_box(&pt), &mut rng))
            });
            let sealed = whole_seal(&prepared, bt, layout, &pt, &mut rng);
            g.bench_function(BenchmarkId::new("open", name), |b| {
                b.iter_batched_ref(
                    || sealed.clone(),
                    |s| whole_open(s, bt, layout, &key),
                    criterion::BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, primitives, formats);
criterion_main!(benches);
