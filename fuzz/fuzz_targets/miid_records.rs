//! Arbitrary bytes as MIID records: errors only; a decoded S3Submission
//! re-encodes to bytes that decode to the same record; raw strings unescape
//! or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::miid::{self, ImageRequestMeta, S3Submission};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = S3Submission::decode(data) {
        let mut buf = vec![0u8; 4096];
        let json = s.encode(&mut buf).unwrap().to_vec();
        assert_eq!(S3Submission::decode(&json), Ok(s));
    }
    if let Ok(m) = ImageRequestMeta::decode(data) {
        let mut buf = vec![0u8; data.len()];
        for v in &m.variation_requests {
            let _ = v.description_raw().unescape_into(&mut buf);
            let _ = v.detail_raw().unescape_into(&mut buf);
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = miid::validate_object_key(text);
    }
});
