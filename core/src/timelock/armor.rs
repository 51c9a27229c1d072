//! age's ASCII armor: strict PEM-style base64 between fixed markers.
//!
//! ```text
//! -----BEGIN AGE ENCRYPTED FILE-----
//! {standard base64 with padding, 64 columns; the last line at most 64}
//! -----END AGE ENCRYPTED FILE-----
//! ```
//!
//! Both sides are incremental so that memory is constant in the file size:
//! [`Encoder`] turns bytes into lines, [`Decoder`] takes one line at a time.
//! Reading accepts LF or CRLF, whitespace-only lines before `BEGIN` and after
//! `END`, and a final `END` with or without a newline. A body whose last line
//! is a full 64 columns is accepted too: tlock-js writes that for some sizes
//! (its check for the extra line looks at the last character, not the last
//! line), and Go and rage read it.

use core::fmt;

use base64ct::{Base64, Encoding};

/// The first line of an armored file.
pub const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// The last line of an armored file.
pub const END: &str = "-----END AGE ENCRYPTED FILE-----";

/// Bytes per full armor line (64 base64 columns).
pub const BYTES_PER_LINE: usize = 48;

/// Why armored input was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArmorError {
    /// The input does not start with the BEGIN line.
    NotArmored,
    /// A malformed line; the text says how.
    Malformed(&'static str),
    /// The input ended before the END line.
    Truncated,
}

impl fmt::Display for ArmorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotArmored => f.write_str("not an armored age file"),
            Self::Malformed(why) => write!(f, "malformed armor: {why}"),
            Self::Truncated => f.write_str("armored file ends before its END line"),
        }
    }
}

impl core::error::Error for ArmorError {}

/// Incremental armor writer. Feed bytes with [`Encoder::push`], then call
/// [`Encoder::finish`]; each produces complete lines for a sink.
#[derive(Clone, Debug)]
pub struct Encoder {
    pending: [u8; BYTES_PER_LINE],
    n: usize,
    started: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// A new encoder; the BEGIN line comes with the first output.
    pub const fn new() -> Self {
        Self {
            pending: [0; BYTES_PER_LINE],
            n: 0,
            started: false,
        }
    }

    fn start<E>(&mut self, sink: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        if !self.started {
            self.started = true;
            sink(BEGIN.as_bytes())?;
            sink(b"\n")?;
        }
        Ok(())
    }

    fn flush_line<E>(&mut self, sink: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut line = [0u8; 64];
        let data = self.pending.get(..self.n).unwrap_or(&[]);
        if let Ok(text) = Base64::encode(data, &mut line) {
            sink(text.as_bytes())?;
            sink(b"\n")?;
        }
        self.n = 0;
        Ok(())
    }

    /// Encodes `data`, handing every completed line to `sink`.
    ///
    /// # Errors
    ///
    /// Whatever `sink` returns.
    pub fn push<E>(
        &mut self,
        mut data: &[u8],
        mut sink: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.start(&mut sink)?;
        while !data.is_empty() {
            let room = BYTES_PER_LINE.saturating_sub(self.n);
            let (take, rest) = data.split_at(room.min(data.len()));
            if let Some(dst) = self
                .pending
                .get_mut(self.n..self.n.saturating_add(take.len()))
            {
                dst.copy_from_slice(take);
            }
            self.n = self.n.saturating_add(take.len());
            data = rest;
            if self.n == BYTES_PER_LINE {
                self.flush_line(&mut sink)?;
            }
        }
        Ok(())
    }

    /// Writes the last (padded, shorter) line and the END line.
    ///
    /// # Errors
    ///
    /// Whatever `sink` returns.
    pub fn finish<E>(mut self, mut sink: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        self.start(&mut sink)?;
        if self.n > 0 {
            self.flush_line(&mut sink)?;
        }
        sink(END.as_bytes())?;
        sink(b"\n")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    BeforeBegin,
    Body { saw_last: bool },
    AfterEnd,
}

/// Line-by-line armor reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoder {
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

impl Decoder {
    /// A decoder waiting for the BEGIN line.
    pub const fn new() -> Self {
        Self {
            state: State::BeforeBegin,
        }
    }

