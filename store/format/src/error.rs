//! The decoding and validation errors of rejig's formats. Every variant names the structure
//! or value at fault, so a user can act on the message; the store and the importer and
//! exporter wrap this type transparently, so its message reaches the user unchanged.

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong decoding, validating or encoding one of rejig's formats.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not decode as the named structure.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The structure being decoded.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A value that is well-formed but not allowed (bad name, bad mode, unsorted xattrs...).
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The kind of value.
        what: &'static str,
        /// Why it is refused.
        detail: String,
    },
    /// A compressor that failed on bytes in memory.
    #[error("<{what}>: {error}")]
    Compress {
        /// The structure being compressed.
        what: &'static str,
        /// What the compressor reported.
        error: std::io::Error,
    },
}

impl Error {
    /// A decoding failure.
    pub fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Malformed { what, detail: detail.into() }
    }

    /// A refused value.
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Invalid { what, detail: detail.into() }
    }
}
