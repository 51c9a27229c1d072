//! ASCII armor as I/O adapters: `ArmorReader` decodes armored age line
//! by line (lines bounded by [`MAX_ARMOR_LINE_LEN`]) as the binary file is
//! read, and `ArmorWriter` armors what is written through it.

use std::io::{self, BufRead, Read, Write};

use veil_core::armor;
use veil_core::limits::MAX_ARMOR_LINE_LEN;

use crate::Error;

/// Decodes armored input line by line (lines bounded by
/// [`MAX_ARMOR_LINE_LEN`]) into the binary age file.
pub(crate) struct ArmorReader<R> {
    inner: R,
    decoder: armor::Decoder,
    line: Vec<u8>,
    out: [u8; armor::BYTES_PER_LINE],
    out_pos: usize,
    out_len: usize,
    eof: bool,
}

impl<R: BufRead> ArmorReader<R> {
    pub(crate) fn new(inner: R) -> Self {
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
    pub(crate) fn finish(mut self) -> Result<(), Error> {
        let mut sink = [0u8; 1];
        if self.read(&mut sink).map_err(armor_io)? > 0 {
            return Err(Error::Content("trailing data after the age payload".into()));
        }
        self.decoder.finish()?;
        Ok(())
    }
}

/// For an armored file read from disk, checks its END line before anything
/// is opened, so that a truncated file is refused before a byte of
/// plaintext is written (input that cannot be read twice, such as a pipe,
/// is checked at its end, as it streams). Leaves `file` at its start.
///
/// # Errors
///
/// [`Error::Content`] for an armored file without its END line, or the
/// I/O error.
pub fn check_armor_end(file: &mut std::fs::File) -> Result<(), Error> {
    use std::io::{Seek as _, SeekFrom};
    let io_err = |e| Error::io("reading the input")(e);
    let mut head = [0u8; 64];
    let n = crate::fs::read_full(file, &mut head).map_err(io_err)?;
    let armored = head
        .get(..n)
        .unwrap_or_default()
        .trim_ascii_start()
        .starts_with(armor::BEGIN.as_bytes());
    if armored {
        let len = file.seek(SeekFrom::End(0)).map_err(io_err)?;
        file.seek(SeekFrom::Start(len.saturating_sub(256)))
            .map_err(io_err)?;
        let mut tail = Vec::with_capacity(256);
        file.take(256).read_to_end(&mut tail).map_err(io_err)?;
        if !tail.trim_ascii_end().ends_with(armor::END.as_bytes()) {
            return Err(Error::Content(format!(
                "the armored input has no END line ({}): it is truncated or damaged; \
                 nothing was opened",
                armor::END
            )));
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    Ok(())
}

pub(crate) fn armor_io(e: io::Error) -> Error {
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
pub(crate) struct ArmorWriter<'w> {
    inner: &'w mut dyn Write,
    encoder: armor::Encoder,
}

impl<'w> ArmorWriter<'w> {
    pub(crate) fn new(inner: &'w mut dyn Write) -> Self {
        Self {
            inner,
            encoder: armor::Encoder::new(),
        }
    }

    pub(crate) fn finish(self) -> io::Result<()> {
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
