//! The store's one error type: its own failures (files, packs, the index, missing or
//! damaged objects) and, wrapped, the format errors of what it decodes. Every variant names
//! what failed: the file, the object or the field, so a user can act on the message.

use std::path::PathBuf;

use rejig_format::{BlobId, ObjectKey, PackId};

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the store and its codecs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as one of rejig's formats, or a value they refuse. Its
    /// message is the format error's own.
    #[error(transparent)]
    Format(#[from] rejig_format::Error),
    /// An object whose bytes do not hash to its name.
    #[error("object {key}: checksum mismatch, the bytes hash to {actual}")]
    ObjectChecksum {
        /// The object as named.
        key: ObjectKey,
        /// What the bytes actually hash to.
        actual: String,
    },
    /// A blob whose bytes do not hash to its key, or whose length is wrong.
    #[error("blob {blob} in pack {pack}: {detail}")]
    BlobCorrupt {
        /// The blob.
        blob: BlobId,
        /// The pack it was read from.
        pack: PackId,
        /// What was wrong.
        detail: String,
    },
    /// A blob whose stored bytes cannot be read or decompressed.
    #[error("blob {blob} in pack {pack}")]
    BlobRead {
        /// The blob.
        blob: BlobId,
        /// The pack it was read from.
        pack: PackId,
        /// What the read or the decompressor reported.
        #[source]
        error: std::io::Error,
    },
    /// A blob the store reads from its backing repository, whose object is gone or changed.
    #[error("blob {blob} backed by {key} in the repository {repo}: {detail}")]
    Backed {
        /// The blob.
        blob: BlobId,
        /// The repository object that held it.
        key: ObjectKey,
        /// The repository.
        repo: PathBuf,
        /// What happened.
        detail: String,
    },
    /// A direct import could not write an object into the backing repository.
    #[error("object {key} in the repository {repo}: {detail}")]
    RepoObject {
        /// The object.
        key: ObjectKey,
        /// The repository.
        repo: PathBuf,
        /// What happened.
        detail: String,
    },
    /// An object the store does not hold.
    #[error("the store has no object {0}")]
    MissingObject(ObjectKey),
    /// A blob the store's index does not list.
    #[error("the store has no blob {0}")]
    MissingBlob(BlobId),
    /// A pack file that cannot be read as a pack.
    #[error("pack {path}: {detail}")]
    Pack {
        /// The pack file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A pack whose trailer does not decode.
    #[error("pack {path}")]
    Trailer {
        /// The pack file.
        path: PathBuf,
        /// What the decoder refused.
        #[source]
        error: rejig_format::Error,
    },
    /// An I/O failure on a named file.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// The process ran out of file descriptors (EMFILE, or ENFILE for the whole system).
    /// Nothing is wrong with the store; the operator raises the limit and runs again.
    #[error("{path}: too many open files: raise `ulimit -n` (the soft limit is {limit}) and run again; the store is not damaged")]
    TooManyOpenFiles {
        /// The file being opened.
        path: PathBuf,
        /// The soft limit on open files when it happened (`?` if unknown).
        limit: String,
        /// The system's error.
        #[source]
        error: std::io::Error,
    },
    /// `--store` names something that is not a store.
    #[error("{path} is not a rejig store: {detail}")]
    NotAStore {
        /// The path given.
        path: PathBuf,
        /// Why it is not a store.
        detail: String,
    },
    /// The store has packs but its index cannot be trusted: never taken for an empty store.
    #[error(
        "the store at {store} cannot be used: {detail}; its packs are kept as they are: run `rejig --store {store} fsck --repair` to rebuild the index from them"
    )]
    IndexUntrusted {
        /// The store directory.
        store: PathBuf,
        /// What is wrong with its index.
        detail: String,
    },
    /// The index database failed.
    #[error("store index {path}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        error: redb::Error,
    },
}

impl Error {
    /// A decoding failure.
    pub fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Format(rejig_format::Error::malformed(what, detail))
    }

    /// A refused value.
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Format(rejig_format::Error::invalid(what, detail))
    }

    /// An I/O failure on `path`. Running out of file descriptors is told apart
    /// ([`Error::TooManyOpenFiles`]): it says nothing about the file.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        if is_descriptor_exhaustion(&error) {
            let limit = crate::pack::cache::soft_limit().map_or_else(|| "?".to_owned(), |n| n.to_string());
            return Error::TooManyOpenFiles { path: path.into(), limit, error };
        }
        Error::Io { path: path.into(), error }
    }

    /// True when this error, or any error it wraps, is the process or the system running out
    /// of file descriptors: an operating limit, never damage to the store.
    pub fn is_too_many_open_files(&self) -> bool {
        caused_by_descriptor_exhaustion(self)
    }
}

/// True for EMFILE (this process's limit) and ENFILE (the system's).
fn is_descriptor_exhaustion(error: &std::io::Error) -> bool {
    let code = error.raw_os_error();
    code == Some(rustix::io::Errno::MFILE.raw_os_error()) || code == Some(rustix::io::Errno::NFILE.raw_os_error())
}

/// True when `error` or anything in its source chain ran out of file descriptors.
pub fn caused_by_descriptor_exhaustion(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if matches!(error.downcast_ref::<Error>(), Some(Error::TooManyOpenFiles { .. }))
            || error.downcast_ref::<std::io::Error>().is_some_and(is_descriptor_exhaustion)
        {
            return true;
        }
        next = error.source();
    }
    false
}

/// Adds the path to an I/O result.
pub trait IoContext<T> {
    /// Attaches `path` to the error.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_cause_as_the_source() {
        let error = Error::io("/store/packs", std::io::Error::other("disk on fire"));
        assert_eq!(error.to_string(), "/store/packs");
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(rejig_format::chain(&error), "/store/packs: disk on fire");
    }

    #[test]
    fn running_out_of_descriptors_is_told_apart_from_damage() {
        for errno in [rustix::io::Errno::MFILE, rustix::io::Errno::NFILE] {
            let error = Error::io("/store/packs/p.pack", std::io::Error::from_raw_os_error(errno.raw_os_error()));
            assert!(matches!(error, Error::TooManyOpenFiles { .. }), "{error:?}");
            assert!(error.is_too_many_open_files());
            assert!(error.to_string().contains("too many open files: raise `ulimit -n`"), "{error}");
            let wrapped = std::io::Error::other(error);
            assert!(caused_by_descriptor_exhaustion(&wrapped));
        }
        let other = Error::io("/store/packs", std::io::Error::from_raw_os_error(rustix::io::Errno::IO.raw_os_error()));
        assert!(!other.is_too_many_open_files());
    }
}
