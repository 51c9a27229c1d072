//! The checks on each submission, in order (the first that fails is the
//! reason):
//!
//! 1. the record's shape (key layout, 64-hex hash, 128-hex signature, a
//!    known type, 16-hex path signature; a second angle only on a
//!    screen-replay capture, with its own key, hash and signature);
//! 2. the key is this challenge's and this miner's:
//!    `submissions/{cid}/{miner}/{path_signature}/{seed_name}/{type}_{ts}[_{index}].png.tlock`
//!    (stock MIID miners write no index);
//! 3. the type was requested (a capture apart: at most one per answer),
//!    and no key or hash repeats in the answer;
//! 4. the signature of `challenge:{cid}:hash:{hash}` verifies under the
//!    miner's hotkey (a capture: both angles');
//! 5. the object is in the miner's store (HEAD) and not larger than the cap;
//! 6. the object is a timelock ciphertext of this chain, sealed to a round
//!    `r ≤ target` whose emission comes more than one period after the
//!    answers closed: nothing could be opened while answers were still
//!    taken, and the reveal can open it. MIID's miners seal to `target − 1`
//!    about 70 % of the time (their round comes from the wall clock), and
//!    it passes; an earlier round "could open before the answers closed",
//!    a later one "the reveal cannot open it".

use std::collections::HashSet;

use veil_core::miid;
use veil_core::sign::Signature;

use sha2::{Digest, Sha256};

use super::challenge::Challenge;
use super::{MinerEntry, Validator};
use crate::ops::metrics::Reason;
use crate::phase4::records::{ObjectRecord, RequestedVariation, Submission};
use crate::store::{ErrorKind, ObjectStore};
use crate::timelock;

/// An accepted object: the round it is sealed to, and what it was.
pub(super) struct Accepted {
    pub(super) round: u64,
    pub(super) object: ObjectRecord,
}

/// What one answer has taken so far, so nothing repeats in it.
#[derive(Default)]
pub(super) struct Seen {
    keys: HashSet<String>,
    hashes: HashSet<String>,
}

impl Seen {
    fn take(&mut self, key: &str, hash: &str) -> Result<(), String> {
        if !self.keys.insert(key.to_owned()) {
            return Err("the same s3_key appears twice".into());
        }
        if !self.hashes.insert(hash.to_ascii_lowercase()) {
            return Err("the same image_hash appears twice".into());
        }
        Ok(())
    }
}

/// The key is under this challenge's and this miner's prefix (with
/// `seed_name` as its seed part), and named
/// `{type with + → _}_{unix_ts}[_{index}].png.tlock` for `variation_type`.
fn check_key(
    m: &MinerEntry,
    c: &Challenge,
    key: &str,
    path_signature: &str,
    seed_name: &str,
    variation_type: &str,
) -> Result<(), String> {
    let prefix = format!(
        "submissions/{}/{}/{path_signature}/{seed_name}/",
        c.cid, m.target.hotkey
    );
    let type_part: String = miid::key_type_part(variation_type).collect();
    let badly_named =
        || format!("the key's file name must be {type_part}_{{unix_ts}}[_{{index}}].png.tlock");
    match miid::parse_object_key(key) {
        Ok(k)
            if (k.challenge_id, k.miner_ss58, k.path_signature, k.seed_name)
                == (
                    c.cid.as_str(),
                    m.target.hotkey.as_str(),
                    path_signature,
                    seed_name,
                ) =>
        {
            if k.type_part == type_part {
                Ok(())
            } else {
                Err(badly_named())
            }
        }
        Err(_) if key.starts_with(&prefix) => Err(badly_named()),
        _ => Err(format!("the key is not under {prefix}")),
    }
}

impl Validator {
    /// Checks one requested submission of `m`'s answer; returns its
    /// accepted object.
    pub(super) async fn check(
        &self,
        m: &MinerEntry,
        store: &dyn ObjectStore,
        c: &Challenge,
        sub: &Submission,
        seen: &mut Seen,
        budget: &mut TypeBudget,
    ) -> Result<Accepted, String> {
        sub.as_core()
            .validate()
            .map_err(|e| format!("malformed: {e}"))?;
        check_key(
            m,
            c,
            &sub.s3_key,
            &sub.path_signature,
            &c.seed_name,
            &sub.variation_type,
        )?;
        budget.take(&sub.variation_type)?;
        seen.take(&sub.s3_key, &sub.image_hash)?;
        self.check_signature(m, c, &sub.image_hash, &sub.signature)?;
        self.check_object(store, c, &sub.s3_key).await
    }

