//! Sealing and opening files in the four timelock formats: the I/O around
//! `veil_core`'s sans-IO formats.
//!
//! age streams in 64 KiB chunks with one chunk of look-ahead (to know which
//! chunk is last), so memory is constant in the payload size both ways, and
//! each authenticated chunk is written as soon as it is opened. TLE and
//! bittensor are AES-GCM over the whole body: they are read whole, capped
//! at [`MAX_TLE_LEN`].

use std::io::{self, BufRead, BufReader, Cursor, Read, Write};

use rand_core::{CryptoRng, RngCore};
use veil_core::age::{self, Header, MAX_CHUNK_CIPHERTEXT_LEN, PAYLOAD_NONCE_LEN};
use veil_core::format::{self, DETECT_PREFIX_LEN, Format};
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::limits::{AGE_CHUNK_LEN, MAX_AGE_HEADER_LEN, MAX_ARMOR_LINE_LEN, MAX_TLE_LEN};
use veil_core::tle::{self, Layout};
use veil_core::{Beacon, BuiltinChain, Chain, Round, armor, bittensor, encoding::Hex};

use crate::Error;
use crate::io::{read_capped, read_full};

/// How decryption gets the round's key.
pub enum KeySource {
    /// A beacon signature given by the user (hex-decoded).
    Signature(Vec<u8>),
    /// A function that fetches the round's beacon signature (from drand
    /// relays, for instance); what it returns is verified again here.
    Fetch(Box<dyn Fn(Round) -> Result<Vec<u8>, Error>>),
    /// The key of a beacon already verified for `round`: shared by a batch
    /// of ciphertexts of one round, so the beacon is checked once, not once
    /// per ciphertext. A ciphertext that names another round is refused.
    Verified {
        /// The round the beacon is of.
        round: Round,
        /// Its key.
        key: RoundKey,
    },
}

impl core::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Signature(_) => f.write_str("Signature(..)"),
            Self::Fetch(_) => f.write_str("Fetch(..)"),
            Self::Verified { round, .. } => write!(f, "Verified {{ round: {round}, .. }}"),
        }
    }
}

/// What `decrypt` needs besides the input.
#[derive(Debug)]
pub struct DecryptOptions {
    /// The chain the ciphertext must be sealed to.
    pub chain: Chain,
    /// Where the round's key comes from.
    pub key: KeySource,
    /// The round the user says it is sealed to: required to verify the beacon
    /// of a raw TLE; checked against the round carried by age and bittensor.
    pub round: Option<Round>,
}

impl DecryptOptions {
    /// The key for `carried` (the round the ciphertext names, if any).
    /// Whenever a round is known the signature is verified as its beacon;
    /// otherwise it is only decoded, and the IBE check authenticates it.
    fn key_for(&self, carried: Option<Round>) -> Result<RoundKey, Error> {
        if let (Some(c), Some(given)) = (carried, self.round)
            && c != given
        {
            return Err(Error::Content(format!(
                "the ciphertext is sealed to round {c}, not to --round {given}"
            )));
        }
        let round = carried.or(self.round);
        let (round, fetched, what) = match (&self.key, round) {
            (
                KeySource::Verified {
                    round: verified,
                    key,
                },
                r,
            ) => {
                return match r {
                    Some(r) if r != *verified => Err(Error::Content(format!(
                        "the ciphertext is sealed to round {r}, not to round {verified}"
                    ))),
                    _ => Ok(*key),
                };
            }
            (KeySource::Signature(sig), None) => {
                return Ok(RoundKey::from_unverified_signature(sig)?);
            }
            (KeySource::Fetch(_), None) => {
                return Err(Error::Content(
                    "a raw TLE file carries no round: give --round to fetch its beacon".into(),
                ));
            }
            (KeySource::Signature(_), Some(r)) => (r, None, "--signature"),
            (KeySource::Fetch(fetch), Some(r)) => (r, Some(fetch(r)?), "the fetched beacon"),
        };
        let signature = match (&fetched, &self.key) {
            (Some(f), _) => f.as_slice(),
            (None, KeySource::Signature(sig)) => sig.as_slice(),
            (None, _) => &[],
        };
        let beacon = self
            .chain
            .verify_beacon(&Beacon {
                round,
                signature,
                previous_signature: None,
            })
            .map_err(|e| Error::Content(format!("{what} for round {round}: {e}")))?;
        Ok(RoundKey::from_verified(&beacon))
    }
}

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

