//! Object keys of submissions: built ([`object_key`]), checked
//! ([`validate_object_key`]) and taken apart ([`parse_object_key`]), all
//! here.

use core::fmt;

use super::{FrameError, check_hex, check_key_part, check_variation_type};
use crate::limits::MAX_OBJECT_KEY_LEN;

/// An object key.
pub type ObjectKey = heapless::String<MAX_OBJECT_KEY_LEN>;

/// The parts of a submission's object key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// The challenge.
    pub challenge_id: &'a str,
    /// The miner's SS58 hotkey.
    pub miner_ss58: &'a str,
    /// 16 hex characters.
    pub path_signature: &'a str,
    /// The base image's file name; `.png`, `.jpg`, `.jpeg` are dropped.
    pub image_filename: &'a str,
    /// The variation type (`+` becomes `_` in the key).
    pub variation_type: &'a str,
    /// Upload time, unix seconds.
    pub unix_ts: u64,
    /// Position in the miner's answer, so keys never collide.
    pub index: u32,
}

/// MIID's `seed_image_name`: the base image's file name without `.png`,
/// `.jpg` or `.jpeg` (any case).
pub fn seed_image_name(name: &str) -> &str {
    [".png", ".jpg", ".jpeg"]
        .into_iter()
        .find_map(|ext| strip_suffix_ignore_case(name, ext))
        .unwrap_or(name)
}

/// `submissions/{cid}/{ss58}/{path_sig}/{seed_image_name}/{type with + → _}_{ts}_{index}.png.tlock`
///
/// # Errors
///
/// [`FrameError::Field`] for any part that is not a safe key part.
pub fn object_key(p: &KeyParts<'_>) -> Result<ObjectKey, FrameError> {
    check_key_part(p.challenge_id, "challenge_id")?;
    check_key_part(p.miner_ss58, "miner hotkey")?;
    check_hex(
        p.path_signature,
        8,
        "path_signature",
        "must be 16 hex characters",
    )?;
    check_variation_type(p.variation_type)?;
    let seed = seed_image_name(p.image_filename);
    check_key_part(seed, "image_filename")?;
    let mut key = ObjectKey::new();
    let mut w = |s: &str| {
        key.push_str(s)
            .map_err(|_| FrameError::Field("object key", "longer than 1024 bytes"))
    };
    for part in [
        "submissions/",
        p.challenge_id,
        "/",
        p.miner_ss58,
        "/",
        p.path_signature,
        "/",
        seed,
        "/",
    ] {
        w(part)?;
    }
    for c in p.variation_type.split('+').enumerate() {
        if c.0 > 0 {
            w("_")?;
        }
        w(c.1)?;
    }
    let mut tail: heapless::String<48> = heapless::String::new();
    fmt::Write::write_fmt(
        &mut tail,
        format_args!("_{}_{}{OBJECT_KEY_SUFFIX}", p.unix_ts, p.index),
    )
    .map_err(|_| FrameError::BufferFull)?;
    w(&tail)?;
    validate_object_key(&key)?;
    Ok(key)
}

/// A submission's object key taken apart: the inverse of [`object_key`],
/// and of the index-less keys stock MIID miners write.
///
/// Every part borrows the key. `type_part` is the variation type as the key
/// writes it (`+` became `_`, so it cannot be turned back without knowing
/// the type claimed: compare it with [`key_type_part`] of that type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The challenge.
    pub challenge_id: &'a str,
    /// The miner's SS58 hotkey.
    pub miner_ss58: &'a str,
    /// The path signature (as written; [`object_key`] writes 16 hex).
    pub path_signature: &'a str,
    /// The base image's [`seed_image_name`].
    pub seed_name: &'a str,
    /// The variation type with `+` written as `_`.
    pub type_part: &'a str,
    /// The upload time the miner wrote, unix seconds.
    pub unix_ts: u64,
    /// The position the miner wrote; stock MIID miners write none.
    pub index: Option<u64>,
}

/// The file suffix of every submission key (MIID writes it for JPEG
/// photos too).
pub const OBJECT_KEY_SUFFIX: &str = ".png.tlock";

