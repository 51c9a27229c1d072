//! The metagraph: who is on the subnet, where their axons are, and their
//! stake. Read from a snapshot file (`--metagraph FILE`, documented in
//! `docs/results.md`): the validator queries its serving neurons, the miner
//! allows its staked hotkeys.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::axon::AxonTarget;
use crate::limits::MAX_METAGRAPH_FILE;

/// A neuron of a metagraph file.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Neuron {
    /// Its uid.
    pub uid: u32,
    /// SS58 hotkey.
    pub hotkey: String,
    /// SS58 coldkey (its owner), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coldkey: Option<String>,
    /// Axon IP or host (`0.0.0.0` or empty: not serving).
    #[serde(default)]
    pub ip: String,
    /// Axon port (0: not serving).
    #[serde(default)]
    pub port: u16,
    /// Stake, in TAO (from chain: the subnet stake weight, alpha plus root
    /// TAO × `TaoWeight`).
    #[serde(default)]
    pub stake: f64,
    /// Whether it may set weights.
    #[serde(default)]
    pub validator_permit: bool,
}

/// A metagraph snapshot: `{"netuid": N, "neurons": [Neuron…]}` or a bare
/// array of neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct Metagraph {
    /// The neurons.
    pub neurons: Vec<Neuron>,
}

impl Metagraph {
    /// Reads a metagraph file.
    ///
    /// # Errors
    ///
    /// Unreadable, too large, not of the shape above, or two neurons with
    /// one uid.
    pub fn load(path: &Path) -> Result<Self, Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum File {
            Object { neurons: Vec<Neuron> },
            Array(Vec<Neuron>),
        }
        let bytes = crate::fs::read_file_capped(path, MAX_METAGRAPH_FILE)?;
        let neurons = match serde_json::from_slice::<File>(&bytes) {
            Ok(File::Object { neurons } | File::Array(neurons)) => neurons,
            Err(e) => {
                return Err(Error::Content(format!(
                    "{}: not a metagraph (an array of {{uid, hotkey, ip, port, stake}} or {{\"neurons\": [...]}}): {e}",
                    path.display()
                )));
            }
        };
        let mut seen = HashSet::new();
        for n in &neurons {
            if !seen.insert(n.uid) {
                return Err(Error::Content(format!(
                    "{}: uid {} appears twice",
                    path.display(),
                    n.uid
                )));
            }
        }
        Ok(Self { neurons })
    }

    /// The neurons that serve an axon, as targets.
    ///
    /// # Errors
    ///
    /// A serving neuron whose hotkey or address is malformed.
    pub fn targets(&self) -> Result<Vec<(u32, AxonTarget)>, Error> {
        self.neurons
            .iter()
            .filter(|n| n.port != 0 && !n.ip.is_empty() && n.ip != "0.0.0.0")
            .map(|n| {
                AxonTarget::new(&n.ip, n.port, &n.hotkey)
                    .map(|t| (n.uid, t))
                    .map_err(|e| Error::Content(format!("metagraph uid {}: {e}", n.uid)))
            })
            .collect()
    }

    /// Hotkeys with at least `min_stake`.
    pub fn staked(&self, min_stake: f64) -> Vec<&str> {
        self.neurons
            .iter()
            .filter(|n| n.stake >= min_stake)
            .map(|n| n.hotkey.as_str())
            .collect()
    }
}
