//! rejig's persistence: the content-addressed store (packs of zstd blobs, a redb index,
//! locking, gc, fsck) behind a narrow API. The vocabulary it stores (ids, OSTree objects,
//! records, manifests, jigdo tables, the pack trailer's bytes) is `rejig-format`; callers
//! import it from there. This crate knows nothing of RPM files or of OSTree repositories on
//! disk.
//!
//! Callers hold a [`Store`]: they add through a [`Batch`], read through an [`IndexReader`]
//! snapshot and [`BlobReader`] streams, and run [`gc`] and [`fsck`]. Packs and the index
//! themselves are private; [`durable`] is the one way any part of rejig publishes a file.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod backend;
pub mod backing;
pub mod durable;
pub mod error;
pub mod fold;
pub mod fsck;
pub mod gc;
pub mod identity;
mod index;
pub mod journal;
pub mod lock;
mod pack;
pub mod progress;
pub mod store;
pub mod sync;
pub mod threads;
pub mod walk;

pub use backing::{BackedRef, BackedWrite, BlobSource, FileWrite, RepoObjects};
pub use error::{Error, Result};
pub use index::{IndexReader, IndexStats};
pub use pack::cache::{raise_soft_limit, soft_limit};
pub use pack::reader::BlobReader;
pub use pack::BlobLocation;
pub use progress::{NoProgress, Progress, WarningsOnly};
pub use store::{Batch, BatchSummary, FinishedBatch, OpenMode, Store};
