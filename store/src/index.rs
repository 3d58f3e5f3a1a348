//! The redb index: object key → record, blob → location, pack → size, root → last use.
//! One write transaction per pack, committed (and fsynced by redb) only after the pack is
//! durable. Table encodings are in FORMAT.md "index".

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::error::{Error, Result};
use crate::pack::writer::FinishedPack;
use crate::pack::BlobLocation;
use rejig_format::digest::HeaderSha256;
use rejig_format::id::{BlobId, ObjectKey, PackId};
use rejig_format::record::ObjectRecord;

const OBJECTS: TableDefinition<[u8; 33], &[u8]> = TableDefinition::new("objects");
const BLOBS: TableDefinition<[u8; 32], [u8; 57]> = TableDefinition::new("blobs");
const PACKS: TableDefinition<[u8; 32], u64> = TableDefinition::new("packs");
const ROOTS: TableDefinition<[u8; 33], u64> = TableDefinition::new("roots");
const PACKAGES: TableDefinition<[u8; 32], [u8; 32]> = TableDefinition::new("packages");

/// The store's index.
pub struct Index {
    db: Database,
    path: PathBuf,
}

/// Counts of what the index holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Object records.
    pub objects: u64,
    /// Blobs.
    pub blobs: u64,
    /// Packs.
    pub packs: u64,
    /// Roots.
    pub roots: u64,
    /// Packages.
    pub packages: u64,
}

/// The last-use stamp for roots used now: nanoseconds since the epoch, but always above every
/// stamp already in the table, so that two uses within one clock tick, or across a clock
/// that stepped back, still order as they happened (gc keeps the most recently used).
fn use_stamp(roots: &redb::Table<'_, [u8; 33], u64>) -> std::result::Result<u64, redb::StorageError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut latest = 0;
    for entry in roots.iter()? {
        latest = latest.max(entry?.1.value());
    }
    Ok(now.max(latest.saturating_add(1)))
}

impl Index {
    fn err(&self, e: impl Into<redb::Error>) -> Error {
        Error::Index { path: self.path.clone(), error: e.into() }
    }

