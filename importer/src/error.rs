//! The importer's error type. Each variant names the repository, object or file at fault.

use std::path::PathBuf;

use rejig_format::ObjectKey;

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong bringing things into the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
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
    /// The path is not an OSTree repository rejig can read.
    #[error("{path}: not a readable OSTree repository: {detail}")]
    NotARepo {
        /// The repository path.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The repository's config does not give a mode rejig can read.
    #[error("{path}: not a readable OSTree repository")]
    RepoConfig {
        /// The repository path.
        path: PathBuf,
        /// What is wrong with the config.
        #[source]
        error: rejig_format::Error,
    },
    /// The revision names no commit.
    #[error("{repo}: no ref or commit named {rev:?} (try `ostree refs --repo={repo}`)")]
    UnknownRev {
        /// The repository.
        repo: PathBuf,
        /// The revision asked for.
        rev: String,
    },
    /// An object in the source repository is missing, damaged or does not match its name.
    #[error("object {key} at {path}: {detail}")]
    BadObject {
        /// The object.
        key: ObjectKey,
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An object in the source repository whose bytes do not decode.
    #[error("object {key} at {path}")]
    UndecodableObject {
        /// The object.
        key: ObjectKey,
        /// Its file.
        path: PathBuf,
        /// What the decoder refused.
        #[source]
        error: rejig_format::Error,
    },
    /// A package that cannot be read or imported.
    #[error("{path}: {detail}")]
    Package {
        /// The package file.
        path: PathBuf,
        /// What is wrong, and where in the package.
        detail: String,
    },
    /// A malformed package, before the path is attached.
    #[error(transparent)]
    Rpm(#[from] crate::rpm::error::RpmError),
    /// A file in a directory tree cannot be committed.
    #[error("{path}: {detail}")]
    Tree {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A package source that cannot be used: a missing directory, an unreachable mirror, or
    /// repository metadata that is malformed, too large or fails its checksum.
    #[error("{origin}: {detail}")]
    Source {
        /// The source, as the user named it (a path or a URL).
        origin: String,
        /// What is wrong, naming the file and the package when there is one.
        detail: String,
    },
    /// A package that no source could supply.
    #[error("{package}: {detail}")]
    Fetch {
        /// The package's NEVRA.
        package: String,
        /// What each source that offered it did wrong, with URLs, and what to do about it.
        detail: String,
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