    /// Checks a real screen-replay capture (a `screen_replay` submission
    /// with its second angle): both keys under the miner's prefix with the
    /// capture's seed image as their seed part (`screen_replay` and
    /// `screen_replay_angle2` as their types), both signatures, both
    /// objects. Returns the two angles' accepted objects.
    pub(super) async fn check_capture(
        &self,
        m: &MinerEntry,
        store: &dyn ObjectStore,
        c: &Challenge,
        sub: &Submission,
        seen: &mut Seen,
    ) -> Result<(Accepted, Accepted), String> {
        let core = sub.as_core();
        core.validate().map_err(|e| format!("malformed: {e}"))?;
        let (key2, hash2, sig2) = core
            .angle2()
            .ok_or("a screen-replay capture needs its second angle")?;
        // The photos show the capture's seed image: MIID names the keys
        // after it (or after the challenge's base image when unsaid).
        let seed_name = sub
            .screen_replay_uav
            .as_ref()
            .map_or(c.seed_name.as_str(), |u| {
                miid::seed_image_name(&u.seed_image)
            });
        let seed_name = seed_name
            .rsplit_once('.')
            .map_or(seed_name, |(stem, _)| stem);
        check_key(
            m,
            c,
            &sub.s3_key,
            &sub.path_signature,
            seed_name,
            "screen_replay",
        )?;
        check_key(
            m,
            c,
            key2,
            &sub.path_signature,
            seed_name,
            "screen_replay_angle2",
        )
        .map_err(|e| format!("s3_key_angle2: {e}"))?;
        seen.take(&sub.s3_key, &sub.image_hash)?;
        seen.take(key2, hash2)
            .map_err(|e| format!("the second angle: {e}"))?;
        self.check_signature(m, c, &sub.image_hash, &sub.signature)?;
        self.check_signature(m, c, hash2, sig2)
            .map_err(|e| format!("signature_angle2: {e}"))?;
        let first = self.check_object(store, c, &sub.s3_key).await?;
        let second = self
            .check_object(store, c, key2)
            .await
            .map_err(|e| format!("the second angle: {e}"))?;
        Ok((first, second))
    }

    /// The signature of `challenge:{cid}:hash:{hash}` under the miner's hotkey.
    fn check_signature(
        &self,
        m: &MinerEntry,
        c: &Challenge,
        hash: &str,
        signature: &str,
    ) -> Result<(), String> {
        let msg = miid::image_message(&c.cid, hash).map_err(|e| e.to_string())?;
        let sig = Signature::from_hex(signature).map_err(|e| format!("signature: {e}"))?;
        m.target
            .key
            .verify(msg.as_bytes(), &sig)
            .map_err(|_| "the signature does not verify under the miner's hotkey".to_owned())
    }

    /// The object is in the store, within the cap, a ciphertext of this
    /// chain, sealed to an acceptable round (module docs); returns its round
    /// and record, its copy kept when the validator keeps copies.
    async fn check_object(
        &self,
        store: &dyn ObjectStore,
        c: &Challenge,
        key: &str,
    ) -> Result<Accepted, String> {
        let meta = match store.head(key).await {
            Ok(Some(meta)) => meta,
            Ok(None) => return Err(format!("the object is not in {}", store.describe())),
            Err(e) => return Err(format!("store: {e}")),
        };
        if meta.size > self.config.max_object {
            return Err(format!(
                "the object is {} bytes, more than {}",
                meta.size, self.config.max_object
            ));
        }
        let (seen, size, sha256, copy) = if self.config.keep_objects {
            // A copy is of every byte: read whole, within the budget.
            let bytes = self.read_whole(store, key, meta.size).await?;
            let seen = timelock::inspect(&mut bytes.as_slice())
                .map_err(|e| format!("not a timelock ciphertext veil reads: {e}"))?;
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let copy = self.keep_copy(c, &sha256, &bytes);
            (seen, bytes.len() as u64, Some(sha256), copy)
        } else {
            let seen = self.read_ends(store, key, meta.size).await?;
            (seen, meta.size, None, None)
        };
        if let Some(hash) = &seen.chain_hash {
            let ours = hex::encode(self.config.chain.hash());
            if !hash.eq_ignore_ascii_case(&ours) {
                return Err(format!("sealed to chain {hash}, not {ours}"));
            }
        }
        // A raw TLE names no round: the reveal opens it with the target's.
        let round = match seen.round {
            Some(round) => {
                self.check_round(c, round)?;
                round
            }
            None => c.target,
        };
        Ok(Accepted {
            round,
            object: ObjectRecord {
                size,
                etag: meta.etag,
                sha256,
                copy,
            },
        })
    }

