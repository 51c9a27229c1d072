//! The variations a cycle asks for, built as MIID's validator builds them
//! (`MIID/validator/image_variations.py` and `forward.py` at d71f292bc):
//!
//! - the standard five, in MIID's order: `background_edit` indoor,
//!   `background_edit` outdoor, `lighting_edit+expression_edit`,
//!   `lighting_edit+pose_edit`, `pose_edit+expression_edit` (more or fewer
//!   requested: cycled through);
//! - each single type gets a random intensity of `light|medium|far`; a
//!   combined type gets one per part, `+`-joined in the same order
//!   (`far+light`);
//! - a combined type's description is `Combined variation — apply all of
//!   the following while preserving identity: ` then `{type}
//!   ({intensity}): {description}` per part joined by `; `, and its detail
//!   the parts' `{type} ({intensity}): {detail}` joined by ` AND `;
//!   a background request's description is `{what}. {environment}.
//!   {accessory}` and its detail `{environment detail}. Additionally,
//!   include: {accessory detail}`;
//! - on the wire, every detail ends with `. ` and
//!   [`IMAGE_VARIATION_REQUIREMENTS`]; the results record the requests
//!   without it, as MIID's results do.
//!
//! The texts themselves are veil's (the shapes are MIID's).

use rand_core::RngCore;

pub use crate::phase4::records::RequestedVariation;

/// The composition requirements MIID appends to every request's detail on
/// the wire (`IMAGE_VARIATION_REQUIREMENTS`, MIID
/// `validator/image_variations.py` at d71f292bc).
pub const IMAGE_VARIATION_REQUIREMENTS: &str = "All images are Professional passport-style portraits, 3:4 aspect ratio, head-and-shoulders composition from chest up. Recommended output resolution: 1015 x 1350 pixels.";

/// The types of MIID's standard five, in its order.
pub const STANDARD_TYPES: [&str; 5] = [
    "background_edit",
    "background_edit",
    "lighting_edit+expression_edit",
    "lighting_edit+pose_edit",
    "pose_edit+expression_edit",
];

const INTENSITIES: [&str; 3] = ["light", "medium", "far"];

fn pick<'a>(rng: &mut impl RngCore, from: &[&'a str]) -> &'a str {
    let n = u32::try_from(from.len()).unwrap_or(u32::MAX).max(1);
    from.get(usize::try_from(rng.next_u32() % n).unwrap_or(0))
        .copied()
        .unwrap_or_default()
}

/// What one base type does, and how far each intensity goes.
fn base(kind: &str, intensity: &str) -> (&'static str, &'static str) {
    match (kind, intensity) {
        ("pose_edit", "light") => (
            "Turn the head a little, keeping the identity",
            "a slight turn or tilt, up to about 15 degrees",
        ),
        ("pose_edit", "medium") => (
            "Turn the head, keeping the identity",
            "a clear turn, about 30 degrees, part of the profile visible",
        ),
        ("pose_edit", _) => (
            "Turn the head far, keeping the identity",
            "beyond 45 degrees, close to a profile view",
        ),
        ("lighting_edit", "light") => (
            "Adjust the lighting",
            "a subtle change of brightness or contrast, soft shadows",
        ),
        ("lighting_edit", "medium") => (
            "Change the lighting's direction",
            "a clear light source from one side, visible shadows",
        ),
        ("lighting_edit", _) => (
            "Change the lighting dramatically",
            "hard shadows, strong contrast, a warm or cool cast",
        ),
        ("expression_edit", "light") => (
            "Change the expression a little",
            "from neutral to a slight smile or a raised brow",
        ),
        ("expression_edit", "medium") => (
            "Change the expression",
            "a smile, a serious look, or mild surprise",
        ),
        ("expression_edit", _) => (
            "Change the expression strongly",
            "laughing, surprised or concerned, clearly so",
        ),
        _ => ("Change the image", "as the intensity says"),
    }
}

