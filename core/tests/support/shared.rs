//! Reading `../shared/vectors/` (beside the checkout; always present in CI,
//! where a missing file fails the test: `veil_test_support::shared`).

pub(crate) use veil_test_support::shared_vector;

/// Hex of any case, with or without `0x`, to bytes.
pub(crate) fn hex_bytes(s: &str) -> Vec<u8> {
    let mut buf = vec![0u8; s.len() / 2];
    veil_core::encoding::decode_into(s, &mut buf)
        .expect("hex")
        .to_vec()
}