    /// The whole object (`size` bytes by its HEAD), read once there is room
    /// for it: however many miners answer at once, the objects held stay
    /// within the budget (one larger than all of it is read alone).
    async fn read_whole(
        &self,
        store: &dyn ObjectStore,
        key: &str,
        size: u64,
    ) -> Result<Vec<u8>, String> {
        let kib = u32::try_from(size.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, super::OBJECT_ROOM_KIB);
        let _room = self
            .object_room
            .acquire_many(kib)
            .await
            .map_err(|_| "the validator is stopping".to_owned())?;
        match store.get(key, size.min(self.config.max_object)).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(format!("the object is not in {}", store.describe()))
            }
            Err(e) => Err(format!("store: {e}")),
        }
    }

    /// What the object's ends say (no copy is kept): its first
    /// [`timelock::ROUND_HEAD_LEN`] bytes and its last 8 — an age header, or
    /// a bittensor envelope's length and round — never its payload. Only a
    /// raw TLE, which names no round in its head, is read whole.
    async fn read_ends(
        &self,
        store: &dyn ObjectStore,
        key: &str,
        size: u64,
    ) -> Result<timelock::Inspection, String> {
        let fetch = |start: u64, len: u64| async move {
            match store.get_range(key, start, len).await {
                Ok(b) if b.len() as u64 == len => Ok(b),
                Ok(_) => Err("the object changed while it was read".to_owned()),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    Err(format!("the object is not in {}", store.describe()))
                }
                Err(e) => Err(format!("store: {e}")),
            }
        };
        let head_len = (timelock::ROUND_HEAD_LEN as u64).min(size);
        let head = fetch(0, head_len).await?;
        let tail: [u8; 8] = if size > head_len {
            let t = fetch(size - 8, 8).await?;
            t.try_into().unwrap_or_default()
        } else {
            [0; 8]
        };
        let bad = |e: crate::Error| format!("not a timelock ciphertext veil reads: {e}");
        if let Some(seen) = timelock::inspect_ends(&head, tail, size).map_err(bad)? {
            return Ok(seen);
        }
        let bytes = self.read_whole(store, key, size).await?;
        timelock::inspect(&mut bytes.as_slice()).map_err(bad)
    }

    /// Keeps the accepted bytes at `objects/{cid}/{sha256}.tlock` under the
    /// results folder (private, written once): whatever happens to the
    /// miner's store afterwards, the reveal opens what was accepted.
    /// A copy that cannot be written is logged, never held against the
    /// miner: the reveal then reads its store.
    fn keep_copy(&self, c: &Challenge, sha256: &str, bytes: &[u8]) -> Option<String> {
        let rel = format!("objects/{}/{sha256}.tlock", c.cid);
        let path = self.config.out_dir.join(&rel);
        let kept = if path.exists() {
            Ok(())
        } else {
            path.parent()
                .map_or(Ok(()), crate::fs::create_private_dir_all)
                .and_then(|()| crate::fs::write_private_atomic(&path, bytes))
        };
        match kept {
            Ok(()) => Some(rel),
            Err(e) => {
                tracing::error!(error = %e, "cannot keep a copy of an accepted object");
                None
            }
        }
    }

    /// `round ≤ target`, emitted more than one period after the answers
    /// closed.
    fn check_round(&self, c: &Challenge, round: u64) -> Result<(), String> {
        if round > c.target {
            return Err(format!(
                "sealed to round {round}, after the target round {}: the reveal cannot open it",
                c.target
            ));
        }
        let time = self.config.chain.time();
        let emitted = veil_core::Round::new(round)
            .ok()
            .and_then(|r| time.time_of(r).ok())
            .ok_or_else(|| format!("sealed to round {round}, which does not exist"))?;
        let period = u64::from(time.period().get());
        if emitted <= c.deadline_unix.saturating_add(period) {
            return Err(format!(
                "sealed to round {round}, emitted at {emitted}: it could open before the answers \
                 closed (at {}), target round {}",
                c.deadline_unix, c.target
            ));
        }
        Ok(())
    }
}

