//! Variation generators: the miner's pluggable source of image variations.
//!
//! A validator asks each miner for N variations of a base image, each with a
//! type (`pose_edit`, `lighting_edit`, `expression_edit`, `background_edit`,
//! `screen_replay`, or a `+`-joined combination such as
//! `lighting_edit+pose_edit`) and an intensity (`light`, `medium`, `far`).
//! A [`Generator`] turns one such [`Job`] into one PNG per variation. Two
//! implementations:
//!
//! - [`Builtin`]: deterministic image transforms, no model, no I/O. Fast
//!   (a few milliseconds for a 256×256 image) and good enough to exercise the
//!   whole protocol in the sandbox and on testnets.
//! - [`External`]: an operator-supplied command (a real model), driven by
//!   the small file-and-JSON protocol documented below.
//!
//! # Seeds
//!
//! Every [`Variation`] carries a 32-byte seed, computed by the caller with
//! [`veil_core::miid::variation_seed`] from the miner's hotkey, the challenge
//! id and the variation's index. It is the **only** randomness a generator
//! may use, so a miner re-answering a challenge produces the same bytes, and
//! two honest miners (different hotkeys) never produce byte-identical images
//! (SPEC, "Naming and identity rules"). An external command receives the seed
//! in hex and should seed its model with it.
//!
//! # The built-in transforms
//!
//! Each part of the type applies one transform, in the order written; the
//! intensity scales every parameter (light < medium < far); every parameter
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
//! # The external command protocol
//!
//! This is the contract for model authors.
//!
//! ```text
//! veil runs:        sh -c CMD
//!                   once per job (one base image, N variations), in its own
//!                   process group, with veil's environment and working directory
//! stdin:            one JSON document, then end of file:
//!   {"version": 1,
//!    "base_image": "/abs/tmp/veil-gen-XXXX/base.png",   (or base.jpg: the bytes the validator sent)
//!    "base_filename": "face-01.png",                    (the validator's name for it; informative only)
//!    "challenge_id": "...",
//!    "out_dir": "/abs/tmp/veil-gen-XXXX/out",
//!    "variations": [{"index": 0, "type": "lighting_edit", "intensity": "medium",
//!                    "description": "...", "detail": "...", "seed": "<64 hex chars>"}, ...]}
//! output:           for each variation it made, the file {out_dir}/{index}.png:
//!                   a PNG (or a JPEG, which veil re-encodes as PNG) within veil's
//!                   image limits; a missing or invalid file fails that variation only
//! exit status:      0 on success; anything else fails every variation of the job,
//!                   with the last non-empty line of stderr in the error message
//! stdout:           ignored
//! timeout:          the whole process group is killed (SIGKILL) when it runs longer
//!                   than the configured timeout; every variation of the job fails
//! ```
//!
//! The base image and `out_dir` live in a fresh directory readable by the
//! user only (mode 0700) under the system temporary directory; veil deletes
//! it after reading the outputs, so a command must not keep paths to it.
//! Every output file is refused from its size when larger than the
//! [`ImageLimits::max_bytes`] cap, then decoded with [`images::decode`]
//! under the same limits before it is accepted.
//!
//! [`External::generate`] blocks (it waits for the command); call it from a
//! blocking context (`tokio::task::spawn_blocking`), as with any generator.

use core::fmt;
use core::time::Duration;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use image::RgbImage;
use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::images::{self, Format, ImageLimits};

/// One requested variation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variation<'a> {
    /// Its index in the request (also the index in the object key).
    pub index: u32,
    /// Its type, e.g. `lighting_edit` or `lighting_edit+pose_edit`.
    pub kind: &'a str,
    /// `light`, `medium` or `far`.
    pub intensity: &'a str,
    /// The validator's free-text description (for models; the built-in
    /// generator ignores it).
    pub description: &'a str,
    /// The validator's free-text detail (likewise).
    pub detail: &'a str,
    /// The only randomness a generator may use (see the module docs).
    pub seed: [u8; 32],
}

/// What a generator is asked to do: N variations of one base image.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// The decoded base image.
    pub base: &'a RgbImage,
    /// The base image's original encoded bytes (PNG or JPEG).
    pub base_bytes: &'a [u8],
    /// The validator's file name for the base image.
    pub base_filename: &'a str,
    /// The challenge being answered.
    pub challenge_id: &'a str,
    /// The variations, in request order.
    pub variations: &'a [Variation<'a>],
}

impl fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("base", &self.base.dimensions())
            .field("base_bytes", &self.base_bytes.len())
            .field("base_filename", &self.base_filename)
            .field("challenge_id", &self.challenge_id)
            .field("variations", &self.variations)
            .finish()
    }
}

/// A source of image variations.
pub trait Generator: Send + Sync {
    /// A one-line description for logs (`builtin transforms`, the command, ...).
    fn describe(&self) -> String;

