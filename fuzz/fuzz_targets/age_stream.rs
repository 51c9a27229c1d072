//! The age STREAM state machine, both ways. Even first byte: arbitrary
//! plaintext (up to three chunks and a bit) sealed and opened again must
//! come back unchanged. Odd first byte: a real sealed file, bit-flipped and
//! truncated as the input says, must fail to open or open to the original.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::age::{self, AgeError, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::limits::AGE_CHUNK_LEN;
use veil_core::{Chain, Round};

// drand quicknet round 1000's signature (public).
const SIG: [u8; 48] = [
    0xb4, 0x46, 0x79, 0xb9, 0xa5, 0x9a, 0xf2, 0xec, 0x87, 0x6b, 0x1a, 0x6b, 0x1a, 0xd5, 0x2e, 0xa9,
    0xb1, 0x61, 0x5f, 0xc3, 0x98, 0x2b, 0x19, 0x57, 0x63, 0x50, 0xf9, 0x34, 0x47, 0xcb, 0x11, 0x25,
    0xe3, 0x42, 0xb7, 0x3a, 0x8d, 0xd2, 0xba, 0xcb, 0xe4, 0x7e, 0x4b, 0x6b, 0x63, 0xed, 0x5e, 0x39,
];

struct Fixture {
    prepared: PreparedRound,
    key: RoundKey,
    /// A sealed file of `original` (two full chunks and a partial one).
    sealed: Vec<u8>,
    original: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let chain = Chain::builtin("quicknet").unwrap();
        let mut prepared = PreparedRound::new(&chain, Round::new(1000).unwrap()).unwrap();
        prepared.precompute();
        let key = RoundKey::from_unverified_signature(&SIG).unwrap();
        let original: Vec<u8> = (0..2 * AGE_CHUNK_LEN + 100).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&prepared, &original, 7);
        Fixture { prepared, key, sealed, original }
    })
}

fn seal(prepared: &PreparedRound, pt: &[u8], seed: u64) -> Vec<u8> {
    let mut s = age::seal(prepared, &mut ChaCha20Rng::seed_from_u64(seed)).unwrap();
    let mut out = s.prefix().to_vec();
    let mut buf = vec![0u8; MAX_CHUNK_CIPHERTEXT_LEN];
    let n = pt.len().div_ceil(AGE_CHUNK_LEN).max(1);
    for i in 0..n {
        let c = &pt[(i * AGE_CHUNK_LEN).min(pt.len())..((i + 1) * AGE_CHUNK_LEN).min(pt.len())];
        buf[..c.len()].copy_from_slice(c);
        out.extend_from_slice(s.sealer.seal_chunk(&mut buf, c.len(), i + 1 == n).unwrap());
    }
    assert!(s.sealer.is_finished());
    out
}

/// Opens a whole file chunk by chunk, as the shell does.
fn open(file: &[u8], key: &RoundKey) -> Result<Vec<u8>, AgeError> {
    let hdr = Header::parse(file)?;
    let rest = &file[hdr.len()..];
    let nonce: &[u8; PAYLOAD_NONCE_LEN] =
        rest.get(..PAYLOAD_NONCE_LEN).ok_or(AgeError::Truncated)?.try_into().unwrap();
    let mut opener = hdr.open(key, nonce)?;
    let payload = &rest[PAYLOAD_NONCE_LEN..];
    let mut out = Vec::new();
    let n = payload.len().div_ceil(MAX_CHUNK_CIPHERTEXT_LEN).max(1);
    for i in 0..n {
        let start = (i * MAX_CHUNK_CIPHERTEXT_LEN).min(payload.len());
        let end = ((i + 1) * MAX_CHUNK_CIPHERTEXT_LEN).min(payload.len());
        let mut chunk = payload[start..end].to_vec();
        out.extend_from_slice(opener.open_chunk(&mut chunk, i + 1 == n)?);
    }
    assert!(opener.is_finished());
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        // Round trip: length from the next three bytes, bytes cycled from the rest.
        let Some((len, bytes)) = rest.split_at_checked(3) else { return };
        let len = (usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]))
            % (3 * AGE_CHUNK_LEN + 5);
        let pt: Vec<u8> = if bytes.is_empty() {
            vec![0; len]
        } else {
            bytes.iter().copied().cycle().take(len).collect()
        };
        // Empty plaintext included: veil's own empty files carry one empty
        // final chunk (it refuses tlock-js's chunkless ones).
        let file = seal(&f.prepared, &pt, u64::from(mode));
        assert_eq!(open(&file, &f.key).unwrap(), pt);
    } else {
        // Tampering: pairs (offset u24, xor byte), then a truncation length.
        let mut file = f.sealed.clone();
        let mut pairs = rest.chunks_exact(4);
        for p in &mut pairs {
            let at = (usize::from(p[0]) << 16 | usize::from(p[1]) << 8 | usize::from(p[2])) % file.len();
            file[at] ^= p[3];
        }
        if let [a, b, ..] = pairs.remainder() {
            let cut = (usize::from(*a) << 8 | usize::from(*b)) % file.len();
            file.truncate(file.len() - cut);
        }
        // Flips at one offset can cancel out: compare, do not count.
        let changed = file != f.sealed;
        match open(&file, &f.key) {
            Ok(pt) => {
                assert!(!changed, "a tampered file opened");
                assert_eq!(pt, f.original);
            }
            Err(_) => assert!(changed, "the untouched file failed to open"),
        }
    }
});
