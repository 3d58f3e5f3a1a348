//! rejig's vocabulary: what the importer and the exporter both speak, and nothing about where
//! it is kept. Ids, the OSTree object model and its GVariant codec, package manifests, object
//! records, the jigdo model and its tables, and the byte codec of a pack's trailer, each with a
//! bounded decoder that refuses what it cannot represent in normal form.
//!
//! This crate knows no file system and no database: persistence (packs, the index, gc, fsck,
//! the lock) is `rejig-store`, which depends on this crate, much as gitoxide's object database
//! depends on its object crate.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod bounded;
pub mod digest;
pub mod error;
pub mod gvariant;
pub mod id;
pub mod jigdo;
pub mod manifest;
pub mod object;
pub mod pack;
pub mod record;
pub mod repo_mode;
#[cfg(feature = "serde")]
pub mod report;

pub use digest::{FileSha256, HeaderSha256, PackageBinding};
pub use error::{chain, Error, Result};
pub use id::{BlobId, ObjectId, ObjectKey, ObjectType, PackId};
pub use record::ObjectRecord;
pub use repo_mode::RepoMode;

#[doc(hidden)]
pub mod fuzzing;
