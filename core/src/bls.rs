//! BLS12-381 arithmetic veil needs, apart from the protocols that use it:
//! point decoding with full validation (`curve`), hash-to-curve and the
//! schemes' domain tags ([`hash`]), pairings (`pairing`), and secret-scalar
//! multiplication by fixed-base tables (`fixed_base`, `generators`) read
//! through constant-time helpers (`ct`). Only [`hash`] is public: the rest
//! serves the layers above through their own APIs.

pub(crate) mod ct;
pub(crate) mod curve;
pub(crate) mod fixed_base;
pub(crate) mod generators;
pub mod hash;
pub(crate) mod pairing;
