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

    /// An I/O failure on `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io { path: path.into(), error }
    }
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
}