    /// Takes one line (without its `\n`; a trailing `\r` is allowed) and
    /// returns the bytes it decodes to (none for marker and blank lines).
    ///
    /// # Errors
    ///
    /// [`ArmorError::NotArmored`] before a BEGIN line,
    /// [`ArmorError::Malformed`] for any line out of shape.
    pub fn decode_line<'o>(
        &mut self,
        line: &[u8],
        out: &'o mut [u8; BYTES_PER_LINE],
    ) -> Result<&'o [u8], ArmorError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match self.state {
            State::BeforeBegin => {
                if is_blank(line) {
                    return Ok(&[]);
                }
                if line.trim_ascii() != BEGIN.as_bytes() {
                    return Err(ArmorError::NotArmored);
                }
                self.state = State::Body { saw_last: false };
                Ok(&[])
            }
            State::Body { saw_last } => {
                if line == END.as_bytes() {
                    self.state = State::AfterEnd;
                    return Ok(&[]);
                }
                if saw_last {
                    return Err(ArmorError::Malformed("data after a short or padded line"));
                }
                if line.is_empty() || line.len() > 64 || !line.len().is_multiple_of(4) {
                    return Err(ArmorError::Malformed("line length"));
                }
                let decoded = Base64::decode(line, out)
                    .map_err(|_| ArmorError::Malformed("not canonical base64"))?;
                let last = line.len() < 64 || line.last() == Some(&b'=');
                self.state = State::Body { saw_last: last };
                Ok(decoded)
            }
            State::AfterEnd => {
                if is_blank(line) {
                    Ok(&[])
                } else {
                    Err(ArmorError::Malformed("text after the END line"))
                }
            }
        }
    }

    /// Checks that the END line was seen.
    ///
    /// # Errors
    ///
    /// [`ArmorError::Truncated`] otherwise.
    pub fn finish(&self) -> Result<(), ArmorError> {
        match self.state {
            State::AfterEnd => Ok(()),
            State::BeforeBegin => Err(ArmorError::NotArmored),
            State::Body { .. } => Err(ArmorError::Truncated),
        }
    }
}

/// Whether `prefix` (the first bytes of an input) starts an armored file:
/// optional whitespace, then the BEGIN marker.
pub fn looks_armored(prefix: &[u8]) -> bool {
    let start = prefix
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(prefix.len());
    prefix
        .get(start..)
        .is_some_and(|p| p.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, string::String, vec, vec::Vec};

    fn encode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = Encoder::new();
        // Feed in odd-sized pieces to exercise the line buffer.
        for piece in data.chunks(7) {
            enc.push(piece, |l| {
                out.extend_from_slice(l);
                Ok::<(), ()>(())
            })
            .unwrap();
        }
        enc.finish(|l| {
            out.extend_from_slice(l);
            Ok::<(), ()>(())
        })
        .unwrap();
        out
    }

    fn decode(text: &[u8]) -> Result<Vec<u8>, ArmorError> {
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        // Lines as a line reader yields them: no empty line after a final LF.
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        for line in text.split(|&b| b == b'\n') {
            let mut buf = [0u8; BYTES_PER_LINE];
            out.extend_from_slice(dec.decode_line(line, &mut buf)?);
        }
        dec.finish()?;
        Ok(out)
    }

    #[test]
    fn round_trips_every_length_around_line_boundaries() {
        for n in [0, 1, 2, 3, 47, 48, 49, 95, 96, 97, 1000] {
            let data: Vec<u8> = (0..n)
                .map(|i: usize| (i * 7 + 3).to_le_bytes()[0])
                .collect();
            let text = encode(&data);
            assert!(text.starts_with(BEGIN.as_bytes()));
            assert!(text.ends_with(b"-----END AGE ENCRYPTED FILE-----\n"));
            assert_eq!(decode(&text).unwrap(), data, "n={n}");
            // CRLF and no final newline are accepted too.
            let crlf: Vec<u8> = text
                .iter()
                .flat_map(|&b| {
                    if b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![b]
                    }
                })
                .collect();
            assert_eq!(decode(&crlf).unwrap(), data);
            assert_eq!(decode(&text[..text.len() - 1]).unwrap(), data);
        }
    }

    #[test]
    fn refuses_malformed_armor() {
        let good = encode(&[0xAB; 100]);
        let s = String::from_utf8(good.clone()).unwrap();
        let cases: [(&str, ArmorError); 7] = [
            ("", ArmorError::NotArmored),
            ("hello\n", ArmorError::NotArmored),
            (&s[..s.find("-----END").unwrap()], ArmorError::Truncated),
            (&s[..s.len() - 40], ArmorError::Malformed("line length")),
            (
                &s.replacen("q", "*", 1),
                ArmorError::Malformed("not canonical base64"),
            ),
            (
                &format!("{s}junk\n"),
                ArmorError::Malformed("text after the END line"),
            ),
            (
                &s.replacen("\n", "\n\n", 2),
                ArmorError::Malformed("line length"),
            ),
        ];
        for (text, err) in cases {
            assert_eq!(decode(text.as_bytes()), Err(err), "{text:?}");
        }
        assert!(looks_armored(b"\n  -----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!looks_armored(b"age-encryption.org/v1\n"));
    }
}