/// Which check a refusal of this module came from, for the metrics (a
/// fixed set: the message itself names the miner's data).
pub(super) fn reason_of(message: &str) -> Reason {
    let m = message
        .strip_prefix("the second angle: ")
        .unwrap_or(message);
    let starts = |p: &[&str]| p.iter().any(|p| m.starts_with(p));
    if starts(&["malformed: ", "a screen-replay capture needs"]) {
        Reason::Shape
    } else if starts(&["the key", "s3_key_angle2: "]) {
        Reason::Key
    } else if starts(&["variation_type ", "more ", "the same "]) {
        Reason::Type
    } else if starts(&["signature", "the signature", "image_hash"]) {
        Reason::Signature
    } else if starts(&["the object is not in", "store: ", "the object changed"]) {
        Reason::Object
    } else if starts(&["the object is "]) {
        Reason::Size
    } else {
        Reason::Seal
    }
}

/// How many more submissions of each type a miner may have accepted: as
/// many as were requested, so repeating an easy type cannot stand in for
/// the others.
pub(super) struct TypeBudget(Vec<(String, usize)>);

impl TypeBudget {
    pub(super) fn new(requested: &[RequestedVariation]) -> Self {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for r in requested {
            match counts.iter_mut().find(|(k, _)| *k == r.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.kind.clone(), 1)),
            }
        }
        Self(counts)
    }

    pub(super) fn take(&mut self, kind: &str) -> Result<(), String> {
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            None => Err(format!("variation_type {kind} was not requested")),
            Some((_, 0)) => Err(format!(
                "more {kind} submissions than the requests for that type"
            )),
            Some((_, n)) => {
                *n -= 1;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_names_its_check() {
        for (message, reason) in [
            ("malformed: s3_key is empty", Reason::Shape),
            (
                "a screen-replay capture needs its second angle",
                Reason::Shape,
            ),
            ("the key is not under submissions/c/m/p/s/", Reason::Key),
            (
                "the key's file name must be blur_{unix_ts}[_{index}].png.tlock",
                Reason::Key,
            ),
            ("s3_key_angle2: the key is not under x/", Reason::Key),
            ("variation_type blur was not requested", Reason::Type),
            (
                "more blur submissions than the requests for that type",
                Reason::Type,
            ),
            ("more submissions than the 5 requested", Reason::Type),
            (
                "more than one screen-replay capture in one answer",
                Reason::Type,
            ),
            ("the same image_hash appears twice", Reason::Type),
            (
                "the signature does not verify under the miner's hotkey",
                Reason::Signature,
            ),
            ("signature: expected 128 hex characters", Reason::Signature),
            (
                "signature_angle2: the signature does not verify",
                Reason::Signature,
            ),
            ("the object is not in dir:/x", Reason::Object),
            ("store: timed out", Reason::Object),
            (
                "the second angle: the object changed while it was read",
                Reason::Object,
            ),
            ("the object is 9 bytes, more than 8", Reason::Size),
            (
                "not a timelock ciphertext veil reads: bad header",
                Reason::Seal,
            ),
            (
                "sealed to round 9, after the target round 8: the reveal cannot open it",
                Reason::Seal,
            ),
            ("sealed to chain ab, not cd", Reason::Seal),
        ] {
            assert_eq!(reason_of(message), reason, "{message}");
        }
    }
}