    /// One PNG (encoded bytes) per variation, in order; a failure of one
    /// variation does not fail the others. Blocks until done.
    fn generate(&self, job: &Job<'_>) -> Vec<Result<Vec<u8>, Error>>;
}

// ---------------------------------------------------------------------------
// Parsing of types and intensities

/// The largest side of a built-in output; larger bases are scaled down first.
const MAX_SIDE: u32 = 2048;

/// Domain tag of the built-in generator's parameter streams.
const STREAM_DOMAIN: &[u8] = b"veil/generator/builtin/v1";

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

/// Quotes untrusted text for an error message: escaped, on one line, bounded.
fn quoted(s: &str) -> String {
    const MAX: usize = 64;
    let mut cut: String = s.chars().take(MAX).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    format!("{cut:?}")
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

/// The strength of an intensity, in (0, 1].
fn parse_intensity(intensity: &str) -> Result<f32, Error> {
    match intensity.trim().to_ascii_lowercase().as_str() {
        "light" => Ok(0.35),
        "medium" => Ok(0.65),
        "far" => Ok(1.0),
        _ => Err(Error::Content(format!(
            "unknown intensity {} (expected light, medium or far)",
            quoted(intensity)
        ))),
    }
}

// ---------------------------------------------------------------------------
// Parameters from the seed

/// SHA-256 in counter mode: `sha256(key ‖ u32be(counter))`, read as 16-bit
/// words, with `key = sha256(domain ‖ seed ‖ u32be(step) ‖ name)`.
struct Stream {
    key: [u8; 32],
    counter: u32,
    words: core::array::IntoIter<u16, 16>,
}

impl Stream {
    fn new(seed: &[u8; 32], step: usize, name: &str) -> Self {
        let step = u32::try_from(step).unwrap_or(u32::MAX);
        let key = Sha256::new()
            .chain_update(STREAM_DOMAIN)
            .chain_update(seed)
            .chain_update(step.to_be_bytes())
            .chain_update(name.as_bytes())
            .finalize()
            .into();
        let mut stream = Self {
            key,
            counter: 0,
            words: [0u16; 16].into_iter(),
        };
        stream.refill();
        stream
    }

    fn refill(&mut self) {
        let block: [u8; 32] = Sha256::new()
            .chain_update(self.key)
            .chain_update(self.counter.to_be_bytes())
            .finalize()
            .into();
        self.counter = self.counter.wrapping_add(1);
        let mut words = [0u16; 16];
        for (w, pair) in words.iter_mut().zip(block.chunks_exact(2)) {
            if let &[a, b] = pair {
                *w = u16::from_be_bytes([a, b]);
            }
        }
        self.words = words.into_iter();
    }

    fn next_u16(&mut self) -> u16 {
        loop {
            if let Some(w) = self.words.next() {
                return w;
            }
            self.refill();
        }
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        f32::from(self.next_u16()) / 65536.0
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// +1 or -1.
    fn sign(&mut self) -> f32 {
        if self.next_u16() & 1 == 0 { 1.0 } else { -1.0 }
    }
}

// ---------------------------------------------------------------------------
// Pixel helpers

/// A pixel coordinate or dimension as `f32` (exact: images here are at most
/// 2048 pixels on a side).
fn fu(v: u32) -> f32 {
    f32::from(u16::try_from(v).unwrap_or(u16::MAX))
}

/// Rounds and clamps to a channel value.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn to_u8(v: f32) -> u8 {
    // Clamped to [0, 255] first, so the cast is exact; NaN casts to 0.
    v.round().clamp(0.0, 255.0) as u8
}

/// Floors to an `i32` (the callers' values are within ±1e6).
#[allow(clippy::cast_possible_truncation)]
fn floor_i32(v: f32) -> i32 {
    // `as` saturates, so even an out-of-range value cannot misbehave.
    v.floor() as i32
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn smoothstep(lo: f32, hi: f32, v: f32) -> f32 {
    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The mean colour of the image's border pixels.
fn border_mean(img: &RgbImage) -> [f32; 3] {
    let (w, h) = img.dimensions();
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for (x, y, p) in img.enumerate_pixels() {
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            for (s, &c) in sum.iter_mut().zip(p.0.iter()) {
                *s += u64::from(c);
            }
            n += 1;
        }
    }
    let n = n.max(1);
    sum.map(|s| f32::from(u8::try_from((s + n / 2) / n).unwrap_or(u8::MAX)))
}

/// Calls `f(x, y, rgb)` for every pixel and stores what it returns.
fn map_pixels(img: &mut RgbImage, mut f: impl FnMut(f32, f32, [f32; 3]) -> [f32; 3]) {
    let w = img.width().max(1);
    let (mut x, mut y) = (0u32, 0u32);
    for p in img.chunks_exact_mut(3) {
        if let [r, g, b] = p {
            let out = f(fu(x), fu(y), [f32::from(*r), f32::from(*g), f32::from(*b)]);
            *r = to_u8(out[0]);
            *g = to_u8(out[1]);
            *b = to_u8(out[2]);
        }
        x += 1;
        if x == w {
            x = 0;
            y += 1;
        }
    }
}

/// Bilinear sampling of an image, with a fill colour outside it.
struct Sampler<'a> {
    raw: &'a [u8],
    w: i32,
    h: i32,
    wf: f32,
    hf: f32,
    fill: [f32; 3],
}

impl<'a> Sampler<'a> {
    fn new(img: &'a RgbImage, fill: [f32; 3]) -> Self {
        Self {
            raw: img.as_raw(),
            w: i32::try_from(img.width()).unwrap_or(i32::MAX),
            h: i32::try_from(img.height()).unwrap_or(i32::MAX),
            wf: fu(img.width()),
            hf: fu(img.height()),
            fill,
        }
    }

    fn tap(&self, x: i32, y: i32) -> [f32; 3] {
        if x < 0 || y < 0 || x >= self.w || y >= self.h {
            return self.fill;
        }
        let Ok(i) = usize::try_from(y * self.w + x) else {
            return self.fill;
        };
        match self.raw.get(i * 3..i * 3 + 3) {
            Some(&[r, g, b]) => [f32::from(r), f32::from(g), f32::from(b)],
            _ => self.fill,
        }
    }

    /// The colour at continuous coordinates (pixel centres at integers).
    fn at(&self, x: f32, y: f32) -> [f32; 3] {
        // Also catches NaN.
        if !(x > -1.0 && y > -1.0 && x < self.wf && y < self.hf) {
            return self.fill;
        }
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (xi, yi) = (floor_i32(x0), floor_i32(y0));
        let top = lerp3(self.tap(xi, yi), self.tap(xi + 1, yi), fx);
        let bottom = lerp3(self.tap(xi, yi + 1), self.tap(xi + 1, yi + 1), fx);
        lerp3(top, bottom, fy)
    }
}

/// Resamples: output pixel (x, y) takes the source colour at `map(x, y)`.
fn warp(src: &RgbImage, fill: [f32; 3], map: impl Fn(f32, f32) -> (f32, f32)) -> RgbImage {
    let sampler = Sampler::new(src, fill);
    let mut out = src.clone();
    map_pixels(&mut out, |x, y, _| {
        let (sx, sy) = map(x, y);
        sampler.at(sx, sy)
    });
    out
}

/// A colour from a hue in [0, 6), saturation and value in [0, 1].
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let m = v - c;
    let (r, g, b) = if h < 1.0 {
        (c, x, 0.0)
    } else if h < 2.0 {
        (x, c, 0.0)
    } else if h < 3.0 {
        (0.0, c, x)
    } else if h < 4.0 {
        (0.0, x, c)
    } else if h < 5.0 {
        (x, 0.0, c)
    } else {
        (c, 0.0, x)
    };
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

// ---------------------------------------------------------------------------
// The transforms. `s` is the strength: 0.35 light, 0.65 medium, 1.0 far.

fn lighting(mut img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
    let brightness = (1.0 + r.sign() * r.range(0.4, 1.0) * 0.4 * s).max(0.3);
    let contrast = 1.0 + r.sign() * r.range(0.3, 1.0) * 0.35 * s;
    let gamma = (r.sign() * r.range(0.3, 1.0) * 0.6 * s).exp2();
    let warmth = r.sign() * r.range(0.2, 1.0) * 0.12 * s;
    let gains = [1.0 + warmth, 1.0, 1.0 - warmth];
    let angle = r.unit() * core::f32::consts::TAU;
    let (dy, dx) = angle.sin_cos();
    let slope = r.range(0.3, 1.0) * 0.45 * s;

    let mut lut = [[0f32; 256]; 3];
    for (table, gain) in lut.iter_mut().zip(gains) {
        for (v, out) in (0u8..=255).zip(table.iter_mut()) {
            let x = (f32::from(v) / 255.0).powf(gamma);
            *out = (((x - 0.5) * contrast + 0.5) * brightness * gain * 255.0).max(0.0);
        }
    }
    let (w, h) = (fu(img.width()), fu(img.height()));
    let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
    let half_diag = (w * w + h * h).sqrt().max(1.0) / 2.0;
    map_pixels(&mut img, |x, y, p| {
        let light = (1.0 + slope * ((x - cx) * dx + (y - cy) * dy) / half_diag).max(0.0);
        let mut out = [0.0; 3];
        for ((o, table), c) in out.iter_mut().zip(&lut).zip(p) {
            let idx = usize::from(to_u8(c));
            *o = table.get(idx).copied().unwrap_or(c) * light;
        }
        out
    });
    img
}

fn pose(img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
    let degrees = r.sign() * r.range(0.35, 1.0) * 16.0 * s;
    let flip = r.unit() < 0.2 + 0.3 * s;
    let yaw = r.sign() * r.range(0.3, 1.0) * 0.12 * s;
    let (w, h) = (fu(img.width()), fu(img.height()));
    let tx = r.range(-1.0, 1.0) * 0.03 * s * w;
    let ty = r.range(-1.0, 1.0) * 0.03 * s * h;
    let (sin, cos) = degrees.to_radians().sin_cos();
    // Zoom in a little with the angle so less of the corners needs filling.
    let zoom = 1.0 + sin.abs() * 0.5;
    let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
    let half_w = (w / 2.0).max(1.0);
    let fill = border_mean(&img);
    warp(&img, fill, |x, y| {
        let (u, v) = (x - cx - tx, y - cy - ty);
        let mut su = (u * cos + v * sin) / zoom;
        let sv = (-u * sin + v * cos) / zoom;
        // Yaw: shift the middle of the image sideways, keeping the edges.
        let n = su / half_w;
        if n.abs() < 1.0 {
            su -= yaw * half_w * (1.0 - n * n);
        }
        let sx = cx + su;
        (if flip { w - 1.0 - sx } else { sx }, cy + sv)
    })
}

fn expression(img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
    let (w, h) = (fu(img.width()), fu(img.height()));
    let cx = (w - 1.0) / 2.0;
    let smile = r.sign() * r.range(0.5, 1.0) * 0.035 * h * s;
    let eyes = 1.0 + r.sign() * r.range(0.4, 1.0) * 0.35 * s;
    let brows = r.sign() * r.range(0.4, 1.0) * 0.03 * h * s;
    let zoom = 1.0 + r.range(0.2, 1.0) * 0.06 * s;
    // Where a centred face has its features, as fractions of the image.
    let (mouth_y, mouth_rx, mouth_ry) = (0.60 * h, 0.17 * w, 0.07 * h);
    let (eye_y, eye_dx, eye_rx, eye_ry) = (0.42 * h, 0.17 * w, 0.11 * w, 0.06 * h);
    let (brow_y, brow_rx, brow_ry) = (0.34 * h, 0.3 * w, 0.06 * h);
    let cy = 0.5 * (h - 1.0);
    let bump = |du: f32, dv: f32| {
        let f = 1.0 - du * du - dv * dv;
        if f > 0.0 { f * f } else { 0.0 }
    };
    let fill = border_mean(&img);
    warp(&img, fill, |x, y| {
        let x0 = cx + (x - cx) / zoom;
        let y0 = cy + (y - cy) / zoom;
        let mut dy = 0.0;
        // Mouth corners: sample from below (smile) or above (frown).
        let du = (x0 - cx) / mouth_rx;
        dy +=
            smile * du.clamp(-1.6, 1.6).powi(2) * bump(du / 1.6, (y0 - mouth_y) / (mouth_ry * 2.5));
        // Eyes: scale vertically about the eye line.
        for ex in [cx - eye_dx, cx + eye_dx] {
            let k = bump((x0 - ex) / eye_rx, (y0 - eye_y) / (eye_ry * 2.0));
            dy += (y0 - eye_y) * (1.0 / eyes - 1.0) * k;
        }
        // Brows: a smooth vertical shift of the band above the eyes.
        dy += brows * bump((x0 - cx) / brow_rx, (y0 - brow_y) / brow_ry);
        (x0, y0 + dy)
    })
}

fn background(mut img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
    let hue = r.unit() * 6.0;
    let first = hsv(hue, r.range(0.45, 0.8), r.range(0.55, 0.95));
    let second = hsv(
        (hue + r.range(0.5, 2.5)) % 6.0,
        r.range(0.3, 0.8),
        r.range(0.4, 0.95),
    );
    let amount = r.range(0.55, 1.0) * 0.75 * s;
    let vertical = r.unit() < 0.5;
    let (w, h) = (fu(img.width()), fu(img.height()));
    let (cx, cy) = ((w - 1.0) / 2.0, 0.5 * (h - 1.0));
    let (rx, ry) = ((0.34 * w).max(0.5), (0.47 * h).max(0.5));
    map_pixels(&mut img, |x, y, p| {
        let (u, v) = ((x - cx) / rx, (y - cy) / ry);
        let weight = smoothstep(0.85, 1.25, (u * u + v * v).sqrt()) * amount;
        let t = if vertical {
            y / h.max(1.0)
        } else {
            x / w.max(1.0)
        };
        lerp3(p, lerp3(first, second, t), weight)
    });
    img
}

fn screen_replay(img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
    let (w, h) = (fu(img.width()), fu(img.height()));
    let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
    let kx = r.sign() * r.range(0.3, 1.0) * 0.10 * s;
    let ky = r.sign() * r.range(0.2, 1.0) * 0.05 * s;
    let shrink = 1.0 + r.range(0.5, 1.0) * 0.06 * s;
    let bezel = [18.0, 18.0, 22.0];
    let mut img = warp(&img, bezel, |x, y| {
        let (u, v) = (x - cx, y - cy);
        (
            cx + u * (1.0 + kx * v / h.max(1.0)) * shrink,
            cy + v * (1.0 + ky * u / w.max(1.0)) * shrink,
        )
    });

    let tau = core::f32::consts::TAU;
    let line_period = r.range(2.2, 4.0);
    let line_phase = r.unit() * tau;
    let line_depth = r.range(0.5, 1.0) * 0.18 * s;
    // A moiré band: sin(a·x + b·y + φ), evaluated separably as
    // sin(a·x + φ)·cos(b·y) + cos(a·x + φ)·sin(b·y).
    let band_period = r.range(10.0, 40.0);
    let band_angle = r.unit() * tau;
    let (fy, fx) = band_angle.sin_cos();
    let band_phase = r.unit() * tau;
    let band_depth = r.range(0.5, 1.0) * 0.22 * s;
    let glare = r.range(0.3, 1.0) * 0.22 * s;
    let glare_colour = [235.0, 242.0, 255.0];
    let cast = [1.0 - 0.05 * s, 1.0, 1.0 + 0.08 * s];

    let along_x: Vec<(f32, f32)> = (0..img.width())
        .map(|x| (tau * fx * fu(x) / band_period + band_phase).sin_cos())
        .collect();
    let along_y: Vec<(f32, f32)> = (0..img.height())
        .map(|y| (tau * fy * fu(y) / band_period).sin_cos())
        .collect();
    let lines: Vec<f32> = (0..img.height())
        .map(|y| 1.0 - line_depth * (0.5 + 0.5 * (tau * fu(y) / line_period + line_phase).sin()))
        .collect();
    map_pixels(&mut img, |x, y, p| {
        let (xi, yi) = (floor_i32(x), floor_i32(y));
        let (sin_x, cos_x) = usize::try_from(xi)
            .ok()
            .and_then(|i| along_x.get(i).copied())
            .unwrap_or((0.0, 1.0));
        let (sin_y, cos_y) = usize::try_from(yi)
            .ok()
            .and_then(|i| along_y.get(i).copied())
            .unwrap_or((0.0, 1.0));
        let line = usize::try_from(yi)
            .ok()
            .and_then(|i| lines.get(i).copied())
            .unwrap_or(1.0);
        let band = 1.0 - band_depth * (0.5 + 0.5 * (sin_x * cos_y + cos_x * sin_y));
        let k = line * band;
        [
            (p[0] * k * cast[0]) * (1.0 - glare) + glare_colour[0] * glare,
            (p[1] * k * cast[1]) * (1.0 - glare) + glare_colour[1] * glare,
            (p[2] * k * cast[2]) * (1.0 - glare) + glare_colour[2] * glare,
        ]
    });
    img
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
        let kinds = parse_kinds(v.kind)?;
        let strength = parse_intensity(v.intensity)?;
        let mut img = base.clone();
        for (step, kind) in kinds.into_iter().enumerate() {
            let mut r = Stream::new(&v.seed, step, kind.name());
            img = match kind {
                Kind::Lighting => lighting(img, &mut r, strength),
                Kind::Pose => pose(img, &mut r, strength),
                Kind::Expression => expression(img, &mut r, strength),
                Kind::Background => background(img, &mut r, strength),
                Kind::ScreenReplay => screen_replay(img, &mut r, strength),
            };
        }
        fingerprint(&mut img, &v.seed);
        images::encode_png(&img)
    }
}

impl Generator for Builtin {
    fn describe(&self) -> String {
        "builtin deterministic transforms (v1)".to_owned()
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

fn fail_all(job: &Job<'_>, msg: &str) -> Vec<Result<Vec<u8>, Error>> {
    job.variations
        .iter()
        .map(|v| Err(Error::Content(format!("variation {}: {msg}", v.index))))
        .collect()
}

// ---------------------------------------------------------------------------
// External command

/// How much of the command's stderr is kept (its end) for the error message.
const STDERR_TAIL: usize = 64 << 10;

/// A generator that runs an operator-supplied command (see "The external
/// command protocol" in the module docs).
#[derive(Clone, Debug)]
pub struct External {
    cmd: String,
    timeout: Duration,
    limits: ImageLimits,
}

impl External {
    /// `cmd` is run with `sh -c`; `timeout` bounds each job; `limits` bound
    /// each output image.
    pub fn new(cmd: String, timeout: Duration, limits: ImageLimits) -> Self {
        Self {
            cmd,
            timeout,
            limits,
        }
    }

    /// Runs the command for a job. `Err` fails every variation of the job.
    fn run(&self, job: &Job<'_>) -> Result<Vec<Result<Vec<u8>, Error>>, String> {
        let work = WorkDir::create().map_err(|e| e.to_string())?;
        let (base_path, base_bytes) = match Format::detect(job.base_bytes) {
            Ok(format) => (
                work.path().join(format!("base.{}", format.extension())),
                alloc::borrow::Cow::Borrowed(job.base_bytes),
            ),
            // Not PNG/JPEG bytes (a caller that only has pixels): hand over a PNG.
            Err(_) => (
                work.path().join("base.png"),
                alloc::borrow::Cow::Owned(images::encode_png(job.base).map_err(|e| e.to_string())?),
            ),
        };
        write_private(&base_path, &base_bytes).map_err(|e| e.to_string())?;
        let out_dir = work.path().join("out");
        create_private_dir(&out_dir).map_err(|source| {
            Error::Write {
                path: out_dir.clone(),
                source,
            }
            .to_string()
        })?;

        let variations: Vec<serde_json::Value> = job
            .variations
            .iter()
            .map(|v| {
                serde_json::json!({
                    "index": v.index,
                    "type": v.kind,
                    "intensity": v.intensity,
                    "description": v.description,
                    "detail": v.detail,
                    "seed": hex::encode(v.seed),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "version": 1,
            "base_image": base_path.to_string_lossy(),
            "base_filename": job.base_filename,
            "challenge_id": job.challenge_id,
            "out_dir": out_dir.to_string_lossy(),
            "variations": variations,
        });
        let input = serde_json::to_vec(&doc).map_err(|e| format!("cannot write the job: {e}"))?;

        let started = Instant::now();
        let (status, stderr) = self.spawn_and_wait(input)?;
        tracing::debug!(
            cmd = %self.cmd,
            elapsed_ms = started.elapsed().as_millis(),
            status = ?status,
            stderr = %String::from_utf8_lossy(&stderr),
            "generator command finished"
        );
        let Some(status) = status else {
            return Err(format!(
                "the generator command timed out after {} and was killed",
                fmt_duration(self.timeout)
            ));
        };
        if !status.success() {
            return Err(failure_message(status, &stderr));
        }
        Ok(job
            .variations
            .iter()
            .map(|v| {
                self.collect(&out_dir, v.index)
                    .map_err(|msg| Error::Content(format!("variation {}: {msg}", v.index)))
            })
            .collect())
    }

    /// Starts the command, feeds it `input`, and waits at most the timeout.
    /// Returns its exit status (`None` when it was killed for the timeout)
    /// and the end of its stderr.
    fn spawn_and_wait(&self, input: Vec<u8>) -> Result<(Option<ExitStatus>, Vec<u8>), String> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&self.cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            // Its own process group, so a timeout kills whatever it started too.
            command.process_group(0);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the generator command: {e}"))?;

        // Feed stdin and drain stderr on their own threads, so that neither a
        // command that ignores stdin nor a chatty stderr can block us.
        if let Some(mut stdin) = child.stdin.take() {
            let spawned = std::thread::Builder::new()
                .name("veil-gen-stdin".to_owned())
                .spawn(move || {
                    // A command that exits without reading gives EPIPE: fine.
                    let _ = stdin.write_all(&input);
                });
            if let Err(e) = spawned {
                kill_tree(&mut child);
                return Err(format!("cannot start a thread: {e}"));
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(mut stderr) = child.stderr.take() {
            let spawned = std::thread::Builder::new()
                .name("veil-gen-stderr".to_owned())
                .spawn(move || {
                    let _ = tx.send(read_tail(&mut stderr, STDERR_TAIL));
                });
            if let Err(e) = spawned {
                kill_tree(&mut child);
                return Err(format!("cannot start a thread: {e}"));
            }
        }

        let deadline = Instant::now().checked_add(self.timeout);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(e) => {
                    kill_tree(&mut child);
                    return Err(format!("cannot wait for the generator command: {e}"));
                }
            }
            let now = Instant::now();
            let left = deadline.map_or(Duration::from_millis(20), |d| {
                d.saturating_duration_since(now)
            });
            if left.is_zero() {
                kill_tree(&mut child);
                break None;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        };
        // A background process of the command may still hold stderr open:
        // wait for its end only briefly.
        let stderr = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        Ok((status, stderr))
    }

    /// Reads and checks `{out_dir}/{index}.png`; the error is a message.
    fn collect(&self, out_dir: &Path, index: u32) -> Result<Vec<u8>, String> {
        let name = format!("{index}.png");
        let path = out_dir.join(&name);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("the generator command wrote no {name}"));
            }
            Err(e) => return Err(format!("cannot read {name}: {e}")),
        };
        if !meta.is_file() {
            return Err(format!("{name} is not a regular file"));
        }
        let bytes = match images::read_file_capped(&path, self.limits.max_bytes) {
            Ok(bytes) => bytes,
            Err(Error::FileTooLarge { max, .. }) => {
                return Err(format!("{name} is larger than {max} bytes"));
            }
            Err(Error::Read { source, .. }) => return Err(format!("cannot read {name}: {source}")),
            Err(e) => return Err(format!("{name}: {e}")),
        };
        let img = images::decode(&bytes, &self.limits).map_err(|e| format!("{name}: {e}"))?;
        match Format::detect(&bytes) {
            Ok(Format::Png) => Ok(bytes),
            _ => images::encode_png(&img).map_err(|e| format!("{name}: {e}")),
        }
    }
}

impl Generator for External {
    fn describe(&self) -> String {
        format!(
            "external command `{}` (timeout {})",
            self.cmd,
            fmt_duration(self.timeout)
        )
    }

