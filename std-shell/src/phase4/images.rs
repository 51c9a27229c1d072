//! Images: decoding with explicit limits, PNG encoding, base64 with a cap,
//! thumbnails; base-image folders and the shipped samples ([`load_dir`],
//! [`samples`]); perceptual fingerprints ([`Fingerprint`]).
//!
//! Every image veil decodes comes from someone else: a miner decodes the
//! validator's base image, a validator and the reveal decode miners' images.
//! So decoding is bounded before any work is done:
//!
//! - the **encoded size** is checked first ([`ImageLimits::max_bytes`]);
//! - only **PNG and JPEG** are accepted, recognised by their magic bytes
//!   (never by a file name or a MIME type); anything else is refused with a
//!   one-line error naming what was found;
//! - the **dimensions** are read from the header and refused above
//!   [`ImageLimits::max_width`] × [`ImageLimits::max_height`] (the `image`
//!   crate's strict dimension limit), before any pixel buffer exists;
//! - the **memory** the decode needs (the decoder's output buffer, plus the
//!   RGB8 copy when the image is in another colour type) is computed from the
//!   header and refused above [`ImageLimits::max_alloc`]; the same figure is
//!   handed to the decoders (`image::Limits::max_alloc`) for their internal
//!   buffers. A decompression bomb (a few KB of deflate that inflate to
//!   gigabytes) is therefore refused from its header, never inflated.
//!
//! Decoded images are RGB8 ([`image::RgbImage`]): alpha is dropped and 16-bit
//! channels are reduced, since everything downstream (the variation
//! generators, hashing of re-encoded PNGs) works on 8-bit RGB.
//!
//! [`encode_png`] is deterministic: the same pixels always give the same bytes
//! (fixed compression level and filter strategy, no timestamps or text
//! chunks), which matters because miners sign the SHA-256 of those bytes.

use core::fmt;
use std::io::Cursor;

use base64::Engine as _;
use image::{ImageDecoder as _, ImageEncoder as _};

use crate::Error;
use crate::limits::{MAX_IMAGE_ALLOC, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE};
use crate::text::one_line;

mod base;
pub mod exif;
mod fingerprint;

pub use base::{BaseImage, load_dir, samples};
pub use fingerprint::{FINGERPRINT_SIDE, Fingerprint, NEAR_DUPLICATE_MAX};

/// The bounds applied to an untrusted image.
///
/// The defaults fit face images comfortably (a 4096×4096 photo is 16
/// megapixels) while keeping one decode under a few hundred MiB:
///
/// | field | default | why |
/// |---|---|---|
/// | `max_bytes` | 16 MiB | a 4096×4096 JPEG at high quality is ~5–10 MiB; a PNG photo of that size can reach ~15 MiB |
/// | `max_width`, `max_height` | 4096 | the largest base image a validator sends in practice is far smaller |
/// | `max_alloc` | 256 MiB | a 4096×4096 RGBA16 PNG needs 128 MiB plus a 48 MiB RGB8 copy |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest encoded image, in bytes.
    pub max_bytes: usize,
    /// Largest width, in pixels.
    pub max_width: u32,
    /// Largest height, in pixels.
    pub max_height: u32,
    /// Largest memory one decode may allocate for pixels, in bytes.
    pub max_alloc: u64,
}

impl ImageLimits {
    /// The limits on a real screen-replay capture's photos: phone-camera
    /// sized ([`crate::limits::MAX_CAPTURE_BYTES`],
    /// [`crate::limits::MAX_CAPTURE_SIDE`]); a decode still allocates at
    /// most [`MAX_IMAGE_ALLOC`].
    pub const fn capture() -> Self {
        Self {
            max_bytes: crate::limits::MAX_CAPTURE_BYTES,
            max_width: crate::limits::MAX_CAPTURE_SIDE,
            max_height: crate::limits::MAX_CAPTURE_SIDE,
            max_alloc: MAX_IMAGE_ALLOC,
        }
    }
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_IMAGE_BYTES,
            max_width: MAX_IMAGE_SIDE,
            max_height: MAX_IMAGE_SIDE,
            max_alloc: MAX_IMAGE_ALLOC,
        }
    }
}

/// The two encodings veil accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// JPEG/JFIF/EXIF (`FF D8 FF`).
    Jpeg,
}

