//! Format errors from the RPM reader: what was being read, at which byte, and why.

use std::fmt;

/// A malformed or hostile RPM. Offsets are from the start of the package file when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmError {
    /// The structure being read ("lead", "signature header", "cpio entry"...).
    pub what: &'static str,
    /// What is wrong.
    pub detail: String,
}

impl RpmError {
    /// A new error.
    pub fn new(what: &'static str, detail: impl Into<String>) -> Self {
        Self { what, detail: detail.into() }
    }
}

impl fmt::Display for RpmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.detail)
    }
}

impl std::error::Error for RpmError {}

/// Shorthand for the reader's results.
pub type RpmResult<T> = Result<T, RpmError>;