/// A chunk buffer, the length of the data in it, and whether it is the last.
type Chunk<'a> = (&'a mut [u8], usize, bool);

/// Reads fixed-size chunks with one chunk of look-ahead, so that the last one
/// is known to be last. Two buffers of `cap` bytes: constant memory.
struct Chunks<'r> {
    input: &'r mut dyn Read,
    chunk: usize,
    cur: Vec<u8>,
    cur_len: usize,
    next: Vec<u8>,
    next_len: Option<usize>,
    done: bool,
}

impl<'r> Chunks<'r> {
    fn new(input: &'r mut dyn Read, chunk: usize, cap: usize) -> Self {
        Self {
            input,
            chunk,
            cur: vec![0; cap],
            cur_len: 0,
            next: vec![0; cap],
            next_len: None,
            done: false,
        }
    }

    /// The next chunk as `(buffer, data length, is last)`; the buffer may be
    /// longer than the data (room for a tag). An empty input gives one empty
    /// last chunk.
    fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>, Error> {
        if self.done {
            return Ok(None);
        }
        let read_err = Error::io("reading the input");
        let chunk = self.chunk;
        self.cur_len = match self.next_len.take() {
            Some(n) => {
                core::mem::swap(&mut self.cur, &mut self.next);
                n
            }
            None => read_full(self.input, &mut self.cur[..chunk]).map_err(read_err)?,
        };
        let last = if self.cur_len < chunk {
            true
        } else {
            let n = read_full(self.input, &mut self.next[..chunk])
                .map_err(Error::io("reading the input"))?;
            self.next_len = Some(n);
            n == 0
        };
        self.done = last;
        Ok(Some((&mut self.cur[..], self.cur_len, last)))
    }
}

// ---------------------------------------------------------------------------
// Decrypt
// ---------------------------------------------------------------------------