impl Format {
    /// Recognises PNG or JPEG from the first bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Content`] naming what the bytes look like instead (GIF,
    /// WebP, empty input, ...).
    pub fn detect(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.starts_with(PNG_MAGIC) {
            Ok(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Ok(Self::Jpeg)
        } else {
            Err(Error::Content(format!(
                "not a PNG or JPEG image: found {}",
                describe_magic(bytes)
            )))
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            Self::Png => image::ImageFormat::Png,
            Self::Jpeg => image::ImageFormat::Jpeg,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
        })
    }
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A short name for what an unsupported input looks like, for the error.
fn describe_magic(bytes: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (b"\0\0\x01\0", "ICO"),
        (b"qoif", "QOI"),
        (b"\x76\x2f\x31\x01", "OpenEXR"),
        (b"%PDF", "PDF"),
        (b"\x1f\x8b", "gzip data"),
        (b"PK\x03\x04", "a ZIP archive"),
    ];
    if bytes.is_empty() {
        return "empty input".to_owned();
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return "WebP".to_owned();
    }
    if bytes.get(4..8) == Some(b"ftyp") {
        return match bytes.get(8..12) {
            Some(b"avif" | b"avis") => "AVIF".to_owned(),
            Some(b"heic" | b"heix" | b"mif1" | b"msf1") => "HEIF/HEIC".to_owned(),
            _ => "an ISO media file".to_owned(),
        };
    }
    if let Some((_, name)) = known.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return (*name).to_owned();
    }
    let head = bytes.get(..16).unwrap_or(bytes);
    if head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        return "text".to_owned();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("unknown data starting {}", hex.join(" "))
}

/// Decodes a PNG or JPEG into RGB8 within `limits` (see the module docs for
/// the order of the checks).
///
/// # Errors
///
/// [`Error::Content`], one line: too many bytes, not PNG/JPEG, dimensions or
/// memory over the limits, or a corrupt image.
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<image::RgbImage, Error> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::Content(format!(
            "image is {} bytes, more than the limit of {} bytes",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let format = Format::detect(bytes)?;
    // `image::Limits` is non-exhaustive: start from its default, set every field.
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(limits.max_width);
    lim.max_image_height = Some(limits.max_height);
    lim.max_alloc = Some(limits.max_alloc);
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(lim);
    let decoder = reader
        .into_decoder()
        .map_err(|e| image_error(format, limits, &e))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::Content(format!(
            "{format} image has no pixels ({width}×{height})"
        )));
    }
    // What the decode will hold at its peak: the decoder's own buffer, plus
    // the RGB8 copy unless the image already is RGB8.
    let rgb8 = u64::from(width)
        .saturating_mul(u64::from(height))
        .saturating_mul(3);
    let extra = if decoder.color_type() == image::ColorType::Rgb8 {
        0
    } else {
        rgb8
    };
    let needed = decoder.total_bytes().saturating_add(extra);
    if needed > limits.max_alloc {
        return Err(Error::Content(format!(
            "{format} image of {width}×{height} pixels needs {needed} bytes to decode, more than \
             the limit of {} bytes",
            limits.max_alloc
        )));
    }
    let img =
        image::DynamicImage::from_decoder(decoder).map_err(|e| image_error(format, limits, &e))?;
    Ok(img.into_rgb8())
}

/// Turns an `image` error into one line that says which limit or what failed.
fn image_error(format: Format, limits: &ImageLimits, e: &image::ImageError) -> Error {
    use image::error::LimitErrorKind;
    let msg = match e {
        image::ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => format!(
                "{format} image is larger than the limit of {}×{} pixels",
                limits.max_width, limits.max_height
            ),
            LimitErrorKind::InsufficientMemory => format!(
                "{format} image needs more than the limit of {} bytes to decode",
                limits.max_alloc
            ),
            _ => format!("{format} image refused: {}", one_line(&e.to_string())),
        },
        _ => format!("invalid {format} image: {}", one_line(&e.to_string())),
    };
    Error::Content(msg)
}

/// Encodes RGB8 pixels as PNG. Deterministic: the same pixels always give the
/// same bytes (zlib level 6 through the `png` crate's pure-Rust deflate,
/// adaptive filters, no ancillary chunks).
///
/// # Errors
///
/// [`Error::Content`] if the encoder refuses the image (it does not for any
/// [`image::RgbImage`] with non-zero dimensions).
pub fn encode_png(img: &image::RgbImage) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Default,
        image::codecs::png::FilterType::Adaptive,
    );
    encoder
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::Content(format!("cannot encode PNG: {}", one_line(&e.to_string()))))?;
    Ok(out)
}

