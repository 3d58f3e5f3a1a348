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
    #[error("<{what}>")]
    Compress {
        /// The structure being compressed.
        what: &'static str,
        /// What the compressor reported.
        #[source]
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

/// The message of `error` followed by those of its sources, each after ": ", as the binary
/// prints an error. Use it wherever an error becomes text (a report's failure list, a
/// problem string, the detail of another error), so that the cause is not lost.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_joins_every_source() {
        let error = Error::Compress { what: "jigdo tables", error: std::io::Error::other("out of memory") };
        assert_eq!(error.to_string(), "<jigdo tables>");
        assert_eq!(chain(&error), "<jigdo tables>: out of memory");
        assert_eq!(chain(&Error::malformed("pack", "short")), "malformed pack: short");
    }
}
