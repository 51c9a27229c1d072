//! criterion benches of veil-core (see `benches/*.rs`; run with
//! `cargo bench -p veil-benches`), the side-by-side harness behind
//! `benches/compare` (`src/bin/veil-compare.rs`), and the helpers both use:
//! whole-buffer seal and open for every format, in memory, the way a miner
//! or a reveal drives the core.

use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::armor;
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::limits::AGE_CHUNK_LEN;
use veil_core::tle::{self, Layout};
use veil_core::{Beacon, Chain, Round, bittensor};

/// drand quicknet round 1000: the public beacon signature (also in
/// drand/tlock's tests), so every side opens with the same key.
pub const QUICKNET_R1000_SIG: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

/// The benchmark round.
pub const ROUND: u64 = 1000;

/// Quicknet, round 1000 prepared (not precomputed), and its verified key.
///
/// # Panics
///
/// Never for the built-in constants.
pub fn quicknet_r1000() -> (Chain, PreparedRound, RoundKey) {
    let chain = Chain::builtin("quicknet").unwrap();
    let round = Round::new(ROUND).unwrap();
    let sig = hex::decode(QUICKNET_R1000_SIG).unwrap();
    let beacon = chain
        .verify_beacon(&Beacon {
            round,
            signature: &sig,
            previous_signature: None,
        })
        .unwrap();
    let prepared = PreparedRound::new(&chain, round).unwrap();
    (chain, prepared, RoundKey::from_verified(&beacon))
}

/// The payload every side of a comparison seals: a fixed, non-constant
/// pattern (`i·31 mod 251`), so no side benefits from trivially
/// compressible input.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i.wrapping_mul(31) % 251).unwrap_or(0))
        .collect()
}

/// The formats, as the compare harness names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    /// age, binary.
    Age,
    /// age, armored (what tlock-js writes).
    AgeArmored,
    /// ideal-lab TLE (timelock 0.0.1 layout).
    Tle,
    /// ideal-lab TLE (timelock 0.3.0 layout).
    TleV03,
    /// bittensor-drand's SCALE envelope.
    Bittensor,
}

/// Streams `pt` through the age sealer chunk by chunk (`chunk` is the
/// caller's 64 KiB + 16 buffer) and sends every output piece to `sink`.
///
/// # Panics
///
/// If sealing fails (it does not for a valid prepared round).
pub fn age_seal_to(
    p: &PreparedRound,
    pt: &[u8],
    rng: &mut (impl rand_core::CryptoRng + rand_core::RngCore),
    chunk: &mut [u8],
    mut sink: impl FnMut(&[u8]),
) {
    let mut sealed = age::seal(p, rng).unwrap();
    sink(sealed.prefix());
    let n = pt.len().div_ceil(AGE_CHUNK_LEN).max(1);
    for i in 0..n {
        let c = pt
            .get(i * AGE_CHUNK_LEN..pt.len().min((i + 1) * AGE_CHUNK_LEN))
            .unwrap_or(&[]);
        chunk[..c.len()].copy_from_slice(c);
        sink(
            sealed
                .sealer
                .seal_chunk(chunk, c.len(), i + 1 == n)
                .unwrap(),
        );
    }
}

