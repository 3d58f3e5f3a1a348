//! The store: a directory with `index.redb`, `packs/`, `tmp/` and `lock` (FORMAT.md).
//! Writers add blobs and objects through a [`Batch`], which becomes one pack and one index
//! transaction, in that order.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, IoContext, Result};
use crate::index::{Index, IndexReader};
use crate::lock::StoreLock;
use crate::pack::reader::BlobReader;
use crate::pack::writer::{compress, pack_path, PackWriter};
use crate::pack::BlobLocation;
use rejig_format::id::{BlobId, ObjectId, ObjectKey, ObjectType, PackId};
use rejig_format::object::metadata_checksum;
use rejig_format::record::ObjectRecord;

/// Blobs up to this size are read, hashed and compressed in memory by worker threads; larger
/// ones stream through the pack writer.
pub const IN_MEMORY_BLOB_LIMIT: u64 = 8 << 20;

/// An open store, held exclusively by this process.
pub struct Store {
    root: PathBuf,
    index: Index,
    open_packs: Mutex<HashMap<PackId, Arc<File>>>,
    _lock: StoreLock,
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::invalid("store", "a worker thread panicked while holding a lock")
}

impl Store {
    /// Opens or creates the store at `root`. If another process holds it, `on_wait` is told
    /// who, and the call waits. While this process holds the store, waiters are told only its
    /// pid; [`Store::open_as`] says more.
    pub fn open(root: &Path, on_wait: &dyn Fn(&str)) -> Result<Self> {
        Self::open_as(root, &crate::lock::default_holder(), on_wait)
    }

    /// Like [`Store::open`], and while this process holds the store, a process that waits for
    /// it is told `holder` (e.g. `rejig export (pid 1234)`): the caller knows what it is doing,
    /// the store does not.
    pub fn open_as(root: &Path, holder: &str, on_wait: &dyn Fn(&str)) -> Result<Self> {
        for dir in [root.to_path_buf(), root.join("packs"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).at(&dir)?;
        }
        let lock = StoreLock::acquire(&root.join("lock"), holder, on_wait)?;
        // Anything in tmp/ belongs to a writer that died: it was never referenced.
        let tmp = root.join("tmp");
        for entry in std::fs::read_dir(&tmp).at(&tmp)? {
            let path = entry.at(&tmp)?.path();
            std::fs::remove_file(&path).at(&path)?;
        }
        let index = Index::open(&root.join("index.redb"))?;
        Ok(Self { root: root.to_path_buf(), index, open_packs: Mutex::new(HashMap::new()), _lock: lock })
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of pack files.
    pub fn packs_dir(&self) -> PathBuf {
        self.root.join("packs")
    }

    /// The directory where package downloads wait to be imported (FORMAT.md §1), created
    /// if missing. Its files are only a cache: `gc` empties it.
    pub fn downloads_dir(&self) -> Result<PathBuf> {
        let dir = self.downloads_path();
        std::fs::create_dir_all(&dir).at(&dir)?;
        Ok(dir)
    }

    /// Where [`Store::downloads_dir`] is, whether or not it exists.
    pub(crate) fn downloads_path(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// Records `commit` as a root used now (a root already, or one from now on): `gc` keeps
    /// the most recently used roots longest. The exporter calls it for every commit it writes.
    pub fn touch_root(&self, commit: ObjectId) -> Result<()> {
        self.index.touch_roots(&[ObjectKey::new(commit, ObjectType::Commit)])
    }

    /// The index, for the store's own maintenance (gc, fsck); callers read through
    /// [`Store::reader`].
    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// A snapshot of the index for lookups.
    pub fn reader(&self) -> Result<IndexReader<'_>> {
        self.index.reader()
    }

    fn pack_file(&self, id: &PackId) -> Result<Arc<File>> {
        let mut open = self.open_packs.lock().map_err(poisoned)?;
        if let Some(file) = open.get(id) {
            return Ok(file.clone());
        }
        let path = pack_path(&self.packs_dir(), id);
        let file = Arc::new(File::open(&path).at(&path)?);
        open.insert(*id, file.clone());
        Ok(file)
    }

    /// Closes the cached pack files, so packs deleted by a collection free their space now.
    pub(crate) fn forget_open_packs(&self) -> Result<()> {
        self.open_packs.lock().map_err(poisoned)?.clear();
        Ok(())
    }

    /// Streams a blob; the stream fails if the bytes do not match the blob's BLAKE3.
    pub fn open_blob(&self, id: BlobId, location: BlobLocation) -> Result<BlobReader> {
        BlobReader::new(self.pack_file(&location.pack)?, id, location)
    }

    /// Reads a whole blob, verified.
    pub fn read_blob(&self, reader: &IndexReader<'_>, id: BlobId) -> Result<Vec<u8>> {
        let location = reader.blob(&id)?.ok_or(Error::MissingBlob(id))?;
        self.open_blob(id, location)?.read_all()
    }

    /// Reads a metadata object's bytes and checks them against its checksum.
    pub fn read_metadata(&self, reader: &IndexReader<'_>, key: ObjectKey) -> Result<Vec<u8>> {
        let record = reader.object(&key)?.ok_or(Error::MissingObject(key))?;
        let ObjectRecord::Metadata { blob } = record else {
            return Err(Error::invalid("object record", format!("{key} is not a metadata object")));
        };
        let bytes = self.read_blob(reader, blob)?;
        // Detached metadata and a jigdo part list are named after their commit.
        if !matches!(key.kind, rejig_format::id::ObjectType::CommitMeta | rejig_format::id::ObjectType::JigdoParts) {
            let actual = metadata_checksum(&bytes);
            if actual != key.id {
                return Err(Error::ObjectChecksum { key, actual: actual.to_hex() });
            }
        }
        Ok(bytes)
    }

    /// Starts a batch of additions: it becomes one pack and one index transaction.
    pub fn batch(&self) -> Result<Batch<'_>> {
        Ok(Batch {
            store: self,
            reader: self.reader()?,
            pack: Mutex::new(PackWriter::create(&self.root.join("tmp"), &self.packs_dir())?),
            added: Mutex::new(HashSet::new()),
            roots: Mutex::new(Vec::new()),
        })
    }
}

