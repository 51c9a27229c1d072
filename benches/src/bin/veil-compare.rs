//! veil's side of `benches/compare`: in-process loops over the operations
//! that the peers' harnesses (`benches/peers/*`) time the same way.
//!
//! ```text
//! veil-compare inputs DIR          write DIR/payload-{1KiB,1MiB}.bin
//! veil-compare steady DIR SECS     time every operation (steady state)
//! veil-compare cold DIR            time the first seal of a fresh process
//! veil-compare count OP N          run OP N times (under callgrind)
//! ```
//!
//! Steady state means what a miner or a validator sees: the round prepared
//! and precomputed once, the beacon verified once, then the loop. Each
//! operation runs for SECS seconds (at least 5 times), three times over,
//! and the best mean is reported, in the same way by every side. Output:
//! one tab-separated line per operation: `op  ms_per_op  iterations`.
//! Ciphertexts to open come from the peers (DIR/btd-*.bin, DIR/tljs-*.age),
//! so every side opens the very same bytes.

use core::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_benches::{Fmt, chunk_buffer, open, payload, quicknet_r1000, seal};

const SIZES: [(&str, usize); 2] = [("1KiB", 1024), ("1MiB", 1 << 20)];

/// Times `f` for about `secs` seconds (at least 5 calls), three times, and
/// returns the best mean in milliseconds with the iteration count.
fn time(secs: f64, mut f: impl FnMut()) -> (f64, u64) {
    for _ in 0..2 {
        f();
    }
    let mut best = f64::INFINITY;
    let mut total = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let mut n = 0u64;
        while n < 5 || start.elapsed().as_secs_f64() < secs {
            f();
            n += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e3 / n as f64);
        total += n;
    }
    (best, total)
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
}

fn steady(dir: &Path, secs: f64) -> Result<(), String> {
    let (_, mut prepared, key) = quicknet_r1000();
    prepared.precompute();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut chunk = chunk_buffer();
    let mut out = Vec::new();
    for (label, _) in SIZES {
        let pt = read(dir, &format!("payload-{label}.bin"))?;
        for (name, fmt, peer_file) in [
            ("bittensor", Fmt::Bittensor, format!("btd-{label}.bin")),
            ("age", Fmt::AgeArmored, format!("tljs-{label}.age")),
        ] {
            let (ms, n) = time(secs, || {
                black_box(seal(&prepared, fmt, black_box(&pt), &mut rng, &mut chunk));
            });
            println!("seal {name} {label}\t{ms:.4}\t{n}");
            let sealed = read(dir, &peer_file)?;
            // The peer's file must open to the payload before it is timed.
            let mut check = sealed.clone();
            let len = open(&mut check, fmt, &key, &mut chunk, &mut out);
            let opened = if fmt == Fmt::Bittensor {
                let range = veil_core::bittensor::parse(&sealed)
                    .map_err(|e| e.to_string())?
                    .1;
                let inner = &check[range];
                let off = veil_core::tle::Layout::Tle.payload_offset();
                inner[off..off + len].to_vec()
            } else {
                out.clone()
            };
            if opened != pt {
                return Err(format!("{peer_file} does not open to payload-{label}.bin"));
            }
            let mut buf = sealed.clone();
            let (ms, n) = time(secs, || {
                buf.copy_from_slice(&sealed);
                black_box(open(black_box(&mut buf), fmt, &key, &mut chunk, &mut out));
            });
            println!("open {name} {label}\t{ms:.4}\t{n}");
        }
    }
    Ok(())
}

