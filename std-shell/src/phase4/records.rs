//! The records and files of Phase 4, each in one place and both ways: the
//! writer and the reader use the same types, so what one writes the other
//! reads (a test pins both to `docs/results.md`).
//!
//! - [`Submission`]: MIID's `S3Submission`, as the shell holds it;
//! - [`ResultsFile`]: a validator cycle (`veil/results/v1`), and
//!   [`Results`], the checked view the reveal works from;
//! - [`RevealFile`]: a reveal (`veil/reveal/v1`), with each image's
//!   [`Checked`] record and [`Verdict`];
//! - [`StoreRecord`]: where a miner's objects are read from (never a
//!   secret).

mod results;
mod reveal;
mod store;
mod submission;

pub use results::{
    AxonRecord, BaseImageRecord, BaseRecord, MinerRecord, MinerResponse, MinerSubmissions,
    Phase4ImageData, RESULTS_SCHEMA, Rejected, Results, ResultsFile, WeightsRecord,
};
pub use reveal::{
    BeaconRecord, Checked, MinerOutcome, REVEAL_SCHEMA, ReputationRecord, RevealFile,
    RevealSummary, RevealedBase, Verdict,
};
pub use store::StoreRecord;
pub use submission::Submission;
