//! The commitments registry: where each participant's read commitment (its
//! bucket and read-only key pair, [`veil_core::commitment`]) is found.
//!
//! Two sources behind one trait, [`CommitmentRegistry`]:
//!
//! * [`LocalRegistry`]: a JSON file, the default and the only one veil
//!   writes (on-chain writes are a non-goal for now). `veil commitment
//!   publish` writes our entry after [`check_publishable`] has verified it.
//! * [`subtensor::SubtensorRegistry`]: subtensor's `Commitments.CommitmentOf`
//!   read over JSON-RPC on WebSocket, what GRAIL reads.
//!
//! [`CommitmentBook`] keeps the last good set in memory, refreshes it
//! periodically (GRAIL: every 600 s), keeps the previous set when a refresh
//! fails, and drops entries of hotkeys outside the set it is given (the
//! metagraph): commitments of deregistered hotkeys stay in chain storage.

mod book;
mod commitment;
mod local;
mod publish;
pub mod subtensor;

pub use book::CommitmentBook;
pub use commitment::Commitment;
pub use local::{LocalRegistry, Published};
pub use publish::check_publishable;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;
use std::path::Path;

use crate::Error;

/// GRAIL's refresh interval.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);

/// Commitments by hotkey (SS58), plus what could not be read.
#[derive(Clone, Debug, Default)]
pub struct Commitments {
    /// The readable commitments.
    pub entries: BTreeMap<String, Commitment>,
    /// One line per entry that was skipped, naming the hotkey (or key) and
    /// why; never a secret.
    pub skipped: Vec<String>,
}

/// A source of commitments.
#[async_trait::async_trait]
pub trait CommitmentRegistry: Send + Sync + fmt::Debug {
    /// Where the commitments come from, for messages.
    fn describe(&self) -> String;

    /// Every commitment the source holds now.
    ///
    /// # Errors
    ///
    /// When the source cannot be read at all (single bad entries are
    /// skipped and listed in [`Commitments::skipped`] instead).
    async fn fetch(&self) -> Result<Commitments, Error>;
}

/// The registry named by `--registry FILE` or `--subtensor URL --netuid N`
/// (the file wins when both are given), if any.
///
/// # Errors
///
/// A subtensor URL that is not `ws://` or `wss://`, or no netuid with it.
pub fn from_args(
    file: Option<&Path>,
    subtensor: Option<&str>,
    netuid: Option<u16>,
) -> Result<Option<Arc<dyn CommitmentRegistry>>, Error> {
    Ok(match (file, subtensor) {
        (Some(path), _) => Some(Arc::new(LocalRegistry::new(path))),
        (None, Some(url)) => {
            let netuid =
                netuid.ok_or_else(|| Error::value("--netuid", "required with --subtensor"))?;
            Some(Arc::new(subtensor::SubtensorRegistry::new(
                url,
                netuid,
                subtensor::SubtensorOptions::default(),
            )?))
        }
        (None, None) => None,
    })
}
