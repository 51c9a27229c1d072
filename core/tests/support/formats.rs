//! Sealing and opening every timelock format in memory, through the core's
//! own APIs (what the shell does around files and streams): shared by the
//! known-answer tests and the property tests.

#![allow(dead_code, reason = "each test crate uses a part")]

use rand_chacha::ChaCha20Rng;
use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::devnet::DevnetKey;
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::limits::AGE_CHUNK_LEN;
use veil_core::tle::{self, Layout};
use veil_core::{Beacon, Chain, ChainTime, Round, armor, bittensor};

pub(crate) fn dearmor(text: &[u8]) -> Result<Vec<u8>, armor::ArmorError> {
    let mut dec = armor::Decoder::new();
    let mut out = Vec::new();
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    for line in text.split(|&b| b == b'\n') {
        let mut buf = [0u8; armor::BYTES_PER_LINE];
        out.extend_from_slice(dec.decode_line(line, &mut buf)?);
    }
    dec.finish()?;
    Ok(out)
}

pub(crate) fn armor_all(bin: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = armor::Encoder::new();
    enc.push(bin, |l| {
        out.extend_from_slice(l);
        Ok::<_, ()>(())
    })
    .unwrap();
    enc.finish(|l| {
        out.extend_from_slice(l);
        Ok::<_, ()>(())
    })
    .unwrap();
    out
}

/// The whole age decryption, in memory: armor, header, beacon check against
/// `chain`, MAC, STREAM.
pub(crate) fn age_open(input: &[u8], chain: &Chain, signature: &[u8]) -> Result<Vec<u8>, String> {
    let bin = if armor::looks_armored(input) {
        dearmor(input).map_err(|e| e.to_string())?
    } else {
        input.to_vec()
    };
    let hdr = Header::parse(&bin).map_err(|e| e.to_string())?;
    if hdr.chain_hash() != chain.hash() {
        return Err("chain hash differs".into());
    }
    let beacon = chain
        .verify_beacon(&Beacon {
            round: hdr.round(),
            signature,
            previous_signature: None,
        })
        .map_err(|e| e.to_string())?;
    let rest = &bin[hdr.len()..];
    let nonce: [u8; PAYLOAD_NONCE_LEN] = rest
        .get(..PAYLOAD_NONCE_LEN)
        .ok_or("truncated")?
        .try_into()
        .unwrap();
    let mut opener = hdr
        .open(&RoundKey::from_verified(&beacon), &nonce)
        .map_err(|e| e.to_string())?;
    let mut payload = rest[PAYLOAD_NONCE_LEN..].to_vec();
    if payload.is_empty() {
        return Err("truncated".into());
    }
    let n = payload.len().div_ceil(MAX_CHUNK_CIPHERTEXT_LEN);
    let mut out = Vec::new();
    for (i, chunk) in payload.chunks_mut(MAX_CHUNK_CIPHERTEXT_LEN).enumerate() {
        out.extend_from_slice(
            opener
                .open_chunk(chunk, i + 1 == n)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

pub(crate) fn age_seal(
    prepared: &PreparedRound,
    plaintext: &[u8],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let mut sealed = age::seal(prepared, rng).unwrap();
    let mut out = sealed.prefix().to_vec();
    let chunks: Vec<&[u8]> = if plaintext.is_empty() {
        vec![&[]]
    } else {
        plaintext.chunks(AGE_CHUNK_LEN).collect()
    };
    for (i, c) in chunks.iter().enumerate() {
        let mut buf = vec![0u8; c.len() + 16];
        buf[..c.len()].copy_from_slice(c);
        out.extend_from_slice(
            sealed
                .sealer
                .seal_chunk(&mut buf, c.len(), i + 1 == chunks.len())
                .unwrap(),
        );
    }
    assert!(sealed.sealer.is_finished());
    out
}

pub(crate) fn tle_seal(
    prepared: &PreparedRound,
    layout: Layout,
    pt: &[u8],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let mut buf = vec![0u8; layout.sealed_len(pt.len()).unwrap()];
    let off = layout.payload_offset();
    buf[off..off + pt.len()].copy_from_slice(pt);
    tle::seal_in_place(prepared, layout, &mut buf, pt.len(), rng).unwrap();
    buf
}

pub(crate) fn tle_open(
    bytes: &[u8],
    layout: Layout,
    key: &RoundKey,
) -> Result<Vec<u8>, tle::TleError> {
    let parsed = tle::parse(bytes, layout)?;
    let mut buf = bytes.to_vec();
    let range = tle::open_in_place(&parsed, &mut buf, key)?;
    Ok(buf[range].to_vec())
}

pub(crate) fn bittensor_seal(
    prepared: &PreparedRound,
    pt: &[u8],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let mut buf = vec![0u8; bittensor::sealed_len(pt.len()).unwrap()];
    let off = bittensor::payload_offset(pt.len()).unwrap();
    buf[off..off + pt.len()].copy_from_slice(pt);
    bittensor::seal_in_place(prepared, &mut buf, pt.len(), rng).unwrap();
    buf
}

pub(crate) fn bittensor_open(
    bytes: &[u8],
    chain: &Chain,
    sig: &[u8],
) -> Result<(Round, Vec<u8>), String> {
    let (r, range) = bittensor::parse(bytes).map_err(|e| e.to_string())?;
    let beacon = chain
        .verify_beacon(&Beacon {
            round: r,
            signature: sig,
            previous_signature: None,
        })
        .map_err(|e| e.to_string())?;
    let pt = tle_open(
        &bytes[range],
        Layout::Tle,
        &RoundKey::from_verified(&beacon),
    )
    .map_err(|e| e.to_string())?;
    Ok((r, pt))
}

pub(crate) fn devnet(rng: &mut ChaCha20Rng) -> (DevnetKey, Chain) {
    let key = DevnetKey::generate(rng);
    let chain = key
        .chain(
            ChainTime::new(1_700_000_000, 3.try_into().unwrap()),
            [9; 32],
            "veil-devnet",
        )
        .unwrap();
    (key, chain)
}
