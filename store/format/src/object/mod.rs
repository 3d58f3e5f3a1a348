//! The OSTree object model: content headers, dirmeta, dirtree, commit and detached
//! metadata, with their exact encodings and checksums (ostree-format.md §1).
//! Every constructor enforces the format, so any value of these types encodes to bytes
//! that `ostree fsck` accepts.

#![deny(clippy::indexing_slicing)]

pub mod commit;
pub mod dirmeta;
pub mod dirtree;
pub mod header;
pub mod meta;
pub mod variant_dict;
pub mod xattr;

use sha2::{Digest, Sha256};

use crate::id::ObjectId;

pub use commit::Commit;
pub use dirmeta::DirMeta;
pub use dirtree::{DirEntry, DirTree, FileEntry, FileName};
pub use header::{ContentHasher, ContentKind, FileHeader};
pub use meta::FileMeta;
pub use variant_dict::VariantDict;
pub use xattr::{Xattr, XattrSet};

/// The checksum of a metadata object: SHA-256 of its bytes.
pub fn metadata_checksum(bytes: &[u8]) -> ObjectId {
    ObjectId::from_bytes(Sha256::digest(bytes).into())
}
