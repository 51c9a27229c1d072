//! Property tests: the round math over the whole `u64` range, and every
//! codec's inverse — open∘seal of the four timelock formats, decode∘encode
//! of MIID records and object keys, GRAIL commitments and SS58 addresses.

#[path = "support/formats.rs"]
mod formats;

use core::num::NonZeroU32;

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::commitment::ReadCommitment;
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::miid::{self, KeyParts, S3Submission};
use veil_core::tle::Layout;
use veil_core::{ChainTime, Round, RoundError, ss58};

fn chain_time() -> impl Strategy<Value = ChainTime> {
    // Mix realistic chains with extreme ones.
    let genesis = prop_oneof![0u64..=2_000_000_000, any::<u64>()];
    let period = prop_oneof![1u32..=60, any::<u32>().prop_filter("non-zero", |p| *p != 0)];
    (genesis, period).prop_map(|(g, p)| ChainTime::new(g, NonZeroU32::new(p).unwrap()))
}

fn any_time() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=4_000_000_000, any::<u64>(), Just(u64::MAX), Just(0)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn round_at_inverts_time_of(ct in chain_time(), r in prop_oneof![1u64..=100_000_000, 1u64..=u64::MAX]) {
        let round = Round::new(r).unwrap();
        match ct.time_of(round) {
            Ok(t) => prop_assert_eq!(ct.round_at(t), Ok(round)),
            Err(e) => prop_assert_eq!(e, RoundError::Overflow),
        }
    }

    #[test]
    fn round_at_is_the_latest_emitted(ct in chain_time(), now in any_time()) {
        match ct.round_at(now) {
            Ok(r) => {
                let t = ct.time_of(r).unwrap();
                prop_assert!(t <= now || r == Round::FIRST);
                let next = r.get().checked_add(1).map(Round::new);
                if let Some(Ok(next)) = next
                    && let Ok(tn) = ct.time_of(next)
                {
                    prop_assert!(tn > now);
                }
            }
            Err(e) => prop_assert_eq!(e, RoundError::Overflow),
        }
    }

    #[test]
    fn reveal_round_is_never_early_and_is_the_first(ct in chain_time(), t in any_time()) {
        match ct.reveal_round(t) {
            Ok(r) => {
                prop_assert!(ct.time_of(r).unwrap() >= t, "never early");
                if r.get() > 1 {
                    let prev = Round::new(r.get() - 1).unwrap();
                    prop_assert!(ct.time_of(prev).unwrap() < t, "the first such round");
                }
            }
            // Only when no round at or after t is representable.
            Err(e) => {
                prop_assert_eq!(e, RoundError::Overflow);
                let last = ct.round_at(u64::MAX);
                if let Ok(last) = last {
                    prop_assert!(ct.time_of(last).unwrap() < t);
                }
            }
        }
    }

    #[test]
    fn rounds_are_monotonic_in_time(ct in chain_time(), a in any_time(), b in any_time()) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if let (Ok(x), Ok(y)) = (ct.round_at(lo), ct.round_at(hi)) {
            prop_assert!(x <= y);
        }
        if let (Ok(x), Ok(y)) = (ct.reveal_round(lo), ct.reveal_round(hi)) {
            prop_assert!(x <= y);
        }
        // reveal is never before the current round, and at most one after it.
        if let (Ok(cur), Ok(rev)) = (ct.round_at(lo), ct.reveal_round(lo)) {
            prop_assert!(rev >= cur && rev.get() - cur.get() <= 1);
        }
    }
}

// ---------------------------------------------------------------------------
// Codecs: decode∘encode and open∘seal
// ---------------------------------------------------------------------------

/// A safe object-key part: what `check_key_part` accepts.
fn key_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,40}".prop_filter("no .. or .", |s| !s.contains("..") && s != ".")
}

fn variation_type() -> impl Strategy<Value = String> {
    proptest::sample::subsequence(miid::VARIATION_TYPES.to_vec(), 1..=3)
        .prop_shuffle()
        .prop_map(|parts| parts.join("+"))
}

fn hex_string(bytes: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), bytes)
        .prop_map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A printable-ASCII commitment field without spaces at either end.