/// Takes apart a submission key:
/// `submissions/{cid}/{ss58}/{path_sig}/{seed}/{type}_{ts}[_{index}].png.tlock`
/// with decimal `ts` and `index` — the layout [`object_key`] builds, or
/// MIID's without the index. A type never ends in a number, so the two
/// cannot be confused.
///
/// # Errors
///
/// [`FrameError::Field`] (`s3_key`) when the key is not a valid object key
/// ([`validate_object_key`]), has another number of parts, or its file name
/// is not `{type}_{unix_ts}[_{index}].png.tlock`.
pub fn parse_object_key(key: &str) -> Result<ParsedKey<'_>, FrameError> {
    validate_object_key(key)?;
    let mut parts = key.split('/');
    let (
        Some("submissions"),
        Some(challenge_id),
        Some(miner_ss58),
        Some(path_signature),
        Some(seed_name),
        Some(file),
        None,
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return Err(FrameError::Field(
            "s3_key",
            "must be submissions/{cid}/{miner}/{path_signature}/{seed}/{file}",
        ));
    };
    let bad_name = FrameError::Field(
        "s3_key",
        "the file name must be {type}_{unix_ts}[_{index}].png.tlock",
    );
    let number = |n: &str| {
        (!n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse::<u64>().ok())
            .flatten()
    };
    let stem = file.strip_suffix(OBJECT_KEY_SUFFIX).ok_or(bad_name)?;
    let (rest, last) = stem.rsplit_once('_').ok_or(bad_name)?;
    let last = number(last).ok_or(bad_name)?;
    let (type_part, unix_ts, index) = match rest.rsplit_once('_') {
        Some((head, ts)) if ts.bytes().all(|b| b.is_ascii_digit()) => {
            (head, number(ts).ok_or(bad_name)?, Some(last))
        }
        _ => (rest, last, None),
    };
    // A type ends in a name, never a number (`lighting_edit`): otherwise
    // `{type}_{ts}_{index}` and `{type}_{ts}` could not be told apart.
    if type_part
        .rsplit('_')
        .next()
        .is_none_or(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad_name);
    }
    Ok(ParsedKey {
        challenge_id,
        miner_ss58,
        path_signature,
        seed_name,
        type_part,
        unix_ts,
        index,
    })
}

/// How [`object_key`] writes `variation_type` in the file name: `+` as `_`.
/// Compares equal to [`ParsedKey::type_part`] of a key built for that type.
pub fn key_type_part(variation_type: &str) -> impl Iterator<Item = char> + '_ {
    variation_type
        .chars()
        .map(|c| if c == '+' { '_' } else { c })
}

/// `name` without `ext` (any case), when something is left.
fn strip_suffix_ignore_case<'n>(name: &'n str, ext: &str) -> Option<&'n str> {
    let cut = name.len().checked_sub(ext.len()).filter(|c| *c > 0)?;
    let (head, tail) = (name.get(..cut)?, name.get(cut..)?);
    tail.eq_ignore_ascii_case(ext).then_some(head)
}

/// Checks a submission key: `submissions/` prefix, at least 6 parts, each a
/// safe key part, `.tlock` suffix, at most 1024 bytes.
///
/// # Errors
///
/// [`FrameError::Field`] naming the rule broken.
pub fn validate_object_key(key: &str) -> Result<(), FrameError> {
    if key.len() > MAX_OBJECT_KEY_LEN {
        return Err(FrameError::Field("s3_key", "longer than 1024 bytes"));
    }
    if !key.starts_with("submissions/") {
        return Err(FrameError::Field("s3_key", "must start with submissions/"));
    }
    if !key.ends_with(".tlock") {
        return Err(FrameError::Field("s3_key", "must end with .tlock"));
    }
    let mut parts = 0usize;
    for part in key.split('/') {
        check_key_part(part, "s3_key")?;
        parts = parts.saturating_add(1);
    }
    if parts < 6 {
        return Err(FrameError::Field("s3_key", "must have at least 6 parts"));
    }
    Ok(())
}
