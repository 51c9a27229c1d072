//! The near-duplicate rule, from measurement: regenerates the table of
//! `docs/duplicates.md` and checks it is the one there (with
//! `VEIL_WRITE_DOCS=1` it rewrites it), and holds the rule to it.
//!
//! Honest variations: the built-in generator's, for the eight sample faces
//! (scaled to 128×128 to keep this fast), every request type of the table
//! below, five seeds each; every pair of them made for the same base is an
//! honest pair (two miners answering one challenge). Copies: each of those
//! images through each transform a copier might use.

use core::fmt::Write as _;
use std::path::Path;

use image::RgbImage;
use veil::phase4::generator::{Builtin, Cancel, Generator, Job, Variation};
use veil::phase4::images::{self, Fingerprint, ImageLimits, NEAR_DUPLICATE_MAX};

/// The request types measured (the standard five, each single type, both
/// ends of the intensities).
const REQUESTS: [(&str, &str); 14] = [
    ("background_edit", "light"),
    ("background_edit", "far"),
    ("lighting_edit+expression_edit", "light+light"),
    ("lighting_edit+expression_edit", "far+far"),
    ("lighting_edit+pose_edit", "light+light"),
    ("pose_edit+expression_edit", "light+light"),
    ("pose_edit", "light"),
    ("pose_edit", "far"),
    ("lighting_edit", "light"),
    ("lighting_edit", "far"),
    ("expression_edit", "light"),
    ("expression_edit", "far"),
    ("screen_replay", "standard"),
    ("screen_replay", "far"),
];
const SEEDS: u8 = 5;
const SIDE: u32 = 128;
/// How much closer than the honest minimum the threshold must be.
const MARGIN: f32 = 2.0;

fn variation(base: &RgbImage, kind: &str, intensity: &str, seed: [u8; 32]) -> RgbImage {
    let v = [Variation {
        index: 0,
        kind,
        intensity,
        description: "",
        detail: "",
        seed,
    }];
    let job = Job {
        base,
        base_bytes: &[],
        base_filename: "base.png",
        daily_seed: None,
        challenge_id: "duplicate-table",
        variations: &v,
        cancel: &Cancel::new(),
    };
    let png = Builtin
        .generate(&job)
        .remove(0)
        .expect("the built-in generator");
    images::decode(&png, &ImageLimits::default()).expect("its own PNG")
}

fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("JPEG");
    image::load_from_memory(&out).expect("JPEG").to_rgb8()
}

fn per_channel(img: &RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0 = p.0.map(|c| {
            let v = f(f32::from(c)).round().clamp(0.0, 255.0);
            // Clamped, so exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = v as u8;
            v
        });
    }
    out
}

fn crop(img: &RgbImage, left: u32, top: u32, right: u32, bottom: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    image::imageops::crop_imm(img, left, top, w - left - right, h - top - bottom).to_image()
}

fn resize(img: &RgbImage, num: u32, den: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    image::imageops::resize(
        img,
        w * num / den,
        h * num / den,
        image::imageops::FilterType::CatmullRom,
    )
}

/// The copy transforms: (name, what it does, whether the rule must catch it).
type Copier = (&'static str, &'static str, bool, fn(&RgbImage) -> RgbImage);

const COPIERS: [Copier; 18] = [
    ("exact", "the same pixels", true, |i| i.clone()),
    ("jpeg-90", "PNG → JPEG quality 90", true, |i| jpeg(i, 90)),
    ("jpeg-60", "PNG → JPEG quality 60", true, |i| jpeg(i, 60)),
    ("half", "rescaled to ½", true, |i| resize(i, 1, 2)),
    ("three-quarters", "rescaled to ¾", true, |i| {
        resize(i, 3, 4)
    }),
    ("one-and-a-half", "rescaled to 1½", true, |i| {
        resize(i, 3, 2)
    }),
    ("brighter-8%", "every channel × 1.08", true, |i| {
        per_channel(i, |c| c * 1.08)
    }),
    ("brighter-12", "every channel + 12", true, |i| {
        per_channel(i, |c| c + 12.0)
    }),
    ("darker-10%", "every channel × 0.9", true, |i| {
        per_channel(i, |c| c * 0.9)
    }),
    ("gamma-0.85", "gamma 0.85", true, |i| {
        per_channel(i, |c| (c / 255.0).powf(0.85) * 255.0)
    }),
    ("crop-2px", "2 px cropped on every side", true, |i| {
        crop(i, 2, 2, 2, 2)
    }),
    ("crop-5px", "5 px cropped on every side", true, |i| {
        crop(i, 5, 5, 5, 5)
    }),
    ("shift-4x2", "4 px cropped left, 2 px top", true, |i| {
        crop(i, 4, 2, 0, 0)
    }),
    ("crop-3px-right", "3 px cropped on the right", true, |i| {
        crop(i, 0, 0, 3, 0)
    }),
    (
        "mirror",
        "mirrored left–right",
        true,
        image::imageops::flip_horizontal,
    ),
    ("mirror-jpeg", "mirrored, then JPEG 80", true, |i| {
        jpeg(&image::imageops::flip_horizontal(i), 80)
    }),
    (
        "brighter-15%+10",
        "× 1.15 + 10 (highlights clip)",
        false,
        |i| per_channel(i, |c| c * 1.15 + 10.0),
    ),
    (
        "crop-10px",
        "10 px cropped on every side (8 %)",
        false,
        |i| crop(i, 10, 10, 10, 10),
    ),
];

