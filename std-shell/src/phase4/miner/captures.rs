//! The miner's queue of real screen-replay captures (`veil miner --captures
//! DIR`): photos an operator took of a seed image shown on a screen, from
//! two angles, with the UAV report MIID asks for. MIID's miner attaches at
//! most one to an answer, and never the same capture twice; so does veil's.
//!
//! ```text
//! DIR/<id>/angle1.jpg   (or .jpeg, .png)   the first photo
//! DIR/<id>/angle2.jpg   (or .jpeg, .png)   the second, from another angle
//! DIR/<id>/uav.json     {"seed_image", "date" (YYYY-MM-DD), "camera_used",
//!                        "device_photographed", and the five cues as true/false:
//!                        "moire_pixel_grid", "screen_glare_hotspots",
//!                        "perspective_keystone_distortion",
//!                        "gamma_contrast_shift", "edge_crop_cues"}
//! ```
//!
//! Prepare a capture in a folder on the same filesystem and move it into
//! `DIR` (a rename), so it is never read half-written. Captures are taken in
//! name order. Once the answer carrying one is returned it is moved to
//! `DIR/.sent/<id>` (so a restart never sends it again); one that cannot be
//! used (a photo missing, unreadable, over 32 MiB or 8192 px, the two
//! photos identical, a bad UAV report) is moved to `DIR/.refused/<id>` with
//! the reason in `reason.txt`. The photos become public after the reveal:
//! a photo carrying GPS coordinates is reported in the log, or, with
//! `--strip-gps`, sent without its EXIF data.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::phase4::images::{self, ImageLimits, exif};
use crate::phase4::records::Uav;

/// How many entries of the folder are looked at per answer.
const SCAN_LIMIT: usize = 4096;
/// Largest `uav.json`.
const MAX_UAV_FILE: usize = 16 * 1024;

/// A capture ready to send.
#[derive(Clone)]
pub(crate) struct Capture {
    pub(crate) id: String,
    pub(crate) angle1: Vec<u8>,
    pub(crate) angle2: Vec<u8>,
    pub(crate) uav: Uav,
}

impl core::fmt::Debug for Capture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Capture")
            .field("id", &self.id)
            .field("angle1", &self.angle1.len())
            .field("angle2", &self.angle2.len())
            .finish_non_exhaustive()
    }
}

/// The queue (module docs).
#[derive(Debug)]
pub struct CaptureQueue {
    dir: PathBuf,
    strip_gps: bool,
    claimed: Mutex<HashSet<String>>,
}

