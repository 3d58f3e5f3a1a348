//! The redb index: object key → record, blob → location, pack → size, root → last use.
//! One write transaction per pack, committed (and fsynced by redb) only after the pack is
//! durable. Table encodings are in FORMAT.md "index".

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::error::{Error, Result};
use crate::identity::StoreId;
use crate::journal::{Journal, RootEvent};
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
/// The store's identity (FORMAT.md §3): key `store_id`, value the bytes of `store.id`.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_STORE_ID: &str = "store_id";
/// Blobs read from the backing repository (FORMAT.md §3b): BLAKE3 → object key ‖ length.
/// Created by the first adoption; an index without it has no backed blobs.
const BACKED: TableDefinition<[u8; 32], [u8; 41]> = TableDefinition::new("backed");

/// The store's index.
pub struct Index {
    db: RwLock<Arc<Database>>,
    path: RwLock<PathBuf>,
    /// The roots journal, where uses and drops are recorded before the index commits them
    /// (none for an index being rebuilt, whose stamps come from the journal).
    journal: Mutex<Option<Journal>>,
}

/// What opening an existing index file found.
pub enum Opened {
    /// An index holding the store identity it names (None: an index made before identities).
    Index(Index, Option<StoreId>),
    /// A file that is not a usable index, and why: never to be taken for an empty store.
    Unusable(String),
    /// No file.
    Missing,
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::invalid("index", "a thread panicked while holding the index")
}

/// True for an I/O error that says the process, not the file, is at fault (out of file
/// descriptors or memory, no permission): never a reason to call a file damaged.
pub fn is_resource_error(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(code) if [
        rustix::io::Errno::MFILE.raw_os_error(),
        rustix::io::Errno::NFILE.raw_os_error(),
        rustix::io::Errno::NOMEM.raw_os_error(),
        rustix::io::Errno::ACCESS.raw_os_error(),
        rustix::io::Errno::PERM.raw_os_error(),
        rustix::io::Errno::INTR.raw_os_error(),
    ].contains(&code))
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

/// What [`Index::probe`] found.
pub enum Probed {
    /// An index holding this identity (None: made before identities).
    Index(Option<StoreId>),
    /// A file that is not a usable index, and why.
    Unusable(String),
    /// No file.
    Missing,
}

impl From<Opened> for Probed {
    fn from(opened: Opened) -> Self {
        match opened {
            Opened::Index(_, id) => Probed::Index(id),
            Opened::Unusable(why) => Probed::Unusable(why),
            Opened::Missing => Probed::Missing,
        }
    }
}

/// The identity recorded in an index database, after checking that every table is there.
fn identity_of(db: &impl ReadableDatabase, err: &dyn Fn(redb::Error) -> Error) -> Result<Option<StoreId>> {
    let txn = db.begin_read().map_err(|e| err(e.into()))?;
    txn.open_table(OBJECTS).map_err(|e| err(e.into()))?;
    txn.open_table(BLOBS).map_err(|e| err(e.into()))?;
    txn.open_table(PACKS).map_err(|e| err(e.into()))?;
    txn.open_table(ROOTS).map_err(|e| err(e.into()))?;
    txn.open_table(PACKAGES).map_err(|e| err(e.into()))?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(err(e.into())),
    };
    let Some(value) = meta.get(META_STORE_ID).map_err(|e| err(e.into()))? else { return Ok(None) };
    StoreId::decode(value.value()).map(Some).ok_or_else(|| Error::invalid("index", "its store identity is malformed"))
}

impl Index {
    fn err(&self, e: impl Into<redb::Error>) -> Error {
        let path = self.path.read().map(|p| p.clone()).unwrap_or_default();
        Error::Index { path, error: e.into() }
    }

    fn db(&self) -> Result<Arc<Database>> {
        Ok(self.db.read().map_err(poisoned)?.clone())
    }

    fn wrap(db: Database, path: &Path) -> Self {
        Self { db: RwLock::new(Arc::new(db)), path: RwLock::new(path.to_path_buf()), journal: Mutex::new(None) }
    }

    /// Creates a new, empty index of store `id` at `path` (which must not exist), its
    /// tables and identity committed. The caller publishes it by rename.
    pub fn create(path: &Path, id: &StoreId) -> Result<Self> {
        let db = Database::create(path).map_err(|e| Error::Index { path: path.to_path_buf(), error: e.into() })?;
        let index = Self::wrap(db, path);
        index.init_tables(Some(id))?;
        Ok(index)
    }

