//! Errors of the shell: the core's, plus I/O with the path involved.

use std::path::PathBuf;

/// Anything the shell can fail with. Each renders as one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A core error (chain, round, beacon, hex).
    #[error(transparent)]
    Core(veil_core::Error),
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
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Any other I/O failure, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What veil was doing.
        what: &'static str,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The input is larger than veil holds in memory for its format.
    #[error("input is larger than {max} bytes")]
    InputTooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// An object store failed (the message never holds a credential).
    #[error(transparent)]
    Store(crate::store::StoreError),
    /// A drand round is not emitted yet; the text says which and when.
    #[error("too early: {0}")]
    TooEarly(String),
    /// The input's content is not what the command needs; the text says why.
    #[error("{0}")]
    Content(String),
    /// A command-line value is not acceptable; the message names the argument.
    #[error("{what}: {reason}")]
    Value {
        /// The argument, as the user typed it (`--round`, `ROUND`, ...).
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

impl<E: Into<veil_core::Error>> From<E> for Error {
    fn from(e: E) -> Self {
        Self::Core(e.into())
    }
}

impl Error {
    /// Maps an I/O error to [`Error::Io`] with what was being done.
    pub fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { what, source }
    }

    /// A refused command-line value, naming the argument.
    pub fn value(what: &'static str, reason: impl core::fmt::Display) -> Self {
        Self::Value {
            what,
            reason: reason.to_string(),
        }
    }
}
