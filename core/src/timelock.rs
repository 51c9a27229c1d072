//! Timelock encryption: the IBE in both flavours ([`ibe`]) and the four
//! formats around it — age with its armor ([`age`], [`armor`]), the
//! ideal-lab TLE body in both layouts ([`tle`]), bittensor's SCALE
//! envelope ([`bittensor`]) — and telling them apart ([`format`]).

pub mod age;
pub mod armor;
pub mod bittensor;
pub mod format;
pub mod ibe;
pub mod tle;
