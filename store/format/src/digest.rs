//! Package digests and the binding that names a package by them. A package's main-header
//! SHA-256 and its file SHA-256 are different things with different uses (the first is the
//! store's key for a package and survives re-signing; the second checks a download), so each
//! has its own type and one cannot be passed for the other (FORMAT.md "jigdo tables").

use crate::id::digest_id;
use crate::manifest::Nevra;

digest_id!(
    /// SHA-256 of a package's main header, from its first index byte to the end of its data
    /// store: the store's key for the package, which signing does not change.
    HeaderSha256
);
digest_id!(
    /// SHA-256 of a whole package file, as repository metadata lists it: what a download is
    /// checked against.
    FileSha256
);

/// A package as something else binds it: a jigdo's package table entry, a package to fetch,
/// a package an import must match. The identity, the header it must have, and the file when
/// the binder knew it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageBinding {
    /// The package's name, epoch, version, release and architecture.
    pub nevra: Nevra,
    /// The main-header SHA-256 the package must have.
    pub header: HeaderSha256,
    /// The SHA-256 the whole file must have, when known.
    pub file: Option<FileSha256>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn digests_print_and_parse_as_lowercase_hex() {
        let header = HeaderSha256::from_bytes([0xab; 32]);
        assert_eq!(header.to_string(), "ab".repeat(32));
        assert_eq!("ab".repeat(32).parse::<HeaderSha256>().unwrap(), header);
        assert!("AB".repeat(32).parse::<FileSha256>().is_err());
    }
}
