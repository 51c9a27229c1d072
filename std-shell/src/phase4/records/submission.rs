//! MIID's `S3Submission` as the shell holds it (owned strings), serialized
//! as MIID's `model_dump()`: its nine field names, the absent ones `null`. The core checks its shape
//! ([`S3Submission::validate`]). A real screen-replay capture carries a
//! second angle and its UAV checklist; the other submissions leave those
//! fields out.

use serde::{Deserialize, Serialize};
use veil_core::miid::{S3Submission, ScreenReplayUav};

/// One sealed, signed and stored variation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Where the sealed image is stored.
    pub s3_key: String,
    /// SHA-256 hex of the plaintext.
    pub image_hash: String,
    /// 128 hex characters: the miner's signature of
    /// `challenge:{cid}:hash:{image_hash}`.
    pub signature: String,
    /// The variation type.
    pub variation_type: String,
    /// 16 hex characters.
    pub path_signature: String,
    /// Where the second photo of a screen-replay capture is stored.
    #[serde(default)]
    pub s3_key_angle2: Option<String>,
    /// SHA-256 hex of the second photo.
    #[serde(default)]
    pub image_hash_angle2: Option<String>,
    /// The miner's signature of `challenge:{cid}:hash:{image_hash_angle2}`.
    #[serde(default)]
    pub signature_angle2: Option<String>,
    /// The capture's UAV checklist.
    #[serde(default)]
    pub screen_replay_uav: Option<Uav>,
}

/// MIID's `ScreenReplayUAV`, owned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uav {
    /// The seed image shown on the screen.
    pub seed_image: String,
    /// `YYYY-MM-DD` (UTC), or empty.
    pub date: String,
    /// The camera that took the photos.
    pub camera_used: String,
    /// The screen photographed.
    pub device_photographed: String,
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

impl Uav {
    /// The core's view, for its checks.
    pub fn as_core(&self) -> ScreenReplayUav<'_> {
        ScreenReplayUav {
            seed_image: &self.seed_image,
            date: &self.date,
            camera_used: &self.camera_used,
            device_photographed: &self.device_photographed,
            moire_pixel_grid: self.moire_pixel_grid,
            screen_glare_hotspots: self.screen_glare_hotspots,
            perspective_keystone_distortion: self.perspective_keystone_distortion,
            gamma_contrast_shift: self.gamma_contrast_shift,
            edge_crop_cues: self.edge_crop_cues,
        }
    }
}

impl Submission {
    /// A submission of one image.
    pub fn single(
        s3_key: String,
        image_hash: String,
        signature: String,
        variation_type: String,
        path_signature: String,
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

    /// The core's view, for its checks.
    pub fn as_core(&self) -> S3Submission<'_> {
        S3Submission {
            s3_key_angle2: self.s3_key_angle2.as_deref(),
            image_hash_angle2: self.image_hash_angle2.as_deref(),
            signature_angle2: self.signature_angle2.as_deref(),
            screen_replay_uav: self.screen_replay_uav.as_ref().map(Uav::as_core),
            ..S3Submission::new(
                &self.s3_key,
                &self.image_hash,
                &self.signature,
                &self.variation_type,
                &self.path_signature,
            )
        }
    }
}
