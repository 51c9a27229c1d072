//! Copies. An image that is the base image, or a near copy of it, fails.
//! Images of different miners that are the same (SHA-256) or near copies
//! (a perceptual [`Fingerprint`] within [`NEAR_DUPLICATE_MAX`],
//! `docs/duplicates.md`) form a group, transitively; in each group exactly
//! one keeps credit: the one the validator received first (its receipt
//! order, recorded in the results: never a time the miner controls; for
//! results without it, the order the results list them in). The others
//! fail, naming the one they copy.

use crate::phase4::images::{Fingerprint, NEAR_DUPLICATE_MAX};
use crate::phase4::records::{BaseRecord, Checked, Verdict};

/// Judges copies among `checked` (module docs); `base_print` is the base
/// image's fingerprint, when its copy could be read.
pub(super) fn judge_duplicates(
    checked: &mut [Checked],
    base: Option<&BaseRecord>,
    base_print: Option<&Fingerprint>,
) {
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
        } else if let (Some(b), Some(p)) = (base_print, &prints[i]) {
            let d = p.distance(b);
            if d <= NEAR_DUPLICATE_MAX {
                reasons[i] = Some(format!(
                    "a near copy of the base image ({d:.2} apart, within {NEAR_DUPLICATE_MAX})"
                ));
            }
        }
    }
    // Groups of copies across miners (union-find over the candidates).
    let candidates: Vec<usize> = (0..checked.len())
        .filter(|&i| checked[i].verdict == Verdict::Verified && reasons[i].is_none())
        .collect();
    let mut parent: Vec<usize> = (0..checked.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut link: Vec<Option<(usize, f32)>> = vec![None; checked.len()];
    for (n, &i) in candidates.iter().enumerate() {
        for &j in &candidates[n + 1..] {
            if checked[i].uid == checked[j].uid {
                continue;
            }
            let same = checked[i].sha256.is_some() && checked[i].sha256 == checked[j].sha256;
            let d = match (&prints[i], &prints[j]) {
                _ if same => Some(0.0),
                (Some(a), Some(b)) => Some(a.distance(b)).filter(|d| *d <= NEAR_DUPLICATE_MAX),
                _ => None,
            };
            if let Some(d) = d {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri] = rj;
                link[i].get_or_insert((j, d));
                link[j].get_or_insert((i, d));
            }
        }
    }
    // The earliest received of each group keeps credit.
    let order = |i: usize| (checked[i].received.unwrap_or(u64::MAX), i);
    let mut keeper: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for &i in &candidates {
        if link[i].is_none() {
            continue;
        }
        let r = root(&mut parent, i);
        let k = keeper.entry(r).or_insert(i);
        if order(i) < order(*k) {
            *k = i;
        }
    }
    for &i in &candidates {
        if link[i].is_none() {
            continue;
        }
        let k = keeper[&root(&mut parent, i)];
        if k == i {
            continue;
        }
        let o = &checked[k];
        let d = link[i].map_or(0.0, |(_, d)| d);
        let how = if checked[i].sha256.is_some() && checked[i].sha256 == o.sha256 {
            "the same image as".to_owned()
        } else {
            format!("a near copy ({d:.2} apart, within {NEAR_DUPLICATE_MAX}) in a group with")
        };
        let when = match o.received {
            Some(n) => format!("received first (#{n})"),
            None => "listed first".to_owned(),
        };
        reasons[i] = Some(format!(
            "{how} uid {}'s {} ({}), {when}",
            o.uid, o.variation_type, o.s3_key
        ));
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

    fn checked(uid: u32, received: u64, sha: &str, img: &image::RgbImage) -> Checked {
        Checked {
            uid,
            index: 0,
            angle: 1,
            s3_key: format!("k{uid}"),
            variation_type: "pose_edit".into(),
            verdict: Verdict::Verified,
            reason: None,
            opened: true,
            format: Some("bittensor".into()),
            sha256: Some(sha.into()),
            width: None,
            height: None,
            fingerprint: Some(Fingerprint::of(img).to_hex()),
            round: None,
            image: None,
            thumbnail: None,
            received: Some(received),
            source: None,
            changed_after_acceptance: None,
            screen_replay_uav: None,
            angle2: None,
        }
    }

    fn picture(seed: u32) -> image::RgbImage {
        image::RgbImage::from_fn(64, 64, |x, y| {
            let v = (x * (3 + seed) + y * (1 + seed * 7) + seed * 31) % 200;
            let v = u8::try_from(v).unwrap_or(0);
            image::Rgb([v, v / 2 + u8::try_from(seed % 50).unwrap_or(0), 200 - v])
        })
    }

    fn brighter(img: &image::RgbImage) -> image::RgbImage {
        let mut out = img.clone();
        for p in out.pixels_mut() {
            p.0 = p.0.map(|c| c.saturating_add(6));
        }
        out
    }

    #[test]
    fn of_copies_only_the_first_received_keeps_credit() {
        let (a, b, base) = (picture(1), picture(2), picture(3));
        let mut all = vec![
            checked(0, 7, "aa", &a),               // the original, received late
            checked(1, 2, "aa", &a),               // the same bytes, received first
            checked(2, 9, "bb", &brighter(&a)),    // a near copy
            checked(3, 4, "cc", &b),               // its own image
            checked(4, 1, "base", &base),          // the base image
            checked(5, 3, "dd", &brighter(&base)), // a near copy of the base
        ];
        let record = BaseRecord {
            filename: "face.png".into(),
            sha256: "base".into(),
            path: None,
        };
        judge_duplicates(&mut all, Some(&record), Some(&Fingerprint::of(&base)));
        let reason = |i: usize| all[i].reason.clone().unwrap_or_default();
        assert_eq!(all[1].verdict, Verdict::Verified, "{}", reason(1));
        assert!(
            reason(0).contains("the same image as uid 1's"),
            "{}",
            reason(0)
        );
        assert!(reason(0).contains("received first (#2)"), "{}", reason(0));
        assert!(reason(2).contains("a near copy"), "{}", reason(2));
        assert!(reason(2).contains("uid 1's"), "{}", reason(2));
        assert_eq!(all[3].verdict, Verdict::Verified, "{}", reason(3));
        assert!(reason(4).contains("the base image itself"), "{}", reason(4));
        assert!(
            reason(5).contains("a near copy of the base image"),
            "{}",
            reason(5)
        );
    }

    #[test]
    fn a_failed_image_is_never_the_reason_another_fails() {
        let a = picture(1);
        let mut all = vec![checked(0, 0, "aa", &a), checked(1, 1, "aa", &a)];
        all[0].verdict = Verdict::Failed;
        judge_duplicates(&mut all, None, None);
        assert_eq!(all[1].verdict, Verdict::Verified);
    }
}
