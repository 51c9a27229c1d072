//! The built-in generator: deterministic image transforms, no model, no
//! I/O. Fast (a few milliseconds for a 256×256 image) and good enough to
//! exercise the whole protocol in the sandbox and on testnets.
//!
//! ## The transforms
//!
//! Each part of the type applies one transform, in the order written; its
//! intensity (one for the whole type, or one per part, `+`-joined) scales
//! every parameter (light < medium < far; `standard` is medium); every parameter
//! is drawn from a SHA-256 counter-mode stream keyed by the seed, the part's
//! position and its name (so `a+b` and `b+a` differ, and adding a part never
//! changes the parameters of the others):
//!
//! | type | what it does |
//! |---|---|
//! | `lighting_edit` | brightness, contrast, gamma, colour temperature, and a directional light gradient |
//! | `pose_edit` | rotation about the centre, a yaw-like horizontal warp, a small shift, sometimes a horizontal flip; uncovered corners are filled with the mean border colour |
//! | `expression_edit` | local warps where a centred face has its features: mouth corners up or down, eyes wider or narrower, brows raised or lowered, plus a slight zoom |
//! | `background_edit` | a two-colour tint blended in towards the edges, away from the centred head |
//! | `screen_replay` | a keystone (perspective) warp with a dark bezel, scanlines, a moiré pattern, glare and a blue cast, as when a screen is photographed |
//!
//! Then, whatever was asked, a **signature**: a smooth colour field drawn
//! from the seed (luma and colour offsets of up to 40 grey levels at the
//! points of a 4×4 grid, blended between them). The transforms alone can
//! leave two miners' `light` variations nearly identical; the field keeps
//! every pair of honest variations apart by more than twice the
//! near-duplicate threshold (`docs/duplicates.md`), while a copy keeps it.
//!
//! The output has the base image's dimensions (a base larger than 2048 pixels
//! on a side is first scaled down to fit 2048×2048). Finally the 256 bits of
//! the seed are written into the least significant bit of the blue channel of
//! the last 256 pixels: invisible, and it makes byte-different PNGs for
//! different seeds certain rather than merely overwhelmingly likely (a flat
//! or tiny base image can make two parameter sets round to the same pixels).
//! The same seed gives the same bytes on a given build and platform (the
//! transforms use `f32` arithmetic, including `sin`/`cos`/`powf`, whose last
//! bits may differ between platforms' math libraries).
//!

use image::RgbImage;

use super::transforms::{Stream, background, expression, lighting, pose, screen_replay, signature};
use super::{Generator, Job, Variation, fail_all};
use crate::Error;
use crate::limits::MAX_GENERATED_SIDE;
use crate::phase4::images;
use crate::text::quoted;

/// The largest side of a built-in output; larger bases are scaled down first.
const MAX_SIDE: u32 = MAX_GENERATED_SIDE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pose,
    Lighting,
    Expression,
    Background,
    ScreenReplay,
}

impl Kind {
    const ALL: [Self; 5] = [
        Self::Pose,
        Self::Lighting,
        Self::Expression,
        Self::Background,
        Self::ScreenReplay,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Pose => "pose_edit",
            Self::Lighting => "lighting_edit",
            Self::Expression => "expression_edit",
            Self::Background => "background_edit",
            Self::ScreenReplay => "screen_replay",
        }
    }
}

fn parse_kinds(kind: &str) -> Result<Vec<Kind>, Error> {
    kind.split('+')
        .map(|part| {
            let part = part.trim();
            Kind::ALL
                .into_iter()
                .find(|k| k.name().eq_ignore_ascii_case(part))
                .ok_or_else(|| {
                    Error::Content(format!(
                        "unknown variation type {} in {} (expected pose_edit, lighting_edit, \
                         expression_edit, background_edit, screen_replay, or a +-joined \
                         combination)",
                        quoted(part),
                        quoted(kind)
                    ))
                })
        })
        .collect()
}

/// The strength of one part's intensity, in (0, 1]. `standard` (what MIID
/// asks of screen replays) is `medium`.
fn parse_intensity(intensity: &str) -> Result<f32, Error> {
    match intensity.trim().to_ascii_lowercase().as_str() {
        "light" => Ok(0.35),
        "medium" | "standard" => Ok(0.65),
        "far" => Ok(1.0),
        _ => Err(Error::Content(format!(
            "unknown intensity {} (expected light, medium or far)",
            quoted(intensity)
        ))),
    }
}

