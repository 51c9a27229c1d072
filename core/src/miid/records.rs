//! The wire records: `VariationRequest`, `ImageRequest` and `S3Submission`,
//! decoded zero-copy and encoded into a caller buffer.

use serde::{Deserialize, Serialize};

use super::json::JsonStr;
use super::keys::validate_object_key;
use super::{FrameError, check_hex, check_key_part, check_variation_type, part_intensities};
use crate::drand::round::Round;
use crate::encoding::check_json_depth;
use crate::limits::{MAX_FREE_TEXT_LEN, MAX_JSON_DEPTH, MAX_UAV_TEXT_LEN, MAX_VARIATION_REQUESTS};

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
    /// `light`, `medium` or `far` (`standard` for `screen_replay`); for a
    /// combined type one value, or one per part `+`-joined
    /// ([`part_intensities`]).
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
        part_intensities(self.kind, self.intensity).map(|_| ())
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
    #[serde(borrow, default)]
    daily_seed_filename: Option<&'a str>,
    #[serde(borrow, default)]
    real_screen_replay_instructions: Option<JsonStr<'a>>,
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
    /// The day's seed image's file name (MIID's optional
    /// `daily_seed_filename`; the image itself, `daily_seed_image`, is
    /// base64 the shell decodes within its limits).
    pub daily_seed_filename: Option<&'a str>,
    /// Free text about the real screen-replay task (raw JSON content).
    pub real_screen_replay_instructions: Option<JsonStr<'a>>,
}

impl<'a> ImageRequestMeta<'a> {
    /// Decodes an `ImageRequest` (today's shape or the first cut's
    /// `variation_types` + `requested_variations`, which becomes one request
    /// per listed type at intensity `medium`, repeated in order up to
    /// `requested_variations`). `base_image`, `daily_seed_image` and unknown
    /// fields are skipped without being copied; `null` optional fields are
    /// absent.
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
        if let Some(name) = w.daily_seed_filename {
            check_key_part(name, "daily_seed_filename")?;
        }
        if w.real_screen_replay_instructions
            .is_some_and(|t| t.0.len() > MAX_FREE_TEXT_LEN)
        {
            return Err(FrameError::Field(
                "real_screen_replay_instructions",
                "longer than 64 KiB",
            ));
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
            daily_seed_filename: w.daily_seed_filename,
            real_screen_replay_instructions: w.real_screen_replay_instructions,
        })
    }
}

/// The UAV checklist of a real screen-replay capture (MIID's
/// `ScreenReplayUAV`: what the photos show, as the miner reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScreenReplayUav<'a> {
    /// The seed image shown on the screen.
    #[serde(borrow)]
    pub seed_image: &'a str,
    /// `YYYY-MM-DD` (UTC), or empty when the miner did not say.
    #[serde(borrow)]
    pub date: &'a str,
    /// The camera that took the photos.
    #[serde(borrow)]
    pub camera_used: &'a str,
    /// The screen photographed (`phone`, `tablet`, `laptop`, `monitor`, `tv`).
    #[serde(borrow)]
    pub device_photographed: &'a str,
    /// A moiré or pixel grid is visible.
    pub moire_pixel_grid: bool,
    /// Glare hotspots are visible.
    pub screen_glare_hotspots: bool,
    /// A perspective (keystone) distortion is visible.
    pub perspective_keystone_distortion: bool,
    /// A gamma or contrast shift is visible.
    pub gamma_contrast_shift: bool,
    /// The screen's edges or crop are visible.
    pub edge_crop_cues: bool,
}

