//! The checks on each submission, in order (the first that fails is the
//! reason):
//!
//! 1. the record's shape (key layout, 64-hex hash, 128-hex signature, a
//!    known type, 16-hex path signature);
//! 2. the key is this challenge's and this miner's:
//!    `submissions/{cid}/{miner}/{path_signature}/{seed_name}/{type}_…`;
//! 3. the type was requested, and no key or hash repeats in the answer;
//! 4. the signature of `challenge:{cid}:hash:{hash}` verifies under the
//!    miner's hotkey;
//! 5. the object is in the miner's store (HEAD) and not larger than the cap;
//! 6. the object is a timelock ciphertext sealed to the target round (and,
//!    for age, to this chain), where its format carries them.

use std::collections::HashSet;

use veil_core::miid;
use veil_core::sign::Signature;

use super::challenge::Challenge;
use super::{MinerEntry, Validator};
use crate::phase4::records::Submission;
use crate::store::{ErrorKind, ObjectStore};
use crate::timelock;

/// The key is under this challenge's and this miner's prefix, and named
/// `{type with + → _}_{unix_ts}_{index}.png.tlock` for its claimed type.
fn check_key(m: &MinerEntry, c: &Challenge, sub: &Submission) -> Result<(), String> {
    let prefix = format!(
        "submissions/{}/{}/{}/{}/",
        c.cid, m.target.hotkey, sub.path_signature, c.seed_name
    );
    let type_part: String = miid::key_type_part(&sub.variation_type).collect();
    let badly_named =
        || format!("the key's file name must be {type_part}_{{unix_ts}}_{{index}}.png.tlock");
    match miid::parse_object_key(&sub.s3_key) {
        Ok(k)
            if (k.challenge_id, k.miner_ss58, k.path_signature, k.seed_name)
                == (
                    c.cid.as_str(),
                    m.target.hotkey.as_str(),
                    sub.path_signature.as_str(),
                    c.seed_name.as_str(),
                ) =>
        {
            if k.type_part == type_part {
                Ok(())
            } else {
                Err(badly_named())
            }
        }
        Err(_) if sub.s3_key.starts_with(&prefix) => Err(badly_named()),
        _ => Err(format!("the key is not under {prefix}")),
    }
}

impl Validator {
    /// Checks one submission of `m`'s answer; the first check that fails
    /// is the reason (module docs of [`super`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check(
        &self,
        m: &MinerEntry,
        store: &dyn ObjectStore,
        c: &Challenge,
        sub: &Submission,
        keys: &mut HashSet<String>,
        hashes: &mut HashSet<String>,
        budget: &mut TypeBudget,
    ) -> Result<(), String> {
        sub.as_core()
            .validate()
            .map_err(|e| format!("malformed: {e}"))?;
        check_key(m, c, sub)?;
        budget.take(&sub.variation_type)?;
        if !keys.insert(sub.s3_key.clone()) {
            return Err("the same s3_key appears twice".into());
        }
        if !hashes.insert(sub.image_hash.to_ascii_lowercase()) {
            return Err("the same image_hash appears twice".into());
        }
        let msg = miid::image_message(&c.cid, &sub.image_hash).map_err(|e| e.to_string())?;
        let sig = Signature::from_hex(&sub.signature).map_err(|e| format!("signature: {e}"))?;
        m.target
            .key
            .verify(msg.as_bytes(), &sig)
            .map_err(|_| "the signature does not verify under the miner's hotkey".to_owned())?;
        let meta = match store.head(&sub.s3_key).await {
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
        let bytes = match store.get(&sub.s3_key, self.config.max_object).await {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(format!("the object is not in {}", store.describe()));
            }
            Err(e) => return Err(format!("store: {e}")),
        };
        let seen = timelock::inspect(&mut bytes.as_slice())
            .map_err(|e| format!("not a timelock ciphertext veil reads: {e}"))?;
        if let Some(round) = seen.round
            && round != c.target
        {
            return Err(format!(
                "sealed to round {round}, not the target round {}",
                c.target
            ));
        }
        if let Some(hash) = &seen.chain_hash {
            let ours = hex::encode(self.config.chain.hash());
            if !hash.eq_ignore_ascii_case(&ours) {
                return Err(format!("sealed to chain {hash}, not {ours}"));
            }
        }
        Ok(())
    }
}

/// How many more submissions of each type a miner may have accepted: as
/// many as were requested, so repeating an easy type cannot stand in for
/// the others.
pub(super) struct TypeBudget(Vec<(&'static str, usize)>);

impl TypeBudget {
    pub(super) fn new(requested: &[(&'static str, &'static str, &'static str)]) -> Self {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for (t, _, _) in requested {
            match counts.iter_mut().find(|(k, _)| k == t) {
                Some((_, n)) => *n += 1,
                None => counts.push((t, 1)),
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
