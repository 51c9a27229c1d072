//! The built-in transforms and what they draw their parameters from: a
//! SHA-256 counter-mode stream keyed by the variation's seed. `s` is the
//! strength: 0.35 light, 0.65 medium, 1.0 far.

use image::RgbImage;
use sha2::{Digest as _, Sha256};

/// Domain tag of the built-in generator's parameter streams.
const STREAM_DOMAIN: &[u8] = b"veil/generator/builtin/v1";

// ---------------------------------------------------------------------------
// Parameters from the seed

/// SHA-256 in counter mode: `sha256(key ‖ u32be(counter))`, read as 16-bit
/// words, with `key = sha256(domain ‖ seed ‖ u32be(step) ‖ name)`.
pub(super) struct Stream {
    key: [u8; 32],
    counter: u32,
    words: core::array::IntoIter<u16, 16>,
}

impl Stream {
    pub(super) fn new(seed: &[u8; 32], step: usize, name: &str) -> Self {
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

pub(super) fn lighting(mut img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
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

pub(super) fn pose(img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
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

pub(super) fn expression(img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
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

pub(super) fn background(mut img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
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

pub(super) fn screen_replay(img: RgbImage, r: &mut Stream, s: f32) -> RgbImage {
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

/// Side of the control grid of [`signature`]'s field.
const SIGNATURE_GRID: usize = 4;
/// Largest luma offset of [`signature`]'s field, in grey levels (colour
/// offsets go to 0.8 of it).
pub(super) const SIGNATURE_AMPLITUDE: f32 = 32.0;
/// [`signature`] first maps every channel into `[LOW, LOW + SPAN]`, so the
/// field (and a copier's later brightening) rarely clips.
const SIGNATURE_LOW: f32 = 48.0;
const SIGNATURE_SPAN: f32 = 160.0;

/// What tells two miners' variations of one base apart, whatever was
/// asked: a smooth colour field drawn from the seed — luma and two colour
/// offsets at the points of a 4×4 grid, blended between them — added to
/// the image. Low in frequency, so a re-encoded, rescaled or slightly
/// cropped copy keeps it; independent between seeds, so two honest
/// variations differ by two such fields (`docs/duplicates.md`).
pub(super) fn signature(mut img: RgbImage, r: &mut Stream) -> RgbImage {
    let amp = SIGNATURE_AMPLITUDE;
    let points: Vec<[f32; 3]> = (0..SIGNATURE_GRID * SIGNATURE_GRID)
        .map(|_| {
            [
                r.range(-1.0, 1.0) * amp,
                r.range(-1.0, 1.0) * amp * 0.8,
                r.range(-1.0, 1.0) * amp * 0.8,
            ]
        })
        .collect();
    let last = fu(u32::try_from(SIGNATURE_GRID - 1).unwrap_or(1));
    let (w, h) = (fu(img.width()), fu(img.height()));
    let at = |i: usize, j: usize| {
        points
            .get(j * SIGNATURE_GRID + i)
            .copied()
            .unwrap_or([0.0; 3])
    };
    // The cell of a grid coordinate and the smoothed position in it.
    let locate = |v: f32| {
        let v = v.clamp(0.0, last);
        let cell = floor_i32(v.min(last - 1.0)).max(0);
        let t = v - cell as f32;
        (usize::try_from(cell).unwrap_or(0), t * t * (3.0 - 2.0 * t))
    };
    map_pixels(&mut img, |x, y, p| {
        let (i, tx) = locate(x / (w - 1.0).max(1.0) * last);
        let (j, ty) = locate(y / (h - 1.0).max(1.0) * last);
        let top = lerp3(at(i, j), at(i + 1, j), tx);
        let bottom = lerp3(at(i, j + 1), at(i + 1, j + 1), tx);
        let [luma, blue, red] = lerp3(top, bottom, ty);
        let p = p.map(|c| SIGNATURE_LOW + c * (SIGNATURE_SPAN / 255.0));
        [
            p[0] + luma + red,
            p[1] + luma - 0.5 * red - 0.3 * blue,
            p[2] + luma + blue,
        ]
    });
    img
}
