//! Sealing and opening files in the four timelock formats: the I/O around
//! `veil_core`'s sans-IO formats.
//!
//! age streams in 64 KiB chunks with one chunk of look-ahead (to know which
//! chunk is last), so memory is constant in the payload size both ways, and
//! each authenticated chunk is written as soon as it is opened. TLE and
//! bittensor are AES-GCM over the whole body: they are read whole, capped
//! at [`MAX_TLE_LEN`].

pub mod armor;
mod chunks;

use std::io::{self, BufReader, Cursor, Read, Write};

use rand_core::{CryptoRng, RngCore};
use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::format::{self, DETECT_PREFIX_LEN, Format};
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::limits::{AGE_CHUNK_LEN, MAX_AGE_HEADER_LEN, MAX_TLE_LEN};
use veil_core::tle::{self, Layout};
use veil_core::{BuiltinChain, Chain, Round, bittensor, encoding::Hex};

use self::armor::{ArmorReader, ArmorWriter, armor_io};
use self::chunks::Chunks;
use crate::Error;
use crate::drand::BeaconSource;
use crate::fs::{read_capped, read_full};

fn wrong_chain(found: &[u8; 32], expected: &Chain) -> Error {
    let named = BuiltinChain::ALL
        .into_iter()
        .find(|c| c.published_hash() == *found)
        .map(|c| format!(": pass --chain {}", c.name()))
        .unwrap_or_default();
    Error::Content(format!(
        "the file is sealed to chain {}, not to the chain given ({}){named}",
        Hex(found),
        Hex(expected.hash())
    ))
}

// ---------------------------------------------------------------------------
// Encrypt
// ---------------------------------------------------------------------------