/// A JPEG thumbnail (quality 80) no larger than `max_side` pixels on either
/// side, for reports; an image already that small is encoded as it is.
///
/// # Errors
///
/// [`Error::Content`] if the encoder refuses the image.
pub fn thumbnail_jpeg(img: &image::RgbImage, max_side: u32) -> Result<Vec<u8>, Error> {
    let (w, h) = img.dimensions();
    let longest = w.max(h).max(1);
    let small;
    let pixels = if longest > max_side {
        let scale = |v: u32| {
            u32::try_from(u64::from(v) * u64::from(max_side) / u64::from(longest))
                .unwrap_or(1)
                .max(1)
        };
        small = image::imageops::thumbnail(img, scale(w), scale(h));
        &small
    } else {
        img
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .write_image(
            pixels.as_raw(),
            pixels.width(),
            pixels.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::Content(format!("cannot encode JPEG: {}", one_line(&e.to_string()))))?;
    Ok(out)
}

/// Decodes standard base64 (RFC 4648 alphabet, `=` padding required, no
/// whitespace), refusing text that would decode to more than `max_bytes`
/// before decoding or allocating anything.
///
/// # Errors
///
/// [`Error::Content`], one line: too large, not padded, or an invalid
/// character (with its offset).
pub fn decode_base64(text: &str, max_bytes: usize) -> Result<Vec<u8>, Error> {
    let len = text.len();
    // The exact decoded size of well-formed padded base64: 3 bytes per 4
    // characters, minus the padding. Checked before anything is decoded.
    let padding = text.bytes().rev().take(2).filter(|&b| b == b'=').count();
    let decoded = (len / 4) * 3 - padding.min((len / 4) * 3);
    if decoded > max_bytes {
        return Err(Error::Content(format!(
            "base64 text decodes to {decoded} bytes, more than the limit of {max_bytes} bytes"
        )));
    }
    if let Some(pos) = text.bytes().position(|b| b.is_ascii_whitespace()) {
        return Err(Error::Content(format!(
            "invalid base64: whitespace at offset {pos}"
        )));
    }
    if !len.is_multiple_of(4) {
        return Err(Error::Content(format!(
            "invalid base64: length {len} is not a multiple of 4 (padding is required)"
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::Content(format!("invalid base64: {}", one_line(&e.to_string()))))
}

/// Encodes bytes as standard, padded base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte(v: u32) -> u8 {
        u8::try_from(v % 256).unwrap()
    }

    pub(super) fn gradient(w: u32, h: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([byte(x), byte(y), byte(x + y)]))
    }

    pub(super) fn jpeg(img: &image::RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(img)
            .unwrap();
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out
    }

    /// A PNG whose header claims `w`×`h` RGB8 pixels, with a tiny IDAT.
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = PNG_MAGIC.to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        out.extend(chunk(
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        ));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    fn content_msg(r: Result<image::RgbImage, Error>) -> String {
        match r {
            Err(Error::Content(m)) => {
                assert!(!m.contains('\n'), "{m}");
                m
            }
            Err(e) => panic!("unexpected error kind: {e}"),
            Ok(_) => panic!("decoded"),
        }
    }

    #[test]
    fn png_round_trip_is_exact_and_deterministic() {
        let img = gradient(97, 61);
        let png = encode_png(&img).unwrap();
        assert_eq!(encode_png(&img).unwrap(), png);
        assert_eq!(Format::detect(&png).unwrap(), Format::Png);
        let back = decode(&png, &ImageLimits::default()).unwrap();
        assert_eq!(back, img);
    }

    #[test]
    fn jpeg_round_trip_is_close() {
        let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 100, 50]));
        let bytes = jpeg(&img);
        assert_eq!(Format::detect(&bytes).unwrap(), Format::Jpeg);
        let back = decode(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(back.dimensions(), (64, 48));
        for (a, b) in back.pixels().zip(img.pixels()) {
            for c in 0..3 {
                assert!(a[c].abs_diff(b[c]) <= 4, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn grey_and_alpha_pngs_become_rgb() {
        let grey = image::GrayImage::from_fn(10, 10, |x, _| image::Luma([byte(x * 20)]));
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(grey.as_raw(), 10, 10, image::ExtendedColorType::L8)
            .unwrap();
        let rgb = decode(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(rgb.get_pixel(3, 0).0, [60, 60, 60]);

        let rgba = image::RgbaImage::from_pixel(4, 4, image::Rgba([1, 2, 3, 0]));
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(rgba.as_raw(), 4, 4, image::ExtendedColorType::Rgba8)
            .unwrap();
        let rgb = decode(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [1, 2, 3]);
    }

    #[test]
    fn truncated_and_garbage_inputs_are_refused() {
        let png = encode_png(&gradient(64, 64)).unwrap();
        for cut in [8, 20, 33, 40, png.len() / 2, png.len() - 13] {
            let m = content_msg(decode(&png[..cut], &ImageLimits::default()));
            assert!(m.contains("PNG"), "{m}");
        }
        let m = content_msg(decode(b"", &ImageLimits::default()));
        assert_eq!(m, "not a PNG or JPEG image: found empty input");
        let m = content_msg(decode(b"GIF89a\x01\x00\x01\x00", &ImageLimits::default()));
        assert_eq!(m, "not a PNG or JPEG image: found GIF");
        let m = content_msg(decode(b"RIFF\0\0\0\0WEBPVP8 ", &ImageLimits::default()));
        assert!(m.ends_with("WebP"), "{m}");
        let m = content_msg(decode(b"hello, world", &ImageLimits::default()));
        assert!(m.ends_with("text"), "{m}");
        let m = content_msg(decode(&[0, 1, 2, 3, 250], &ImageLimits::default()));
        assert!(m.ends_with("00 01 02 03 fa"), "{m}");
        // A JPEG cut short or filled with garbage after its magic never panics.
        let j = jpeg(&gradient(40, 40));
        for cut in [3, 10, 100, j.len() / 2] {
            let _ = decode(&j[..cut], &ImageLimits::default());
        }
        let mut junk = vec![0xFF, 0xD8, 0xFF];
        junk.extend((0..2000u32).map(|i| byte(i.wrapping_mul(2_654_435_761) >> 13)));
        let _ = decode(&junk, &ImageLimits::default());
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let limits = ImageLimits {
            max_bytes: 100,
            ..ImageLimits::default()
        };
        let m = content_msg(decode(&[0u8; 101], &limits));
        assert_eq!(m, "image is 101 bytes, more than the limit of 100 bytes");
    }

    #[test]
    fn dimension_bomb_is_refused_from_the_header() {
        let bomb = png_claiming(100_000, 100_000);
        let t = std::time::Instant::now();
        let m = content_msg(decode(&bomb, &ImageLimits::default()));
        assert_eq!(m, "PNG image is larger than the limit of 4096×4096 pixels");
        // With generous dimensions the memory limit refuses it, still from the header.
        let wide = ImageLimits {
            max_width: 200_000,
            max_height: 200_000,
            ..ImageLimits::default()
        };
        let m = content_msg(decode(&bomb, &wide));
        assert!(m.contains("bytes to decode, more than the limit"), "{m}");
        assert!(t.elapsed() < core::time::Duration::from_secs(2));
    }

    #[test]
    fn decompression_bomb_is_refused_by_max_alloc() {
        let zeros = image::GrayImage::new(4096, 4096);
        let mut bomb = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut bomb,
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(zeros.as_raw(), 4096, 4096, image::ExtendedColorType::L8)
        .unwrap();
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        let tight = ImageLimits {
            max_alloc: 8 << 20,
            ..ImageLimits::default()
        };
        let t = std::time::Instant::now();
        let m = content_msg(decode(&bomb, &tight));
        assert_eq!(
            m,
            "PNG image of 4096×4096 pixels needs 67108864 bytes to decode, more than the limit \
             of 8388608 bytes"
        );
        assert!(t.elapsed() < core::time::Duration::from_secs(1));
        // The RGB8 copy counts: 16 MiB of grey fits 32 MiB, but not with its 48 MiB copy.
        let between = ImageLimits {
            max_alloc: 32 << 20,
            ..ImageLimits::default()
        };
        content_msg(decode(&bomb, &between));
    }

    #[test]
    fn base64_round_trip_and_cap() {
        for n in 0..10 {
            let data: Vec<u8> = (0..n)
                .map(|i| byte(u32::try_from(i).unwrap() * 37))
                .collect();
            let text = encode_base64(&data);
            assert_eq!(decode_base64(&text, n).unwrap(), data);
            if n > 0 {
                let e = decode_base64(&text, n - 1).unwrap_err().to_string();
                assert!(e.contains("more than the limit"), "{e}");
            }
        }
        assert_eq!(encode_base64(b"veil"), "dmVpbA==");
    }

    #[test]
    fn base64_cap_is_checked_before_decoding() {
        // 40 MB of characters that are not base64: refused by size alone.
        let huge = "!".repeat(40_000_000);
        let t = std::time::Instant::now();
        let e = decode_base64(&huge, 16 << 20).unwrap_err().to_string();
        assert_eq!(
            e,
            "base64 text decodes to 30000000 bytes, more than the limit of 16777216 bytes"
        );
        assert!(t.elapsed() < core::time::Duration::from_secs(1));
    }

    #[test]
    fn base64_errors_are_one_line() {
        for (text, want) in [
            ("dmVp bA==", "whitespace at offset 4"),
            ("dmVpbA=\n", "whitespace at offset 7"),
            ("dmVpbA", "not a multiple of 4"),
            ("dmVp*A==", "invalid base64"),
            ("dmVpbA=a", "invalid base64"),
        ] {
            let e = decode_base64(text, 100).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'));
        }
        assert_eq!(decode_base64("", 0).unwrap(), Vec::<u8>::new());
    }
}