impl CaptureQueue {
    /// The queue in `dir` (its `.sent` and `.refused` folders made).
    ///
    /// # Errors
    ///
    /// The folders cannot be made.
    pub fn open(dir: &Path, strip_gps: bool) -> Result<Self, Error> {
        for sub in [".sent", ".refused"] {
            crate::fs::create_private_dir_all(&dir.join(sub))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            strip_gps,
            claimed: Mutex::new(HashSet::new()),
        })
    }

    /// The first ready capture nobody else is sending, claimed; refused
    /// ones on the way are moved aside. `None` when there is none.
    pub(crate) fn claim(&self) -> Option<Capture> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(Result::ok)
            .take(SCAN_LIMIT)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        ids.sort_unstable();
        for id in ids {
            {
                let Ok(mut claimed) = self.claimed.lock() else {
                    return None;
                };
                if !claimed.insert(id.clone()) {
                    continue;
                }
            }
            match self.load(&id) {
                Ok(Some(c)) => return Some(c),
                Ok(None) => self.release(&id),
                Err(why) => {
                    tracing::warn!(capture = %id, %why, "capture refused");
                    self.set_aside(&id, ".refused", Some(&why));
                }
            }
        }
        None
    }

    /// Reads and checks one capture: `Ok(None)` while it is incomplete.
    fn load(&self, id: &str) -> Result<Option<Capture>, String> {
        let dir = self.dir.join(id);
        let photo = |stem: &str| {
            ["jpg", "jpeg", "png"]
                .iter()
                .map(|ext| dir.join(format!("{stem}.{ext}")))
                .find(|p| p.is_file())
        };
        let (Some(p1), Some(p2)) = (photo("angle1"), photo("angle2")) else {
            return Ok(None);
        };
        let uav_path = dir.join("uav.json");
        if !uav_path.is_file() {
            return Ok(None);
        }
        let limits = ImageLimits::capture();
        let read = |p: &Path| -> Result<Vec<u8>, String> {
            let bytes =
                crate::fs::read_file_capped(p, limits.max_bytes).map_err(|e| e.to_string())?;
            images::decode(&bytes, &limits).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(bytes)
        };
        let (mut angle1, mut angle2) = (read(&p1)?, read(&p2)?);
        for (name, photo) in [("angle1", &mut angle1), ("angle2", &mut angle2)] {
            if exif::has_gps(photo) {
                if self.strip_gps {
                    if let Some(stripped) = exif::strip_exif(photo) {
                        *photo = stripped;
                    }
                } else {
                    tracing::warn!(
                        capture = %id,
                        photo = name,
                        "this photo carries GPS coordinates: they become public after the reveal (--strip-gps removes them)"
                    );
                }
            }
        }
        if Sha256::digest(&angle1) == Sha256::digest(&angle2) {
            return Err("the two photos are the same file: a capture needs two angles".into());
        }
        let text =
            crate::fs::read_file_capped(&uav_path, MAX_UAV_FILE).map_err(|e| e.to_string())?;
        let uav: Uav = serde_json::from_slice(&text).map_err(|e| format!("uav.json: {e}"))?;
        uav.as_core()
            .validate()
            .map_err(|e| format!("uav.json: {e}"))?;
        if uav.seed_image.trim().is_empty() {
            return Err("uav.json: seed_image names no image".into());
        }
        Ok(Some(Capture {
            id: id.to_owned(),
            angle1,
            angle2,
            uav,
        }))
    }

    /// The capture went out with an answer: never again.
    pub(crate) fn consume(&self, id: &str) {
        self.set_aside(id, ".sent", None);
    }

    /// The capture was not sent after all (its upload failed): a later
    /// answer may take it.
    pub(crate) fn release(&self, id: &str) {
        if let Ok(mut claimed) = self.claimed.lock() {
            claimed.remove(id);
        }
    }

    fn set_aside(&self, id: &str, to: &str, reason: Option<&str>) {
        let from = self.dir.join(id);
        let dest = self.dir.join(to).join(id);
        let moved = std::fs::rename(&from, &dest);
        if let Err(e) = &moved {
            tracing::error!(capture = %id, error = %e, "cannot move the capture to {to}: it stays claimed until restart");
        } else if let Some(why) = reason {
            let _ = std::fs::write(dest.join("reason.txt"), format!("{why}\n"));
        }
        if moved.is_ok() {
            self.release(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb([
                u8::try_from(x * 5).unwrap_or(0),
                u8::try_from(y * 7).unwrap_or(0),
                seed,
            ])
        });
        images::encode_png(&img).unwrap()
    }

    const UAV: &str = r#"{"seed_image":"fixed_01.png","date":"2026-12-04","camera_used":"Pixel 8",
        "device_photographed":"laptop","moire_pixel_grid":true,"screen_glare_hotspots":false,
        "perspective_keystone_distortion":true,"gamma_contrast_shift":false,"edge_crop_cues":true}"#;

    fn put(dir: &Path, id: &str, a: &[u8], b: &[u8], uav: &str) {
        let d = dir.join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("angle1.png"), a).unwrap();
        std::fs::write(d.join("angle2.png"), b).unwrap();
        std::fs::write(d.join("uav.json"), uav).unwrap();
    }

    #[test]
    fn one_at_a_time_in_order_never_twice_bad_ones_set_aside() {
        let dir = std::env::temp_dir().join(format!("veil-captures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let q = CaptureQueue::open(&dir, false).unwrap();
        put(&dir, "001-same", &png(1), &png(1), UAV);
        put(&dir, "002-bad-uav", &png(2), &png(3), "{}");
        put(&dir, "003-good", &png(4), &png(5), UAV);
        put(&dir, "004-good", &png(6), &png(7), UAV);
        std::fs::create_dir_all(dir.join("000-incomplete")).unwrap();
        let c = q.claim().unwrap();
        assert_eq!(c.id, "003-good");
        assert_eq!(c.uav.device_photographed, "laptop");
        // Claimed: another answer takes the next one.
        assert_eq!(q.claim().unwrap().id, "004-good");
        q.release("004-good");
        q.consume("003-good");
        assert!(dir.join(".sent/003-good").is_dir());
        assert!(dir.join(".refused/001-same/reason.txt").is_file());
        assert!(dir.join(".refused/002-bad-uav").is_dir());
        // A restart never sends a consumed capture again.
        let q = CaptureQueue::open(&dir, false).unwrap();
        assert_eq!(q.claim().unwrap().id, "004-good");
        q.consume("004-good");
        assert!(q.claim().is_none(), "the incomplete one waits");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