    /// Opens the index, creating it if missing. A new index is built under a temporary name
    /// and renamed into place, so a process killed while creating it leaves either no index
    /// or a complete empty one, never a file redb cannot open.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            let fresh = path.with_extension("redb.new");
            let _ = std::fs::remove_file(&fresh);
            Self::open_existing(&fresh)?;
            crate::durable::rename(&fresh, path)?;
        }
        Self::open_existing(path)
    }

    fn open_existing(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(|e| Error::Index { path: path.to_path_buf(), error: e.into() })?;
        let index = Self { db, path: path.to_path_buf() };
        let txn = index.db.begin_write().map_err(|e| index.err(e))?;
        txn.open_table(OBJECTS).map_err(|e| index.err(e))?;
        txn.open_table(BLOBS).map_err(|e| index.err(e))?;
        txn.open_table(PACKS).map_err(|e| index.err(e))?;
        txn.open_table(ROOTS).map_err(|e| index.err(e))?;
        txn.open_table(PACKAGES).map_err(|e| index.err(e))?;
        txn.commit().map_err(|e| index.err(e))?;
        Ok(index)
    }

    /// A consistent snapshot for lookups.
    pub fn reader(&self) -> Result<IndexReader<'_>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let objects = txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
        let blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
        let roots = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
        let packs = txn.open_table(PACKS).map_err(|e| self.err(e))?;
        let packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
        Ok(IndexReader { index: self, objects, blobs, roots, packs, packages })
    }

    /// Adds everything a durable pack holds, in one transaction. Entries already present are
    /// kept as they are: an object in the index is never rewritten.
    pub fn commit_pack(&self, pack: &FinishedPack) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
            for entry in &pack.trailer.blobs {
                if blobs.get(entry.id.as_bytes()).map_err(|e| self.err(e))?.is_none() {
                    let location = BlobLocation {
                        pack: pack.id,
                        offset: entry.offset,
                        stored_len: entry.stored_len,
                        raw_len: entry.raw_len,
                        codec: entry.codec,
                    };
                    blobs.insert(entry.id.as_bytes(), location.to_bytes()).map_err(|e| self.err(e))?;
                }
            }
            let mut objects = txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
            for (key, record) in &pack.trailer.objects {
                let key = key.to_bytes();
                if objects.get(&key).map_err(|e| self.err(e))?.is_none() {
                    objects.insert(key, record.as_slice()).map_err(|e| self.err(e))?;
                }
            }
            let mut roots = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
            let time = use_stamp(&roots).map_err(|e| self.err(e))?;
            for key in &pack.trailer.roots {
                roots.insert(key.to_bytes(), time).map_err(|e| self.err(e))?;
            }
            let mut packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
            for (header, manifest) in &pack.trailer.packages {
                if packages.get(header.as_bytes()).map_err(|e| self.err(e))?.is_none() {
                    packages.insert(header.as_bytes(), manifest.as_bytes()).map_err(|e| self.err(e))?;
                }
            }
            let mut packs = txn.open_table(PACKS).map_err(|e| self.err(e))?;
            packs.insert(pack.id.as_bytes(), pack.size).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Records that these roots were used now.
    pub fn touch_roots(&self, roots: &[ObjectKey]) -> Result<()> {
        if roots.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
            let time = use_stamp(&table).map_err(|e| self.err(e))?;
            for key in roots {
                table.insert(key.to_bytes(), time).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Applies a collection in one transaction: drops what is dead, points moved blobs at
    /// the pack they were copied into, and swaps the rewritten packs for it. The new pack
    /// is durable before this is called; the old pack files are deleted only after.
    pub fn apply_gc(&self, changes: &GcChanges) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut objects = txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
            for key in &changes.dead_objects {
                objects.remove(key.to_bytes()).map_err(|e| self.err(e))?;
            }
            let mut blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
            for id in &changes.dead_blobs {
                blobs.remove(id.as_bytes()).map_err(|e| self.err(e))?;
            }
            let mut roots = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
            for key in &changes.dead_roots {
                roots.remove(key.to_bytes()).map_err(|e| self.err(e))?;
            }
            let mut packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
            for header in &changes.dead_packages {
                packages.remove(header.as_bytes()).map_err(|e| self.err(e))?;
            }
            let mut packs = txn.open_table(PACKS).map_err(|e| self.err(e))?;
            for id in &changes.removed_packs {
                packs.remove(id.as_bytes()).map_err(|e| self.err(e))?;
            }
            for pack in &changes.new_packs {
                for entry in &pack.trailer.blobs {
                    let location = BlobLocation {
                        pack: pack.id,
                        offset: entry.offset,
                        stored_len: entry.stored_len,
                        raw_len: entry.raw_len,
                        codec: entry.codec,
                    };
                    blobs.insert(entry.id.as_bytes(), location.to_bytes()).map_err(|e| self.err(e))?;
                }
                packs.insert(pack.id.as_bytes(), pack.size).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Removes entries that refer to data no pack holds any more: objects whose blob is
    /// gone, packages whose manifest blob is gone, roots whose commit is gone. A rebuild from
    /// the packs needs this after a collection, because packs kept as they were still list
    /// entries the collection dropped. Returns how many entries were removed.
    pub fn drop_dangling(&self) -> Result<u64> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut removed = 0;
        {
            let blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
            let mut objects = txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
            let mut dangling = Vec::new();
            for entry in objects.iter().map_err(|e| self.err(e))? {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let blob = ObjectRecord::decode(value.value())?.blob();
                if let Some(blob) = blob {
                    if blobs.get(blob.as_bytes()).map_err(|e| self.err(e))?.is_none() {
                        dangling.push(key.value());
                    }
                }
            }
            let mut packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
            let mut dead_packages = Vec::new();
            for entry in packages.iter().map_err(|e| self.err(e))? {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                if blobs.get(value.value()).map_err(|e| self.err(e))?.is_none() {
                    dead_packages.push(key.value());
                }
            }
            for key in &dangling {
                objects.remove(key).map_err(|e| self.err(e))?;
            }
            for key in &dead_packages {
                packages.remove(key).map_err(|e| self.err(e))?;
            }
            let mut roots = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
            let mut dead_roots = Vec::new();
            for entry in roots.iter().map_err(|e| self.err(e))? {
                let (key, _) = entry.map_err(|e| self.err(e))?;
                if objects.get(key.value()).map_err(|e| self.err(e))?.is_none() {
                    dead_roots.push(key.value());
                }
            }
            for key in &dead_roots {
                roots.remove(key).map_err(|e| self.err(e))?;
            }
            removed += (dangling.len() + dead_packages.len() + dead_roots.len()) as u64;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(removed)
    }

    /// Empties every table (before a rebuild from the packs).
    pub fn clear(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        txn.delete_table(OBJECTS).map_err(|e| self.err(e))?;
        txn.delete_table(BLOBS).map_err(|e| self.err(e))?;
        txn.delete_table(PACKS).map_err(|e| self.err(e))?;
        txn.delete_table(ROOTS).map_err(|e| self.err(e))?;
        txn.delete_table(PACKAGES).map_err(|e| self.err(e))?;
        txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
        txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
        txn.open_table(BLOBS).map_err(|e| self.err(e))?;
        txn.open_table(PACKS).map_err(|e| self.err(e))?;
        txn.open_table(ROOTS).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }
}

/// What a garbage collection changes in the index (see `gc.rs`).
#[derive(Default)]
pub struct GcChanges {
    /// Objects no kept root reaches.
    pub dead_objects: Vec<ObjectKey>,
    /// Blobs nothing kept refers to.
    pub dead_blobs: Vec<BlobId>,
    /// Roots beyond what was asked to keep.
    pub dead_roots: Vec<ObjectKey>,
    /// Packages (by main-header SHA-256) no kept root uses.
    pub dead_packages: Vec<HeaderSha256>,
    /// Packs whose live entries moved into `new_packs`, or that held nothing live.
    pub removed_packs: Vec<PackId>,
    /// The packs the live entries of `removed_packs` were copied into (several when they
    /// exceed the target pack size, see `fold.rs`).
    pub new_packs: Vec<FinishedPack>,
}

/// Lookups against one snapshot of the index.
pub struct IndexReader<'a> {
    index: &'a Index,
    objects: redb::ReadOnlyTable<[u8; 33], &'static [u8]>,
    blobs: redb::ReadOnlyTable<[u8; 32], [u8; 57]>,
    roots: redb::ReadOnlyTable<[u8; 33], u64>,
    packs: redb::ReadOnlyTable<[u8; 32], u64>,
    packages: redb::ReadOnlyTable<[u8; 32], [u8; 32]>,
}

impl IndexReader<'_> {
    /// True when the index has the object.
    pub fn contains_object(&self, key: &ObjectKey) -> Result<bool> {
        Ok(self.objects.get(&key.to_bytes()).map_err(|e| self.index.err(e))?.is_some())
    }

    /// The record of an object.
    pub fn object(&self, key: &ObjectKey) -> Result<Option<ObjectRecord>> {
        match self.objects.get(&key.to_bytes()).map_err(|e| self.index.err(e))? {
            Some(bytes) => Ok(Some(ObjectRecord::decode(bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Where a blob lives.
    pub fn blob(&self, id: &BlobId) -> Result<Option<BlobLocation>> {
        match self.blobs.get(id.as_bytes()).map_err(|e| self.index.err(e))? {
            Some(bytes) => BlobLocation::from_bytes(&bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Every object and its record.
    pub fn objects(&self) -> Result<Vec<(ObjectKey, ObjectRecord)>> {
        let mut out = Vec::new();
        for entry in self.objects.iter().map_err(|e| self.index.err(e))? {
            let (key, value) = entry.map_err(|e| self.index.err(e))?;
            out.push((ObjectKey::from_bytes(&key.value())?, ObjectRecord::decode(value.value())?));
        }
        Ok(out)
    }

    /// Every blob and its location.
    pub fn blobs(&self) -> Result<Vec<(BlobId, BlobLocation)>> {
        let mut out = Vec::new();
        for entry in self.blobs.iter().map_err(|e| self.index.err(e))? {
            let (key, value) = entry.map_err(|e| self.index.err(e))?;
            out.push((BlobId::from_bytes(key.value()), BlobLocation::from_bytes(&value.value())?));
        }
        Ok(out)
    }

    /// Every pack the index knows, with its size.
    pub fn packs(&self) -> Result<Vec<(PackId, u64)>> {
        let mut out = Vec::new();
        for entry in self.packs.iter().map_err(|e| self.index.err(e))? {
            let (key, value) = entry.map_err(|e| self.index.err(e))?;
            out.push((PackId::from_bytes(key.value()), value.value()));
        }
        Ok(out)
    }

    /// Every root with its last-use stamp (see `use_stamp`: larger is more recent).
    pub fn roots(&self) -> Result<Vec<(ObjectKey, u64)>> {
        let mut out = Vec::new();
        for entry in self.roots.iter().map_err(|e| self.index.err(e))? {
            let (key, value) = entry.map_err(|e| self.index.err(e))?;
            out.push((ObjectKey::from_bytes(&key.value())?, value.value()));
        }
        Ok(out)
    }

    /// The manifest blob of a package, by main-header SHA-256.
    pub fn package(&self, header_sha256: &HeaderSha256) -> Result<Option<BlobId>> {
        Ok(self
            .packages
            .get(header_sha256.as_bytes())
            .map_err(|e| self.index.err(e))?
            .map(|v| BlobId::from_bytes(v.value())))
    }

    /// Every package: main-header SHA-256 and manifest blob.
    pub fn packages(&self) -> Result<Vec<(HeaderSha256, BlobId)>> {
        let mut out = Vec::new();
        for entry in self.packages.iter().map_err(|e| self.index.err(e))? {
            let (key, value) = entry.map_err(|e| self.index.err(e))?;
            out.push((HeaderSha256::from_bytes(key.value()), BlobId::from_bytes(value.value())));
        }
        Ok(out)
    }

    /// Counts of each table.
    pub fn stats(&self) -> Result<IndexStats> {
        let e = |e| self.index.err(e);
        Ok(IndexStats {
            objects: self.objects.len().map_err(e)?,
            blobs: self.blobs.len().map_err(e)?,
            packs: self.packs.len().map_err(e)?,
            roots: self.roots.len().map_err(e)?,
            packages: self.packages.len().map_err(e)?,
        })
    }
}
