//! criterion benches of veil-core; see `benches/*.rs`. Run with
//! `cargo bench -p veil-benches`.