impl ScreenReplayUav<'_> {
    /// Checks the text fields: bounded, one line, a date of the right shape.
    ///
    /// # Errors
    ///
    /// [`FrameError::Field`] naming the field.
    pub fn validate(&self) -> Result<(), FrameError> {
        let text = |v: &str, field: &'static str| {
            if v.len() > MAX_UAV_TEXT_LEN || v.chars().any(char::is_control) {
                Err(FrameError::Field(
                    field,
                    "at most 256 bytes, without control characters",
                ))
            } else {
                Ok(())
            }
        };
        text(self.seed_image, "screen_replay_uav.seed_image")?;
        text(self.camera_used, "screen_replay_uav.camera_used")?;
        text(
            self.device_photographed,
            "screen_replay_uav.device_photographed",
        )?;
        let date_shape = self.date.is_empty()
            || (self.date.len() == 10
                && self.date.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                }));
        if date_shape {
            Ok(())
        } else {
            Err(FrameError::Field(
                "screen_replay_uav.date",
                "must be YYYY-MM-DD",
            ))
        }
    }
}

/// A miner's answer for one sealed image. The five first fields are
/// required; a real screen-replay capture adds its second angle and its
/// UAV checklist (MIID `protocol.py` at d71f292bc). Encoded as MIID's
/// `model_dump()`: all nine fields, the absent ones `null`.
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
    /// Where a screen-replay capture's second photo is stored.
    #[serde(borrow, default)]
    pub s3_key_angle2: Option<&'a str>,
    /// SHA-256 of the second photo (never the first's).
    #[serde(borrow, default)]
    pub image_hash_angle2: Option<&'a str>,
    /// Signature of the image message of the second photo's hash.
    #[serde(borrow, default)]
    pub signature_angle2: Option<&'a str>,
    /// The capture's UAV checklist.
    #[serde(borrow, default)]
    pub screen_replay_uav: Option<ScreenReplayUav<'a>>,
}

impl<'a> S3Submission<'a> {
    /// A submission of one image, without a second angle.
    pub const fn new(
        s3_key: &'a str,
        image_hash: &'a str,
        signature: &'a str,
        variation_type: &'a str,
        path_signature: &'a str,
    ) -> Self {
        Self {
            s3_key,
            image_hash,
            signature,
            variation_type,
            path_signature,
            s3_key_angle2: None,
            image_hash_angle2: None,
            signature_angle2: None,
            screen_replay_uav: None,
        }
    }

    /// The second angle, when the submission has one (all three fields, on
    /// a `screen_replay` submission).
    pub fn angle2(&self) -> Option<(&'a str, &'a str, &'a str)> {
        Some((
            self.s3_key_angle2?,
            self.image_hash_angle2?,
            self.signature_angle2?,
        ))
    }

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
        )?;
        let angle2 = [
            self.s3_key_angle2,
            self.image_hash_angle2,
            self.signature_angle2,
        ];
        let present = angle2.iter().filter(|f| f.is_some()).count();
        if (present != 0 || self.screen_replay_uav.is_some())
            && self.variation_type != "screen_replay"
        {
            return Err(FrameError::Field(
                "s3_key_angle2",
                "a second angle and a UAV checklist belong to screen_replay submissions only",
            ));
        }
        if let Some((key2, hash2, sig2)) = self.angle2() {
            validate_object_key(key2)
                .map_err(|_| FrameError::Field("s3_key_angle2", "not a submission key"))?;
            check_hex(
                hash2,
                32,
                "image_hash_angle2",
                "must be 64 hex characters (SHA-256)",
            )?;
            check_hex(sig2, 64, "signature_angle2", "must be 128 hex characters")?;
            if hash2.eq_ignore_ascii_case(self.image_hash) {
                return Err(FrameError::Field(
                    "image_hash_angle2",
                    "the two angles are the same photo",
                ));
            }
            if key2 == self.s3_key {
                return Err(FrameError::Field(
                    "s3_key_angle2",
                    "the two angles share one key",
                ));
            }
        } else if present != 0 {
            return Err(FrameError::Field(
                "s3_key_angle2",
                "s3_key_angle2, image_hash_angle2 and signature_angle2 go together",
            ));
        }
        if let Some(uav) = &self.screen_replay_uav {
            uav.validate()?;
        }
        Ok(())
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
