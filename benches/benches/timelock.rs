//! Timelock: the per-round preparation, the IBE of each flavour (with and
//! without the round's precomputed table), and every format's seal/open at
//! 1 KiB, 1 MiB and 16 MiB (in memory, steady state: the round prepared and
//! precomputed, the beacon verified once per round outside the loop, as a
//! miner or a reveal does).

use core::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_benches::{Fmt, chunk_buffer, open, quicknet_r1000, seal};
use veil_core::Round;
use veil_core::ibe::{self, FileKey, PreparedRound, RoundKey, TleKey};

/// Quicknet round 1000, prepared *and* precomputed (steady state).
fn setup() -> (PreparedRound, RoundKey, veil_core::Chain) {
    let (chain, mut prepared, key) = quicknet_r1000();
    prepared.precompute();
    (prepared, key, chain)
}

fn primitives(c: &mut Criterion) {
    let (prepared, key, chain) = setup();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("timelock_primitives");
    g.bench_function("prepare_round (hash-to-G1 + pairing)", |b| {
        b.iter(|| PreparedRound::new(black_box(&chain), Round::new(1000).unwrap()).unwrap())
    });
    g.bench_function("precompute the round's Gid table", |b| {
        b.iter_batched_ref(
            || PreparedRound::new(&chain, Round::new(1000).unwrap()).unwrap(),
            |p| p.precompute(),
            criterion::BatchSize::SmallInput,
        )
    });
    let plain = PreparedRound::new(&chain, Round::new(1000).unwrap()).unwrap();
    let fk = FileKey::from_bytes([7; 16]);
    g.bench_function("ibe drand/kyber encrypt (prepared)", |b| {
        b.iter(|| ibe::tlock_encrypt(&plain, &fk, &mut rng).unwrap())
    });
    g.bench_function("ibe drand/kyber encrypt (precomputed)", |b| {
        b.iter(|| ibe::tlock_encrypt(&prepared, &fk, &mut rng).unwrap())
    });
    let ct = ibe::tlock_encrypt(&prepared, &fk, &mut rng).unwrap();
    g.bench_function("ibe drand/kyber decrypt", |b| {
        b.iter(|| ibe::tlock_decrypt(&key, black_box(&ct)).unwrap())
    });
    let esk = TleKey::from_bytes([9; 32]);
    g.bench_function("ibe ideal-lab encrypt (prepared)", |b| {
        b.iter(|| ibe::tle_encrypt(&plain, &esk, &mut rng).unwrap())
    });
    g.bench_function("ibe ideal-lab encrypt (precomputed)", |b| {
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
    let mut chunk = chunk_buffer();
    let mut out = Vec::new();
    for (size, label) in [(1024usize, "1KiB"), (1 << 20, "1MiB"), (16 << 20, "16MiB")] {
        let pt = veil_benches::payload(size);
        let mut g = c.benchmark_group(format!("timelock_{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        if size > 1024 {
            g.sample_size(10);
        }
        for (name, fmt) in [
            ("age", Fmt::Age),
            ("tle", Fmt::Tle),
            ("tle-v03", Fmt::TleV03),
            ("bittensor", Fmt::Bittensor),
        ] {
            g.bench_function(BenchmarkId::new("seal", name), |b| {
                b.iter(|| seal(&prepared, fmt, black_box(&pt), &mut rng, &mut chunk))
            });
            let sealed = seal(&prepared, fmt, &pt, &mut rng, &mut chunk);
            g.bench_function(BenchmarkId::new("open", name), |b| {
                b.iter_batched_ref(
                    || sealed.clone(),
                    |s| open(s, fmt, &key, &mut chunk, &mut out),
                    criterion::BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, primitives, formats);
criterion_main!(benches);
