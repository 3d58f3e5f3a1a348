//! rejig's persistence: the content-addressed store (packs of zstd blobs, a redb index,
//! locking, gc, fsck) behind a narrow API. The vocabulary it stores (ids, OSTree objects,
//! records, manifests, jigdo tables, the pack trailer's bytes) is `rejig-format`; callers
//! import it from there. This crate knows nothing of RPM files or of OSTree repositories on
//! disk.

pub mod durable;
pub mod error;
pub mod fsck;
pub mod gc;
pub mod index;
pub mod lock;
pub mod pack;
pub mod progress;
pub mod store;
pub mod walk;

pub use error::{Error, Result};
pub use progress::{NoProgress, Progress};
pub use store::{Batch, BatchSummary, Store};
