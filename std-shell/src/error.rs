//! Errors of the shell: the core's, plus I/O with the path involved.

use std::path::PathBuf;

/// Anything the shell can fail with. Each renders as one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A core error (chain, round, beacon, hex).
    #[error(transparent)]
    Core(#[from] veil_core::Error),
    /// Reading a file failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than the cap for its kind.
    #[error("{} is larger than {max} bytes", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The cap, in bytes.
        max: usize,
    },
    /// A command-line value is not acceptable; the message names the argument.
    #[error("{what}: {reason}")]
    Value {
        /// The argument, as the user typed it (`--round`, `ROUND`, ...).
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

impl Error {
    pub(crate) fn value(what: &'static str, reason: impl core::fmt::Display) -> Self {
        Self::Value {
            what,
            reason: reason.to_string(),
        }
    }
}