/// Seals everything from `input` to `round` of `chain` in `format`, writing to
/// `out`. `armor` applies to age only.
///
/// # Errors
///
/// A chain that cannot be used with the format, an input too large for a
/// whole-buffer format, or an I/O error.
pub fn encrypt(
    chain: &Chain,
    round: Round,
    format: Format,
    armor: bool,
    input: &mut dyn Read,
    out: &mut dyn Write,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<(), Error> {
    if armor && format != Format::Age {
        return Err(Error::value("--armor", "applies to --format age only"));
    }
    let prepared = PreparedRound::new(chain, round)?;
    match format {
        Format::Age if armor => {
            let mut w = ArmorWriter::new(out);
            seal_age(&prepared, input, &mut w, rng)?;
            w.finish().map_err(Error::io("writing the output"))
        }
        Format::Age => seal_age(&prepared, input, out, rng),
        Format::Tle | Format::TleV03 | Format::Bittensor => {
            let overhead = Layout::Tle.overhead() + 16;
            let pt = read_capped(input, MAX_TLE_LEN - overhead)?;
            let sealed = seal_whole(&prepared, format, &pt, rng)?;
            out.write_all(&sealed)
                .map_err(Error::io("writing the output"))
        }
    }
}

/// Seals `plaintext` (held in memory) to the prepared round in `format`,
/// returning the sealed bytes. For many plaintexts of one round, prepare
/// the round once ([`PreparedRound::new`]) and share it.
///
/// # Errors
///
/// A plaintext too large for a whole-buffer format.
pub fn seal_bytes(
    prepared: &PreparedRound,
    format: Format,
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Vec<u8>, Error> {
    match format {
        Format::Age => {
            let mut out = Vec::with_capacity(plaintext.len().saturating_add(512));
            seal_age(prepared, &mut Cursor::new(plaintext), &mut out, rng)?;
            Ok(out)
        }
        _ => {
            let overhead = Layout::Tle.overhead() + 16;
            if plaintext.len() > MAX_TLE_LEN - overhead {
                return Err(Error::InputTooLarge {
                    max: MAX_TLE_LEN - overhead,
                });
            }
            seal_whole(prepared, format, plaintext, rng)
        }
    }
}

fn seal_whole(
    prepared: &PreparedRound,
    format: Format,
    pt: &[u8],
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Vec<u8>, Error> {
    let n = pt.len();
    let too_big = || Error::InputTooLarge { max: MAX_TLE_LEN };
    let (len, off) = match format {
        Format::Bittensor => (
            bittensor::sealed_len(n).ok_or_else(too_big)?,
            bittensor::payload_offset(n).ok_or_else(too_big)?,
        ),
        Format::TleV03 => (
            Layout::TleV03.sealed_len(n).ok_or_else(too_big)?,
            Layout::TleV03.payload_offset(),
        ),
        _ => (
            Layout::Tle.sealed_len(n).ok_or_else(too_big)?,
            Layout::Tle.payload_offset(),
        ),
    };
    let mut buf = vec![0u8; len];
    buf.get_mut(off..off + n)
        .ok_or_else(too_big)?
        .copy_from_slice(pt);
    match format {
        Format::Bittensor => bittensor::seal_in_place(prepared, &mut buf, n, rng)?,
        Format::TleV03 => tle::seal_in_place(prepared, Layout::TleV03, &mut buf, n, rng)?,
        _ => tle::seal_in_place(prepared, Layout::Tle, &mut buf, n, rng)?,
    }
    Ok(buf)
}

fn seal_age(
    prepared: &PreparedRound,
    input: &mut dyn Read,
    out: &mut dyn Write,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<(), Error> {
    let mut sealed = age::seal(prepared, rng)?;
    let write_err = Error::io("writing the output");
    out.write_all(sealed.prefix()).map_err(write_err)?;
    let mut chunks = Chunks::new(input, AGE_CHUNK_LEN, MAX_CHUNK_CIPHERTEXT_LEN);
    while let Some((buf, len, last)) = chunks.next_chunk()? {
        let ct = sealed.sealer.seal_chunk(buf, len, last)?;
        out.write_all(ct).map_err(Error::io("writing the output"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Decrypt
// ---------------------------------------------------------------------------

/// The input after the header, for age: the header bytes read ahead,
/// then the rest of the input (through the armor decoder when armored).
type Rest<'r> = io::Chain<Cursor<Vec<u8>>, &'r mut dyn Read>;

enum AgeInput<'r> {
    Binary(Rest<'r>),
    Armored(ArmorReader<BufReader<Rest<'r>>>),
}

impl Read for AgeInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Binary(r) => r.read(buf),
            Self::Armored(r) => r.read(buf),
        }
    }
}

enum Body<'r> {
    /// age: the header (and whatever was read past it), then the input.
    Age { head: Vec<u8>, input: AgeInput<'r> },
    /// tle, tle-v03, bittensor: the whole ciphertext.
    Whole(Vec<u8>),
}

/// A ciphertext whose header has been read: its format and the round it
/// names are known before any key is needed, so the caller can get the
/// round's beacon (from a [`BeaconSource`], however it likes) and then
/// [`Opening::open`] it. age streams from here on; the other formats
/// were read whole (capped at [`MAX_TLE_LEN`]).
pub struct Opening<'r> {
    format: Format,
    round: Option<Round>,
    body: Body<'r>,
}

impl core::fmt::Debug for Opening<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opening")
            .field("format", &self.format)
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

impl<'r> Opening<'r> {
    /// Reads the header of `input` (format detected). An age file must be
    /// sealed to `chain`.
    ///
    /// # Errors
    ///
    /// An unknown or malformed format, an age file of another chain, or an
    /// I/O error.
    pub fn read(chain: &Chain, input: &'r mut dyn Read) -> Result<Self, Error> {
        let mut head = [0u8; DETECT_PREFIX_LEN];
        let n = read_full(input, &mut head).map_err(Error::io("reading the input"))?;
        let head = head.get(..n).unwrap_or(&[]).to_vec();
        let detected = format::detect_streaming(&head);
        let mut whole = Cursor::new(head).chain(input);
        let Some((_, armored)) = detected else {
            let bytes = read_capped(&mut whole, MAX_TLE_LEN)?;
            let format = format::detect_whole(&bytes).ok_or_else(unknown_format)?;
            let round = match format {
                Format::Bittensor => Some(bittensor::parse(&bytes)?.0),
                Format::Tle | Format::TleV03 => None,
                Format::Age => return Err(unknown_format()),
            };
            return Ok(Self {
                format,
                round,
                body: Body::Whole(bytes),
            });
        };
        let mut input = if armored {
            AgeInput::Armored(ArmorReader::new(BufReader::new(whole)))
        } else {
            AgeInput::Binary(whole)
        };
        let mut head = vec![0u8; MAX_AGE_HEADER_LEN];
        let n = read_full(&mut input, &mut head).map_err(armor_io)?;
        head.truncate(n);
        let hdr = Header::parse(&head)?;
        if hdr.chain_hash() != chain.hash() {
            return Err(wrong_chain(hdr.chain_hash(), chain));
        }
        let round = Some(hdr.round());
        Ok(Self {
            format: Format::Age,
            round,
            body: Body::Age { head, input },
        })
    }

    /// The format detected.
    pub const fn format(&self) -> Format {
        self.format
    }

    /// The round the ciphertext names (age and bittensor carry it; raw TLE
    /// does not).
    pub const fn round(&self) -> Option<Round> {
        self.round
    }

    /// Opens the ciphertext with `key` and writes the plaintext to `out`.
    /// For age each authenticated chunk is written as it is opened; armor
    /// damage after the payload is still an error.
    ///
    /// # Errors
    ///
    /// Any decryption failure (opaque), truncation, or an I/O error.
    pub fn open(self, key: &RoundKey, out: &mut dyn Write) -> Result<Format, Error> {
        match self.body {
            Body::Whole(mut bytes) => {
                let range = open_whole_in_place(self.format, &mut bytes, key)?;
                out.write_all(bytes.get(range).unwrap_or(&[]))
                    .map_err(Error::io("writing the output"))?;
            }
            Body::Age { head, mut input } => {
                open_age(&head, &mut input, key, out)?;
                if let AgeInput::Armored(r) = input {
                    r.finish()?;
                }
            }
        }
        Ok(self.format)
    }
}

/// Opens a whole-buffer body (tle, tle-v03, bittensor) in place: the
/// plaintext's range in `bytes`.
fn open_whole_in_place(
    format: Format,
    bytes: &mut [u8],
    key: &RoundKey,
) -> Result<core::ops::Range<usize>, Error> {
    Ok(match format {
        Format::Bittensor => {
            let (_, inner) = bittensor::parse(bytes)?;
            let offset = inner.start;
            let tle_bytes = bytes.get_mut(inner).ok_or_else(unknown_format)?;
            let parsed = tle::parse(tle_bytes, Layout::Tle)?;
            let r = tle::open_in_place(&parsed, tle_bytes, key)?;
            (offset + r.start)..(offset + r.end)
        }
        Format::Tle | Format::TleV03 => {
            let layout = if format == Format::Tle {
                Layout::Tle
            } else {
                Layout::TleV03
            };
            let parsed = tle::parse(bytes, layout)?;
            tle::open_in_place(&parsed, bytes, key)?
        }
        Format::Age => return Err(unknown_format()),
    })
}

/// Opens `sealed`, taken whole, with `key` (the beacon of `round` of
/// `chain`) and returns the plaintext. tle, tle-v03 and bittensor bodies
/// are opened in place, in `sealed`'s own buffer: no copy of the payload
/// is made. age streams into one buffer the size of its payload.
///
/// # Errors
///
/// As [`open_with`].
pub fn open_owned(
    chain: &Chain,
    round: Round,
    key: &RoundKey,
    mut sealed: Vec<u8>,
) -> Result<(Format, Vec<u8>), Error> {
    let head = sealed
        .get(..sealed.len().min(DETECT_PREFIX_LEN))
        .unwrap_or(&[]);
    if format::detect_streaming(head).is_some() {
        let mut plain = Vec::with_capacity(sealed.len());
        let format = open_with(chain, round, key, &sealed, &mut plain)?;
        return Ok((format, plain));
    }
    if sealed.len() > MAX_TLE_LEN {
        return Err(Error::InputTooLarge { max: MAX_TLE_LEN });
    }
    let format = format::detect_whole(&sealed).ok_or_else(unknown_format)?;
    if format == Format::Bittensor {
        let (r, _) = bittensor::parse(&sealed)?;
        if r != round {
            return Err(Error::Content(format!(
                "the ciphertext is sealed to round {r}, not to round {round}"
            )));
        }
    }
    let range = open_whole_in_place(format, &mut sealed, key)?;
    let len = range.len();
    sealed.copy_within(range, 0);
    sealed.truncate(len);
    Ok((format, sealed))
}

/// The key that opens a ciphertext naming `carried` (if any), from
/// `beacons`: whenever a round is known (carried, or `given` by the
/// operator) the key is that round's verified beacon, fetched now or, with
/// `wait`, once the round is out. Without any round only an operator-given
/// signature can serve, unverified: the IBE check `U = r·G` then
/// authenticates it.
///
/// # Errors
///
/// A carried round that differs from `given`, a raw TLE without a round
/// and no given signature, or the source's error.
pub async fn round_key(
    beacons: &dyn BeaconSource,
    carried: Option<Round>,
    given: Option<Round>,
    wait: bool,
) -> Result<RoundKey, Error> {
    if let (Some(c), Some(given)) = (carried, given)
        && c != given
    {
        return Err(Error::Content(format!(
            "the ciphertext is sealed to round {c}, not to --round {given}"
        )));
    }
    match carried.or(given) {
        Some(round) => {
            let beacon = if wait {
                beacons.wait_for(round).await?
            } else {
                beacons.beacon(round).await?
            };
            Ok(beacon.round_key())
        }
        None => match beacons.unverified_signature() {
            Some(sig) => Ok(RoundKey::from_unverified_signature(sig)?),
            None => Err(Error::Content(
                "a raw TLE file carries no round: give --round to fetch its beacon".into(),
            )),
        },
    }
}

/// Opens one ciphertext held in memory with the key of a beacon already
/// verified for `round` (a batch of one round shares it: the beacon is
/// checked once, not per ciphertext). A ciphertext naming another round,
/// or sealed to another chain, is refused.
///
/// # Errors
///
/// As [`Opening::read`] and [`Opening::open`], or a round mismatch.
pub fn open_with(
    chain: &Chain,
    round: Round,
    key: &RoundKey,
    sealed: &[u8],
    out: &mut dyn Write,
) -> Result<Format, Error> {
    let mut input = sealed;
    let opening = Opening::read(chain, &mut input)?;
    if let Some(r) = opening.round()
        && r != round
    {
        return Err(Error::Content(format!(
            "the ciphertext is sealed to round {r}, not to round {round}"
        )));
    }
    opening.open(key, out)
}

fn unknown_format() -> Error {
    Error::Content(
        "input is not in a timelock format veil knows (age, tle, tle-v03, bittensor)".into(),
    )
}

fn open_age(
    head: &[u8],
    input: &mut dyn Read,
    key: &RoundKey,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let hdr = Header::parse(head)?;
    let mut rest = Cursor::new(head.get(hdr.len()..).unwrap_or(&[])).chain(input);
    let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
    if read_full(&mut rest, &mut nonce).map_err(armor_io)? < PAYLOAD_NONCE_LEN {
        return Err(age::AgeError::Truncated.into());
    }
    let mut opener = hdr.open(key, &nonce)?;
    let mut chunks = Chunks::new(
        &mut rest,
        MAX_CHUNK_CIPHERTEXT_LEN,
        MAX_CHUNK_CIPHERTEXT_LEN,
    );
    while let Some((buf, len, last)) = chunks.next_chunk()? {
        let pt = opener.open_chunk(buf.get_mut(..len).unwrap_or_default(), last)?;
        out.write_all(pt).map_err(Error::io("writing the output"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Inspect
// ---------------------------------------------------------------------------

/// What `inspect` reports about a ciphertext, without decrypting it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Inspection {
    /// `age`, `tle`, `tle-v03` or `bittensor`.
    pub format: &'static str,
    /// The round it is sealed to, when the format carries it.
    pub round: Option<u64>,
    /// The chain hash, when the format carries it (age).
    pub chain_hash: Option<String>,
    /// Bytes of input read.
    pub ciphertext_len: u64,
    /// Plaintext bytes, computed from the structure.
    pub payload_len: Option<u64>,
}

/// Inspects `input`.
///
/// # Errors
///
/// An unknown or malformed format, or an I/O error.
pub fn inspect(input: &mut dyn Read) -> Result<Inspection, Error> {
    let mut counted = Counting { inner: input, n: 0 };
    let mut head = [0u8; DETECT_PREFIX_LEN];
    let n = read_full(&mut counted, &mut head).map_err(Error::io("reading the input"))?;
    let head = head.get(..n).unwrap_or(&[]).to_vec();
    match format::detect_streaming(&head) {
        Some((_, armored)) => {
            let (round, hash, payload) = {
                let mut whole = Cursor::new(head).chain(&mut counted);
                if armored {
                    let mut r = ArmorReader::new(BufReader::new(whole));
                    let found = inspect_age(&mut r)?;
                    r.finish()?;
                    found
                } else {
                    inspect_age(&mut whole)?
                }
            };
            Ok(Inspection {
                format: Format::Age.name(),
                round: Some(round.get()),
                chain_hash: Some(Hex(&hash).to_string()),
                ciphertext_len: counted.n,
                payload_len: payload,
            })
        }
        None => {
            let mut whole = Cursor::new(head).chain(&mut counted);
            let bytes = read_capped(&mut whole, MAX_TLE_LEN)?;
            let format = format::detect_whole(&bytes).ok_or_else(unknown_format)?;
            let (round, payload) = match format {
                Format::Bittensor => {
                    let (round, inner) = bittensor::parse(&bytes)?;
                    let parsed = tle::parse(bytes.get(inner).unwrap_or(&[]), Layout::Tle)?;
                    (Some(round.get()), parsed.payload_len())
                }
                Format::TleV03 => (None, tle::parse(&bytes, Layout::TleV03)?.payload_len()),
                _ => (None, tle::parse(&bytes, Layout::Tle)?.payload_len()),
            };
            Ok(Inspection {
                format: format.name(),
                round,
                chain_hash: None,
                ciphertext_len: bytes.len() as u64,
                payload_len: Some(payload as u64),
            })
        }
    }
}

/// Parses the age header and counts the rest: `(round, chain hash, payload length)`.
fn inspect_age(input: &mut dyn Read) -> Result<(Round, [u8; 32], Option<u64>), Error> {
    let mut hbuf = vec![0u8; MAX_AGE_HEADER_LEN];
    let n = read_full(input, &mut hbuf).map_err(Error::io("reading the input"))?;
    let hdr = Header::parse(hbuf.get(..n).unwrap_or(&[]))?;
    let after_header = (n - hdr.len()) as u64;
    let rest = io::copy(input, &mut io::sink()).map_err(Error::io("reading the input"))?;
    let payload = (after_header + rest).checked_sub(PAYLOAD_NONCE_LEN as u64);
    Ok((
        hdr.round(),
        *hdr.chain_hash(),
        payload.and_then(age::plaintext_len),
    ))
}

struct Counting<'r> {
    inner: &'r mut dyn Read,
    n: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

/// How much of an object's head carries its round: an age header (up to
/// [`MAX_AGE_HEADER_LEN`], a third more when armored) or a bittensor
/// envelope's compact length.
pub const ROUND_HEAD_LEN: usize = MAX_AGE_HEADER_LEN * 2;

/// Inspects an object of `size` bytes from its ends only: `head`, its first
/// bytes (all of them when the object is no longer than [`ROUND_HEAD_LEN`],
/// else at least that many), and `tail`, its last 8 bytes. Finds the round
/// (and the chain, for age) it is sealed to; the payload is not read, so
/// `payload_len` is `None` for a large object. `Ok(None)` when the format
/// needs the whole object (a raw TLE larger than `head`).
///
/// # Errors
///
/// A malformed age header, or bytes no format veil reads starts with.
pub fn inspect_ends(head: &[u8], tail: [u8; 8], size: u64) -> Result<Option<Inspection>, Error> {
    if head.len() as u64 >= size {
        return inspect(&mut &head[..]).map(Some);
    }
    let Some((_, armored)) = format::detect_streaming(head) else {
        return Ok(bittensor::round_from_ends(head, tail, size)
            .ok()
            .map(|round| Inspection {
                format: Format::Bittensor.name(),
                round: Some(round.get()),
                chain_hash: None,
                ciphertext_len: size,
                payload_len: None,
            }));
    };
    // The header is all that is parsed: reading stops at the end of `head`
    // (or, armored, at its last whole line).
    let mut hbuf = vec![0u8; MAX_AGE_HEADER_LEN];
    let n = if armored {
        let lines = head
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(head, |i| head.get(..=i).unwrap_or(head));
        read_until_error(&mut ArmorReader::new(BufReader::new(lines)), &mut hbuf)
    } else {
        read_until_error(&mut &head[..], &mut hbuf)
    };
    let hdr = Header::parse(hbuf.get(..n).unwrap_or(&[]))?;
    Ok(Some(Inspection {
        format: Format::Age.name(),
        round: Some(hdr.round().get()),
        chain_hash: Some(Hex(hdr.chain_hash()).to_string()),
        ciphertext_len: size,
        payload_len: None,
    }))
}

/// Reads into `buf` until it is full, the input ends or fails; the count.
fn read_until_error(r: &mut dyn Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    /// What the ends of a sealed object say is what reading it whole says,
    /// for every format, small and past [`ROUND_HEAD_LEN`].
    #[test]
    fn the_ends_of_an_object_say_what_the_whole_says() {
        let chain = BuiltinChain::Quicknet.chain().unwrap();
        let round = Round::new(1000).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        for size in [100usize, 200_000] {
            let plain = vec![7u8; size];
            for (format, armored) in [
                (Format::Age, false),
                (Format::Age, true),
                (Format::Bittensor, false),
                (Format::Tle, false),
            ] {
                let mut sealed = Vec::new();
                encrypt(
                    &chain,
                    round,
                    format,
                    armored,
                    &mut plain.as_slice(),
                    &mut sealed,
                    &mut rng,
                )
                .unwrap();
                let whole = inspect(&mut sealed.as_slice()).unwrap();
                let head = &sealed[..sealed.len().min(ROUND_HEAD_LEN)];
                let tail: [u8; 8] = sealed[sealed.len() - 8..].try_into().unwrap();
                let ends = inspect_ends(head, tail, sealed.len() as u64).unwrap();
                let what = format!("{} armored={armored} size={size}", format.name());
                match ends {
                    Some(ends) => {
                        assert_eq!(ends.format, whole.format, "{what}");
                        assert_eq!(ends.round, whole.round, "{what}");
                        assert_eq!(ends.chain_hash, whole.chain_hash, "{what}");
                    }
                    // Only a large raw TLE needs reading whole.
                    None => assert!(format == Format::Tle && size > ROUND_HEAD_LEN, "{what}"),
                }
                // An envelope whose length does not match its size is not one.
                if format == Format::Bittensor && size > ROUND_HEAD_LEN {
                    let short = inspect_ends(head, tail, sealed.len() as u64 + 1).unwrap();
                    assert!(short.is_none(), "{what}");
                }
            }
        }
        // Junk is no format.
        assert!(inspect_ends(b"not a ciphertext", [1; 8], 16).is_err());
    }
}
