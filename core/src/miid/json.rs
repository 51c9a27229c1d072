//! Free text kept as raw JSON string content and unescaped on demand.

use serde::Deserialize;

use super::FrameError;

/// The raw content of a JSON string as it appears in the input (escapes not
/// yet resolved): free text borrowed without copying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct JsonStr<'a>(#[serde(borrow)] pub &'a str);

impl JsonStr<'_> {
    /// Resolves the escapes into `buf` (which needs at most the raw length).
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] for an invalid escape, [`FrameError::BufferFull`].
    pub fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, FrameError> {
        let bad = FrameError::Field("string", "invalid JSON escape");
        let mut out = 0usize;
        let mut put = |buf: &mut [u8], bytes: &[u8]| -> Result<(), FrameError> {
            let end = out.checked_add(bytes.len()).ok_or(FrameError::BufferFull)?;
            buf.get_mut(out..end)
                .ok_or(FrameError::BufferFull)?
                .copy_from_slice(bytes);
            out = end;
            Ok(())
        };
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                put(buf, c.encode_utf8(&mut [0; 4]).as_bytes())?;
                continue;
            }
            let e = match chars.next().ok_or(bad)? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let hi = hex4(&mut chars).ok_or(bad)?;
                    let code = if (0xD800..0xDC00).contains(&hi) {
                        if chars.next() != Some('\\') || chars.next() != Some('u') {
                            return Err(bad);
                        }
                        let lo = hex4(&mut chars).ok_or(bad)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(bad);
                        }
                        hi.checked_sub(0xD800)
                            .and_then(|h| h.checked_shl(10))
                            .zip(lo.checked_sub(0xDC00))
                            .and_then(|(h, l)| (h | l).checked_add(0x10000))
                            .ok_or(bad)?
                    } else {
                        hi
                    };
                    char::from_u32(code).ok_or(bad)?
                }
                _ => return Err(bad),
            };
            put(buf, e.encode_utf8(&mut [0; 4]).as_bytes())?;
        }
        let written = buf.get(..out).ok_or(FrameError::BufferFull)?;
        core::str::from_utf8(written).map_err(|_| bad)
    }
}

/// Four hex digits of a `\u` escape.
fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let mut v = 0u32;
    for _ in 0..4 {
        v = (v << 4) | chars.next()?.to_digit(16)?;
    }
    Some(v)
}
