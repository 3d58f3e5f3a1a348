//! rejig's vocabulary and its persistence: the OSTree object model with bounded decoders,
//! and the content-addressed store (packs of zstd blobs, a redb index, locking, fsck).
//! This crate knows nothing of RPM files or of OSTree repositories on disk.

pub mod bounded;
pub mod error;
pub mod gvariant;
pub mod id;
pub mod object;

pub use error::{Error, Result};
pub use id::{BlobId, ObjectId, ObjectKey, ObjectType, PackId};
pub mod fsck;
pub mod gc;
pub mod index;
pub mod jigdo;
pub mod lock;
pub mod manifest;
pub mod pack;
pub mod record;
pub mod store;
pub mod walk;

pub use record::ObjectRecord;
pub use store::{Batch, BatchSummary, Store};
pub mod progress;
pub mod repo_mode;

pub use progress::{NoProgress, Progress};
pub use repo_mode::RepoMode;
#[doc(hidden)]
pub mod fuzzing;