/// The first seal of a process: builds the generator tables, prepares the
/// round (hash to the curve, one pairing) and seals 1 MiB in `bittensor`,
/// without the per-round table (a one-off seal does better without it).
fn cold(dir: &Path) -> Result<(), String> {
    let pt = read(dir, "payload-1MiB.bin")?;
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut chunk = chunk_buffer();
    let chain = veil_core::Chain::builtin("quicknet").map_err(|e| e.to_string())?;
    let round = veil_core::Round::new(veil_benches::ROUND).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let prepared = veil_core::ibe::PreparedRound::new(&chain, round).map_err(|e| e.to_string())?;
    black_box(seal(&prepared, Fmt::Bittensor, &pt, &mut rng, &mut chunk));
    let first = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    black_box(seal(&prepared, Fmt::Bittensor, &pt, &mut rng, &mut chunk));
    let second = start.elapsed().as_secs_f64() * 1e3;
    println!("cold first seal bittensor 1MiB\t{first:.4}\t1");
    println!("second seal, same process, no table\t{second:.4}\t1");
    Ok(())
}

/// `OP` `N` times, for instruction counts: callgrind collects only inside
/// [`measured`] (`--toggle-collect`), so set-up is not counted.
fn count(op: &str, n: u64) -> Result<(), String> {
    let (_, mut prepared, key) = quicknet_r1000();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut chunk = chunk_buffer();
    let mut out = Vec::new();
    let (action, fmt, size) = match op {
        "seal-bittensor-1MiB" => ("seal", Fmt::Bittensor, 1 << 20),
        "open-bittensor-1MiB" => ("open", Fmt::Bittensor, 1 << 20),
        "seal-age-1KiB" => ("seal", Fmt::AgeArmored, 1024),
        "open-age-1KiB" => ("open", Fmt::AgeArmored, 1024),
        "seal-age-1MiB" => ("seal", Fmt::AgeArmored, 1 << 20),
        "open-age-1MiB" => ("open", Fmt::AgeArmored, 1 << 20),
        "prepare" => ("prepare", Fmt::Age, 0),
        "precompute" => ("precompute", Fmt::Age, 0),
        _ => return Err(format!("unknown operation {op}")),
    };
    let pt = payload(size);
    if action != "prepare" && action != "precompute" {
        prepared.precompute();
    }
    let sealed = seal(&prepared, fmt, &pt, &mut rng, &mut chunk);
    // Generator tables built outside the measured region, as in steady state.
    seal(&prepared, fmt, &pt, &mut rng, &mut chunk);
    let mut buf = sealed.clone();
    measured(n, || match action {
        "seal" => {
            black_box(seal(&prepared, fmt, &pt, &mut rng, &mut chunk));
        }
        "open" => {
            buf.copy_from_slice(&sealed);
            black_box(open(&mut buf, fmt, &key, &mut chunk, &mut out));
        }
        "prepare" => {
            let chain = veil_core::Chain::builtin("quicknet").unwrap();
            let round = veil_core::Round::new(veil_benches::ROUND).unwrap();
            black_box(veil_core::ibe::PreparedRound::new(&chain, round).unwrap());
        }
        _ => {
            let mut p = prepared.clone();
            p.precompute();
            black_box(p);
        }
    });
    Ok(())
}

#[inline(never)]
fn measured(n: u64, mut f: impl FnMut()) {
    for _ in 0..n {
        f();
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: veil-compare inputs DIR | steady DIR SECS | cold DIR | count OP N";
    match args {
        [cmd, dir] if cmd == "inputs" => {
            let dir = PathBuf::from(dir);
            for (label, size) in SIZES {
                let path = dir.join(format!("payload-{label}.bin"));
                std::fs::write(&path, payload(size))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(())
        }
        [cmd, dir, secs] if cmd == "steady" => {
            let secs: f64 = secs.parse().map_err(|_| usage.to_owned())?;
            steady(Path::new(dir), secs)
        }
        [cmd, dir] if cmd == "cold" => cold(Path::new(dir)),
        [cmd, op, n] if cmd == "count" => count(op, n.parse().map_err(|_| usage.to_owned())?),
        _ => Err(usage.to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("veil-compare: {e}");
            ExitCode::FAILURE
        }
    }
}