/// One background request (`indoor` or `outdoor`), as MIID shapes it.
fn background(environment: &str, rng: &mut impl RngCore) -> RequestedVariation {
    let intensity = pick(rng, &INTENSITIES);
    let env_detail = match (environment, intensity) {
        ("indoor", "light") => "the same indoor room with another wall colour or a softer blur",
        ("indoor", "medium") => "another plausible indoor place, such as an office or a cafe",
        ("indoor", _) => "a clearly different interior with its own depth, still fully indoors",
        (_, "light") => "the same outdoor place with a small change of depth or light",
        (_, "medium") => "another plausible outdoor place, such as a park or a street",
        _ => "a clearly different outdoor scene, such as a beach or a mountain path",
    };
    let (accessory, accessory_detail) = pick_accessory(rng);
    RequestedVariation {
        kind: "background_edit".into(),
        intensity: intensity.into(),
        description: format!(
            "Change the background while keeping the subject unchanged. {} background change. Add {accessory}",
            if environment == "indoor" {
                "Indoor"
            } else {
                "Outdoor"
            }
        ),
        detail: format!("{env_detail}. Additionally, include: {accessory_detail}"),
    }
}

/// An accessory, weighted as MIID weighs its kinds (head coverings most).
fn pick_accessory(rng: &mut impl RngCore) -> (&'static str, &'static str) {
    const ACCESSORIES: [(u32, &str, &str); 6] = [
        (
            65,
            "a head covering",
            "a head covering appropriate to the subject",
        ),
        (
            10,
            "a brimmed hat",
            "a brimmed hat that leaves the face visible",
        ),
        (10, "a knit winter hat", "a knit hat above the brows"),
        (5, "a bandana", "a bandana worn on the head"),
        (5, "a baseball cap", "a baseball cap facing forward"),
        (5, "headphones", "over-ear headphones"),
    ];
    let total: u32 = ACCESSORIES.iter().map(|a| a.0).sum();
    let mut r = rng.next_u32() % total;
    for (weight, name, detail) in ACCESSORIES {
        if r < weight {
            return (name, detail);
        }
        r -= weight;
    }
    (
        "a head covering",
        "a head covering appropriate to the subject",
    )
}

/// A combined request over `parts`, as MIID shapes it.
fn combined(parts: &[&str], rng: &mut impl RngCore) -> RequestedVariation {
    let chosen: Vec<(&str, &str)> = parts
        .iter()
        .map(|p| (*p, pick(rng, &INTENSITIES)))
        .collect();
    let each = |f: fn((&'static str, &'static str)) -> &'static str, sep: &str| {
        chosen
            .iter()
            .map(|(t, i)| format!("{t} ({i}): {}", f(base(t, i))))
            .collect::<Vec<_>>()
            .join(sep)
    };
    RequestedVariation {
        kind: parts.join("+"),
        intensity: chosen.iter().map(|(_, i)| *i).collect::<Vec<_>>().join("+"),
        description: format!(
            "Combined variation \u{2014} apply all of the following while preserving identity: {}",
            each(|b| b.0, "; ")
        ),
        detail: each(|b| b.1, " AND "),
    }
}

/// `n` requests: MIID's standard five in order, cycled, with intensities
/// drawn from `rng`.
pub fn standard_requests(n: usize, rng: &mut impl RngCore) -> Vec<RequestedVariation> {
    (0..n)
        .map(|i| match i % 5 {
            0 => background("indoor", rng),
            1 => background("outdoor", rng),
            2 => combined(&["lighting_edit", "expression_edit"], rng),
            3 => combined(&["lighting_edit", "pose_edit"], rng),
            _ => combined(&["pose_edit", "expression_edit"], rng),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn the_standard_five_in_miids_order_with_per_part_intensities() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let seven = standard_requests(7, &mut rng);
        let kinds: Vec<&str> = seven.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(&kinds[..5], &STANDARD_TYPES);
        assert_eq!(&kinds[5..], &STANDARD_TYPES[..2], "cycled");
        for r in &seven {
            // The core accepts every request veil sends.
            veil_core::miid::part_intensities(&r.kind, &r.intensity).unwrap();
            assert_eq!(
                r.intensity.split('+').count(),
                r.kind.split('+').count(),
                "{r:?}"
            );
            assert!(r.wire_detail().ends_with(IMAGE_VARIATION_REQUIREMENTS));
        }
        assert!(
            seven[2]
                .description
                .starts_with("Combined variation \u{2014} apply all")
        );
        assert_eq!(seven[3].detail.matches(" AND ").count(), 1);
        assert!(seven[0].detail.contains(". Additionally, include: "));
        // Intensities are drawn, not fixed.
        let many = standard_requests(200, &mut rng);
        for i in INTENSITIES {
            assert!(many.iter().any(|r| r.intensity.starts_with(i)), "{i}");
        }
    }
}
