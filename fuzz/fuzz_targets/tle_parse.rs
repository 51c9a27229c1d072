//! Arbitrary bytes as TLE (both layouts) and through format detection:
//! errors only, no allocation from a length prefix, and a parse is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::format;
use veil_core::tle::{self, Layout};

fuzz_target!(|data: &[u8]| {
    for layout in [Layout::Tle, Layout::TleV03] {
        if let Ok(p) = tle::parse(data, layout) {
            assert_eq!(p.payload_len() + layout.overhead(), data.len());
        }
    }
    let _ = format::detect_whole(data);
    let _ = format::detect_streaming(data);
});
