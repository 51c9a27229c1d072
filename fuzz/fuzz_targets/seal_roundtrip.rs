//! Whole-buffer formats, sealed and opened: arbitrary plaintext sealed to
//! quicknet round 1000 as `tle`, `tle-v03` or `bittensor` (first byte) must
//! parse back to the right length and open to the same bytes; the parsed
//! envelope must name the round sealed to.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use veil_core::ibe::{PreparedRound, RoundKey};
use veil_core::tle::{self, Layout};
use veil_core::{Chain, Round, bittensor};

// drand quicknet round 1000's signature (public).
const SIG: [u8; 48] = [
    0xb4, 0x46, 0x79, 0xb9, 0xa5, 0x9a, 0xf2, 0xec, 0x87, 0x6b, 0x1a, 0x6b, 0x1a, 0xd5, 0x2e, 0xa9,
    0xb1, 0x61, 0x5f, 0xc3, 0x98, 0x2b, 0x19, 0x57, 0x63, 0x50, 0xf9, 0x34, 0x47, 0xcb, 0x11, 0x25,
    0xe3, 0x42, 0xb7, 0x3a, 0x8d, 0xd2, 0xba, 0xcb, 0xe4, 0x7e, 0x4b, 0x6b, 0x63, 0xed, 0x5e, 0x39,
];

fn fixture() -> &'static (PreparedRound, RoundKey) {
    static F: OnceLock<(PreparedRound, RoundKey)> = OnceLock::new();
    F.get_or_init(|| {
        let chain = Chain::builtin("quicknet").unwrap();
        let mut prepared = PreparedRound::new(&chain, Round::new(1000).unwrap()).unwrap();
        prepared.precompute();
        (prepared, RoundKey::from_unverified_signature(&SIG).unwrap())
    })
}

fuzz_target!(|data: &[u8]| {
    let (prepared, key) = fixture();
    let Some((&mode, pt)) = data.split_first() else { return };
    let n = pt.len();
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(mode));
    match mode % 3 {
        2 => {
            let mut buf = vec![0u8; bittensor::sealed_len(n).unwrap()];
            let off = bittensor::payload_offset(n).unwrap();
            buf[off..off + n].copy_from_slice(pt);
            bittensor::seal_in_place(prepared, &mut buf, n, &mut rng).unwrap();
            let (round, range) = bittensor::parse(&buf).unwrap();
            assert_eq!(round, prepared.round());
            let inner = &mut buf[range];
            let parsed = tle::parse(inner, Layout::Tle).unwrap();
            assert_eq!(parsed.payload_len(), n);
            let r = tle::open_in_place(&parsed, inner, key).unwrap();
            assert_eq!(&inner[r], pt);
        }
        m => {
            let layout = if m == 0 { Layout::Tle } else { Layout::TleV03 };
            let mut buf = vec![0u8; layout.sealed_len(n).unwrap()];
            let off = layout.payload_offset();
            buf[off..off + n].copy_from_slice(pt);
            tle::seal_in_place(prepared, layout, &mut buf, n, &mut rng).unwrap();
            let parsed = tle::parse(&buf, layout).unwrap();
            assert_eq!(parsed.payload_len(), n);
            let r = tle::open_in_place(&parsed, &mut buf, key).unwrap();
            assert_eq!(&buf[r], pt);
        }
    }
});