fn commitment_field(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[!-~]([ -~]{{0,{}}}[!-~])?", max - 2)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn open_inverts_seal_for_every_format(
        pt in proptest::collection::vec(any::<u8>(), 0..140_000),
        r in 1u64..=u64::MAX,
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (key, chain) = formats::devnet(&mut rng);
        let round = Round::new(r).unwrap();
        let sig = key.sign_round(round);
        let prepared = PreparedRound::new(&chain, round).unwrap();
        let age = formats::age_seal(&prepared, &pt, &mut rng);
        prop_assert_eq!(formats::age_open(&age, &chain, &sig).unwrap(), pt.clone());
        let armored = formats::armor_all(&age);
        prop_assert_eq!(formats::age_open(&armored, &chain, &sig).unwrap(), pt.clone());
        let rk = RoundKey::from_unverified_signature(&sig).unwrap();
        for layout in [Layout::Tle, Layout::TleV03] {
            let t = formats::tle_seal(&prepared, layout, &pt, &mut rng);
            prop_assert_eq!(formats::tle_open(&t, layout, &rk).unwrap(), pt.clone());
        }
        let b = formats::bittensor_seal(&prepared, &pt, &mut rng);
        prop_assert_eq!(formats::bittensor_open(&b, &chain, &sig).unwrap(), (round, pt));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn s3_submissions_decode_what_they_encode(
        cid in key_part(),
        seed_name in key_part(),
        kind in variation_type(),
        ts in any::<u64>(),
        index in any::<u32>(),
        hash in hex_string(32),
        signature in hex_string(64),
        path_signature in hex_string(8),
    ) {
        let miner = ss58::encode(ss58::BITTENSOR_PREFIX, &[7; 32]);
        let key = miid::object_key(&KeyParts {
            challenge_id: &cid,
            miner_ss58: &miner,
            path_signature: &path_signature,
            image_filename: &seed_name,
            variation_type: &kind,
            unix_ts: ts,
            index,
        }).unwrap();
        let sub = S3Submission::new(
            &key,
            &hash,
            &signature,
            &kind,
            &path_signature,
        );
        let mut buf = [0u8; 4096];
        let json = sub.encode(&mut buf).unwrap();
        prop_assert_eq!(S3Submission::decode(json).unwrap(), sub);
    }

    #[test]
    fn object_keys_parse_into_what_built_them(
        cid in key_part(),
        seed_name in key_part(),
        kind in variation_type(),
        ts in any::<u64>(),
        index in any::<u32>(),
        path_signature in hex_string(8),
    ) {
        let miner = ss58::encode(ss58::BITTENSOR_PREFIX, &[9; 32]);
        let parts = KeyParts {
            challenge_id: &cid,
            miner_ss58: &miner,
            path_signature: &path_signature,
            image_filename: &seed_name,
            variation_type: &kind,
            unix_ts: ts,
            index,
        };
        let key = miid::object_key(&parts).unwrap();
        let parsed = miid::parse_object_key(&key).unwrap();
        prop_assert_eq!(parsed.challenge_id, cid.as_str());
        prop_assert_eq!(parsed.miner_ss58, miner.as_str());
        prop_assert_eq!(parsed.path_signature, path_signature.as_str());
        prop_assert_eq!(parsed.seed_name, miid::seed_image_name(&seed_name));
        prop_assert!(parsed.type_part.chars().eq(miid::key_type_part(&kind)));
        prop_assert_eq!((parsed.unix_ts, parsed.index), (ts, Some(u64::from(index))));
    }

    #[test]
    fn commitments_parse_what_they_encode(
        bucket in commitment_field(32),
        key_id in commitment_field(32),
        secret in commitment_field(64),
    ) {
        let c = ReadCommitment {
            bucket: &bucket,
            read_access_key_id: &key_id,
            read_secret_access_key: &secret,
        };
        let text = c.encode().unwrap();
        prop_assert_eq!(text.len(), 128);
        prop_assert_eq!(ReadCommitment::parse(&text).unwrap(), c);
    }

    #[test]
    fn ss58_decodes_what_it_encodes(prefix in 0u16..16_384, key in any::<[u8; 32]>()) {
        let address = ss58::encode(prefix, &key);
        prop_assert_eq!(ss58::decode(&address).unwrap(), (prefix, key));
    }
}