    fn generate(&self, job: &Job<'_>) -> Vec<Result<Vec<u8>, Error>> {
        if job.variations.is_empty() {
            return Vec::new();
        }
        match self.run(job) {
            Ok(results) => results,
            Err(msg) => fail_all(job, &msg),
        }
    }
}

/// "exited with status 3: last stderr line".
fn failure_message(status: ExitStatus, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| {
            let l = images::one_line(l);
            let mut cut: String = l.chars().take(300).collect();
            if cut.len() < l.len() {
                cut.push('…');
            }
            cut
        });
    let how = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was stopped ({status})"),
    };
    match last {
        Some(line) => format!("the generator command {how}: {line}"),
        None => format!("the generator command {how}"),
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Reads to the end, keeping only the last `cap` bytes.
fn read_tail(r: &mut impl std::io::Read, cap: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend_from_slice(buf.get(..n).unwrap_or_default());
                if tail.len() > 2 * cap {
                    tail.drain(..tail.len() - cap);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if tail.len() > cap {
        tail.drain(..tail.len() - cap);
    }
    tail
}

/// Kills the command and everything in its process group, and reaps it.
fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // The child leads its own group (`process_group(0)`), and it is not
        // reaped yet, so its id cannot have been reused.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh private directory under the system temporary directory, removed
/// with its contents when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<Self, Error> {
        use rand_core::RngCore as _;
        let tmp = std::path::absolute(std::env::temp_dir())
            .map_err(Error::io("finding the temporary directory"))?;
        for _ in 0..8 {
            let mut r = [0u8; 8];
            rand_core::OsRng.fill_bytes(&mut r);
            let path = tmp.join(format!("veil-gen-{}", hex::encode(r)));
            match create_private_dir(&path) {
                Ok(()) => return Ok(Self(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
        Err(Error::Write {
            path: tmp,
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        })
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Creates one directory, mode 0700 (fails if it exists).
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Writes a new file, mode 0600 (fails if it exists).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let write_err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    file.flush().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [&str; 5] = [
        "lighting_edit",
        "pose_edit",
        "expression_edit",
        "background_edit",
        "screen_replay",
    ];
    const INTENSITIES: [&str; 3] = ["light", "medium", "far"];

    fn seed(n: u8) -> [u8; 32] {
        veil_core::miid::variation_seed(&[n; 32], "challenge-1", u32::from(n))
    }

    fn variation(
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

    fn sample(name: &str) -> (RgbImage, Vec<u8>) {
        let s = images::samples()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        (
            images::decode(&s.bytes, &ImageLimits::default()).unwrap(),
            s.bytes,
        )
    }

    fn run(
        g: &dyn Generator,
        base: &RgbImage,
        bytes: &[u8],
        vars: &[Variation<'_>],
    ) -> Vec<Result<Vec<u8>, Error>> {
        let job = Job {
            base,
            base_bytes: bytes,
            base_filename: "face-01.png",
            challenge_id: "challenge-1",
            variations: vars,
        };
        let out = g.generate(&job);
        assert_eq!(out.len(), vars.len());
        out
    }

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
        use crate::images::{Fingerprint, NEAR_DUPLICATE_MAX};
        use crate::validator::STANDARD_VARIATIONS;
        for name in ["face-01.png", "face-04.png", "face-08.jpg"] {
            let (base, bytes) = sample(name);
            for (kind, intensity, _) in STANDARD_VARIATIONS {
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
        ];
        let out = run(&Builtin, &base, &bytes, &vars);
        for i in [0, 2, 5] {
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
        for i in [1, 3, 4, 6] {
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

    // --- external command

    /// A shell snippet that sets $o (out_dir) and $b (base_image) from the JSON on stdin.
    const PARSE: &str = r#"j=$(cat); o=$(printf '%s' "$j" | sed 's/.*"out_dir":"\([^"]*\)".*/\1/'); b=$(printf '%s' "$j" | sed 's/.*"base_image":"\([^"]*\)".*/\1/');"#;

    fn external(script: &str, timeout_ms: u64) -> External {
        External::new(
            format!("{PARSE} {script}"),
            Duration::from_millis(timeout_ms),
            ImageLimits::default(),
        )
    }

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("veil-gen-test-{name}-{}", std::process::id()))
    }

    #[test]
    fn external_copies_are_accepted_and_the_work_dir_is_removed() {
        let (base, bytes) = sample("face-01.png");
        let record = scratch("record");
        let g = external(
            &format!(
                r#"printf '%s' "$j" > {rec}; cp "$b" "$o/0.png"; cp "$b" "$o/1.png"; echo progress"#,
                rec = record.display()
            ),
            20_000,
        );
        assert!(g.describe().starts_with("external command `"));
        let vars = [
            variation(0, "pose_edit", "light", 1),
            variation(1, "lighting_edit+pose_edit", "far", 2),
        ];
        let out = run(&g, &base, &bytes, &vars);
        assert_eq!(out[0].as_ref().unwrap(), &bytes);
        assert_eq!(out[1].as_ref().unwrap(), &bytes);

        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        std::fs::remove_file(&record).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["base_filename"], "face-01.png");
        assert_eq!(doc["challenge_id"], "challenge-1");
        assert_eq!(doc["variations"][1]["type"], "lighting_edit+pose_edit");
        assert_eq!(doc["variations"][1]["intensity"], "far");
        assert_eq!(doc["variations"][1]["index"], 1);
        assert_eq!(doc["variations"][1]["description"], "a test variation");
        assert_eq!(doc["variations"][0]["seed"], hex::encode(seed(1)));
        let base_path = PathBuf::from(doc["base_image"].as_str().unwrap());
        let out_dir = PathBuf::from(doc["out_dir"].as_str().unwrap());
        assert!(base_path.is_absolute() && base_path.ends_with("base.png"));
        assert_eq!(base_path.parent(), out_dir.parent());
        // Cleaned up.
        assert!(!out_dir.parent().unwrap().exists());
    }

    #[test]
    fn external_jpeg_outputs_are_re_encoded_and_missing_ones_fail_alone() {
        let (base, bytes) = sample("face-08.jpg");
        let g = external(r#"case "$b" in *.jpg) cp "$b" "$o/0.png";; esac"#, 20_000);
        let vars = [
            variation(0, "pose_edit", "light", 1),
            variation(1, "pose_edit", "light", 2),
        ];
        let out = run(&g, &base, &bytes, &vars);
        let png = out[0].as_ref().unwrap();
        assert_eq!(Format::detect(png).unwrap(), Format::Png);
        assert_eq!(images::decode(png, &ImageLimits::default()).unwrap(), base);
        assert_eq!(
            out[1].as_ref().unwrap_err().to_string(),
            "variation 1: the generator command wrote no 1.png"
        );
    }

    #[test]
    fn external_failure_surfaces_stderr() {
        let (base, bytes) = sample("face-01.png");
        let g = external(
            r#"echo "loading model" >&2; echo "CUDA out of memory" >&2; exit 3"#,
            20_000,
        );
        let vars = [
            variation(4, "pose_edit", "light", 1),
            variation(9, "pose_edit", "far", 2),
        ];
        let out = run(&g, &base, &bytes, &vars);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 4: the generator command exited with status 3: CUDA out of memory"
        );
        assert!(
            out[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("variation 9: ")
        );
    }

    #[test]
    fn external_timeout_kills_the_command() {
        let (base, bytes) = sample("face-01.png");
        let marker = scratch("late");
        let g = external(&format!("sleep 5; touch {}", marker.display()), 300);
        let t = Instant::now();
        let out = run(&g, &base, &bytes, &[variation(0, "pose_edit", "light", 1)]);
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 0: the generator command timed out after 300ms and was killed"
        );
        // The whole process group was killed: nothing runs on after the timeout.
        std::thread::sleep(Duration::from_millis(5500).saturating_sub(t.elapsed()));
        assert!(!marker.exists());
    }

    #[test]
    fn external_garbage_and_oversized_outputs_are_refused() {
        let (base, bytes) = sample("face-01.png");
        let g = external(
            r#"printf 'garbage' > "$o/0.png"; printf '\211PNG\r\n\032\nbroken' > "$o/1.png"; mkdir "$o/2.png"; cp "$b" "$o/3.png""#,
            20_000,
        );
        let vars: Vec<Variation<'_>> = (0..4)
            .map(|i| variation(i, "pose_edit", "light", 1))
            .collect();
        let out = run(&g, &base, &bytes, &vars);
        let msg = |i: usize| out[i].as_ref().unwrap_err().to_string();
        assert_eq!(
            msg(0),
            "variation 0: 0.png: not a PNG or JPEG image: found text"
        );
        assert!(
            msg(1).starts_with("variation 1: 1.png: invalid PNG image"),
            "{}",
            msg(1)
        );
        assert_eq!(msg(2), "variation 2: 2.png is not a regular file");
        assert!(out[3].is_ok());

        let small = External::new(
            format!(r#"{PARSE} cp "$b" "$o/0.png""#),
            Duration::from_secs(20),
            ImageLimits {
                max_bytes: 1000,
                ..ImageLimits::default()
            },
        );
        let out = run(&small, &base, &bytes, &vars[..1]);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 0: 0.png is larger than 1000 bytes"
        );
    }

    #[test]
    fn external_command_that_ignores_stdin_and_empty_jobs() {
        let (base, bytes) = sample("face-01.png");
        let g = External::new(
            "true".to_owned(),
            Duration::from_secs(20),
            ImageLimits::default(),
        );
        let out = run(&g, &base, &bytes, &[variation(0, "pose_edit", "light", 1)]);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 0: the generator command wrote no 0.png"
        );
        assert!(run(&g, &base, &bytes, &[]).is_empty());
    }
}
