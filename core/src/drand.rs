//! drand: round math ([`round`]), chains and their hashes ([`chain`]),
//! the built-in networks ([`builtin`]), the `/info` document read and
//! written ([`info`]), beacon verification ([`beacon`]) and devnet keys
//! ([`devnet`]).

pub mod beacon;
pub mod builtin;
pub mod chain;
pub mod devnet;
pub mod info;
pub mod round;
