//! A real screen-replay capture is two objects (two photos of one screen,
//! from two angles), checked one by one; here they become one verdict: the
//! capture holds when both photos do and they are not the same photo (the
//! same bytes, or near copies: a photo uploaded twice, re-encoded).

use crate::phase4::images::{Fingerprint, NEAR_DUPLICATE_MAX};
use crate::phase4::records::{Checked, Verdict};

/// Folds each second angle into its first (`angle2`), and fails a capture
/// whose second photo fails or repeats the first.
pub(super) fn merge(checked: Vec<Checked>) -> Vec<Checked> {
    let (mut firsts, seconds): (Vec<Checked>, Vec<Checked>) =
        checked.into_iter().partition(|c| c.angle != 2);
    for second in seconds {
        let Some(first) = firsts
            .iter_mut()
            .find(|c| c.uid == second.uid && c.index == second.index)
        else {
            firsts.push(second);
            continue;
        };
        if first.verdict == Verdict::Verified
            && let Some(why) = second_fails(first, &second)
        {
            first.verdict = Verdict::Failed;
            first.reason = Some(why);
        }
        first.angle2 = Some(Box::new(second));
    }
    firsts
}

fn second_fails(first: &Checked, second: &Checked) -> Option<String> {
    if second.verdict != Verdict::Verified {
        return Some(format!(
            "the second angle: {}",
            second.reason.as_deref().unwrap_or("not verified")
        ));
    }
    if first.sha256.is_some() && first.sha256 == second.sha256 {
        return Some("the two angles are the same photo".into());
    }
    let print = |c: &Checked| {
        c.fingerprint
            .as_deref()
            .and_then(|f| Fingerprint::from_hex(f).ok())
    };
    if let (Some(a), Some(b)) = (print(first), print(second)) {
        let d = a.distance(&b);
        if d <= NEAR_DUPLICATE_MAX {
            return Some(format!(
                "the two angles are the same photo ({d:.2} apart, within {NEAR_DUPLICATE_MAX})"
            ));
        }
    }
    None
}
