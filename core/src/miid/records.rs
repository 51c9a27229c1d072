//! The wire records: `VariationRequest`, `ImageRequest` and `S3Submission`,
//! decoded zero-copy and encoded into a caller buffer.

use serde::{Deserialize, Serialize};

use super::json::JsonStr;
use super::keys::validate_object_key;
use super::{FrameError, check_hex, check_intensity, check_key_part, check_variation_type};
use crate::drand::round::Round;
use crate::encoding::check_json_depth;
use crate::limits::{MAX_JSON_DEPTH, MAX_VARIATION_REQUESTS};

fn from_json<'a, T: Deserialize<'a>>(json: &'a [u8], what: &'static str) -> Result<T, FrameError> {
    check_json_depth(json, MAX_JSON_DEPTH).map_err(|()| FrameError::TooDeep {
        max: MAX_JSON_DEPTH,
    })?;
    serde_json_core::from_slice::<T>(json)
        .map(|(v, _)| v)
        .map_err(|_| FrameError::Json(what))
}

/// A variation the validator asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct VariationRequest<'a> {
    /// A known type or a `+`-joined combination.
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    /// `light`, `medium` or `far`.
    #[serde(borrow)]
    pub intensity: &'a str,
    /// Free text (raw JSON content on input).
    #[serde(borrow, default)]
    pub description: &'a str,
    /// Free text (raw JSON content on input).
    #[serde(borrow, default)]
    pub detail: &'a str,
}

impl<'a> VariationRequest<'a> {
    fn validate(&self) -> Result<(), FrameError> {
        check_variation_type(self.kind)?;
        check_intensity(self.intensity)
    }

    /// `description` as raw JSON content, for [`JsonStr::unescape_into`].
    pub const fn description_raw(&self) -> JsonStr<'a> {
        JsonStr(self.description)
    }

    /// `detail` as raw JSON content, for [`JsonStr::unescape_into`].
    pub const fn detail_raw(&self) -> JsonStr<'a> {
        JsonStr(self.detail)
    }
}

#[derive(Deserialize)]
struct ImageRequestWire<'a> {
    #[serde(borrow)]
    image_filename: &'a str,
    #[serde(borrow, default)]
    variation_requests: Option<heapless::Vec<VariationRequest<'a>, MAX_VARIATION_REQUESTS>>,
    #[serde(borrow, default)]
    variation_types: Option<heapless::Vec<&'a str, MAX_VARIATION_REQUESTS>>,
    #[serde(default)]
    requested_variations: Option<u32>,
    target_drand_round: u64,
    reveal_timestamp: u64,
    #[serde(borrow, default)]
    challenge_id: Option<&'a str>,
}

/// An `ImageRequest` without its base64 image (which the shell streams):
/// everything a miner needs to know about the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRequestMeta<'a> {
    /// The base image's file name (a safe key part).
    pub image_filename: &'a str,
    /// What to make.
    pub variation_requests: heapless::Vec<VariationRequest<'a>, MAX_VARIATION_REQUESTS>,
    /// The round to seal every variation to.
    pub target_drand_round: Round,
    /// When that round is emitted, unix seconds.
    pub reveal_timestamp: u64,
    /// The challenge, when the validator names one.
    pub challenge_id: Option<&'a str>,
}

impl<'a> ImageRequestMeta<'a> {
    /// Decodes an `ImageRequest` (today's shape or the first cut's
    /// `variation_types` + `requested_variations`, which becomes one request
    /// per listed type at intensity `medium`, repeated in order up to
    /// `requested_variations`). `base_image` and unknown fields are skipped
    /// without being copied.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] naming the problem.
    pub fn decode(json: &'a [u8]) -> Result<Self, FrameError> {
        let w: ImageRequestWire<'a> = from_json(json, "ImageRequest")?;
        check_key_part(w.image_filename, "image_filename")?;
        if let Some(cid) = w.challenge_id {
            check_key_part(cid, "challenge_id")?;
        }
        let target_drand_round = Round::new(w.target_drand_round)
            .map_err(|_| FrameError::Field("target_drand_round", "round 0 does not exist"))?;
        let variation_requests = match (w.variation_requests, w.variation_types) {
            (Some(v), _) if !v.is_empty() => v,
            (_, Some(types)) if !types.is_empty() => {
                let n = w.requested_variations.map_or(types.len(), |n| n as usize);
                if n > MAX_VARIATION_REQUESTS {
                    return Err(FrameError::TooManyVariations {
                        max: MAX_VARIATION_REQUESTS,
                    });
                }
                types
                    .iter()
                    .cycle()
                    .take(n)
                    .map(|t| VariationRequest {
                        kind: t,
                        intensity: "medium",
                        description: "",
                        detail: "",
                    })
                    .collect()
            }
            _ => heapless::Vec::new(),
        };
        for v in &variation_requests {
            v.validate()?;
        }
        Ok(Self {
            image_filename: w.image_filename,
            variation_requests,
            target_drand_round,
            reveal_timestamp: w.reveal_timestamp,
            challenge_id: w.challenge_id,
        })
    }
}

/// A miner's answer for one sealed image. Every field is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct S3Submission<'a> {
    /// Where the sealed image is stored ([`validate_object_key`]).
    #[serde(borrow)]
    pub s3_key: &'a str,
    /// SHA-256 of the plaintext PNG, 64 hex characters.
    #[serde(borrow)]
    pub image_hash: &'a str,
    /// Signature of [`image_message`](super::image_message), 128 hex characters.
    #[serde(borrow)]
    pub signature: &'a str,
    /// The variation type.
    #[serde(borrow)]
    pub variation_type: &'a str,
    /// 16 hex characters ([`path_signature`](super::path_signature)).
    #[serde(borrow)]
    pub path_signature: &'a str,
}

impl<'a> S3Submission<'a> {
    /// Checks every field's shape.
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] naming the field.
    pub fn validate(&self) -> Result<(), FrameError> {
        validate_object_key(self.s3_key)?;
        check_hex(
            self.image_hash,
            32,
            "image_hash",
            "must be 64 hex characters (SHA-256)",
        )?;
        check_hex(
            self.signature,
            64,
            "signature",
            "must be 128 hex characters",
        )?;
        check_variation_type(self.variation_type)?;
        check_hex(
            self.path_signature,
            8,
            "path_signature",
            "must be 16 hex characters",
        )
    }

    /// Decodes and validates one record.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] naming the problem.
    pub fn decode(json: &'a [u8]) -> Result<Self, FrameError> {
        let s: Self = from_json(json, "S3Submission")?;
        s.validate()?;
        Ok(s)
    }

    /// Validates and encodes into `out`, returning the bytes written.
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] or [`FrameError::BufferFull`].
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], FrameError> {
        self.validate()?;
        let n = serde_json_core::to_slice(self, out).map_err(|_| FrameError::BufferFull)?;
        out.get(..n).ok_or(FrameError::BufferFull)
    }
}