struct Measured {
    /// Smallest distance of two honest variations of one base, per request
    /// type (same type) and over all pairs of one base.
    same_type: Vec<f32>,
    any_pair: f32,
    honest_pairs: usize,
    /// Smallest distance of an honest variation to its base.
    to_base: f32,
    /// Per copier: largest distance, share caught.
    copies: Vec<(f32, f32)>,
    images: usize,
}

fn measure() -> Measured {
    let mut same_type = vec![f32::MAX; REQUESTS.len()];
    let mut any_pair = f32::MAX;
    let mut honest_pairs = 0;
    let mut to_base = f32::MAX;
    let mut copies = vec![(0f32, 0usize); COPIERS.len()];
    let mut images_made = 0;
    for (b, sample) in images::samples().iter().enumerate() {
        let full = images::decode(&sample.bytes, &ImageLimits::default()).expect("sample");
        let base =
            image::imageops::resize(&full, SIDE, SIDE, image::imageops::FilterType::Triangle);
        let base_print = Fingerprint::of(&base);
        let mut prints: Vec<(usize, Fingerprint)> = Vec::new();
        for (t, (kind, intensity)) in REQUESTS.iter().enumerate() {
            for k in 0..SEEDS {
                let mut seed = [0u8; 32];
                seed[..3].copy_from_slice(&[u8::try_from(b).unwrap(), u8::try_from(t).unwrap(), k]);
                seed[31] = 0xd7;
                let img = variation(&base, kind, intensity, seed);
                let print = Fingerprint::of(&img);
                to_base = to_base.min(print.distance(&base_print));
                for (c, (_, _, _, copy)) in COPIERS.iter().enumerate() {
                    let d = print.distance(&Fingerprint::of(&copy(&img)));
                    copies[c].0 = copies[c].0.max(d);
                    copies[c].1 += usize::from(d <= NEAR_DUPLICATE_MAX);
                }
                prints.push((t, print));
                images_made += 1;
            }
        }
        for (i, (ti, a)) in prints.iter().enumerate() {
            for (tj, o) in &prints[i + 1..] {
                let d = a.distance(o);
                honest_pairs += 1;
                any_pair = any_pair.min(d);
                if ti == tj {
                    same_type[*ti] = same_type[*ti].min(d);
                }
            }
        }
    }
    let n = images_made as f32;
    Measured {
        same_type,
        any_pair,
        honest_pairs,
        to_base,
        copies: copies
            .into_iter()
            .map(|(max, caught)| (max, caught as f32 / n))
            .collect(),
        images: images_made,
    }
}

fn table(m: &Measured) -> String {
    let mut t = String::new();
    let t_ = NEAR_DUPLICATE_MAX;
    let _ = writeln!(
        t,
        "Threshold `NEAR_DUPLICATE_MAX` = **{t_:.2}**. Honest pairs measured: {} \
         ({} images, {} request types × {SEEDS} seeds × 8 faces at {SIDE}×{SIDE}).\n",
        m.honest_pairs,
        m.images,
        REQUESTS.len()
    );
    let _ = writeln!(
        t,
        "| honest | smallest distance | margin over the threshold |"
    );
    let _ = writeln!(t, "|---|---|---|");
    let _ = writeln!(
        t,
        "| any two variations of one base | {:.2} | × {:.1} |",
        m.any_pair,
        m.any_pair / t_
    );
    let _ = writeln!(
        t,
        "| a variation and its base | {:.2} | × {:.1} |",
        m.to_base,
        m.to_base / t_
    );
    for ((kind, intensity), d) in REQUESTS.iter().zip(&m.same_type) {
        let _ = writeln!(
            t,
            "| two `{kind}` `{intensity}` | {d:.2} | × {:.1} |",
            d / t_
        );
    }
    let _ = writeln!(
        t,
        "\n| copy | what it is | largest distance | caught | required |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|");
    for ((name, what, required, _), (max, rate)) in COPIERS.iter().zip(&m.copies) {
        let _ = writeln!(
            t,
            "| `{name}` | {what} | {max:.2} | {:.0} % | {} |",
            rate * 100.0,
            if *required { "yes" } else { "no (reported)" }
        );
    }
    t
}

const BEGIN: &str = "<!-- table: std-shell/tests/duplicate_table.rs -->\n";
const END: &str = "<!-- /table -->";

#[test]
fn the_near_duplicate_rule_holds_and_docs_show_its_table() {
    let m = measure();
    let rendered = table(&m);
    println!("{rendered}");
    assert!(m.honest_pairs >= 1000, "at least 1,000 honest pairs");
    assert!(
        m.any_pair >= NEAR_DUPLICATE_MAX * MARGIN,
        "an honest pair is {:.3} apart, within {MARGIN} × the threshold",
        m.any_pair
    );
    assert!(
        m.to_base >= NEAR_DUPLICATE_MAX * 1.5,
        "an honest variation is {:.3} from its base",
        m.to_base
    );
    for ((name, _, required, _), (max, rate)) in COPIERS.iter().zip(&m.copies) {
        if *required {
            assert!(
                (*rate - 1.0).abs() < f32::EPSILON,
                "{name}: {:.1} % caught (largest distance {max:.3})",
                rate * 100.0
            );
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/duplicates.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/duplicates.md has no {BEGIN:?} … {END:?} block");
    };
    let current = &doc[start + BEGIN.len()..end];
    if std::env::var_os("VEIL_WRITE_DOCS").is_some() {
        let updated = format!("{}{BEGIN}{rendered}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).expect("write docs/duplicates.md");
    } else {
        assert_eq!(
            current, rendered,
            "docs/duplicates.md is out of date: run this test with VEIL_WRITE_DOCS=1"
        );
    }
}
