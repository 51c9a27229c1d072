//! Arbitrary text through the armor decoder, line by line: errors only, and
//! what decodes re-encodes to a decodable armor of the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::armor::{self, BYTES_PER_LINE};

fuzz_target!(|data: &[u8]| {
    let mut dec = armor::Decoder::new();
    let mut out = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let mut buf = [0u8; BYTES_PER_LINE];
        match dec.decode_line(line, &mut buf) {
            Ok(bytes) => out.extend_from_slice(bytes),
            Err(_) => return,
        }
    }
    if dec.finish().is_err() {
        return;
    }
    let mut text = Vec::new();
    let mut enc = armor::Encoder::new();
    enc.push(&out, |l| {
        text.extend_from_slice(l);
        Ok::<_, ()>(())
    })
    .unwrap();
    enc.finish(|l| {
        text.extend_from_slice(l);
        Ok::<_, ()>(())
    })
    .unwrap();
    let mut dec = armor::Decoder::new();
    let mut again = Vec::new();
    for line in text.strip_suffix(b"\n").unwrap().split(|&b| b == b'\n') {
        let mut buf = [0u8; BYTES_PER_LINE];
        again.extend_from_slice(dec.decode_line(line, &mut buf).unwrap());
    }
    dec.finish().unwrap();
    assert_eq!(again, out);
});