/// Seals `pt` in `fmt` to `p`'s round and returns the whole file.
///
/// # Panics
///
/// If sealing fails (it does not for a valid prepared round).
pub fn seal(
    p: &PreparedRound,
    fmt: Fmt,
    pt: &[u8],
    rng: &mut (impl rand_core::CryptoRng + rand_core::RngCore),
    chunk: &mut [u8],
) -> Vec<u8> {
    let n = pt.len();
    match fmt {
        Fmt::Age => {
            let mut out = Vec::with_capacity(n + n / 4096 + 512);
            age_seal_to(p, pt, rng, chunk, |b| out.extend_from_slice(b));
            out
        }
        Fmt::AgeArmored => {
            let mut out = Vec::with_capacity((n + n / 4096 + 512) * 4 / 3 + n / 32 + 128);
            let mut enc = armor::Encoder::new();
            age_seal_to(p, pt, rng, chunk, |b| {
                enc.push(b, |x: &[u8]| {
                    out.extend_from_slice(x);
                    Ok::<(), ()>(())
                })
                .unwrap();
            });
            enc.finish(|x: &[u8]| {
                out.extend_from_slice(x);
                Ok::<(), ()>(())
            })
            .unwrap();
            out
        }
        Fmt::Bittensor => {
            let mut buf = framed(
                pt,
                bittensor::payload_offset(n).unwrap(),
                bittensor::sealed_len(n).unwrap(),
            );
            bittensor::seal_in_place(p, &mut buf, n, rng).unwrap();
            buf
        }
        Fmt::Tle | Fmt::TleV03 => {
            let layout = if fmt == Fmt::Tle {
                Layout::Tle
            } else {
                Layout::TleV03
            };
            let mut buf = framed(pt, layout.payload_offset(), layout.sealed_len(n).unwrap());
            tle::seal_in_place(p, layout, &mut buf, n, rng).unwrap();
            buf
        }
    }
}

/// The sealing buffer of a whole-buffer format: `pt` at `offset` in `len`
/// bytes, written once (no zero-fill of the payload's span first), as a
/// miner assembles it when it reads an image.
fn framed(pt: &[u8], offset: usize, len: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(len);
    buf.resize(offset, 0);
    buf.extend_from_slice(pt);
    buf.resize(len, 0);
    buf
}

/// Opens a binary age file into `out` (cleared first).
///
/// # Panics
///
/// If the file does not open with `key`.
pub fn age_open(sealed: &[u8], key: &RoundKey, chunk: &mut [u8], out: &mut Vec<u8>) {
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

/// Decodes an armored age file line by line into its binary form.
///
/// # Panics
///
/// If the armor is malformed.
pub fn dearmor(text: &[u8]) -> Vec<u8> {
    let mut dec = armor::Decoder::new();
    let mut line_out = [0u8; armor::BYTES_PER_LINE];
    let mut bin = Vec::with_capacity(text.len() * 3 / 4);
    for line in text.split(|b| *b == b'\n') {
        bin.extend_from_slice(dec.decode_line(line, &mut line_out).unwrap());
    }
    dec.finish().unwrap();
    bin
}

/// Opens `sealed` (of format `fmt`) in place and returns the plaintext's
/// length; the plaintext is then `sealed[range]` for whole-buffer formats,
/// or in `out` for age.
///
/// # Panics
///
/// If the file does not open with `key`.
pub fn open(
    sealed: &mut [u8],
    fmt: Fmt,
    key: &RoundKey,
    chunk: &mut [u8],
    out: &mut Vec<u8>,
) -> usize {
    match fmt {
        Fmt::Age => {
            age_open(sealed, key, chunk, out);
            out.len()
        }
        Fmt::AgeArmored => {
            let bin = dearmor(sealed);
            age_open(&bin, key, chunk, out);
            out.len()
        }
        Fmt::Bittensor | Fmt::Tle | Fmt::TleV03 => {
            let (layout, range) = match fmt {
                Fmt::Bittensor => (Layout::Tle, bittensor::parse(sealed).unwrap().1),
                Fmt::Tle => (Layout::Tle, 0..sealed.len()),
                _ => (Layout::TleV03, 0..sealed.len()),
            };
            let inner = &mut sealed[range];
            let parsed = tle::parse(inner, layout).unwrap();
            tle::open_in_place(&parsed, inner, key).unwrap().len()
        }
    }
}

/// The caller's chunk buffer for age: one ciphertext chunk.
pub fn chunk_buffer() -> Vec<u8> {
    vec![0u8; MAX_CHUNK_CIPHERTEXT_LEN]
}
