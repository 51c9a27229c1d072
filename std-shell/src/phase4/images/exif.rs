//! EXIF in camera photos: whether it holds GPS coordinates, and removing
//! it. A real screen-replay capture's photos become public after the
//! reveal; a phone writes where they were taken into them.
//!
//! JPEG: the `APP1` segments that start `Exif\0\0` (the segments before
//! the image data are walked; the image data is copied unchanged). PNG:
//! the `eXIf` chunk. Inside, the TIFF header's first directory is read for
//! the GPS directory pointer (tag `0x8825`); every offset is bounds-checked.

/// The TIFF tag that points to the GPS directory.
const GPS_IFD_TAG: u16 = 0x8825;
const EXIF_HEADER: &[u8] = b"Exif\0\0";
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A JPEG's segments before its image data: (marker, whole segment range).
fn jpeg_segments(bytes: &[u8]) -> Option<Vec<(u8, core::ops::Range<usize>)>> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        // Start of scan or end of image: the image data follows.
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let end = at.checked_add(2)?.checked_add(len)?;
        if len < 2 || end > bytes.len() {
            return None;
        }
        out.push((marker, at..end));
        at = end;
    }
    Some(out)
}

/// PNG chunks: (type, whole chunk range).
fn png_chunks(bytes: &[u8]) -> Option<Vec<([u8; 4], core::ops::Range<usize>)>> {
    if bytes.get(..8)? != PNG_MAGIC {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 8;
    while at + 12 <= bytes.len() {
        let len = usize::try_from(u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?)).ok()?;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().ok()?;
        let end = at.checked_add(12)?.checked_add(len)?;
        if end > bytes.len() {
            return None;
        }
        out.push((kind, at..end));
        at = end;
        if &kind == b"IEND" {
            break;
        }
    }
    Some(out)
}

/// The TIFF payloads of a photo's EXIF blocks.
fn exif_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    if let Some(segments) = jpeg_segments(bytes) {
        return segments
            .into_iter()
            .filter(|(m, _)| *m == 0xE1)
            .filter_map(|(_, r)| bytes.get(r.start + 4..r.end))
            .filter_map(|payload| payload.strip_prefix(EXIF_HEADER))
            .collect();
    }
    png_chunks(bytes)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == b"eXIf")
        .filter_map(|(_, r)| bytes.get(r.start + 8..r.end - 4))
        .collect()
}

/// Whether a TIFF block's first directory points to GPS data.
fn tiff_has_gps(tiff: &[u8]) -> bool {
    let big = match tiff.get(..4) {
        Some(b"MM\0*") => true,
        Some(b"II*\0") => false,
        _ => return false,
    };
    let u16_at = |at: usize| {
        tiff.get(at..at + 2).map(|b| {
            let b = [b[0], b[1]];
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        })
    };
    let u32_at = |at: usize| {
        tiff.get(at..at + 4).map(|b| {
            let b = [b[0], b[1], b[2], b[3]];
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        })
    };
    let Some(ifd) = u32_at(4).and_then(|o| usize::try_from(o).ok()) else {
        return false;
    };
    let Some(count) = u16_at(ifd) else {
        return false;
    };
    (0..usize::from(count)).any(|i| u16_at(ifd + 2 + 12 * i) == Some(GPS_IFD_TAG))
}

/// Whether the photo carries GPS coordinates in its EXIF data.
pub fn has_gps(bytes: &[u8]) -> bool {
    exif_blocks(bytes).into_iter().any(tiff_has_gps)
}

/// The photo without its EXIF data (JPEG `APP1` Exif segments, PNG `eXIf`
/// chunks), everything else byte for byte; `None` when it is neither a
/// JPEG nor a PNG this can walk.
pub fn strip_exif(bytes: &[u8]) -> Option<Vec<u8>> {
    if let Some(segments) = jpeg_segments(bytes) {
        let mut out = Vec::with_capacity(bytes.len());
        out.extend_from_slice(&bytes[..2]);
        let mut copied = 2;
        for (marker, range) in segments {
            let exif = marker == 0xE1
                && bytes
                    .get(range.start + 4..range.end)
                    .is_some_and(|p| p.starts_with(EXIF_HEADER));
            if !exif {
                out.extend_from_slice(&bytes[range.clone()]);
            }
            copied = range.end;
        }
        out.extend_from_slice(&bytes[copied..]);
        return Some(out);
    }
    let chunks = png_chunks(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_MAGIC);
    let mut copied = 8;
    for (kind, range) in chunks {
        if &kind != b"eXIf" {
            out.extend_from_slice(&bytes[range.clone()]);
        }
        copied = range.end;
    }
    out.extend_from_slice(&bytes[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian TIFF block whose first directory has `tags`.
    fn tiff(tags: &[u16]) -> Vec<u8> {
        let mut t = b"II*\0".to_vec();
        t.extend_from_slice(&8u32.to_le_bytes());
        t.extend_from_slice(&u16::try_from(tags.len()).unwrap().to_le_bytes());
        for tag in tags {
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&4u16.to_le_bytes());
            t.extend_from_slice(&1u32.to_le_bytes());
            t.extend_from_slice(&0u32.to_le_bytes());
        }
        t.extend_from_slice(&0u32.to_le_bytes());
        t
    }

    fn jpeg_with(tags: &[u16]) -> Vec<u8> {
        let img = image::RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([
                u8::try_from(x * 9).unwrap_or(0),
                u8::try_from(y * 9).unwrap_or(0),
                40,
            ])
        });
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut plain)
            .encode_image(&img)
            .unwrap();
        let mut payload = EXIF_HEADER.to_vec();
        payload.extend(tiff(tags));
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend(payload);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn gps_is_found_and_stripped_and_the_photo_still_decodes() {
        let with = jpeg_with(&[0x010F, GPS_IFD_TAG]);
        let without = jpeg_with(&[0x010F]);
        assert!(has_gps(&with));
        assert!(!has_gps(&without));
        let stripped = strip_exif(&with).unwrap();
        assert!(!has_gps(&stripped));
        assert!(stripped.len() < with.len());
        let a = image::load_from_memory(&stripped).unwrap().to_rgb8();
        let b = image::load_from_memory(&with).unwrap().to_rgb8();
        assert_eq!(a, b, "the pixels are untouched");
        // Garbage and truncations are no panic.
        for n in 0..with.len().min(64) {
            let _ = has_gps(&with[..n]);
            let _ = strip_exif(&with[..n]);
        }
        assert!(!has_gps(b"not an image"));
    }
}
