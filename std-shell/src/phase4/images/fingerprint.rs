//! A perceptual fingerprint for telling near copies apart.

use core::fmt;

use crate::Error;

/// Side of the grey grid a [`Fingerprint`] keeps.
pub const FINGERPRINT_SIDE: u32 = 32;

/// The largest [`Fingerprint::distance`] at which two images count as
/// near duplicates, in grey levels (of 255).
///
/// Measured on the sample faces: a copy re-encoded as JPEG (quality 80) or
/// rescaled to half size stays under 3 from its original, while the
/// built-in generator's variations of one base image for two different
/// seeds are at least about 4 apart for every standard request.
pub const NEAR_DUPLICATE_MAX: f32 = 3.5;

/// A perceptual fingerprint: the image in grey, reduced to 32×32 cells.
///
/// Two images are compared by [`Fingerprint::distance`]: the largest
/// difference of one cell once the mean difference is taken out. A copy
/// that was re-encoded, rescaled or made uniformly brighter differs
/// little everywhere; a real variation differs a lot somewhere, even when
/// it only moved a mouth.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<u8>);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Fingerprint({}…)",
            hex::encode(&self.0[..8.min(self.0.len())])
        )
    }
}

impl Fingerprint {
    /// The fingerprint of `img`.
    pub fn of(img: &image::RgbImage) -> Self {
        let grey = image::imageops::grayscale(img);
        let small = image::imageops::resize(
            &grey,
            FINGERPRINT_SIDE,
            FINGERPRINT_SIDE,
            image::imageops::FilterType::Triangle,
        );
        Self(small.into_raw())
    }

    /// The fingerprint as hex (2048 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// A fingerprint from [`Fingerprint::to_hex`]'s form.
    ///
    /// # Errors
    ///
    /// [`Error::Content`] for anything but 2048 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let cells = (FINGERPRINT_SIDE * FINGERPRINT_SIDE) as usize;
        match veil_core::encoding::decode_vec(text, cells) {
            Ok(bytes) if bytes.len() == cells => Ok(Self(bytes)),
            _ => Err(Error::Content(format!(
                "a fingerprint is {} hex characters",
                cells * 2
            ))),
        }
    }

    /// How far apart two fingerprints are, in grey levels: the largest
    /// per-cell difference after removing the mean difference.
    pub fn distance(&self, other: &Self) -> f32 {
        let n = self.0.len().min(other.0.len()).max(1);
        let diff = |(a, b): (&u8, &u8)| f32::from(*a) - f32::from(*b);
        let mean = self.0.iter().zip(&other.0).map(diff).sum::<f32>() / n as f32;
        self.0
            .iter()
            .zip(&other.0)
            .map(|p| (diff(p) - mean).abs())
            .fold(0.0, f32::max)
    }
}
