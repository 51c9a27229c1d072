//! A miner's answer, decoded into typed, bounded records: the
//! `s3_submissions` list is read item by item straight from the answer's
//! bytes (each item borrowed, then parsed as an `S3Submission`), items past
//! a bound are counted and skipped unread, and every other field — the
//! echoed request with its base64 image among them — is skipped without
//! being kept. An answer of N bytes costs about N, never a generic tree.

use alloc::borrow::Cow;
use core::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::phase4::records::{Rejected, Submission};
use crate::text::peer_line;

/// The submissions of one answer.
#[derive(Debug)]
pub(super) struct Items {
    /// How many items the list held.
    pub(super) count: usize,
    /// The first of them (up to the bound), each a record or why it is not.
    pub(super) read: Vec<Result<Submission, Rejected>>,
}

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    s3_submissions: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct KeyOnly<'a> {
    #[serde(borrow)]
    s3_key: Cow<'a, str>,
}

/// The `s3_submissions` of `body`: at most `listed` items read, the rest
/// counted. `Err` says why the answer carries no list.
pub(super) fn submissions(body: &[u8], listed: usize) -> Result<Items, String> {
    let not_object = || "the answer is not a JSON object".to_owned();
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(not_object());
    }
    let answer: Answer<'_> = serde_json::from_slice(body).map_err(|_| not_object())?;
    let raw = answer
        .s3_submissions
        .filter(|r| r.get() != "null")
        .ok_or_else(|| "the answer has no s3_submissions".to_owned())?;
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Bounded { listed }
        .deserialize(&mut de)
        .map_err(|_| "s3_submissions is not a list".to_owned())
}

/// One item: an `S3Submission`, or the reason it is not one (with its key
/// when it has one).
fn item(raw: &RawValue) -> Result<Submission, Rejected> {
    serde_json::from_str::<Submission>(raw.get()).map_err(|e| Rejected {
        s3_key: serde_json::from_str::<KeyOnly<'_>>(raw.get())
            .ok()
            .map(|k| peer_line(&k.s3_key)),
        variation_type: None,
        reason: format!("not an S3Submission: {}", peer_line(&e.to_string())),
    })
}

struct Bounded {
    listed: usize,
}

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = Items;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Bounded {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of S3Submission")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut read = Vec::new();
        let mut count = 0usize;
        while count < self.listed {
            match seq.next_element::<&'de RawValue>()? {
                Some(raw) => read.push(item(raw)),
                None => return Ok(Items { count, read }),
            }
            count += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Items { count, read })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_typed_bounded_and_explained() {
        let good = r#"{"s3_key":"k","image_hash":"h","signature":"s","variation_type":"pose_edit","path_signature":"p"}"#;
        let body = format!(
            r#"{{"image_request":{{"base_image":"{}"}},"s3_submissions":[{good},{{"s3_key":"bad"}},7,{good},{good}],"x":[1,2]}}"#,
            "A".repeat(1000)
        );
        let items = submissions(body.as_bytes(), 3).unwrap();
        assert_eq!(items.count, 5);
        assert_eq!(items.read.len(), 3);
        assert_eq!(items.read[0].as_ref().unwrap().s3_key, "k");
        let bad = items.read[1].as_ref().unwrap_err();
        assert_eq!(bad.s3_key.as_deref(), Some("bad"));
        assert!(
            bad.reason.starts_with("not an S3Submission"),
            "{}",
            bad.reason
        );
        assert_eq!(items.read[2].as_ref().unwrap_err().s3_key, None);
    }

    #[test]
    fn answers_without_a_list_say_why() {
        for (body, why) in [
            (r#"{"s3_submissions":null}"#, "has no s3_submissions"),
            (r#"{"other":1}"#, "has no s3_submissions"),
            (r#"{"s3_submissions":{"a":1}}"#, "is not a list"),
            (r#"[1,2]"#, "not a JSON object"),
            ("not json", "not a JSON object"),
        ] {
            let e = submissions(body.as_bytes(), 8).unwrap_err();
            assert!(e.contains(why), "{body}: {e}");
        }
    }
}