    /// An empty index in memory: the placeholder of a store opened for repair, until the
    /// rebuilt index replaces it.
    pub fn in_memory() -> Result<Self> {
        let path = PathBuf::from("<index being rebuilt>");
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| Error::Index { path: path.clone(), error: e.into() })?;
        let index = Self::wrap(db, &path);
        index.init_tables(None)?;
        Ok(index)
    }

    fn init_tables(&self, id: Option<&StoreId>) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
        txn.open_table(BLOBS).map_err(|e| self.err(e))?;
        txn.open_table(PACKS).map_err(|e| self.err(e))?;
        txn.open_table(ROOTS).map_err(|e| self.err(e))?;
        txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            if let Some(id) = id {
                meta.insert(META_STORE_ID, id.encode().as_slice()).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Opens an existing index file without creating or changing anything, and says whether
    /// it is an index at all. An error means the file could not be examined (out of file
    /// descriptors, no permission), which says nothing about the file.
    pub fn open_existing(path: &Path) -> Result<Opened> {
        let metadata = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::Missing),
            Err(e) => return Err(Error::io(path, e)),
        };
        if !metadata.is_file() {
            return Ok(Opened::Unusable("it is not a regular file".into()));
        }
        if metadata.len() == 0 {
            return Ok(Opened::Unusable("it is empty".into()));
        }
        // Fail on the process's own limits here, not inside redb where they look like damage.
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let db = match Database::open(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) if is_resource_error(&e) => {
                return Err(Error::io(path, e))
            }
            Err(e) => return Ok(Opened::Unusable(format!("redb cannot open it: {e}"))),
        };
        let index = Self::wrap(db, path);
        match index.read_identity() {
            Ok(id) => Ok(Opened::Index(index, id)),
            Err(e) => Ok(Opened::Unusable(rejig_format::chain(&e))),
        }
    }

    /// Examines an existing index file read-only, without changing a byte of it (for a
    /// repair, which must leave the old index as it was if it fails): what
    /// [`Index::open_existing`] would find, the identity in place of the index. Only a file
    /// that redb must recover after a crash, which a read-only open refuses, is opened for
    /// writing, as every command would.
    pub fn probe(path: &Path) -> Result<Probed> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() && m.len() > 0 => {}
            Ok(_) | Err(_) => return Ok(Self::open_existing(path)?.into()),
        }
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        match redb::ReadOnlyDatabase::open(path) {
            Ok(db) => {
                let err = |e: redb::Error| Error::Index { path: path.to_path_buf(), error: e };
                Ok(match identity_of(&db, &err) {
                    Ok(id) => Probed::Index(id),
                    Err(e) => Probed::Unusable(rejig_format::chain(&e)),
                })
            }
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) if is_resource_error(&e) => {
                Err(Error::io(path, e))
            }
            Err(_) => Ok(Self::open_existing(path)?.into()),
        }
    }

    /// The identity recorded in the index, after checking that every table is there. None
    /// for an index made before identities existed.
    fn read_identity(&self) -> Result<Option<StoreId>> {
        let db = self.db()?;
        identity_of(&*db, &|e| self.err(e))
    }

    /// Records the store identity in an index made before identities existed.
    pub fn set_identity(&self, id: &StoreId) -> Result<()> {
        self.init_tables(Some(id))
    }

    /// Attaches the roots journal: from now on every use and drop of a root is appended to
    /// it (and fsynced) before the index commits it.
    pub fn attach_journal(&self, journal: Journal) -> Result<()> {
        *self.journal.lock().map_err(poisoned)? = Some(journal);
        Ok(())
    }

    /// Detaches the roots journal (to rewrite it).
    pub fn detach_journal(&self) -> Result<Option<Journal>> {
        Ok(self.journal.lock().map_err(poisoned)?.take())
    }

    fn journal(&self, event: RootEvent, keys: &[ObjectKey], stamp: u64) -> Result<()> {
        match self.journal.lock().map_err(poisoned)?.as_mut() {
            Some(journal) => journal.append(event, keys, stamp),
            None => Ok(()),
        }
    }

    /// Replaces this index by `other` (after a rebuild was renamed into place), keeping the
    /// journal attached to this one.
    pub fn replace_with(&self, other: Index, path: &Path) -> Result<()> {
        let db = other.db()?;
        *self.db.write().map_err(poisoned)? = db;
        *self.path.write().map_err(poisoned)? = path.to_path_buf();
        Ok(())
    }

    /// A consistent snapshot for lookups.
    pub fn reader(&self) -> Result<IndexReader<'_>> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(|e| self.err(e))?;
        let objects = txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
        let blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
        let roots = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
        let packs = txn.open_table(PACKS).map_err(|e| self.err(e))?;
        let packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
        let backed = match txn.open_table(BACKED) {
            Ok(table) => Some(table),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.err(e)),
        };
        Ok(IndexReader { index: self, objects, blobs, roots, packs, packages, backed })
    }

    /// Adds everything a durable pack holds, in one transaction. Entries already present are
    /// kept as they are: an object in the index is never rewritten.
    pub fn commit_pack(&self, pack: &FinishedPack) -> Result<()> {
        self.commit_packs(std::slice::from_ref(pack))
    }

    /// [`Index::commit_pack`] for several packs in one transaction (one commit, one fsync):
    /// a sync that learns of many packs at once. Each pack's roots get their own use stamp,
    /// in the order given.
    pub fn commit_packs(&self, packs: &[FinishedPack]) -> Result<()> {
        self.commit_packs_and_backed(packs, &[])
    }

    /// [`Index::commit_packs`], recording in the same transaction blobs that a direct import
    /// wrote into the backing repository (FORMAT.md §3b). The caller has made those
    /// repository objects durable first.
    pub fn commit_packs_and_backed(
        &self,
        packs: &[FinishedPack],
        backed: &[(BlobId, crate::backing::BackedRef)],
    ) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        if !backed.is_empty() {
            let mut table = txn.open_table(BACKED).map_err(|e| self.err(e))?;
            for (id, backed_ref) in backed {
                table.insert(id.as_bytes(), backed_ref.to_bytes()).map_err(|e| self.err(e))?;
            }
        }
        for pack in packs {
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
            // The use is durable in the journal before the index commits it.
            self.journal(RootEvent::Use, &pack.trailer.roots, time)?;
            let mut packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
            for (header, manifest) in &pack.trailer.packages {
                if packages.get(header.as_bytes()).map_err(|e| self.err(e))?.is_none() {
                    packages.insert(header.as_bytes(), manifest.as_bytes()).map_err(|e| self.err(e))?;
                }
            }
            let mut pack_table = txn.open_table(PACKS).map_err(|e| self.err(e))?;
            pack_table.insert(pack.id.as_bytes(), pack.size).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Records that these roots were used now.
    pub fn touch_roots(&self, roots: &[ObjectKey]) -> Result<()> {
        if roots.is_empty() {
            return Ok(());
        }
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
            let time = use_stamp(&table).map_err(|e| self.err(e))?;
            for key in roots {
                table.insert(key.to_bytes(), time).map_err(|e| self.err(e))?;
            }
            self.journal(RootEvent::Use, roots, time)?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Applies a collection in one transaction: drops what is dead, points moved blobs at
    /// the pack they were copied into, and swaps the rewritten packs for it. The new pack
    /// is durable before this is called; the old pack files are deleted only after.
    pub fn apply_gc(&self, changes: &GcChanges) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
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
            // A drop is journalled (above every use) before the index forgets the root, so a
            // rebuild from packs that still list it does not bring it back.
            let time = use_stamp(&roots).map_err(|e| self.err(e))?;
            self.journal(RootEvent::Drop, &changes.dead_roots, time)?;
            for key in &changes.dead_roots {
                roots.remove(key.to_bytes()).map_err(|e| self.err(e))?;
            }
            let mut packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
            for header in &changes.dead_packages {
                packages.remove(header.as_bytes()).map_err(|e| self.err(e))?;
            }
            if !changes.dead_backed.is_empty() {
                let mut backed = txn.open_table(BACKED).map_err(|e| self.err(e))?;
                for id in &changes.dead_backed {
                    backed.remove(id.as_bytes()).map_err(|e| self.err(e))?;
                }
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
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        let mut removed = 0;
        {
            let blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
            let backed = txn.open_table(BACKED).map_err(|e| self.err(e))?;
            let present = |blob: &[u8; 32]| -> Result<bool> {
                Ok(blobs.get(blob).map_err(|e| self.err(e))?.is_some()
                    || backed.get(blob).map_err(|e| self.err(e))?.is_some())
            };
            let mut objects = txn.open_table(OBJECTS).map_err(|e| self.err(e))?;
            let mut dangling = Vec::new();
            for entry in objects.iter().map_err(|e| self.err(e))? {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let blob = ObjectRecord::decode(value.value())?.blob();
                if let Some(blob) = blob {
                    if !present(blob.as_bytes())? {
                        dangling.push(key.value());
                    }
                }
            }
            let mut packages = txn.open_table(PACKAGES).map_err(|e| self.err(e))?;
            let mut dead_packages = Vec::new();
            for entry in packages.iter().map_err(|e| self.err(e))? {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                if !present(&value.value())? {
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

    /// Sets the roots of a rebuilt index: each key with its last-use stamp; roots listed by
    /// the packs but absent from `stamps` are removed.
    pub fn set_roots(&self, stamps: &std::collections::HashMap<ObjectKey, u64>) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut roots = txn.open_table(ROOTS).map_err(|e| self.err(e))?;
            let mut listed = Vec::new();
            for entry in roots.iter().map_err(|e| self.err(e))? {
                listed.push(entry.map_err(|e| self.err(e))?.0.value());
            }
            for key in listed {
                match stamps.get(&ObjectKey::from_bytes(&key)?) {
                    Some(stamp) => roots.insert(key, *stamp).map_err(|e| self.err(e))?,
                    None => roots.remove(key).map_err(|e| self.err(e))?,
                };
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Records blobs as held by objects of the backing repository (`backing.rs`). An entry
    /// already there is replaced: the caller has just verified the object.
    pub fn add_backed(&self, refs: &[(BlobId, crate::backing::BackedRef)]) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut backed = txn.open_table(BACKED).map_err(|e| self.err(e))?;
            for (id, backed_ref) in refs {
                backed.insert(id.as_bytes(), backed_ref.to_bytes()).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Points a blob at another copy of it (a rebuild that found the first copy damaged).
    pub fn set_blob_location(&self, id: &BlobId, location: &BlobLocation) -> Result<()> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut blobs = txn.open_table(BLOBS).map_err(|e| self.err(e))?;
            blobs.insert(id.as_bytes(), location.to_bytes()).map_err(|e| self.err(e))?;
        }
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
    /// Backed entries (FORMAT.md §3b) to forget: nothing kept needs them, or their
    /// repository object is gone or changed.
    pub dead_backed: Vec<BlobId>,
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
    /// None in an index made before backed stores.
    backed: Option<redb::ReadOnlyTable<[u8; 32], [u8; 41]>>,
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

    /// The repository object that holds a blob, in a backed store (FORMAT.md §3b).
    pub fn backed(&self, id: &BlobId) -> Result<Option<crate::backing::BackedRef>> {
        let Some(table) = &self.backed else { return Ok(None) };
        match table.get(id.as_bytes()).map_err(|e| self.index.err(e))? {
            Some(bytes) => crate::backing::BackedRef::from_bytes(&bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Every backed blob and the object that holds it.
    pub fn backed_all(&self) -> Result<Vec<(BlobId, crate::backing::BackedRef)>> {
        let mut out = Vec::new();
        let Some(table) = &self.backed else { return Ok(out) };
        for entry in table.iter().map_err(|e| self.index.err(e))? {
            let (key, value) = entry.map_err(|e| self.index.err(e))?;
            out.push((BlobId::from_bytes(key.value()), crate::backing::BackedRef::from_bytes(&value.value())?));
        }
        Ok(out)
    }

    /// True when the blob is in a pack or in the backing repository.
    pub fn has_blob(&self, id: &BlobId) -> Result<bool> {
        Ok(self.blob(id)?.is_some() || self.backed(id)?.is_some())
    }

    /// A blob's length, wherever it is.
    pub fn blob_len(&self, id: &BlobId) -> Result<Option<u64>> {
        match self.blob(id)? {
            Some(location) => Ok(Some(location.raw_len)),
            None => Ok(self.backed(id)?.map(|b| b.raw_len)),
        }
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
