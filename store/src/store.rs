//! The store: a directory with `index.redb`, `packs/`, `tmp/` and `lock` (FORMAT.md).
//! Writers add blobs and objects through a [`Batch`], which becomes one pack and one index
//! transaction, in that order.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backing::BackedRef;
use crate::error::{Error, IoContext, Result};
use crate::identity::StoreId;
use crate::index::{Index, IndexReader, Opened, Probed};
use crate::journal::Journal;
use crate::lock::StoreLock;
use crate::pack::cache::PackCache;
use crate::pack::reader::BlobReader;
use crate::pack::writer::{compress, FinishedPack, PackWriter};
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
    id: StoreId,
    /// Why the index on disk is not trusted, for a store opened for repair (None: it is).
    distrusted: Option<String>,
    /// True while a store opened for repair waits for its rebuilt index.
    rebuilding: std::sync::atomic::AtomicBool,
    /// Open pack files, bounded (see `pack/cache.rs`).
    open_packs: PackCache,
    /// The reader of the repository backing this store, once installed (`backing.rs`).
    backing: std::sync::RwLock<Option<Arc<dyn crate::backing::RepoObjects>>>,
    /// The bucket this store is the cache of, for a store on object storage (`sync.rs`).
    remote: Option<crate::sync::Remote>,
    _lock: StoreLock,
}

/// How [`Store::open_with`] treats the path and the index (FORMAT.md §1 "Which commands
/// create a store", §3 "Trust").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Writers (import, build, export of a jigdo): create the store if the path is new or an
    /// empty directory.
    Create,
    /// Readers (fsck, gc, export of a commit): the path must already be a store.
    Existing,
    /// `fsck --repair`: the path must be a store; its index is not read, and the store holds
    /// an empty placeholder until [`crate::fsck::repair`] swaps the rebuilt one in.
    Repair,
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::invalid("store", "a worker thread panicked while holding a lock")
}

/// The file name of the roots journal (FORMAT.md §3a).
pub const JOURNAL: &str = "roots.journal";

/// Says whether `root` can be a store in `mode`: a directory (or a symlink to one) that holds
/// a store, or for [`OpenMode::Create`], a new path or an empty directory.
fn check_path(root: &Path, mode: OpenMode) -> Result<()> {
    let not_a_store = |detail: String| Error::NotAStore { path: root.to_path_buf(), detail };
    let link = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match mode {
                OpenMode::Create => Ok(()),
                _ => Err(not_a_store("it does not exist".into())),
            };
        }
        Err(e) => return Err(Error::io(root, e)),
    };
    let metadata = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && link.file_type().is_symlink() => {
            let target = std::fs::read_link(root).map(|t| t.display().to_string()).unwrap_or_default();
            return Err(not_a_store(format!("it is a symbolic link to {target}, which does not exist")));
        }
        Err(e) => return Err(Error::io(root, e)),
    };
    if !metadata.is_dir() {
        return Err(not_a_store("it is a file, not a directory".into()));
    }
    let holds_store = ["index.redb", "packs", crate::identity::FILE].iter().any(|name| root.join(name).exists());
    if mode != OpenMode::Create && !holds_store {
        return Err(not_a_store(
            "it holds no index.redb, packs/ or store.id; only import, build and export of a jigdo create a store"
                .into(),
        ));
    }
    Ok(())
}

