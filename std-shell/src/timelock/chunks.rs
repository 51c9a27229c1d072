//! Fixed-size chunks with one chunk of look-ahead, so that the last one is
//! known to be last (age's STREAM marks it). Two buffers: constant memory.

use std::io::Read;

use crate::Error;
use crate::fs::read_full;

/// A chunk buffer, the length of the data in it, and whether it is the last.
pub(crate) type Chunk<'a> = (&'a mut [u8], usize, bool);

/// Reads fixed-size chunks with one chunk of look-ahead, so that the last one
/// is known to be last. Two buffers of `cap` bytes: constant memory.
pub(crate) struct Chunks<'r> {
    input: &'r mut dyn Read,
    chunk: usize,
    cur: Vec<u8>,
    cur_len: usize,
    next: Vec<u8>,
    next_len: Option<usize>,
    done: bool,
}

impl<'r> Chunks<'r> {
    pub(crate) fn new(input: &'r mut dyn Read, chunk: usize, cap: usize) -> Self {
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
    pub(crate) fn next_chunk(&mut self) -> Result<Option<Chunk<'_>>, Error> {
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
