//! MIID Phase 4: timelocked image submissions, end to end.
//!
//! ```text
//!  validator ──IdentitySynapse──▶ miner: generate, sign, seal to round R, upload
//!      │  checks each submission (key, signature, object, round)
//!      ▼
//!  results file ──(round R is out)──▶ reveal: open, hash, verify, decode, copies
//!      ▼                                   ▼
//!  weights ◀── reputation ◀──────── reveal file + HTML report
//! ```
//!
//! The roles: [`miner`] (served by [`miner::MinerService`]), [`validator`]
//! (its cycles run by [`validator::run_cycles`]), [`reveal`] and the
//! [`report`] it renders, [`weights`] from [`reputation`], and the
//! one-command [`sandbox`]. Their files and records are in [`records`];
//! each miner's store is chosen in [`stores`]; images are decoded within
//! limits in [`images`] and made by a [`generator`]; who is on the subnet
//! is in [`metagraph`].

pub mod generator;
pub mod images;
pub mod metagraph;
pub mod miner;
pub mod records;
pub mod report;
pub mod reputation;
pub mod reveal;
pub mod sandbox;
pub mod stores;
pub mod validator;
pub mod weights;