/// Each part of the type with its strength: one intensity for every part,
/// or one per part, `+`-joined as MIID sends combined types (`far+light`).
fn parse_parts(kind: &str, intensity: &str) -> Result<Vec<(Kind, f32)>, Error> {
    let kinds = parse_kinds(kind)?;
    if !intensity.contains('+') {
        let strength = parse_intensity(intensity)?;
        return Ok(kinds.into_iter().map(|k| (k, strength)).collect());
    }
    let each: Vec<&str> = intensity.split('+').collect();
    if each.len() != kinds.len() {
        return Err(Error::Content(format!(
            "intensity {} has {} parts, the type {} has {}",
            quoted(intensity),
            each.len(),
            quoted(kind),
            kinds.len()
        )));
    }
    kinds
        .into_iter()
        .zip(each)
        .map(|(k, i)| Ok((k, parse_intensity(i)?)))
        .collect()
}

/// Writes the seed's 256 bits into the blue channel's least significant bit
/// of the last 256 pixels (fewer when the image is smaller).
fn fingerprint(img: &mut RgbImage, seed: &[u8; 32]) {
    let pixels = img.len() / 3;
    let bits = seed
        .iter()
        .flat_map(|byte| (0..8).rev().map(move |k| (byte >> k) & 1));
    for (p, bit) in img
        .chunks_exact_mut(3)
        .skip(pixels.saturating_sub(256))
        .zip(bits)
    {
        if let [_, _, b] = p {
            *b = (*b & !1) | bit;
        }
    }
}

/// The base scaled down to fit [`MAX_SIDE`]×[`MAX_SIDE`] if needed.
fn bounded(base: &RgbImage) -> Result<Option<RgbImage>, Error> {
    let (w, h) = base.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::Content(format!(
            "the base image has no pixels ({w}×{h})"
        )));
    }
    let side = w.max(h);
    if side <= MAX_SIDE {
        return Ok(None);
    }
    let fit = |v: u32| {
        let scaled = (u64::from(v) * u64::from(MAX_SIDE) + u64::from(side) / 2) / u64::from(side);
        u32::try_from(scaled).unwrap_or(MAX_SIDE).clamp(1, MAX_SIDE)
    };
    Ok(Some(image::imageops::resize(
        base,
        fit(w),
        fit(h),
        image::imageops::FilterType::Triangle,
    )))
}

/// The built-in deterministic transform generator (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

impl Builtin {
    /// One variation of an already bounded base.
    fn one(base: &RgbImage, v: &Variation<'_>) -> Result<Vec<u8>, Error> {
        let parts = parse_parts(v.kind, v.intensity)?;
        let steps = parts.len();
        let mut img = base.clone();
        for (step, (kind, strength)) in parts.into_iter().enumerate() {
            let mut r = Stream::new(&v.seed, step, kind.name());
            img = match kind {
                Kind::Lighting => lighting(img, &mut r, strength),
                Kind::Pose => pose(img, &mut r, strength),
                Kind::Expression => expression(img, &mut r, strength),
                Kind::Background => background(img, &mut r, strength),
                Kind::ScreenReplay => screen_replay(img, &mut r, strength),
            };
        }
        img = signature(img, &mut Stream::new(&v.seed, steps, "signature"));
        fingerprint(&mut img, &v.seed);
        images::encode_png(&img)
    }
}

impl Generator for Builtin {
    fn describe(&self) -> String {
        "builtin deterministic transforms (v2)".to_owned()
    }

