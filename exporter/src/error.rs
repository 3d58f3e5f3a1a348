//! The exporter's error type. Each variant names the repository, object or file at fault.

use std::path::PathBuf;

use rejig_format::{ObjectId, ObjectKey};

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong writing out of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed (a missing object, a corrupt blob...).
    #[error(transparent)]
    Store(#[from] rejig_store::Error),
    /// Bytes that do not decode as one of rejig's formats, or a value they refuse.
    #[error(transparent)]
    Format(#[from] rejig_format::Error),
    /// An I/O failure on a named file.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// Content whose source delivered another size than it declared.
    #[error("{path}: wrote {written} bytes where {expected} were expected")]
    Size {
        /// The file being written.
        path: PathBuf,
        /// Bytes the source delivered.
        written: u64,
        /// Bytes it declared.
        expected: u64,
    },
    /// The target repository cannot be used as asked.
    #[error("repository {path}: {detail}")]
    Repo {
        /// The repository.
        path: PathBuf,
        /// Why, and what to do.
        detail: String,
    },
    /// A ref name the target repository would refuse.
    #[error("repository {path}")]
    Ref {
        /// The repository.
        path: PathBuf,
        /// The name and why it is refused.
        #[source]
        error: crate::ostree::repo::BadRef,
    },
    /// An object the target mode cannot represent.
    #[error("object {key} cannot be stored in a {mode} repository: {detail}")]
    Unrepresentable {
        /// The object.
        key: ObjectKey,
        /// The repository mode.
        mode: &'static str,
        /// Why, and what to do.
        detail: String,
    },
    /// A jigdo cannot be described or written.
    #[error("jigdo: {0}")]
    Jigdo(String),
    /// An object whose bytes did not hash to its name while being written.
    #[error("object {key}: the store's bytes hash to {actual}; nothing was written for it (run `rejig fsck`)")]
    Checksum {
        /// The object.
        key: ObjectKey,
        /// What the bytes hash to.
        actual: ObjectId,
    },
}

/// Adds a path to I/O errors.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|error| Error::Io { path: path.into(), error })
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::Io { path: path.into(), error: e.into() })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::Io { path: path.into(), error: e.into() })
    }
}
