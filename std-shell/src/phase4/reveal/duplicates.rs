//! Copies: an image that is the base image, or the same as (SHA-256) or a
//! near copy of (a perceptual [`Fingerprint`] within
//! [`NEAR_DUPLICATE_MAX`] grey levels) another miner's image, fails. Every
//! miner of such a group fails, since who copied whom cannot be told.

use crate::phase4::images::{Fingerprint, NEAR_DUPLICATE_MAX};
use crate::phase4::records::{BaseRecord, Checked, Verdict};

/// Fails every image that is the base image, or the same as or a near
/// copy of another miner's image.
pub(super) fn judge_duplicates(checked: &mut [Checked], base: Option<&BaseRecord>) {
    let prints: Vec<Option<Fingerprint>> = checked
        .iter()
        .map(|c| {
            c.fingerprint
                .as_deref()
                .and_then(|f| Fingerprint::from_hex(f).ok())
        })
        .collect();
    let mut reasons: Vec<Option<String>> = vec![None; checked.len()];
    for (i, c) in checked.iter().enumerate() {
        if c.verdict != Verdict::Verified {
            continue;
        }
        if let (Some(b), Some(h)) = (base, &c.sha256)
            && b.sha256.eq_ignore_ascii_case(h)
        {
            reasons[i] = Some("it is the base image itself, unchanged".into());
            continue;
        }
        for (j, o) in checked.iter().enumerate() {
            if j == i || o.uid == c.uid || o.verdict != Verdict::Verified {
                continue;
            }
            if c.sha256.is_some() && c.sha256 == o.sha256 {
                reasons[i] = Some(format!(
                    "the same image as uid {}'s {} ({})",
                    o.uid, o.variation_type, o.s3_key
                ));
                break;
            }
            if let (Some(a), Some(b)) = (&prints[i], &prints[j]) {
                let d = a.distance(b);
                if d <= NEAR_DUPLICATE_MAX {
                    reasons[i] = Some(format!(
                        "a near copy of uid {}'s {} ({}; {d:.1} grey levels apart at most, \
                         within {NEAR_DUPLICATE_MAX})",
                        o.uid, o.variation_type, o.s3_key
                    ));
                    break;
                }
            }
        }
    }
    for (c, r) in checked.iter_mut().zip(reasons) {
        if let Some(r) = r {
            c.verdict = Verdict::Failed;
            c.reason = Some(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(uid: u32, index: usize, sha: &str, img: Option<&image::RgbImage>) -> Checked {
        Checked {
            uid,
            index,
            s3_key: format!("k{uid}-{index}"),
            variation_type: "pose_edit".into(),
            verdict: Verdict::Verified,
            reason: None,
            opened: true,
            format: Some("bittensor".into()),
            sha256: Some(sha.into()),
            width: None,
            height: None,
            fingerprint: img.map(|i| Fingerprint::of(i).to_hex()),
            round: None,
            image: None,
            thumbnail: None,
        }
    }

    fn gradient(shift: u8) -> image::RgbImage {
        image::RgbImage::from_fn(64, 64, |x, y| {
            let v = u8::try_from((x * 3 + y) % 200).unwrap_or(0);
            image::Rgb([v.saturating_add(shift), v, v / 2])
        })
    }

    #[test]
    fn duplicates_across_miners_fail_both_and_the_base_image_fails() {
        let a = gradient(0);
        let brighter = gradient(4);
        let other = image::RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([u8::try_from((x * y) % 255).unwrap_or(0), 10, 200])
        });
        let mut all = vec![
            checked(0, 0, "aa", Some(&a)),
            checked(1, 0, "aa", Some(&a)), // the same bytes as uid 0
            checked(2, 0, "bb", Some(&brighter)), // a near copy (uniformly brighter)
            checked(3, 0, "cc", Some(&other)), // its own image
            checked(3, 1, "base", Some(&other)), // the base image
            checked(0, 1, "dd", Some(&other)), // replaced below: far from all
        ];
        all[5].fingerprint = Some(Fingerprint::of(&gradient(100)).to_hex());
        let base = BaseRecord {
            filename: "face.png".into(),
            sha256: "base".into(),
            path: None,
        };
        judge_duplicates(&mut all, Some(&base));
        let reason = |i: usize| all[i].reason.clone().unwrap_or_default();
        assert_eq!(all[0].verdict, Verdict::Failed);
        assert!(
            reason(0).contains("the same image as uid 1"),
            "{}",
            reason(0)
        );
        assert!(
            reason(1).contains("the same image as uid 0"),
            "{}",
            reason(1)
        );
        assert!(reason(2).contains("a near copy of uid 0"), "{}", reason(2));
        assert_eq!(all[3].verdict, Verdict::Verified, "{}", reason(3));
        assert!(reason(4).contains("base image"), "{}", reason(4));
        assert_eq!(all[5].verdict, Verdict::Verified, "{}", reason(5));
    }

    #[test]
    fn a_failed_image_is_never_the_reason_another_fails() {
        let a = gradient(0);
        let mut all = vec![checked(0, 0, "aa", Some(&a)), checked(1, 0, "aa", Some(&a))];
        all[0].verdict = Verdict::Failed;
        judge_duplicates(&mut all, None);
        assert_eq!(all[1].verdict, Verdict::Verified);
    }
}
