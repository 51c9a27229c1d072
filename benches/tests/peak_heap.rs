//! The core seals `age` in constant memory: the peak heap of preparing a
//! round and sealing 64 MiB equals that for 64 KiB, byte for byte.
//!
//! A counting global allocator records the live and peak heap of the thread
//! that sets the tracking flag (so the test harness's own threads do not
//! count). The plaintext is generated and the ciphertext consumed one chunk
//! at a time in caller buffers, as the shell streams files, and the sealed
//! stream is opened again chunk by chunk to prove it was sealed correctly.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::alloc::System;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::ibe::PreparedRound;
use veil_core::limits::AGE_CHUNK_LEN;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
}

fn tracking() -> bool {
    TRACKING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if tracking() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if tracking() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` with this thread's allocations counted; returns its result and
/// the peak live heap it reached.
fn peak_heap_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, PEAK.load(Ordering::Relaxed))
}

/// The plaintext byte at offset `i`: generated, never held whole.
fn byte_at(i: usize) -> u8 {
    u8::try_from(i.wrapping_mul(31) % 251).unwrap_or(0)
}

/// Prepares quicknet round 1000 and streams `len` bytes through the age
/// sealer; returns the ciphertext's SHA-256 and length.
fn prepare_and_seal(len: usize, chunk: &mut [u8]) -> ([u8; 32], u64) {
    let chain = veil_core::Chain::builtin("quicknet").unwrap();
    let prepared = PreparedRound::new(&chain, veil_core::Round::new(1000).unwrap()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(len as u64);
    let mut sealed = age::seal(&prepared, &mut rng).unwrap();
    let mut hash = Sha256::new();
    let mut total = 0u64;
    hash.update(sealed.prefix());
    total += sealed.prefix().len() as u64;
    let n = len.div_ceil(AGE_CHUNK_LEN).max(1);
    for i in 0..n {
        let start = i * AGE_CHUNK_LEN;
        let m = (len - start).min(AGE_CHUNK_LEN);
        for (k, b) in chunk[..m].iter_mut().enumerate() {
            *b = byte_at(start + k);
        }
        let out = sealed.sealer.seal_chunk(chunk, m, i + 1 == n).unwrap();
        hash.update(out);
        total += out.len() as u64;
    }
    (hash.finalize().into(), total)
}

/// Seals again with the same seed, opening as it goes: checks every
/// plaintext byte and that the ciphertext is the one measured.
fn reseal_and_open(len: usize, expected: ([u8; 32], u64)) {
    let chain = veil_core::Chain::builtin("quicknet").unwrap();
    let prepared = PreparedRound::new(&chain, veil_core::Round::new(1000).unwrap()).unwrap();
    let sig = hex::decode(veil_benches::QUICKNET_R1000_SIG).unwrap();
    let beacon = chain
        .verify_beacon(&veil_core::Beacon {
            round: prepared.round(),
            signature: &sig,
            previous_signature: None,
        })
        .unwrap();
    let key = veil_core::ibe::RoundKey::from_verified(&beacon);
    let mut rng = ChaCha20Rng::seed_from_u64(len as u64);
    let mut sealed = age::seal(&prepared, &mut rng).unwrap();
    let prefix = sealed.prefix().to_vec();
    let header = Header::parse(&prefix).unwrap();
    let nonce: [u8; PAYLOAD_NONCE_LEN] = prefix[header.len()..].try_into().unwrap();
    let mut opener = header.open(&key, &nonce).unwrap();
    let mut hash = Sha256::new();
    hash.update(&prefix);
    let mut total = prefix.len() as u64;
    let mut chunk = vec![0u8; MAX_CHUNK_CIPHERTEXT_LEN];
    let n = len.div_ceil(AGE_CHUNK_LEN).max(1);
    for i in 0..n {
        let start = i * AGE_CHUNK_LEN;
        let m = (len - start).min(AGE_CHUNK_LEN);
        for (k, b) in chunk[..m].iter_mut().enumerate() {
            *b = byte_at(start + k);
        }
        let last = i + 1 == n;
        let c = sealed.sealer.seal_chunk(&mut chunk, m, last).unwrap();
        hash.update(c);
        total += c.len() as u64;
        let c_len = c.len();
        let plain = opener.open_chunk(&mut chunk[..c_len], last).unwrap();
        assert!(
            plain
                .iter()
                .enumerate()
                .all(|(k, b)| *b == byte_at(start + k))
        );
    }
    assert_eq!((<[u8; 32]>::from(hash.finalize()), total), expected);
}

#[test]
fn sealing_64_mib_needs_no_more_heap_than_64_kib() {
    let mut chunk = vec![0u8; MAX_CHUNK_CIPHERTEXT_LEN];
    // Warm-up outside the count: process-wide tables built on first use.
    prepare_and_seal(1, &mut chunk);

    let small_len = 64 << 10;
    let large_len = 64 << 20;
    let (small, small_peak) = peak_heap_of(|| prepare_and_seal(small_len, &mut chunk));
    let (large, large_peak) = peak_heap_of(|| prepare_and_seal(large_len, &mut chunk));
    eprintln!("peak heap: 64 KiB → {small_peak} bytes, 64 MiB → {large_peak} bytes");
    // The pairing of the round preparation allocates: the count is live.
    assert!(small_peak > 0, "the counting allocator saw nothing");
    assert_eq!(small_peak, large_peak);
    assert_eq!(large.1, age_len(large_len));
    reseal_and_open(small_len, small);
    reseal_and_open(large_len, large);
}

/// Size of an age file with a tlock stanza: the header is measured from a
/// real seal, the payload is nonce + chunks with 16-byte tags.
fn age_len(len: usize) -> u64 {
    let chain = veil_core::Chain::builtin("quicknet").unwrap();
    let prepared = PreparedRound::new(&chain, veil_core::Round::new(1000).unwrap()).unwrap();
    let sealed = age::seal(&prepared, &mut ChaCha20Rng::seed_from_u64(0)).unwrap();
    let chunks = len.div_ceil(AGE_CHUNK_LEN).max(1);
    (sealed.prefix().len() + len + 16 * chunks) as u64
}
