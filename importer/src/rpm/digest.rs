//! File digests in every algorithm FILEDIGESTALGO can name, behind one streaming interface.

use sha2::Digest;

use super::files::DigestAlgo;

/// A running file digest.
pub enum FileDigest {
    /// MD5 (old packages).
    Md5(md5::Md5),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-224.
    Sha224(sha2::Sha224),
    /// SHA-256 (the default since rpm 4.6-era distributions).
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl FileDigest {
    /// A fresh digest of `algo`.
    pub fn new(algo: DigestAlgo) -> Self {
        match algo {
            DigestAlgo::Md5 => FileDigest::Md5(md5::Md5::new()),
            DigestAlgo::Sha1 => FileDigest::Sha1(sha1::Sha1::new()),
            DigestAlgo::Sha224 => FileDigest::Sha224(sha2::Sha224::new()),
            DigestAlgo::Sha256 => FileDigest::Sha256(sha2::Sha256::new()),
            DigestAlgo::Sha384 => FileDigest::Sha384(sha2::Sha384::new()),
            DigestAlgo::Sha512 => FileDigest::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            FileDigest::Md5(d) => d.update(bytes),
            FileDigest::Sha1(d) => d.update(bytes),
            FileDigest::Sha224(d) => d.update(bytes),
            FileDigest::Sha256(d) => d.update(bytes),
            FileDigest::Sha384(d) => d.update(bytes),
            FileDigest::Sha512(d) => d.update(bytes),
        }
    }

    /// Lowercase hex, as FILEDIGESTS stores it.
    pub fn finish_hex(self) -> String {
        match self {
            FileDigest::Md5(d) => hex::encode(d.finalize()),
            FileDigest::Sha1(d) => hex::encode(d.finalize()),
            FileDigest::Sha224(d) => hex::encode(d.finalize()),
            FileDigest::Sha256(d) => hex::encode(d.finalize()),
            FileDigest::Sha384(d) => hex::encode(d.finalize()),
            FileDigest::Sha512(d) => hex::encode(d.finalize()),
        }
    }
}
