//! The records and files of Phase 4, each in one place and both ways: the
//! writer and the reader use the same types, so what one writes the other
//! reads (a test pins both to `docs/results.md`).
//!
//! - [`Submission`]: MIID's `S3Submission`, as the shell holds it;
//! - [`RequestedVariation`]: MIID's `VariationRequest`;
//! - [`ResultsFile`]: a validator cycle (`veil/results/v2`; v1 is still
//!   read), and [`Results`], the checked view the reveal works from;
//! - [`RevealFile`]: a reveal (`veil/reveal/v2`), with each image's
//!   [`Checked`] record and [`Verdict`];
//! - [`StoreRecord`]: where a miner's objects are read from (never a
//!   secret).

mod request;
mod results;
mod reveal;
mod store;
mod submission;

pub use request::RequestedVariation;
pub use results::{
    AcceptedSubmission, AxonRecord, BaseImageRecord, BaseRecord, MinerRecord, MinerResponse,
    MinerSubmissions, ObjectRecord, Phase4ImageData, RESULTS_SCHEMA, RESULTS_SCHEMA_V1, Rejected,
    RequestedVariations, Results, ResultsFile, WeightsRecord,
};
pub use reveal::{
    BeaconRecord, Checked, MinerOutcome, REVEAL_SCHEMA, REVEAL_SCHEMA_V1, ReputationRecord,
    RevealFile, RevealSummary, RevealedBase, Verdict,
};
pub use store::StoreRecord;
pub use submission::{Submission, Uav};
