//! The reveal's journal, which makes it resumable: `{out}/reveal-{cid}/`
//! holds one verdict per checked object (`checked/{uid}-{index}.json`, and
//! `{uid}-{index}-a2.json` for a capture's second angle),
//! the plaintexts (`images/`), the thumbnails (`thumbs/`) and the verified
//! beacon of each round (`beacon-{round}.json`). Every entry is written atomically as soon as it
//! is known, and read back only for the very object it names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use veil_core::sign::PublicKey;
use veil_core::{Round, ss58};

use crate::Error;
use crate::drand::FetchedBeacon;
use crate::limits::MAX_JOURNAL_ENTRY;
use crate::phase4::records::{Checked, ObjectRecord, Results, Submission};

/// One object to check: a submission, or a capture's second angle.
#[derive(Clone, Debug)]
pub(super) struct Unit {
    pub(super) uid: u32,
    pub(super) index: usize,
    /// 1, or 2 for a capture's second photo.
    pub(super) angle: u8,
    pub(super) hotkey: String,
    pub(super) key: Option<PublicKey>,
    /// The record as this object's own: for a second angle, its key, hash
    /// and signature in the primary fields.
    pub(super) sub: Submission,
    /// The round it is sealed to, as the validator found it (results v1:
    /// the target round).
    pub(super) round: Round,
    /// Its place in the validator's receipt order (results v2).
    pub(super) received: Option<u64>,
    /// The object as the validator accepted it.
    pub(super) object: Option<ObjectRecord>,
}

impl Unit {
    /// Which object this is: (uid, index, angle).
    pub(super) fn id(&self) -> (u32, usize, u8) {
        (self.uid, self.index, self.angle)
    }

    /// The file-name stem of its journal entry and images.
    fn stem(&self) -> String {
        stem(self.uid, self.index, self.angle)
    }
}

fn stem(uid: u32, index: usize, angle: u8) -> String {
    if angle == 2 {
        format!("{uid}-{index}-a2")
    } else {
        format!("{uid}-{index}")
    }
}

/// Every accepted submission of `results` (a capture's second angle after
/// its first), in uid then index order.
pub(super) fn units_of(results: &Results) -> Vec<Unit> {
    let mut units = Vec::new();
    let round_of = |r: Option<u64>| {
        r.and_then(|r| Round::new(r).ok())
            .filter(|r| *r <= results.round)
            .unwrap_or(results.round)
    };
    for m in &results.miners {
        let key = ss58::decode(&m.hotkey)
            .ok()
            .and_then(|(_, k)| PublicKey::from_bytes(&k).ok());
        for (index, accepted) in m.submissions.iter().enumerate() {
            let sub = &accepted.submission;
            units.push(Unit {
                uid: m.uid,
                index,
                angle: 1,
                hotkey: m.hotkey.clone(),
                key,
                sub: sub.clone(),
                round: round_of(accepted.drand_round),
                received: accepted.received,
                object: accepted.object.clone(),
            });
            if let (Some(key2), Some(hash2), Some(sig2)) = (
                &sub.s3_key_angle2,
                &sub.image_hash_angle2,
                &sub.signature_angle2,
            ) {
                let mut second = Submission::single(
                    key2.clone(),
                    hash2.clone(),
                    sig2.clone(),
                    sub.variation_type.clone(),
                    sub.path_signature.clone(),
                );
                second.screen_replay_uav.clone_from(&sub.screen_replay_uav);
                units.push(Unit {
                    uid: m.uid,
                    index,
                    angle: 2,
                    hotkey: m.hotkey.clone(),
                    key,
                    sub: second,
                    round: round_of(accepted.drand_round_angle2.or(accepted.drand_round)),
                    received: accepted.received,
                    object: accepted.object_angle2.clone(),
                });
            }
        }
    }
    units
}

/// The journal of one challenge.
#[derive(Clone, Debug)]
pub(super) struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal under `out_dir` for challenge `cid`, its folders made
    /// (private).
    pub(super) fn open(out_dir: &Path, cid: &str) -> Result<Self, Error> {
        let dir = out_dir.join(format!("reveal-{cid}"));
        for sub in ["", "checked", "images", "thumbs"] {
            crate::fs::create_private_dir_all(&dir.join(sub))?;
        }
        Ok(Self { dir })
    }

    fn entry(&self, stem: &str) -> PathBuf {
        self.dir.join("checked").join(format!("{stem}.json"))
    }

    /// Where the plaintext of `u` goes, with `extension`.
    pub(super) fn image_path(&self, u: &Unit, extension: &str) -> PathBuf {
        self.dir
            .join("images")
            .join(format!("{}.{extension}", u.stem()))
    }

    /// Where the thumbnail of `u` goes.
    pub(super) fn thumbnail_path(&self, u: &Unit) -> PathBuf {
        self.dir.join("thumbs").join(format!("{}.jpg", u.stem()))
    }

    /// The journaled outcome of `u`, if one was written for this very
    /// object.
    pub(super) fn read(&self, u: &Unit) -> Option<Checked> {
        let bytes = crate::fs::read_file_capped(&self.entry(&u.stem()), MAX_JOURNAL_ENTRY).ok()?;
        let c: Checked = serde_json::from_slice(&bytes).ok()?;
        (c.uid == u.uid && c.index == u.index && c.angle == u.angle && c.s3_key == u.sub.s3_key)
            .then_some(c)
    }

    /// Journals one outcome.
    pub(super) fn write(&self, c: &Checked) -> Result<(), Error> {
        let bytes = serde_json::to_vec(c).map_err(|e| Error::Content(e.to_string()))?;
        crate::fs::write_private_atomic(&self.entry(&stem(c.uid, c.index, c.angle)), &bytes)
    }

    fn beacon_path(&self, round: Round) -> PathBuf {
        self.dir.join(format!("beacon-{round}.json"))
    }

    /// The verified beacon of `round` kept by an earlier run, verified
    /// again.
    pub(super) fn read_beacon(
        &self,
        results: &Results,
        round: Round,
    ) -> Result<FetchedBeacon, Error> {
        let name = format!("beacon-{round}.json");
        let bytes = crate::fs::read_file_capped(&self.beacon_path(round), MAX_JOURNAL_ENTRY)?;
        let f: BeaconFile =
            serde_json::from_slice(&bytes).map_err(|e| Error::Content(format!("{name}: {e}")))?;
        let signature = crate::args::parse_hex("the journaled beacon", &f.signature)?;
        let previous = f
            .previous_signature
            .map(|p| crate::args::parse_hex("the journaled beacon", &p))
            .transpose()?;
        if f.round != round.get() {
            return Err(Error::Content(format!("{name} is of another round")));
        }
        FetchedBeacon::verify(&results.chain, round, &signature, previous.as_deref()).map_err(|e| {
            Error::Content(format!(
                "the beacon of round {round} does not verify for the results' chain: {e}"
            ))
        })
    }

    /// Keeps the verified beacon for a rerun.
    pub(super) fn write_beacon(&self, beacon: &FetchedBeacon) -> Result<(), Error> {
        let file = BeaconFile {
            round: beacon.round.get(),
            signature: hex::encode(&beacon.signature),
            previous_signature: beacon.previous_signature.as_ref().map(hex::encode),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Content(e.to_string()))?;
        crate::fs::write_private_atomic(&self.beacon_path(beacon.round), &bytes)
    }
}

#[derive(Serialize, Deserialize)]
struct BeaconFile {
    round: u64,
    signature: String,
    #[serde(default)]
    previous_signature: Option<String>,
}