/// True when `packs/` holds at least one pack file.
fn has_packs(packs: &Path) -> Result<bool> {
    for entry in std::fs::read_dir(packs).at(packs)? {
        if entry.at(packs)?.path().extension().is_some_and(|e| e == "pack") {
            return Ok(true);
        }
    }
    Ok(false)
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
        Self::open_with(root, holder, OpenMode::Create, on_wait)
    }

    /// Opens the store at `root` as `mode` says. A store whose packs are there but whose index
    /// is missing, empty, damaged or another store's is refused (except for repair): it is
    /// never taken for an empty store.
    pub fn open_with(root: &Path, holder: &str, mode: OpenMode, on_wait: &dyn Fn(&str)) -> Result<Self> {
        check_path(root, mode)?;
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
        let (index, id, distrusted) = match mode {
            OpenMode::Repair => {
                let (id, distrusted) = Self::identity_for_repair(root)?;
                (Index::in_memory()?, id, distrusted)
            }
            _ => {
                let (index, id) = Self::trusted_index(root)?;
                (index, id, None)
            }
        };
        let store = Self {
            root: root.to_path_buf(),
            index,
            id,
            distrusted,
            rebuilding: std::sync::atomic::AtomicBool::new(mode == OpenMode::Repair),
            open_packs: PackCache::new(&root.join("packs")),
            backing: std::sync::RwLock::new(None),
            remote: None,
            _lock: lock,
        };
        if mode != OpenMode::Repair {
            store.attach_journal()?;
        }
        Ok(store)
    }

    /// Opens the store on object storage at `address` (`s3://BUCKET/PREFIX`) through its
    /// local cache, and brings the cache's index up to date with the bucket (`sync.rs`).
    pub fn open_remote(
        address: &str,
        options: &crate::sync::RemoteOptions,
        holder: &str,
        mode: OpenMode,
        on_wait: &dyn Fn(&str),
    ) -> Result<Self> {
        crate::sync::open(crate::sync::connect(address)?, options, holder, mode, on_wait)
    }

    pub(crate) fn with_remote(mut self, remote: crate::sync::Remote) -> Self {
        self.remote = Some(remote);
        self
    }

    /// The bucket behind this store, when it is on object storage.
    pub fn remote(&self) -> Option<&crate::sync::Remote> {
        self.remote.as_ref()
    }

    /// Opens the store's index if it is this store's trusted index; creates it for a store
    /// with no packs and no index; refuses anything else.
    fn trusted_index(root: &Path) -> Result<(Index, StoreId)> {
        let path = root.join("index.redb");
        let refuse = |detail: String| Error::IndexUntrusted { store: root.to_path_buf(), detail };
        let recorded = match crate::identity::read(root) {
            Ok(id) => id,
            Err(e) => return Err(refuse(rejig_format::chain(&e))),
        };
        match Index::open_existing(&path)? {
            Opened::Index(index, Some(found)) => match recorded {
                Some(id) if id == found => Ok((index, id)),
                Some(id) => Err(refuse(format!(
                    "index.redb belongs to another store (identity {}, this store is {})",
                    found.to_hex(),
                    id.to_hex()
                ))),
                None => {
                    // The index got its identity and the crash came before store.id did.
                    crate::identity::write(root, &found)?;
                    Ok((index, found))
                }
            },
            Opened::Index(index, None) => match recorded {
                Some(_) => Err(refuse("index.redb carries no store identity".into())),
                None => {
                    // A store made before identities: the index first, then store.id.
                    let id = StoreId::generate(root);
                    index.set_identity(&id)?;
                    crate::identity::write(root, &id)?;
                    Ok((index, id))
                }
            },
            Opened::Unusable(why) => Err(refuse(format!("index.redb is damaged: {why}"))),
            Opened::Missing if has_packs(&root.join("packs"))? => {
                Err(refuse("index.redb is missing but packs/ holds packs".into()))
            }
            Opened::Missing => {
                // A new store: its identity, then its index, each published by rename.
                let id = match recorded {
                    Some(id) => id,
                    None => {
                        let id = StoreId::generate(root);
                        crate::identity::write(root, &id)?;
                        id
                    }
                };
                let fresh = root.join("tmp").join("index.redb.new");
                drop(Index::create(&fresh, &id)?);
                crate::durable::rename(&fresh, &path)?;
                match Index::open_existing(&path)? {
                    Opened::Index(index, Some(found)) if found == id => Ok((index, id)),
                    _ => Err(refuse("the index just created does not open".into())),
                }
            }
        }
    }

    /// The identity a repair gives the rebuilt index, and why the index on disk is not
    /// trusted (None: it is).
    fn identity_for_repair(root: &Path) -> Result<(StoreId, Option<String>)> {
        let recorded = crate::identity::read(root).ok().flatten();
        let (found, distrusted) = match Index::probe(&root.join("index.redb"))? {
            Probed::Index(Some(found)) if recorded.is_none_or(|r| r == found) => (Some(found), None),
            Probed::Index(Some(found)) => (Some(found), Some("it belongs to another store".to_owned())),
            Probed::Index(None) => (None, None),
            Probed::Unusable(why) => (None, Some(why)),
            Probed::Missing => (None, None),
        };
        let id = match (recorded, found) {
            (Some(id), _) => id,
            (None, Some(found)) if distrusted.is_none() => found,
            _ => StoreId::generate(root),
        };
        if recorded != Some(id) {
            crate::identity::write(root, &id)?;
        }
        Ok((id, distrusted))
    }

    /// Opens the roots journal for appends (seeding it from the index if it is missing or
    /// another store's) and attaches it to the index.
    pub(crate) fn attach_journal(&self) -> Result<()> {
        let roots = self.index.reader()?.roots()?;
        let journal = Journal::open(&self.root.join(JOURNAL), &self.id, &self.root.join("tmp"), &roots)?;
        self.index.attach_journal(journal)
    }

    /// Rewrites the roots journal with one record per root, its latest (FORMAT.md §3a), so
    /// that it does not grow without end. Drops are kept: packs may still list those roots.
    pub(crate) fn compact_journal(&self) -> Result<()> {
        let path = self.root.join(JOURNAL);
        let Some(state) = crate::journal::read(&path, &self.id)? else { return Ok(()) };
        let mut records: Vec<_> = state.roots.iter().map(|(key, (event, stamp))| (*event, *key, *stamp)).collect();
        records.sort_by(|a, b| a.2.cmp(&b.2).then(a.1.cmp(&b.1)));
        drop(self.index.detach_journal()?);
        let journal = Journal::rewrite(&path, &self.id, &self.root.join("tmp"), &records)?;
        self.index.attach_journal(journal)
    }

    /// The store's identity.
    pub fn id(&self) -> StoreId {
        self.id
    }

    /// Why the index on disk was not trusted when the store was opened for repair.
    pub(crate) fn distrusted(&self) -> Option<&str> {
        self.distrusted.as_deref()
    }

    /// Fails while a store opened for repair has not been repaired yet.
    pub(crate) fn require_index(&self) -> Result<()> {
        match self.rebuilding.load(std::sync::atomic::Ordering::SeqCst) {
            true => Err(Error::invalid("store", "the store was opened for repair and its index is not rebuilt yet")),
            false => Ok(()),
        }
    }

    /// Marks the rebuilt index as in place.
    pub(crate) fn rebuilt(&self) {
        self.rebuilding.store(false, std::sync::atomic::Ordering::SeqCst);
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
        self.require_index()?;
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

    /// The open file of a pack, through the bounded cache: every read of a pack (blobs,
    /// trailers for gc and fsck) goes through here.
    pub(crate) fn pack_file(&self, id: &PackId) -> Result<Arc<File>> {
        if let Some(remote) = &self.remote {
            remote.ensure_local(id)?;
        }
        self.open_packs.get(id)
    }

    /// How many pack files this store keeps open at most.
    pub fn open_pack_limit(&self) -> usize {
        self.open_packs.capacity()
    }

    /// Closes the cached handle of one pack, whose file was just replaced.
    pub(crate) fn forget_pack(&self, id: &PackId) -> Result<()> {
        self.open_packs.forget(id)
    }

    /// Closes the cached pack files, so packs deleted by a collection free their space now.
    pub(crate) fn forget_open_packs(&self) -> Result<()> {
        self.open_packs.clear()
    }

    /// Streams a blob; the stream fails if the bytes do not match the blob's BLAKE3.
    pub fn open_blob(&self, id: BlobId, location: BlobLocation) -> Result<BlobReader> {
        if let Some(remote) = &self.remote {
            if let Some(stored) = remote.read_stored(&location)? {
                return BlobReader::from_stored(stored, id, location);
            }
        }
        BlobReader::new(self.pack_file(&location.pack)?, id, location)
    }

    /// Reads a whole blob, verified, from its pack or the backing repository.
    pub fn read_blob(&self, reader: &IndexReader<'_>, id: BlobId) -> Result<Vec<u8>> {
        let source = self.blob_source(reader, &id)?.ok_or(Error::MissingBlob(id))?;
        self.open_source(id, source)?.read_all()
    }

    /// The slot of the backing repository's reader (`backing.rs`).
    pub(crate) fn backing_slot(&self) -> &std::sync::RwLock<Option<Arc<dyn crate::backing::RepoObjects>>> {
        &self.backing
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
        self.require_index()?;
        Ok(Batch {
            store: self,
            reader: self.reader()?,
            pack: Mutex::new(PackWriter::create(&self.root.join("tmp"), &self.packs_dir())?),
            added: Mutex::new(HashSet::new()),
            roots: Mutex::new(Vec::new()),
            backed: Mutex::new(Vec::new()),
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
    /// Blobs written into the backing repository by a direct import (`backing.rs`).
    backed: Mutex<Vec<(BlobId, BackedRef)>>,
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

impl<'s> Batch<'s> {
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

    /// Records, with the batch, that a repository object holds a blob ([`Batch::add_backed_file`]).
    pub(crate) fn add_backed(&self, blob: BlobId, backed: BackedRef) -> Result<()> {
        self.backed.lock().map_err(poisoned)?.push((blob, backed));
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
        let store = self.store;
        Ok(store.commit_finished(vec![self.finish_pack()?])?.pop().unwrap_or_default())
    }

    /// Writes the batch's pack and makes it durable (fsync, rename) without recording it in
    /// the index: until [`Store::commit_finished`] records it, nothing in the store refers to
    /// it. A caller importing many packages finishes each as soon as it is imported, so the
    /// disk works while the cores go on, and records them all at the end.
    pub fn finish_pack(self) -> Result<FinishedBatch<'s>> {
        let store = self.store;
        let mut pack = self.pack.into_inner().map_err(poisoned)?;
        let roots = self.roots.into_inner().map_err(poisoned)?;
        let backed = self.backed.into_inner().map_err(poisoned)?;
        if pack.is_empty() {
            return Ok(FinishedBatch { store, pack: None, roots, backed });
        }
        for root in roots {
            pack.add_root(root);
        }
        Ok(FinishedBatch { store, pack: pack.finish()?, roots: Vec::new(), backed })
    }
}

/// A batch whose pack is durable but not yet in the index ([`Batch::finish_pack`]). Dropped
/// unrecorded, its pack file is deleted, unless the index already lists a pack of that name
/// (the same entries, written again over a damaged copy).
pub struct FinishedBatch<'s> {
    store: &'s Store,
    pack: Option<FinishedPack>,
    /// The roots to touch when the batch wrote no pack.
    roots: Vec<ObjectKey>,
    /// Blobs a direct import wrote into the backing repository.
    backed: Vec<(BlobId, BackedRef)>,
}

impl Drop for FinishedBatch<'_> {
    fn drop(&mut self) {
        let Some(pack) = self.pack.take() else { return };
        let indexed =
            self.store.reader().and_then(|r| r.packs()).map_or(true, |p| p.iter().any(|(id, _)| *id == pack.id));
        if !indexed {
            let _ = std::fs::remove_file(crate::pack::writer::pack_path(&self.store.packs_dir(), &pack.id));
        }
    }
}

impl Store {
    /// Records finished batches ([`Batch::finish_pack`]) in one index transaction, after
    /// uploading their packs when the store is on object storage. Until that transaction
    /// none of them is in the store. A jigdo export finishes each package's batch as it is
    /// imported and records them all once every package has been fetched and checked.
    pub fn commit_finished(&self, finished: Vec<FinishedBatch<'_>>) -> Result<Vec<BatchSummary>> {
        let mut packs = Vec::new();
        let mut touched = Vec::new();
        let mut backed = Vec::new();
        let mut summaries = Vec::with_capacity(finished.len());
        for mut batch in finished {
            touched.append(&mut batch.roots);
            backed.append(&mut batch.backed);
            let Some(pack) = batch.pack.take() else {
                summaries.push(BatchSummary::default());
                continue;
            };
            summaries.push(BatchSummary {
                pack: Some(pack.id),
                blobs: pack.trailer.blobs.len() as u64,
                raw_bytes: pack.trailer.blobs.iter().map(|b| b.raw_len).sum(),
                pack_bytes: pack.size,
                objects: pack.trailer.objects.len() as u64,
            });
            packs.push(pack);
        }
        if !touched.is_empty() {
            self.index.touch_roots(&touched)?;
        }
        for pack in &packs {
            // A pack of this name may have replaced a damaged one: no cached handle may keep
            // reading the old file.
            self.forget_pack(&pack.id)?;
            // On object storage the pack is in the bucket before anything refers to it.
            if let Some(remote) = &self.remote {
                remote.upload(pack)?;
            }
        }
        if let Some((_, first)) = backed.first() {
            // A backed entry promises its object: the repository is durable before the index
            // names anything in it (FORMAT.md §3b, direct import).
            let objects = self.backing().ok_or_else(|| Error::invalid("store", "a direct import without a backing"))?;
            objects.sync().map_err(|e| Error::RepoObject {
                key: first.key,
                repo: objects.path().into(),
                detail: format!("cannot make the repository durable: {e}"),
            })?;
        }
        if !packs.is_empty() || !backed.is_empty() {
            self.index.commit_packs_and_backed(&packs, &backed)?;
        }
        Ok(summaries)
    }
}
