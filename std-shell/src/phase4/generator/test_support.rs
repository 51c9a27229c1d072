//! What the generators' tests share: seeds, variations, the sample faces,
//! and one call of a generator.

use image::RgbImage;

use super::{Cancel, Generator, Job, Variation};
use crate::Error;
use crate::phase4::images::{self, ImageLimits};

pub(super) fn seed(n: u8) -> [u8; 32] {
    let key = veil_core::sign::Keypair::from_mini_secret(&[n; 32]).expect("a key");
    veil_core::miid::GeneratorKey::derive(&key).variation_seed(
        &[n; 32],
        "challenge-1",
        1000,
        u32::from(n),
    )
}

pub(super) fn variation(
    index: u32,
    kind: &'static str,
    intensity: &'static str,
    s: u8,
) -> Variation<'static> {
    Variation {
        index,
        kind,
        intensity,
        description: "a test variation",
        detail: "none",
        seed: seed(s),
    }
}

pub(super) fn sample(name: &str) -> (RgbImage, Vec<u8>) {
    let s = images::samples()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    (
        images::decode(&s.bytes, &ImageLimits::default()).unwrap(),
        s.bytes,
    )
}

pub(super) fn run(
    g: &dyn Generator,
    base: &RgbImage,
    bytes: &[u8],
    vars: &[Variation<'_>],
) -> Vec<Result<Vec<u8>, Error>> {
    run_with_daily_seed(g, base, bytes, vars, None)
}

/// As [`run`], with MIID's daily seed image (bytes, file name).
pub(super) fn run_with_daily_seed(
    g: &dyn Generator,
    base: &RgbImage,
    bytes: &[u8],
    vars: &[Variation<'_>],
    daily_seed: Option<(&[u8], &str)>,
) -> Vec<Result<Vec<u8>, Error>> {
    let job = Job {
        base,
        base_bytes: bytes,
        base_filename: "face-01.png",
        daily_seed,
        challenge_id: "challenge-1",
        variations: vars,
        cancel: &Cancel::new(),
    };
    let out = g.generate(&job);
    assert_eq!(out.len(), vars.len());
    out
}