/// Additions that become durable together. Methods take `&self` so that worker threads can
/// add blobs and objects concurrently. Dropping a batch without [`Batch::commit`] leaves the
/// store unchanged.
pub struct Batch<'s> {
    store: &'s Store,
    reader: IndexReader<'s>,
    pack: Mutex<PackWriter>,
    added: Mutex<HashSet<ObjectKey>>,
    roots: Mutex<Vec<ObjectKey>>,
}

/// What a committed batch wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// The new pack, if anything was written.
    pub pack: Option<PackId>,
    /// Blobs stored.
    pub blobs: u64,
    /// Raw bytes of those blobs.
    pub raw_bytes: u64,
    /// Bytes the pack takes on disk.
    pub pack_bytes: u64,
    /// Objects recorded.
    pub objects: u64,
}

impl Batch<'_> {
    fn pack(&self) -> Result<MutexGuard<'_, PackWriter>> {
        self.pack.lock().map_err(poisoned)
    }

    /// The store this batch writes to.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// True when the store or this batch already has the object.
    pub fn has_object(&self, key: &ObjectKey) -> Result<bool> {
        Ok(self.added.lock().map_err(poisoned)?.contains(key) || self.reader.contains_object(key)?)
    }

    fn blob_known(&self, id: &BlobId) -> bool {
        matches!(self.reader.blob(id), Ok(Some(_)))
    }

    /// Stores `raw` as a blob unless the store has it already. Hashing and compression run on
    /// the calling thread; only the append is serialised.
    pub fn add_blob(&self, raw: &[u8]) -> Result<BlobId> {
        let id = BlobId::of(raw);
        if self.blob_known(&id) || self.pack()?.contains_blob(&id) {
            return Ok(id);
        }
        let (codec, stored) = compress(raw)?;
        self.pack()?.append(id, codec, &stored, raw.len() as u64)?;
        Ok(id)
    }

    /// Stores a blob of any size from a stream without holding it in memory. Returns its id
    /// and length.
    pub fn add_blob_stream(&self, reader: &mut dyn Read) -> Result<(BlobId, u64)> {
        self.pack()?.append_stream(reader, &|id| self.blob_known(id))
    }

    /// Records an object. The caller has verified its checksum.
    pub fn add_object(&self, key: ObjectKey, record: &ObjectRecord) -> Result<()> {
        if self.added.lock().map_err(poisoned)?.insert(key) {
            self.pack()?.add_object(key, record);
        }
        Ok(())
    }

    /// Records a metadata object (dirtree, dirmeta, commit, commitmeta) by its exact bytes,
    /// unless the store already has it. The caller has verified its checksum.
    pub fn add_metadata(&self, key: ObjectKey, bytes: &[u8]) -> Result<()> {
        if !self.has_object(&key)? {
            let blob = self.add_blob(bytes)?;
            self.add_object(key, &ObjectRecord::Metadata { blob })?;
        }
        Ok(())
    }

    /// Records a package manifest (stored as a blob) under its main-header SHA-256.
    pub fn add_package(&self, manifest: &rejig_format::manifest::PackageManifest) -> Result<()> {
        let blob = self.add_blob(&manifest.encode())?;
        self.pack()?.add_package(manifest.header_sha256, blob);
        Ok(())
    }

    /// Marks a commit as a root to keep (and as used now).
    pub fn add_root(&self, key: ObjectKey) -> Result<()> {
        self.roots.lock().map_err(poisoned)?.push(key);
        Ok(())
    }

    /// Makes the additions durable: pack, fsync, rename, then the index transaction. A batch
    /// that adds nothing but roots the store already holds writes no pack; it only records
    /// their use in the index.
    pub fn commit(self) -> Result<BatchSummary> {
        let mut pack = self.pack.into_inner().map_err(poisoned)?;
        let roots = self.roots.into_inner().map_err(poisoned)?;
        if pack.is_empty() {
            self.store.index.touch_roots(&roots)?;
            return Ok(BatchSummary::default());
        }
        for root in roots {
            pack.add_root(root);
        }
        let Some(finished) = pack.finish()? else {
            return Ok(BatchSummary::default());
        };
        self.store.index.commit_pack(&finished)?;
        Ok(BatchSummary {
            pack: Some(finished.id),
            blobs: finished.trailer.blobs.len() as u64,
            raw_bytes: finished.trailer.blobs.iter().map(|b| b.raw_len).sum(),
            pack_bytes: finished.size,
            objects: finished.trailer.objects.len() as u64,
        })
    }
}