    fn generate(&self, job: &Job<'_>) -> Vec<Result<Vec<u8>, Error>> {
        let scaled = match bounded(job.base) {
            Ok(scaled) => scaled,
            Err(e) => return fail_all(job, &e.to_string()),
        };
        let base = scaled.as_ref().unwrap_or(job.base);
        job.variations
            .iter()
            .map(|v| {
                Self::one(base, v)
                    .map_err(|e| Error::Content(format!("variation {}: {e}", v.index)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;
    use std::time::Instant;

    use super::super::test_support::{run, sample, variation};
    use super::super::*;
    use super::*;
    use crate::phase4::images::{Format, ImageLimits};

    const KINDS: [&str; 5] = [
        "lighting_edit",
        "pose_edit",
        "expression_edit",
        "background_edit",
        "screen_replay",
    ];
    const INTENSITIES: [&str; 3] = ["light", "medium", "far"];

    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
        let sum: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn builtin_is_deterministic_and_seed_dependent() {
        let (base, bytes) = sample("face-01.png");
        for kind in KINDS
            .into_iter()
            .chain(["lighting_edit+pose_edit+background_edit"])
        {
            let vars = [
                variation(0, kind, "medium", 1),
                variation(1, kind, "medium", 1),
                variation(2, kind, "medium", 2),
            ];
            let a = run(&Builtin, &base, &bytes, &vars);
            let b = run(&Builtin, &base, &bytes, &vars);
            let a: Vec<Vec<u8>> = a.into_iter().map(Result::unwrap).collect();
            let b: Vec<Vec<u8>> = b.into_iter().map(Result::unwrap).collect();
            assert_eq!(a, b, "{kind}: not deterministic");
            assert_eq!(a[0], a[1], "{kind}: the index is not an input, the seed is");
            assert_ne!(a[0], a[2], "{kind}: two seeds gave the same bytes");
            // Not just the fingerprint: the pixels differ broadly.
            let x = images::decode(&a[0], &ImageLimits::default()).unwrap();
            let y = images::decode(&a[2], &ImageLimits::default()).unwrap();
            assert!(mean_abs_diff(&x, &y) > 0.5, "{kind}: seeds barely differ");
        }
    }

    /// The near-duplicate rule of the reveal holds for the built-in
    /// generator: honest miners (different seeds) are never near
    /// duplicates of each other, and re-encoded or rescaled copies are.
    #[test]
    fn builtin_variations_of_different_seeds_are_not_near_duplicates() {
        use crate::phase4::images::{Fingerprint, NEAR_DUPLICATE_MAX};
        // MIID's standard five, then single types at other intensities.
        const REQUESTS: [(&str, &str); 10] = [
            ("background_edit", "medium"),
            ("background_edit", "medium"),
            ("lighting_edit+expression_edit", "medium"),
            ("lighting_edit+pose_edit", "medium"),
            ("pose_edit+expression_edit", "medium"),
            ("lighting_edit", "far"),
            ("pose_edit", "light"),
            ("expression_edit", "far"),
            ("background_edit", "light"),
            ("lighting_edit", "light"),
        ];
        for name in ["face-01.png", "face-04.png", "face-08.jpg"] {
            let (base, bytes) = sample(name);
            for (kind, intensity) in REQUESTS {
                let vars: Vec<Variation<'_>> = (0..5)
                    .map(|s| variation(u32::from(s), kind, intensity, s + 20))
                    .collect();
                let imgs: Vec<RgbImage> = run(&Builtin, &base, &bytes, &vars)
                    .into_iter()
                    .map(|o| images::decode(&o.unwrap(), &ImageLimits::default()).unwrap())
                    .collect();
                let prints: Vec<Fingerprint> = imgs.iter().map(Fingerprint::of).collect();
                for (i, a) in prints.iter().enumerate() {
                    for b in &prints[i + 1..] {
                        let d = a.distance(b);
                        assert!(
                            d > NEAR_DUPLICATE_MAX,
                            "{name} {kind} {intensity}: seeds {d}"
                        );
                    }
                }
                let limits = ImageLimits::default();
                let jpeg = images::thumbnail_jpeg(&imgs[0], 4096).unwrap();
                let half = images::thumbnail_jpeg(&imgs[0], imgs[0].width() / 2).unwrap();
                for copy in [jpeg, half] {
                    let d = prints[0]
                        .distance(&Fingerprint::of(&images::decode(&copy, &limits).unwrap()));
                    assert!(
                        d <= NEAR_DUPLICATE_MAX,
                        "{name} {kind} {intensity}: copy {d}"
                    );
                }
                let back = Fingerprint::from_hex(&prints[0].to_hex()).unwrap();
                assert_eq!(back, prints[0]);
            }
        }
    }

    #[test]
    fn builtin_every_type_and_intensity_is_a_visible_png_of_the_base_size() {
        for name in ["face-01.png", "face-08.jpg"] {
            let (base, bytes) = sample(name);
            for kind in KINDS {
                let mut strength = Vec::new();
                for intensity in INTENSITIES {
                    let vars: Vec<Variation<'_>> = (0..4)
                        .map(|s| variation(u32::from(s), kind, intensity, s + 10))
                        .collect();
                    let mut total = 0.0;
                    for out in run(&Builtin, &base, &bytes, &vars) {
                        let png = out.unwrap();
                        assert_eq!(Format::detect(&png).unwrap(), Format::Png);
                        let img = images::decode(&png, &ImageLimits::default()).unwrap();
                        assert_eq!(img.dimensions(), base.dimensions());
                        let d = mean_abs_diff(&img, &base);
                        assert!(d > 1.0, "{name} {kind} {intensity}: hardly changed ({d})");
                        total += d;
                    }
                    strength.push(total);
                }
                assert!(
                    strength[0] < strength[1] && strength[1] < strength[2],
                    "{name} {kind}: light/medium/far {strength:?}"
                );
            }
        }
    }

    #[test]
    fn builtin_combinations_and_bad_requests() {
        let (base, bytes) = sample("face-02.png");
        let vars = [
            variation(0, "lighting_edit+pose_edit", "far", 1),
            variation(1, "smile_edit", "far", 2),
            variation(2, " Expression_Edit + screen_replay ", "light", 3),
            variation(3, "pose_edit+", "light", 4),
            variation(4, "background_edit", "extreme", 5),
            variation(
                5,
                "pose_edit+expression_edit+lighting_edit+background_edit+screen_replay",
                "medium",
                6,
            ),
            variation(6, "bad\ntype", "far", 7),
            variation(7, "lighting_edit+pose_edit", "far+light", 1),
            variation(8, "lighting_edit+pose_edit", "far+light+far", 9),
            variation(9, "screen_replay", "standard", 10),
        ];
        let out = run(&Builtin, &base, &bytes, &vars);
        for i in [0, 2, 5, 7, 9] {
            let png = out[i].as_ref().unwrap();
            let img = images::decode(png, &ImageLimits::default()).unwrap();
            assert_eq!(img.dimensions(), (256, 256));
        }
        let msg = |i: usize| out[i].as_ref().unwrap_err().to_string();
        assert!(
            msg(1).starts_with("variation 1: unknown variation type \"smile_edit\""),
            "{}",
            msg(1)
        );
        assert!(
            msg(3).starts_with("variation 3: unknown variation type \"\""),
            "{}",
            msg(3)
        );
        assert_eq!(
            msg(4),
            "variation 4: unknown intensity \"extreme\" (expected light, medium or far)"
        );
        assert!(msg(6).contains("\"bad\\ntype\""), "{}", msg(6));
        assert!(msg(8).contains("has 3 parts, the type"), "{}", msg(8));
        // Per-part intensities are MIID's: with the same seed, far+light is
        // not far for both parts.
        assert_ne!(out[7].as_ref().unwrap(), out[0].as_ref().unwrap());
        for i in [1, 3, 4, 6, 8] {
            assert!(!msg(i).contains('\n'));
        }
        // Order matters: a+b and b+a differ.
        let ab = run(
            &Builtin,
            &base,
            &bytes,
            &[variation(0, "pose_edit+lighting_edit", "far", 1)],
        );
        let ba = run(
            &Builtin,
            &base,
            &bytes,
            &[variation(0, "lighting_edit+pose_edit", "far", 1)],
        );
        assert_ne!(ab[0].as_ref().unwrap(), ba[0].as_ref().unwrap());
    }

    #[test]
    fn builtin_handles_tiny_flat_and_huge_bases() {
        let tiny = RgbImage::from_pixel(1, 1, image::Rgb([128, 128, 128]));
        let flat = RgbImage::from_pixel(17, 9, image::Rgb([0, 0, 0]));
        for base in [&tiny, &flat] {
            for kind in KINDS {
                let vars = [variation(0, kind, "far", 1), variation(1, kind, "far", 2)];
                let out = run(&Builtin, base, &[], &vars);
                let a = out[0].as_ref().unwrap();
                if base.len() >= 256 * 3 / 2 {
                    // 153 pixels carry 153 bits of the seed: enough to tell seeds apart.
                    assert_ne!(
                        a,
                        out[1].as_ref().unwrap(),
                        "{kind}: the fingerprint separates seeds"
                    );
                }
                let img = images::decode(a, &ImageLimits::default()).unwrap();
                assert_eq!(img.dimensions(), base.dimensions());
            }
        }
        let wide = RgbImage::from_pixel(3000, 60, image::Rgb([10, 200, 30]));
        let out = run(
            &Builtin,
            &wide,
            &[],
            &[variation(0, "pose_edit", "light", 1)],
        );
        let img = images::decode(out[0].as_ref().unwrap(), &ImageLimits::default()).unwrap();
        assert_eq!(img.dimensions(), (2048, 41));
        let empty = RgbImage::new(0, 0);
        let out = run(
            &Builtin,
            &empty,
            &[],
            &[variation(7, "pose_edit", "light", 1)],
        );
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 7: the base image has no pixels (0×0)"
        );
        assert!(run(&Builtin, &tiny, &[], &[]).is_empty());
    }

    #[test]
    fn builtin_is_fast_enough() {
        let (base, bytes) = sample("face-03.png");
        let vars: Vec<Variation<'_>> = KINDS
            .iter()
            .enumerate()
            .map(|(i, k)| variation(u32::try_from(i).unwrap(), k, "far", 3))
            .collect();
        let t = Instant::now();
        for out in run(&Builtin, &base, &bytes, &vars) {
            out.unwrap();
        }
        let per = t.elapsed() / u32::try_from(vars.len()).unwrap();
        eprintln!("builtin: {per:?} per 256×256 variation");
        // Generous: the target is ~20 ms; this only catches a pathological slowdown.
        assert!(per < Duration::from_millis(500), "{per:?}");
    }
}
