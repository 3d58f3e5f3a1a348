//! Folding small packs into bigger ones. The store writes one pack per imported package, so
//! a store of thousands of packages is thousands of files: each costs a descriptor to read,
//! an inode, and later an object-storage request. A collection therefore also rewrites the
//! packs smaller than [`SMALL_PACK`] together into packs of about [`TARGET_PACK_SIZE`]
//! (FORMAT.md §5.2), as it rewrites packs that are mostly dead: their live blobs are copied
//! as stored, and the live index entries their trailers list go along.
//!
//! Crash safety is the collection's own order (FORMAT.md §5.1): every new pack is durable
//! (fsync, rename, fsync of `packs/`) before the one index transaction that points at it,
//! and the folded packs are deleted only after that transaction. A crash before the index
//! commit leaves unreferenced new packs beside the old ones; after it, unreferenced old
//! packs. Either way every blob is in a durable pack the index, or a rebuild, can name.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use crate::error::Result;
use crate::pack::writer::{FinishedPack, PackWriter};
use crate::store::Store;
use rejig_format::digest::HeaderSha256;
use rejig_format::id::{ObjectKey, PackId};
use rejig_format::pack::trailer::BlobEntry;

/// The size a collection aims at for the packs it writes: big enough that a store of tens
/// of gigabytes is a few thousand files, small enough that rewriting one stays cheap.
pub const TARGET_PACK_SIZE: u64 = 32 << 20;

/// Packs below this size are folded together by a collection. Half the target, so that a
/// pack the collection wrote full is never folded again; only the last, partly filled one
/// may be, together with the packs imported since.
pub const SMALL_PACK: u64 = TARGET_PACK_SIZE / 2;

/// The small packs to fold: those of `packs` (id, size) below `small`, not already being
/// rewritten. Nothing when fewer than two: a single small pack rewritten alone stays a
/// single small pack.
pub fn small_packs(packs: &HashMap<PackId, u64>, rewriting: &[PackId], small: u64) -> Vec<PackId> {
    let rewriting: HashSet<&PackId> = rewriting.iter().collect();
    let mut folded: Vec<PackId> =
        packs.iter().filter(|(id, size)| **size < small && !rewriting.contains(id)).map(|(id, _)| *id).collect();
    if folded.len() + rewriting.len() < 2 {
        return Vec::new();
    }
    folded.sort();
    folded
}

/// Writes what a collection copies into as many packs as it takes, starting a new one each
/// time the current one reaches the target size.
pub struct RollingWriter<'s> {
    store: &'s Store,
    target: u64,
    current: PackWriter,
    finished: Vec<FinishedPack>,
}

impl<'s> RollingWriter<'s> {
    /// Starts writing packs of about `target` bytes into `store`.
    pub fn new(store: &'s Store, target: u64) -> Result<Self> {
        let current = PackWriter::create(&store.root().join("tmp"), &store.packs_dir())?;
        Ok(Self { store, target: target.max(1), current, finished: Vec::new() })
    }

    /// Makes the current pack durable and starts the next one.
    fn roll(&mut self) -> Result<()> {
        let next = PackWriter::create(&self.store.root().join("tmp"), &self.store.packs_dir())?;
        if let Some(pack) = std::mem::replace(&mut self.current, next).finish()? {
            self.finished.push(pack);
        }
        Ok(())
    }

    /// Copies a blob's stored bytes from `source` (see [`PackWriter::append_copy`]).
    pub fn append_copy(&mut self, entry: &BlobEntry, source: &File, source_path: &Path) -> Result<()> {
        if self.current.size() >= self.target {
            self.roll()?;
        }
        self.current.append_copy(entry, source, source_path)
    }

    /// Records an object whose record is already encoded.
    pub fn add_object_encoded(&mut self, key: ObjectKey, record: Vec<u8>) {
        self.current.add_object_encoded(key, record);
    }

    /// Records a root.
    pub fn add_root(&mut self, key: ObjectKey) {
        self.current.add_root(key);
    }

    /// Records a package and the blob holding its manifest.
    pub fn add_package(&mut self, header_sha256: HeaderSha256, manifest: rejig_format::id::BlobId) {
        self.current.add_package(header_sha256, manifest);
    }

    /// Makes the last pack durable; returns every pack written, all durable.
    pub fn finish(mut self) -> Result<Vec<FinishedPack>> {
        if let Some(pack) = self.current.finish()? {
            self.finished.push(pack);
        }
        Ok(self.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_two_or_more_small_packs_only() {
        let id = |i: u8| PackId::from_bytes([i; 32]);
        let packs: HashMap<PackId, u64> = [(id(1), 10), (id(2), 20), (id(3), 100)].into_iter().collect();
        assert_eq!(small_packs(&packs, &[], 50), vec![id(1), id(2)]);
        assert_eq!(small_packs(&packs, &[id(2)], 50), vec![id(1)], "rewritten anyway: not counted as folded");
        let one: HashMap<PackId, u64> = [(id(1), 10), (id(3), 100)].into_iter().collect();
        assert!(small_packs(&one, &[], 50).is_empty(), "a lone small pack stays");
    }
}