/// Opens `input` (format detected) and writes the plaintext to `out`. For
/// age, each authenticated chunk is written as it is opened.
///
/// # Errors
///
/// An unknown format, a chain or round mismatch, a signature that is not the
/// round's beacon, any decryption failure, or an I/O error.
pub fn decrypt(
    opts: &DecryptOptions,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Format, Error> {
    let mut head = [0u8; DETECT_PREFIX_LEN];
    let n = read_full(input, &mut head).map_err(Error::io("reading the input"))?;
    let head = head.get(..n).unwrap_or(&[]);
    let mut whole = Cursor::new(head).chain(input);
    match format::detect_streaming(head) {
        Some((_, true)) => {
            let mut r = ArmorReader::new(BufReader::new(whole));
            open_age(opts, &mut r, out)?;
            r.finish()?;
            Ok(Format::Age)
        }
        Some((_, false)) => open_age(opts, &mut whole, out).map(|()| Format::Age),
        None => {
            let mut bytes = read_capped(&mut whole, MAX_TLE_LEN)?;
            let format = format::detect_whole(&bytes).ok_or_else(unknown_format)?;
            let range = match format {
                Format::Bittensor => {
                    let (round, inner) = bittensor::parse(&bytes)?;
                    let key = opts.key_for(Some(round))?;
                    let offset = inner.start;
                    let tle_bytes = bytes.get_mut(inner).ok_or_else(unknown_format)?;
                    let parsed = tle::parse(tle_bytes, Layout::Tle)?;
                    let r = tle::open_in_place(&parsed, tle_bytes, &key)?;
                    (offset + r.start)..(offset + r.end)
                }
                Format::Tle | Format::TleV03 => {
                    let layout = if format == Format::Tle {
                        Layout::Tle
                    } else {
                        Layout::TleV03
                    };
                    let key = opts.key_for(None)?;
                    let parsed = tle::parse(&bytes, layout)?;
                    tle::open_in_place(&parsed, &mut bytes, &key)?
                }
                Format::Age => return Err(unknown_format()),
            };
            out.write_all(bytes.get(range).unwrap_or(&[]))
                .map_err(Error::io("writing the output"))?;
            Ok(format)
        }
    }
}

fn unknown_format() -> Error {
    Error::Content(
        "input is not in a timelock format veil knows (age, tle, tle-v03, bittensor)".into(),
    )
}

fn open_age(opts: &DecryptOptions, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), Error> {
    let mut hbuf = vec![0u8; MAX_AGE_HEADER_LEN];
    let n = read_full(input, &mut hbuf).map_err(Error::io("reading the input"))?;
    let hbuf = hbuf.get(..n).unwrap_or(&[]);
    let hdr = Header::parse(hbuf)?;
    if hdr.chain_hash() != opts.chain.hash() {
        return Err(wrong_chain(hdr.chain_hash(), &opts.chain));
    }
    let key = opts.key_for(Some(hdr.round()))?;
    let mut rest = Cursor::new(hbuf.get(hdr.len()..).unwrap_or(&[])).chain(input);
    let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
    if read_full(&mut rest, &mut nonce).map_err(Error::io("reading the input"))? < PAYLOAD_NONCE_LEN
    {
        return Err(age::AgeError::Truncated.into());
    }
    let mut opener = hdr.open(&key, &nonce)?;
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

// ---------------------------------------------------------------------------
// Armor adapters
// ---------------------------------------------------------------------------

/// Decodes armored input line by line (lines bounded by
/// [`MAX_ARMOR_LINE_LEN`]) into the binary age file.
struct ArmorReader<R> {
    inner: R,
    decoder: armor::Decoder,
    line: Vec<u8>,
    out: [u8; armor::BYTES_PER_LINE],
    out_pos: usize,
    out_len: usize,
    eof: bool,
}

impl<R: BufRead> ArmorReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            decoder: armor::Decoder::new(),
            line: Vec::with_capacity(MAX_ARMOR_LINE_LEN),
            out: [0; armor::BYTES_PER_LINE],
            out_pos: 0,
            out_len: 0,
            eof: false,
        }
    }

    /// Reads one line into `self.line`; false at end of input.
    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        loop {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                return Ok(!self.line.is_empty());
            }
            let (take, found) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            if self.line.len() + take > MAX_ARMOR_LINE_LEN + 1 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    armor::ArmorError::Malformed("line too long"),
                ));
            }
            self.line.extend_from_slice(&avail[..take]);
            self.inner.consume(take);
            if found {
                self.line.pop();
                return Ok(true);
            }
        }
    }

    /// Reads the rest (only blank lines may follow END) and checks the END line.
    fn finish(mut self) -> Result<(), Error> {
        let mut sink = [0u8; 1];
        if self.read(&mut sink).map_err(armor_io)? > 0 {
            return Err(Error::Content("trailing data after the age payload".into()));
        }
        self.decoder.finish()?;
        Ok(())
    }
}

fn armor_io(e: io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<armor::ArmorError>())
    {
        Some(a) => (*a).into(),
        None => Error::Io {
            what: "reading the input",
            source: e,
        },
    }
}

impl<R: BufRead> Read for ArmorReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out_len {
            if self.eof || !self.read_line()? {
                self.eof = true;
                return Ok(0);
            }
            let decoded = self
                .decoder
                .decode_line(&self.line, &mut self.out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.out_len = decoded.len();
            self.out_pos = 0;
        }
        let avail = &self.out[self.out_pos..self.out_len];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Armors everything written through it; [`ArmorWriter::finish`] writes the
/// last line and END.
struct ArmorWriter<'w> {
    inner: &'w mut dyn Write,
    encoder: armor::Encoder,
}

impl<'w> ArmorWriter<'w> {
    fn new(inner: &'w mut dyn Write) -> Self {
        Self {
            inner,
            encoder: armor::Encoder::new(),
        }
    }

    fn finish(self) -> io::Result<()> {
        let inner = self.inner;
        self.encoder.finish(|l| inner.write_all(l))
    }
}

impl Write for ArmorWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let inner = &mut *self.inner;
        self.encoder.push(buf, |l| inner.write_all(l))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
