//! A store shared through object storage (DESIGN.md "Build farms", FORMAT.md §9). The bucket
//! holds the packs, which are immutable and list in their trailers everything they hold;
//! each builder keeps a local store in its cache folder whose index is built from those
//! trailers, and whose `packs/` holds a byte-bounded subset of the packs, fetched on first
//! read. The rest of rejig sees an ordinary [`Store`].
//!
//! - **Write once, then visible.** A batch's pack is uploaded with a conditional create
//!   (If-None-Match: *) before the local index refers to it; nothing in the bucket ever
//!   refers to a pack, so a builder killed mid-upload leaves at most a pack nobody lists
//!   (an S3 PUT is all or nothing).
//! - **Sync.** At open, one listing of the bucket; each pack not yet known has its trailer
//!   read with range requests (concurrently), checked against the pack's name, kept in the
//!   cache's `trailers/` and committed to the index. A trailer is never read twice: the
//!   cache remembers it, and remembers a pack it refused.
//! - **Leases.** Every process that opens the store writes a shared lock object
//!   (`locks/shared-<lease>-<id>`) and refreshes it every third of its lease; gc writes an
//!   exclusive one and waits until no other lock is live. A killed process's lock expires.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backend::{Backend, Created, Listed};
use crate::error::{Error, IoContext, Result};
use crate::identity::StoreId;
use crate::index::GcChanges;
use crate::pack::reader::read_trailer;
use crate::pack::writer::{pack_path, FinishedPack};
use crate::store::{OpenMode, Store};
use rejig_format::id::{ObjectKey, PackId};
use rejig_format::pack::trailer::Trailer;
use rejig_format::pack::END_MAGIC;

/// How a store on object storage is reached and cached.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// The folder that holds one local cache per store (index, trailers, packs).
    pub cache_root: PathBuf,
    /// The most bytes of packs the cache keeps (packs being read are kept regardless).
    pub cache_limit: u64,
    /// How long a lock object stays live without a refresh.
    pub lease: Duration,
    /// How long to wait for a gc (or, for gc, for the builders) before giving up.
    pub wait: Duration,
}

impl RemoteOptions {
    /// The defaults: `cache_root` under `$XDG_CACHE_HOME/rejig/s3` (else `~/.cache/...`),
    /// 8 GiB of packs, a 60 s lease, and `REJIG_S3_LEASE_SECS`, `REJIG_CACHE_LIMIT` and
    /// `REJIG_S3_WAIT_SECS` when set.
    pub fn from_env(cache_root: Option<PathBuf>) -> Result<Self> {
        let cache_root = match cache_root {
            Some(dir) => dir,
            None => default_cache_root()?,
        };
        let number = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(v) => {
                    v.trim().parse().map_err(|_| Error::invalid("environment", format!("{name}={v:?} is not a number")))
                }
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            cache_root,
            cache_limit: number("REJIG_CACHE_LIMIT", 8 << 30)?,
            lease: Duration::from_secs(number("REJIG_S3_LEASE_SECS", 60)?.max(1)),
            wait: Duration::from_secs(number("REJIG_S3_WAIT_SECS", 3600)?),
        })
    }
}

/// `$XDG_CACHE_HOME/rejig/s3`, else `~/.cache/rejig/s3`.
pub fn default_cache_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("rejig/s3"));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| Error::invalid("cache", "neither --cache, XDG_CACHE_HOME nor HOME is set"))?;
    Ok(PathBuf::from(home).join(".cache/rejig/s3"))
}

/// Connects to the backend an address names (`s3://BUCKET/PREFIX`).
pub fn connect(address: &str) -> Result<Arc<dyn Backend>> {
    let parsed = crate::backend::S3Address::parse(address)?;
    Ok(Arc::new(crate::backend::s3::S3Backend::connect(&parsed)?))
}

/// What one sync found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SyncReport {
    /// Packs in the bucket.
    pub packs: u64,
    /// Trailers read from the bucket this time.
    pub trailers_fetched: u64,
    /// Packs newly committed to the local index.
    pub packs_added: u64,
    /// True when packs had vanished (a gc ran) and the index was rebuilt from the trailers.
    pub rebuilt: bool,
    /// Roots gc dropped, dropped here too.
    pub roots_dropped: u64,
    /// Trailer bundles read from the bucket this time.
    pub bundles_read: u64,
    /// Trailers taken from those bundles (each checked against its pack's name).
    pub trailers_from_bundles: u64,
    /// Trailer bundles written to the bucket this time.
    pub bundles_written: u64,
    /// Package manifests of new packs fetched into the cache this time, 16 at a time.
    pub manifests_fetched: u64,
}

/// The key of a pack in the bucket.
pub fn pack_key(id: &PackId) -> String {
    format!("packs/{id}.pack")
}

const DROPPED: &str = "dropped/";
const LOCKS: &str = "locks/";
const TRAILERS: &str = "trailers";
/// Trailer bundles in the bucket (FORMAT.md §10): `bundles/<BLAKE3 of the object, hex>`.
const BUNDLES: &str = "bundles/";
/// The first bytes of a trailer bundle.
const BUNDLE_MAGIC: &[u8; 8] = b"RJTRBDL1";
/// Trailers missing from a cache that make reading the bundles worth it, and trailers read one
/// by one (or packs uploaded) that make writing a bundle of them worth it.
const BUNDLE_MIN: usize = 16;
/// Packs uploaded after which a bundle of their trailers is written without waiting for the
/// store to close.
const BUNDLE_MAX: usize = 256;
/// Stored bytes of package manifests (and other blobs) kept in the cache, read during a sync:
/// `stored/<pack id hex>/<offset>-<stored len>`, holding `BLAKE3 of the bytes ‖ the bytes`.
const STORED: &str = "stored";
/// The largest manifest a sync fetches ahead.
const MANIFEST_AHEAD_MAX: u64 = 4 << 20;
/// Windows of a pack read with ranged reads before the pack is fetched whole.
const RANGED_READS_PER_PACK: u32 = 16;
/// The span of one ranged read of a pack not in the cache. Objects a flow reads one after
/// another tend to sit together (a commit import writes all its directory objects after its
/// content), so one window serves many reads, while a builder that needs a few objects of a
/// big pack fetches a few MiB of it rather than all of it.
const WINDOW: u64 = 4 << 20;
/// The bytes of windows kept in memory; over this, they are dropped and read again if needed.
const WINDOWS_KEPT: u64 = 256 << 20;
/// The bytes read from a pack's end in the first request: most trailers fit.
const TAIL_GUESS: u64 = 64 << 10;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A held lock object, refreshed by a thread until dropped.
struct Lease {
    backend: Arc<dyn Backend>,
    key: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl Lease {
    fn write(backend: &Arc<dyn Backend>, kind: &str, lease: Duration, holder: &str) -> Result<Self> {
        let id = StoreId::generate(Path::new(holder)).to_hex();
        let key = format!("{LOCKS}{kind}-{}-{id}", lease.as_secs());
        backend.put(&key, holder.as_bytes().to_vec())?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let refresher = {
            let backend = backend.clone();
            let key = key.clone();
            let body = holder.as_bytes().to_vec();
            let every = lease / 3;
            std::thread::Builder::new()
                .name("rejig-lease".into())
                .spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                        // A failed refresh is retried at the next tick; the lease covers two.
                        let _ = backend.put(&key, body.clone());
                    }
                })
                .map_err(|e| Error::io("lease thread", e))?
        };
        Ok(Self { backend: backend.clone(), key, stop: Some(stop), refresher: Some(refresher) })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.refresher.take() {
            let _ = thread.join();
        }
        let _ = self.backend.delete(&self.key);
    }
}

/// A live lock object: its kind, key and holder.
fn live_locks(backend: &dyn Backend, except: &[&str]) -> Result<Vec<(String, String)>> {
    let now = now_secs();
    let mut live = Vec::new();
    for Listed { key, modified, .. } in backend.list(LOCKS)? {
        if except.contains(&key.as_str()) {
            continue;
        }
        let name = key.trim_start_matches(LOCKS);
        let mut parts = name.splitn(3, '-');
        let (Some(kind), Some(lease)) = (parts.next(), parts.next()) else { continue };
        let lease: u64 = lease.parse().unwrap_or(0);
        if modified.saturating_add(lease) >= now {
            live.push((kind.to_owned(), key));
        }
    }
    Ok(live)
}

/// The shared half of a [`Store`] on object storage.
pub struct Remote {
    backend: Arc<dyn Backend>,
    /// The local store folder (the cache of this store).
    dir: PathBuf,
    options: RemoteOptions,
    holder: String,
    shared: Mutex<Option<Lease>>,
    /// Problems the last sync found in the bucket: refused packs, stray objects.
    findings: Mutex<Vec<String>>,
    /// Drop markers seen by the last sync.
    dropped: Mutex<HashSet<ObjectKey>>,
    /// One download at a time, so two readers of one pack fetch it once.
    fetching: Mutex<()>,
    /// While fsck and gc need every pack local, the cache bound is not enforced.
    unbounded: AtomicBool,
    /// Ranged reads (windows) per pack not in the cache.
    ranged_reads: Mutex<HashMap<PackId, u32>>,
    /// Windows read from packs not in the cache: pack, start offset, bytes.
    windows: Mutex<Windows>,
    /// Ranged reads of one pack before it is fetched whole (`REJIG_S3_RANGED_READS`).
    ranged_reads_per_pack: u32,
    /// Packs this process uploaded whose trailers no bundle of its own lists yet.
    unbundled: Mutex<Vec<PackId>>,
}

impl Remote {
    /// The backend, for counters and messages.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// What the last sync found wrong in the bucket.
    pub fn findings(&self) -> Vec<String> {
        self.findings.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Writes the client's request counts to the file `REJIG_S3_STATS` names, if set.
    pub fn write_stats(&self) {
        if let Some(path) = std::env::var_os("REJIG_S3_STATS") {
            let _ = std::fs::write(path, self.backend.counters().to_json());
        }
    }

    /// Uploads a finished pack with a conditional create. An object of that name already
    /// there is the same pack (its name is the hash of its trailer), uploaded by another
    /// builder: that is success too.
    pub(crate) fn upload(&self, pack: &FinishedPack) -> Result<()> {
        let path = pack_path(&self.dir.join("packs"), &pack.id);
        let bytes = std::fs::read(&path).at(&path)?;
        // Created, or already there: either way the bucket holds this pack.
        self.backend.put_create(&pack_key(&pack.id), bytes)?;
        // A root built again after gc dropped it is live again for everyone.
        let revived: Vec<ObjectKey> = {
            let dropped = self.dropped.lock().map_err(poisoned)?;
            pack.trailer.roots.iter().filter(|key| dropped.contains(key)).copied().collect()
        };
        for key in revived {
            self.backend.delete(&drop_key(&key))?;
        }
        self.save_trailer(&pack.id, &pack.trailer, pack.size)?;
        let full: Option<Vec<PackId>> = {
            let mut unbundled = self.unbundled.lock().map_err(poisoned)?;
            unbundled.push(pack.id);
            (unbundled.len() >= BUNDLE_MAX).then(|| std::mem::take(&mut *unbundled))
        };
        if let Some(ids) = full {
            // A bundle only saves later syncs requests: failing to write one is no error.
            let _ = self.write_bundle(&ids);
        }
        Ok(())
    }

    /// Makes sure pack `id` is in the cache's `packs/`, fetching and checking it if not, and
    /// keeps the cache under its bound.
    pub(crate) fn ensure_local(&self, id: &PackId) -> Result<()> {
        let packs = self.dir.join("packs");
        let path = pack_path(&packs, id);
        if path.exists() {
            return Ok(());
        }
        let _one = self.fetching.lock().map_err(poisoned)?;
        if path.exists() {
            return Ok(());
        }
        let part = self.dir.join("tmp").join(format!("{id}.pack.part"));
        self.backend.download(&pack_key(id), &part).map_err(|e| {
            Error::invalid(
                "object storage",
                format!(
                    "pack {id} cannot be fetched from {} (did a gc run while its lease lapsed?): {e}",
                    self.describe()
                ),
            )
        })?;
        let file = std::fs::File::open(&part).at(&part)?;
        let (_, actual) = read_trailer(&file, &part)?;
        if actual != *id {
            let _ = std::fs::remove_file(&part);
            return Err(Error::Pack { path: part, detail: format!("its trailer hashes to {actual}, not its name") });
        }
        crate::durable::rename(&part, &path)?;
        if !self.unbounded.load(Ordering::SeqCst) {
            self.trim(Some(id))?;
        }
        Ok(())
    }

    /// The stored bytes of a small blob of a pack not in the cache, from a window of the pack
    /// read with one ranged request (or kept from an earlier one); `None` when the pack is
    /// local, the blob is large, or so many windows of the pack were read that fetching it
    /// whole is cheaper (the caller then reads it from the cache).
    pub(crate) fn read_stored(&self, location: &crate::pack::BlobLocation) -> Result<Option<Vec<u8>>> {
        if location.stored_len == 0 {
            // Nothing to read (an empty blob stored raw); S3 refuses an empty range.
            return Ok(Some(Vec::new()));
        }
        if !crate::pack::reader::BlobReader::fits_in_memory(location)
            || pack_path(&self.dir.join("packs"), &location.pack).exists()
        {
            return Ok(None);
        }
        let range = location.offset..location.offset.saturating_add(location.stored_len);
        if let Some(bytes) = self.windows.lock().map_err(poisoned)?.find(&location.pack, &range) {
            return Ok(Some(bytes));
        }
        if let Some(bytes) = self.cached_stored(&location.pack, location.offset, location.stored_len) {
            return Ok(Some(bytes));
        }
        {
            let mut reads = self.ranged_reads.lock().map_err(poisoned)?;
            let count = reads.entry(location.pack).or_insert(0);
            *count += 1;
            if *count > self.ranged_reads_per_pack {
                return Ok(None);
            }
        }
        // A window around the blob, within the pack's data (never into its trailer, whose
        // start the cached trailer records); the blob's own range when that is unknown.
        let window = match self.data_end(&location.pack) {
            Some(data_end) if range.end <= data_end => {
                let start = range.start - range.start % WINDOW;
                start..(start + WINDOW).max(range.end).min(data_end)
            }
            _ => range.clone(),
        };
        let key = pack_key(&location.pack);
        let Some(got) = self.backend.get_ranges(&[(key.clone(), window.clone())]).pop() else {
            return Ok(None);
        };
        let bytes = got?;
        if bytes.len() as u64 != window.end - window.start {
            return Err(Error::invalid(
                "object storage",
                format!("{key}: asked for bytes {window:?}, got {} bytes", bytes.len()),
            ));
        }
        let mut windows = self.windows.lock().map_err(poisoned)?;
        windows.insert(location.pack, window.start, bytes);
        Ok(windows.find(&location.pack, &range))
    }

    /// Where the data of pack `id` ends and its trailer starts, from the cached trailer.
    fn data_end(&self, id: &PackId) -> Option<u64> {
        let mut head = [0u8; 8];
        let mut file = std::fs::File::open(self.trailer_path(id)).ok()?;
        std::io::Read::read_exact(&mut file, &mut head).ok()?;
        Some(u64::from_le_bytes(head))
    }

    /// Deletes the least recently fetched packs until the cache fits its bound.
    fn trim(&self, keep: Option<&PackId>) -> Result<()> {
        let dir = self.dir.join("packs");
        let mut files = Vec::new();
        let mut total = 0u64;
        for entry in std::fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let meta = entry.metadata().at(entry.path())?;
            total += meta.len();
            let stem = entry.path().file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<PackId>().ok());
            if stem.as_ref() != keep {
                files.push((meta.modified().unwrap_or(UNIX_EPOCH), meta.len(), entry.path()));
            }
        }
        files.sort();
        for (_, len, path) in files {
            if total <= self.options.cache_limit {
                break;
            }
            std::fs::remove_file(&path).at(&path)?;
            total -= len;
        }
        Ok(())
    }

    fn trailer_path(&self, id: &PackId) -> PathBuf {
        self.dir.join(TRAILERS).join(id.to_hex())
    }

    /// Keeps a trailer in the cache: `data_end u64 LE ‖ trailer bytes`. The cache needs no
    /// fsync: a torn file fails its checksum and is read again from the bucket.
    fn save_trailer(&self, id: &PackId, trailer: &Trailer, size: u64) -> Result<()> {
        let (bytes, _) = trailer.encode();
        let data_end = size.saturating_sub(16 + bytes.len() as u64);
        let mut out = data_end.to_le_bytes().to_vec();
        out.extend_from_slice(&bytes);
        self.write_cache_file(&self.trailer_path(id), &out)
    }

    fn write_cache_file(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tmp = self.dir.join("tmp").join(format!("trailer-{}-{n}", std::process::id()));
        std::fs::write(&tmp, bytes).at(&tmp)?;
        std::fs::rename(&tmp, path).at(path)
    }

    fn cached_trailer(&self, id: &PackId) -> Option<Trailer> {
        let bytes = std::fs::read(self.trailer_path(id)).ok()?;
        let (end, body) = bytes.split_at_checked(8)?;
        let data_end = u64::from_le_bytes(end.try_into().ok()?);
        match Trailer::decode(body, data_end) {
            Ok((trailer, actual)) if actual == *id => Some(trailer),
            _ => None,
        }
    }

    fn refused_before(&self, id: &PackId) -> Option<String> {
        std::fs::read_to_string(self.dir.join(TRAILERS).join(format!("{}.bad", id.to_hex()))).ok()
    }

    fn stored_path(&self, pack: &PackId, offset: u64, len: u64) -> PathBuf {
        self.dir.join(STORED).join(pack.to_hex()).join(format!("{offset}-{len}"))
    }

    /// Stored bytes of a blob that a sync fetched ahead into the cache, if they are there and
    /// whole (the file carries their BLAKE3: the cache is not fsynced).
    fn cached_stored(&self, pack: &PackId, offset: u64, len: u64) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.stored_path(pack, offset, len)).ok()?;
        let (sum, body) = bytes.split_at_checked(32)?;
        (body.len() as u64 == len && blake3::hash(body).as_bytes() == sum).then(|| body.to_vec())
    }

    fn save_stored(&self, pack: &PackId, offset: u64, bytes: &[u8]) -> Result<()> {
        let path = self.stored_path(pack, offset, bytes.len() as u64);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).at(parent)?;
        }
        let mut out = blake3::hash(bytes).as_bytes().to_vec();
        out.extend_from_slice(bytes);
        self.write_cache_file(&path, &out)
    }

    /// Fetches the package manifests of `trailers`' packs that are neither in the cache's
    /// `packs/` nor in `stored/`, 16 requests at a time, so that describing a commit by its
    /// packages reads them from the disk. A failed fetch is left for the read to retry.
    fn fetch_manifests(&self, trailers: &HashMap<PackId, Trailer>) -> u64 {
        let packs = self.dir.join("packs");
        let mut wanted: Vec<(PackId, u64, u64)> = Vec::new();
        for (id, trailer) in trailers {
            if trailer.packages.is_empty() || pack_path(&packs, id).exists() {
                continue;
            }
            let blobs: HashMap<_, _> = trailer.blobs.iter().map(|b| (b.id, b)).collect();
            for (_, manifest) in &trailer.packages {
                if let Some(entry) = blobs.get(manifest) {
                    if entry.stored_len > 0
                        && entry.stored_len <= MANIFEST_AHEAD_MAX
                        && !self.stored_path(id, entry.offset, entry.stored_len).exists()
                    {
                        wanted.push((*id, entry.offset, entry.stored_len));
                    }
                }
            }
        }
        if wanted.is_empty() {
            return 0;
        }
        let ranges: Vec<(String, std::ops::Range<u64>)> =
            wanted.iter().map(|(id, offset, len)| (pack_key(id), *offset..offset + len)).collect();
        let mut fetched = 0;
        for ((id, offset, len), got) in wanted.iter().zip(self.backend.get_ranges(&ranges)) {
            if let Ok(bytes) = got {
                if bytes.len() as u64 == *len && self.save_stored(id, *offset, &bytes).is_ok() {
                    fetched += 1;
                }
            }
        }
        fetched
    }

    /// A cached trailer as a bundle entry: the pack's size and the trailer as stored, if the
    /// cached file is whole and names `id`.
    fn bundle_entry(&self, id: &PackId) -> Option<(u64, Vec<u8>)> {
        let bytes = std::fs::read(self.trailer_path(id)).ok()?;
        let (end, trailer) = bytes.split_at_checked(8)?;
        let data_end = u64::from_le_bytes(end.try_into().ok()?);
        let (sum, body) = trailer.split_at_checked(32)?;
        if sum != id.as_bytes() || blake3::hash(body).as_bytes() != sum {
            return None;
        }
        let size = data_end.checked_add(trailer.len() as u64)?.checked_add(16)?;
        Some((size, trailer.to_vec()))
    }

    /// The stored bytes at `offset..offset + len` of pack `id`, from `stored/` or from the
    /// pack in the cache; `None` when neither has them.
    fn local_stored(&self, id: &PackId, offset: u64, len: u64) -> Option<Vec<u8>> {
        if let Some(bytes) = self.cached_stored(id, offset, len) {
            return Some(bytes);
        }
        let file = std::fs::File::open(pack_path(&self.dir.join("packs"), id)).ok()?;
        let mut bytes = vec![0u8; usize::try_from(len).ok()?];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, offset).ok()?;
        Some(bytes)
    }

    /// Uploads a trailer bundle of the cached trailers of `packs`, with copies of their
    /// package manifests where the cache has them (FORMAT.md §10), named by its BLAKE3 and
    /// created only if absent. Every pack it lists is already in the bucket.
    fn write_bundle(&self, packs: &[PackId]) -> Result<Option<String>> {
        let mut owned: Vec<OwnedEntry> = Vec::new();
        for id in packs {
            let Some((size, trailer)) = self.bundle_entry(id) else { continue };
            let mut copies = Vec::new();
            if let Some(decoded) = self.cached_trailer(id) {
                let blobs: HashMap<_, _> = decoded.blobs.iter().map(|b| (b.id, b)).collect();
                for (_, manifest) in &decoded.packages {
                    let Some(entry) = blobs.get(manifest) else { continue };
                    if entry.stored_len > 0 && entry.stored_len <= MANIFEST_AHEAD_MAX {
                        if let Some(bytes) = self.local_stored(id, entry.offset, entry.stored_len) {
                            copies.push((entry.offset, bytes));
                        }
                    }
                }
            }
            owned.push((*id, size, trailer, copies));
        }
        if owned.is_empty() {
            return Ok(None);
        }
        let entries: Vec<BundleEntry<'_>> = owned
            .iter()
            .map(|(id, size, trailer, copies)| BundleEntry {
                id: *id,
                size: *size,
                trailer,
                copies: copies.iter().map(|(offset, bytes)| (*offset, bytes.as_slice())).collect(),
            })
            .collect();
        let bytes = encode_bundle(&entries);
        let name = blake3::hash(&bytes).to_hex().to_string();
        self.backend.put_create(&format!("{BUNDLES}{name}"), bytes)?;
        self.write_cache_file(&self.bundle_marker(&name), b"")?;
        Ok(Some(name))
    }

    /// Checks a bundle's copy of stored bytes at `offset` of pack `id` against the pack's
    /// (checked) trailer: a blob must start there with that stored length, and the bytes must
    /// decode to it.
    fn check_copy(&self, id: &PackId, trailer: &Trailer, offset: u64, bytes: &[u8]) -> std::result::Result<(), String> {
        let entry = trailer
            .blobs
            .iter()
            .find(|b| b.offset == offset && b.stored_len == bytes.len() as u64)
            .ok_or_else(|| format!("its copy at offset {offset} is no blob of the pack"))?;
        let location = crate::pack::BlobLocation {
            pack: *id,
            offset,
            stored_len: entry.stored_len,
            raw_len: entry.raw_len,
            codec: entry.codec,
        };
        crate::pack::reader::BlobReader::from_stored(bytes.to_vec(), entry.id, location)
            .map(|_| ())
            .map_err(|e| format!("its copy of blob {} does not match the blob: {}", entry.id, rejig_format::chain(&e)))
    }

    /// The cache's note that bundle `name` was read (or written) here.
    fn bundle_marker(&self, name: &str) -> PathBuf {
        self.dir.join(TRAILERS).join(format!("{name}.bundle"))
    }

    /// Reads `bundles` (name, size) from the bucket, concurrently, and returns the trailers
    /// they hold for `wanted` packs (id → listed size), each checked against the pack's name
    /// and size. A bundle that does not hash to its name, does not decode, or lists a
    /// trailer that does not hash to its pack's name is reported (and remembered) by name;
    /// its sound entries are still used.
    fn read_bundles(
        &self,
        bundles: &[(String, u64)],
        wanted: &HashMap<PackId, u64>,
        findings: &mut Vec<String>,
    ) -> Result<HashMap<PackId, Trailer>> {
        let ranges: Vec<(String, std::ops::Range<u64>)> =
            bundles.iter().map(|(name, size)| (format!("{BUNDLES}{name}"), 0..*size)).collect();
        let mut found = HashMap::new();
        for ((name, _), got) in bundles.iter().zip(self.backend.get_ranges(&ranges)) {
            let Ok(bytes) = got else { continue };
            let mut problems = Vec::new();
            if blake3::hash(&bytes).to_hex().as_str() != name {
                problems.push("its content does not hash to its name".to_owned());
            } else {
                match decode_bundle(&bytes) {
                    Err(why) => problems.push(why),
                    Ok(entries) => {
                        for BundleEntry { id, size, trailer, copies } in entries {
                            if wanted.get(&id) != Some(&size) || found.contains_key(&id) {
                                // Not needed, or the pack changed size (a truncated pack is
                                // then refused by its own trailer read).
                                continue;
                            }
                            let data_end = size.saturating_sub(16 + trailer.len() as u64);
                            match decode_named(&id, trailer, data_end) {
                                Ok(trailer) => {
                                    for (offset, bytes) in copies {
                                        match self.check_copy(&id, &trailer, offset, bytes) {
                                            Ok(()) => self.save_stored(&id, offset, bytes)?,
                                            Err(why) => problems.push(format!("its entry for pack {id}: {why}")),
                                        }
                                    }
                                    found.insert(id, trailer);
                                }
                                Err(why) => problems.push(format!("its entry for pack {id}: {why}")),
                            }
                        }
                    }
                }
            }
            if problems.is_empty() {
                self.write_cache_file(&self.bundle_marker(name), b"")?;
            } else {
                let why = format!(
                    "trailer bundle {BUNDLES}{name} in {} refused: {}; the packs' own trailers are read instead",
                    self.describe(),
                    problems.join("; ")
                );
                self.write_cache_file(&self.dir.join(TRAILERS).join(format!("{name}.bundle.bad")), why.as_bytes())?;
                findings.push(why);
            }
        }
        Ok(found)
    }

    /// Reads the trailers of `packs` from the bucket: one ranged GET of each pack's end, and a
    /// second for a trailer longer than that. Returns each trailer or why it is refused.
    fn fetch_trailers(&self, packs: &[(PackId, u64)]) -> Vec<std::result::Result<Trailer, String>> {
        let first: Vec<(String, std::ops::Range<u64>)> =
            packs.iter().map(|(id, size)| (pack_key(id), size.saturating_sub(TAIL_GUESS)..*size)).collect();
        let tails = self.backend.get_ranges(&first);
        let mut out: Vec<std::result::Result<Trailer, String>> = Vec::with_capacity(packs.len());
        let mut second = Vec::new();
        for (i, ((id, size), tail)) in packs.iter().zip(tails).enumerate() {
            let tail = match tail {
                Ok(tail) => tail,
                Err(e) => {
                    out.push(Err(rejig_format::chain(&e)));
                    continue;
                }
            };
            match parse_tail(*size, &tail) {
                Ok(Tail::Whole(bytes, data_end)) => out.push(decode_named(id, &bytes, data_end)),
                Ok(Tail::Need(range)) => {
                    second.push((i, (pack_key(id), range)));
                    out.push(Err(String::new()));
                }
                Err(why) => out.push(Err(why)),
            }
        }
        if !second.is_empty() {
            let wanted: Vec<_> = second.iter().map(|(_, w)| w.clone()).collect();
            for ((i, (_, range)), got) in second.iter().zip(self.backend.get_ranges(&wanted)) {
                let (id, _) = packs[*i];
                out[*i] = match got {
                    Ok(bytes) => decode_named(&id, &bytes, range.start),
                    Err(e) => Err(rejig_format::chain(&e)),
                };
            }
        }
        out
    }

    /// Brings the local index up to date with the bucket (see the module documentation).
    pub fn sync(&self, store: &Store) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut findings = Vec::new();
        let mut listed: BTreeMap<PackId, Listed> = BTreeMap::new();
        let mut dropped = HashSet::new();
        let mut bundles: BTreeMap<String, u64> = BTreeMap::new();
        for object in self.backend.list("")? {
            if let Some(id) = object.key.strip_prefix("packs/").and_then(|k| k.strip_suffix(".pack")) {
                if let Ok(id) = id.parse::<PackId>() {
                    listed.insert(id, object);
                    continue;
                }
            } else if let Some(name) = object.key.strip_prefix(BUNDLES) {
                if name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    bundles.insert(name.to_owned(), object.size);
                    continue;
                }
            } else if let Some(key) = object.key.strip_prefix(DROPPED) {
                if let Some(key) = parse_key(key) {
                    dropped.insert(key);
                    continue;
                }
            } else if object.key.starts_with(LOCKS) || object.key == crate::identity::FILE {
                continue;
            }
            findings.push(format!(
                "stray object {} in {}: not part of a rejig store; left alone",
                object.key,
                self.describe()
            ));
        }
        report.packs = listed.len() as u64;
        let known: HashMap<PackId, u64> = store.reader()?.packs()?.into_iter().collect();
        let vanished = known.keys().any(|id| !listed.contains_key(id));

        // Trailers not in the cache, fetched; refused packs remembered with their reason.
        let mut trailers: HashMap<PackId, Trailer> = HashMap::new();
        let mut missing = Vec::new();
        for (id, object) in &listed {
            if known.contains_key(id) && !vanished {
                continue;
            }
            if let Some(why) = self.refused_before(id) {
                findings.push(why);
                continue;
            }
            match self.cached_trailer(id) {
                Some(trailer) => {
                    trailers.insert(*id, trailer);
                }
                None => missing.push((*id, object.size)),
            }
        }
        std::fs::create_dir_all(self.dir.join(TRAILERS)).at(self.dir.join(TRAILERS))?;
        // Bundles refused before are reported again; bundles not read yet are read when
        // enough trailers are missing for them to pay.
        let mut unread = Vec::new();
        for (name, size) in &bundles {
            let bad = self.dir.join(TRAILERS).join(format!("{name}.bundle.bad"));
            if let Ok(why) = std::fs::read_to_string(&bad) {
                findings.push(why);
            } else if !self.bundle_marker(name).exists() {
                unread.push((name.clone(), *size));
            }
        }
        if missing.len() >= BUNDLE_MIN && !unread.is_empty() {
            let wanted: HashMap<PackId, u64> = missing.iter().copied().collect();
            let mut found = self.read_bundles(&unread, &wanted, &mut findings)?;
            report.bundles_read = unread.len() as u64;
            let mut rest = Vec::new();
            for (id, size) in missing {
                match found.remove(&id) {
                    Some(trailer) => {
                        self.save_trailer(&id, &trailer, size)?;
                        trailers.insert(id, trailer);
                        report.trailers_from_bundles += 1;
                    }
                    None => rest.push((id, size)),
                }
            }
            missing = rest;
        }
        let mut fetched_one_by_one = Vec::new();
        for ((id, size), fetched) in missing.iter().zip(self.fetch_trailers(&missing)) {
            report.trailers_fetched += 1;
            match fetched {
                Ok(trailer) => {
                    self.save_trailer(id, &trailer, *size)?;
                    trailers.insert(*id, trailer);
                    fetched_one_by_one.push(*id);
                }
                Err(why) => {
                    let why = format!("pack {} in {} refused: {why}", pack_key(id), self.describe());
                    // A listing error is not remembered: it may pass.
                    if !why.contains("object storage") {
                        self.write_cache_file(
                            &self.dir.join(TRAILERS).join(format!("{}.bad", id.to_hex())),
                            why.as_bytes(),
                        )?;
                    }
                    findings.push(why);
                }
            }
        }

        // Every listed pack's trailer is now known (or refused): the listed bundles can tell
        // this cache nothing more.
        for name in unread.iter().map(|(name, _)| name).filter(|name| !self.bundle_marker(name).exists()) {
            self.write_cache_file(&self.bundle_marker(name), b"")?;
        }
        // Trailers read one by one are worth a bundle for the next new cache; it only saves
        // requests, so failing to write it is no error.
        if fetched_one_by_one.len() >= BUNDLE_MIN {
            if let Ok(Some(_)) = self.write_bundle(&fetched_one_by_one) {
                report.bundles_written += 1;
            }
        }
        report.manifests_fetched = self.fetch_manifests(&trailers);

        // Oldest first, so roots' last use follows the order of their uploads.
        let mut order: Vec<(u64, PackId)> =
            trailers.keys().filter_map(|id| listed.get(id).map(|o| (o.modified, *id))).collect();
        order.sort();
        let index = store.index();
        if vanished {
            report.rebuilt = true;
            let temp = self.dir.join("tmp").join("index.redb.sync");
            let _ = std::fs::remove_file(&temp);
            let fresh = crate::index::Index::create(&temp, &store.id())?;
            let packs = in_order(&order, &mut trailers, &listed);
            fresh.commit_packs(&packs)?;
            report.packs_added += packs.len() as u64;
            drop(fresh);
            let target = self.dir.join("index.redb");
            crate::durable::rename(&temp, &target)?;
            match crate::index::Index::open_existing(&target)? {
                crate::index::Opened::Index(opened, _) => index.replace_with(opened, &target)?,
                _ => return Err(Error::invalid("cache", "the index rebuilt from the bucket does not open")),
            }
            // Packs the cache holds that the bucket lost are gone for good.
            for id in known.keys().filter(|id| !listed.contains_key(id)) {
                let _ = std::fs::remove_file(pack_path(&self.dir.join("packs"), id));
                let _ = std::fs::remove_file(self.trailer_path(id));
                let _ = std::fs::remove_dir_all(self.dir.join(STORED).join(id.to_hex()));
            }
        } else {
            // One transaction for them all: one fsync, not one per pack.
            let packs = in_order(&order, &mut trailers, &listed);
            if !packs.is_empty() {
                index.commit_packs(&packs)?;
            }
            report.packs_added += packs.len() as u64;
        }
        // Roots gc dropped stay dropped; then whatever needs data no pack holds goes.
        let roots: HashSet<ObjectKey> = store.reader()?.roots()?.into_iter().map(|(key, _)| key).collect();
        let dead_roots: Vec<ObjectKey> = dropped.iter().filter(|key| roots.contains(key)).copied().collect();
        report.roots_dropped = dead_roots.len() as u64;
        if !dead_roots.is_empty() {
            index.apply_gc(&GcChanges { dead_roots, ..Default::default() })?;
        }
        if report.packs_added > 0 || report.roots_dropped > 0 {
            index.drop_dangling()?;
        }
        *self.findings.lock().map_err(poisoned)? = findings;
        *self.dropped.lock().map_err(poisoned)? = dropped;
        Ok(report)
    }

    /// Fetches every pack the index lists, the bound suspended until [`Remote::bounded`].
    fn fetch_all(&self, store: &Store) -> Result<()> {
        self.unbounded.store(true, Ordering::SeqCst);
        for (id, _) in store.reader()?.packs()? {
            self.ensure_local(&id)?;
        }
        Ok(())
    }

    fn bounded(&self) -> Result<()> {
        self.unbounded.store(false, Ordering::SeqCst);
        self.trim(None)
    }

    /// Takes the exclusive lock, waiting while other processes hold live locks.
    fn exclusive(&self, on_wait: &dyn Fn(&str)) -> Result<Lease> {
        let deadline = std::time::Instant::now() + self.options.wait;
        let own_shared = self.shared.lock().map_err(poisoned)?.as_ref().map(|l| l.key.clone());
        let mut told = false;
        loop {
            let lease = Lease::write(&self.backend, "exclusive", self.options.lease, &self.holder)?;
            let mut except = vec![lease.key.as_str()];
            if let Some(own) = &own_shared {
                except.push(own.as_str());
            }
            let others = live_locks(&*self.backend, &except)?;
            if others.is_empty() {
                return Ok(lease);
            }
            drop(lease);
            if std::time::Instant::now() >= deadline {
                return Err(Error::invalid(
                    "object storage",
                    format!(
                        "{} is in use by {} other process(es) ({}); gc runs when none holds it",
                        self.describe(),
                        others.len(),
                        others.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if !told {
                on_wait(&format!("{} other process(es) using {}", others.len(), self.describe()));
                told = true;
            }
            std::thread::sleep(jitter(Duration::from_millis(500)));
        }
    }

    /// gc on the shared store: under the exclusive lock, sync, fetch every pack, collect in
    /// the cache, then upload the new packs, record the dropped roots, and only then delete
    /// the packs the collection removed. Packs with anything dead in them are rewritten, so
    /// that no pack left in the bucket lists what the collection dropped (a fresh cache would
    /// bring it back).
    pub fn gc(
        &self,
        store: &Store,
        options: &crate::gc::GcOptions,
        progress: &dyn crate::Progress,
    ) -> Result<crate::gc::GcReport> {
        let _exclusive = self.exclusive(&|_| {})?;
        self.sync(store)?;
        self.fetch_all(store)?;
        let before: HashSet<PackId> = store.reader()?.packs()?.into_iter().map(|(id, _)| id).collect();
        let options = crate::gc::GcOptions { rewrite_below: 1.0, ..options.clone() };
        let report = crate::gc::collect(store, &options, progress)?;
        let after: Vec<(PackId, u64)> = store.reader()?.packs()?;
        for (id, size) in after.iter().filter(|(id, _)| !before.contains(id)) {
            let path = pack_path(&self.dir.join("packs"), id);
            let bytes = std::fs::read(&path).at(&path)?;
            self.backend.put_create(&pack_key(id), bytes)?;
            let file = std::fs::File::open(&path).at(&path)?;
            let (trailer, _) = read_trailer(&file, &path)?;
            self.save_trailer(id, &trailer, *size)?;
        }
        for (key, _) in &report.roots_dropped {
            self.backend.put(&drop_key(key), Vec::new())?;
        }
        for (key, _) in &report.roots_broken {
            self.backend.put(&drop_key(key), Vec::new())?;
        }
        let after: HashSet<PackId> = after.into_iter().map(|(id, _)| id).collect();
        for id in before.iter().filter(|id| !after.contains(id)) {
            self.backend.delete(&pack_key(id))?;
            let _ = std::fs::remove_file(self.trailer_path(id));
            let _ = std::fs::remove_dir_all(self.dir.join(STORED).join(id.to_hex()));
        }
        // One bundle of every kept pack's trailer replaces the bundles there were (but not
        // one the sync refused: that is left for the operator, like a refused pack).
        let kept: Vec<PackId> = after.into_iter().collect();
        let written = self.write_bundle(&kept).unwrap_or(None);
        for listed in self.backend.list(BUNDLES)? {
            let name = listed.key.trim_start_matches(BUNDLES);
            let refused = self.dir.join(TRAILERS).join(format!("{name}.bundle.bad")).exists();
            if Some(name) != written.as_deref() && !refused {
                self.backend.delete(&listed.key)?;
            }
        }
        self.bounded()?;
        Ok(report)
    }

    /// fsck on the shared store: fetch every pack, check them all, and add what the sync
    /// refused in the bucket.
    pub fn fsck(&self, store: &Store) -> Result<crate::fsck::FsckReport> {
        self.fetch_all(store)?;
        let mut report = crate::fsck::check(store)?;
        report.problems.extend(self.findings());
        self.bounded()?;
        Ok(report)
    }

    /// `fsck --repair` on the shared store: the cache's index is rebuilt from the bucket's
    /// trailers (read again), then checked like any index.
    pub fn repair(&self, store: &Store) -> Result<crate::fsck::RepairReport> {
        let trailers = self.dir.join(TRAILERS);
        if trailers.exists() {
            std::fs::remove_dir_all(&trailers).at(&trailers)?;
        }
        let temp = self.dir.join("tmp").join("index.redb.sync");
        let _ = std::fs::remove_file(&temp);
        drop(crate::index::Index::create(&temp, &store.id())?);
        let target = self.dir.join("index.redb");
        crate::durable::rename(&temp, &target)?;
        match crate::index::Index::open_existing(&target)? {
            crate::index::Opened::Index(opened, _) => store.index().replace_with(opened, &target)?,
            _ => return Err(Error::invalid("cache", "the emptied index does not open")),
        }
        // A cache opened for repair (its index not trusted) has its index in place now.
        if store.require_index().is_err() {
            store.rebuilt();
            store.attach_journal()?;
        }
        let synced = self.sync(store)?;
        let stats = store.reader()?.stats()?;
        Ok(crate::fsck::RepairReport {
            packs_indexed: synced.packs_added,
            packs_skipped: self.findings(),
            stats,
            ..Default::default()
        })
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Enough uploads for a bundle: written while this process's lease still holds. It
        // only saves later syncs requests, so a failure is ignored.
        let ids = self.unbundled.lock().map(|mut ids| std::mem::take(&mut *ids)).unwrap_or_default();
        if ids.len() >= BUNDLE_MIN {
            let _ = self.write_bundle(&ids);
        }
        self.write_stats();
    }
}

fn jitter(base: Duration) -> Duration {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    base + Duration::from_millis(u64::from(nanos % 500))
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::invalid("object storage", "a thread panicked while holding a lock")
}

fn drop_key(key: &ObjectKey) -> String {
    format!("{DROPPED}{}", hex::encode(key.to_bytes()))
}

fn parse_key(hex_key: &str) -> Option<ObjectKey> {
    let bytes: [u8; 33] = hex::decode(hex_key).ok()?.try_into().ok()?;
    ObjectKey::from_bytes(&bytes).ok()
}

/// The packs of `order` whose trailers are in `trailers`, as finished packs, in that order.
fn in_order(
    order: &[(u64, PackId)],
    trailers: &mut HashMap<PackId, Trailer>,
    listed: &BTreeMap<PackId, Listed>,
) -> Vec<FinishedPack> {
    order
        .iter()
        .filter_map(|(_, id)| {
            let object = listed.get(id)?;
            let trailer = trailers.remove(id)?;
            Some(FinishedPack { id: *id, trailer, size: object.size })
        })
        .collect()
}

/// One pack in a trailer bundle: its name and size, its trailer as stored, and copies of the
/// stored bytes of some of its blobs (its package manifests), by offset.
struct BundleEntry<'a> {
    id: PackId,
    size: u64,
    trailer: &'a [u8],
    copies: Vec<(u64, &'a [u8])>,
}

/// A [`BundleEntry`]'s parts, owned: pack, size, trailer, copies.
type OwnedEntry = (PackId, u64, Vec<u8>, Vec<(u64, Vec<u8>)>);

/// A trailer bundle: [`BUNDLE_MAGIC`], then for each pack `pack id (32) ‖ pack size u64 LE ‖
/// trailer length u64 LE ‖ the trailer as stored ‖ copies u32 LE ‖ copies × (offset u64 LE ‖
/// length u64 LE ‖ stored bytes)` (FORMAT.md §10).
fn encode_bundle(entries: &[BundleEntry<'_>]) -> Vec<u8> {
    let mut out = BUNDLE_MAGIC.to_vec();
    for entry in entries {
        out.extend_from_slice(entry.id.as_bytes());
        out.extend_from_slice(&entry.size.to_le_bytes());
        out.extend_from_slice(&(entry.trailer.len() as u64).to_le_bytes());
        out.extend_from_slice(entry.trailer);
        out.extend_from_slice(&u32::try_from(entry.copies.len()).unwrap_or(0).to_le_bytes());
        for (offset, bytes) in entry.copies.iter().take(u32::MAX as usize) {
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// The entries of a trailer bundle, bounded by its bytes; nothing in them is checked here.
fn decode_bundle(bytes: &[u8]) -> std::result::Result<Vec<BundleEntry<'_>>, String> {
    fn take<'a>(rest: &mut &'a [u8], n: u64) -> std::result::Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "an entry is cut short".to_owned())?;
        let (head, tail) = rest.split_at_checked(n).ok_or_else(|| "an entry is cut short".to_owned())?;
        *rest = tail;
        Ok(head)
    }
    fn u64_at(rest: &mut &[u8]) -> std::result::Result<u64, String> {
        let bytes: [u8; 8] = take(rest, 8)?.try_into().map_err(|_| "an entry is cut short".to_owned())?;
        Ok(u64::from_le_bytes(bytes))
    }
    let mut rest = bytes.strip_prefix(BUNDLE_MAGIC).ok_or_else(|| "it does not start as a bundle".to_owned())?;
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let id: [u8; 32] = take(&mut rest, 32)?.try_into().map_err(|_| "an entry is cut short".to_owned())?;
        let size = u64_at(&mut rest)?;
        let len = u64_at(&mut rest)?;
        let trailer = take(&mut rest, len)?;
        let count: [u8; 4] = take(&mut rest, 4)?.try_into().map_err(|_| "an entry is cut short".to_owned())?;
        let mut copies = Vec::new();
        for _ in 0..u32::from_le_bytes(count) {
            let offset = u64_at(&mut rest)?;
            let len = u64_at(&mut rest)?;
            copies.push((offset, take(&mut rest, len)?));
        }
        entries.push(BundleEntry { id: PackId::from_bytes(id), size, trailer, copies });
    }
    Ok(entries)
}

enum Tail {
    /// The trailer's bytes and where they start in the pack.
    Whole(Vec<u8>, u64),
    /// The range of the pack that holds the trailer.
    Need(std::ops::Range<u64>),
}

/// Finds the trailer in the last bytes of a pack of `size` bytes.
fn parse_tail(size: u64, tail: &[u8]) -> std::result::Result<Tail, String> {
    let header = rejig_format::pack::MAGIC.len() as u64;
    if size < header + 16 || (tail.len() as u64) < 16 {
        return Err("too short to be a pack".into());
    }
    let footer = &tail[tail.len() - 16..];
    if &footer[8..] != END_MAGIC {
        return Err("bad magic at the end (a truncated pack?)".into());
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&footer[..8]);
    let trailer_len = u64::from_le_bytes(len);
    let data_end = (size - 16)
        .checked_sub(trailer_len)
        .filter(|&end| end >= header)
        .ok_or_else(|| "trailer length larger than the pack".to_owned())?;
    if trailer_len > 1 << 30 {
        return Err("trailer longer than 1 GiB".into());
    }
    let tail_start = size - tail.len() as u64;
    match data_end >= tail_start {
        true => {
            let from = usize::try_from(data_end - tail_start).map_err(|_| "trailer too large".to_owned())?;
            Ok(Tail::Whole(tail[from..tail.len() - 16].to_vec(), data_end))
        }
        false => Ok(Tail::Need(data_end..size - 16)),
    }
}

/// Decodes a trailer and checks that it names the pack it was read from.
fn decode_named(id: &PackId, bytes: &[u8], data_end: u64) -> std::result::Result<Trailer, String> {
    match Trailer::decode(bytes, data_end) {
        Ok((trailer, actual)) if actual == *id => Ok(trailer),
        Ok((_, actual)) => Err(format!("its trailer hashes to {actual}, not to its name: the trailer lies")),
        Err(e) => Err(format!("its trailer does not decode: {}", rejig_format::chain(&e))),
    }
}

/// Reads (or, for a writer, creates) the store identity in the bucket.
fn bucket_identity(backend: &dyn Backend, mode: OpenMode) -> Result<StoreId> {
    let decode = |bytes: Vec<u8>| {
        StoreId::decode(&bytes).ok_or_else(|| {
            Error::invalid("object storage", format!("{}/store.id is not a store identity", backend.describe()))
        })
    };
    if let Some(bytes) = backend.get(crate::identity::FILE)? {
        return decode(bytes);
    }
    if mode != OpenMode::Create {
        return Err(Error::NotAStore {
            path: PathBuf::from(backend.describe()),
            detail: "it holds no store.id; only import, build and export of a jigdo create a store".into(),
        });
    }
    let id = StoreId::generate(Path::new(&backend.describe()));
    match backend.put_create(crate::identity::FILE, id.encode())? {
        Created::Created => Ok(id),
        // Another builder created it first: its identity is the store's.
        Created::Existed => match backend.get(crate::identity::FILE)? {
            Some(bytes) => decode(bytes),
            None => Err(Error::invalid("object storage", "store.id vanished right after it was created")),
        },
    }
}

/// Opens the store at `address` through its cache (see [`Store::open_remote`]).
pub(crate) fn open(
    backend: Arc<dyn Backend>,
    options: &RemoteOptions,
    holder: &str,
    mode: OpenMode,
    on_wait: &dyn Fn(&str),
) -> Result<Store> {
    let id = bucket_identity(&*backend, mode)?;
    let dir = options.cache_root.join(id.to_hex());
    // For repair, a cache that exists is opened without trusting its index (it may be the
    // damage): `Remote::repair` rebuilds it from the bucket.
    let repair = mode == OpenMode::Repair && dir.join(crate::identity::FILE).exists();
    let local_mode = if repair { OpenMode::Repair } else { OpenMode::Create };
    let store = Store::open_with(&dir, holder, local_mode, on_wait)?;
    // Not the same store as the cache was made for (the bucket was emptied and made anew
    // with the same identity is not possible: identities are random).
    let remote = Remote {
        backend: backend.clone(),
        dir: dir.clone(),
        options: options.clone(),
        holder: holder.to_owned(),
        shared: Mutex::new(None),
        findings: Mutex::new(Vec::new()),
        dropped: Mutex::new(HashSet::new()),
        fetching: Mutex::new(()),
        unbounded: AtomicBool::new(false),
        ranged_reads: Mutex::new(HashMap::new()),
        windows: Mutex::new(Windows::default()),
        ranged_reads_per_pack: std::env::var("REJIG_S3_RANGED_READS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(RANGED_READS_PER_PACK),
        unbundled: Mutex::new(Vec::new()),
    };
    // The shared lease, after any gc in progress.
    let deadline = std::time::Instant::now() + options.wait;
    let mut told = false;
    loop {
        let lease = Lease::write(&backend, "shared", options.lease, holder)?;
        let gcs: Vec<_> =
            live_locks(&*backend, &[lease.key.as_str()])?.into_iter().filter(|(kind, _)| kind == "exclusive").collect();
        if gcs.is_empty() {
            *remote.shared.lock().map_err(poisoned)? = Some(lease);
            break;
        }
        drop(lease);
        if std::time::Instant::now() >= deadline {
            return Err(Error::invalid(
                "object storage",
                format!("{} is held by gc ({})", backend.describe(), gcs[0].1),
            ));
        }
        if !told {
            on_wait(&format!("gc on {}", backend.describe()));
            told = true;
        }
        std::thread::sleep(jitter(Duration::from_millis(500)));
    }
    let store = store.with_remote(remote);
    if let (Some(remote), false) = (store.remote(), repair) {
        remote.sync(&store)?;
    }
    Ok(store)
}

/// Opens a store on object storage for repair: the cache is opened as usual; the caller's
/// repair rebuilds its index from the bucket.
pub fn is_remote_address(store: &Path) -> bool {
    store.to_str().is_some_and(crate::backend::is_remote)
}

/// Windows of packs not in the cache, read by [`Remote::read_stored`]; bounded by
/// [`WINDOWS_KEPT`] bytes.
#[derive(Default)]
struct Windows {
    by_pack: HashMap<PackId, Vec<(u64, Vec<u8>)>>,
    bytes: u64,
}

impl Windows {
    /// The bytes of `range` of pack `id`, if one window holds them all.
    fn find(&self, id: &PackId, range: &std::ops::Range<u64>) -> Option<Vec<u8>> {
        self.by_pack.get(id)?.iter().find_map(|(start, bytes)| {
            let end = start + bytes.len() as u64;
            (*start <= range.start && range.end <= end).then(|| {
                let from = (range.start - start) as usize;
                bytes[from..from + (range.end - range.start) as usize].to_vec()
            })
        })
    }

    fn insert(&mut self, id: PackId, start: u64, bytes: Vec<u8>) {
        if self.bytes + bytes.len() as u64 > WINDOWS_KEPT {
            self.by_pack.clear();
            self.bytes = 0;
        }
        self.bytes += bytes.len() as u64;
        self.by_pack.entry(id).or_default().push((start, bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::local::LocalBackend;

    fn options(cache: &Path) -> RemoteOptions {
        RemoteOptions {
            cache_root: cache.to_path_buf(),
            cache_limit: 1 << 30,
            lease: Duration::from_secs(5),
            wait: Duration::from_secs(5),
        }
    }

    fn open_at(bucket: &Path, cache: &Path, mode: OpenMode) -> Result<Store> {
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(bucket)?);
        open(backend, &options(cache), "test", mode, &|_| {})
    }

    #[test]
    fn a_second_cache_reads_what_the_first_uploaded_from_trailers_and_packs() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        assert!(matches!(open_at(&bucket, &dir.path().join("a"), OpenMode::Existing), Err(Error::NotAStore { .. })));
        let a = open_at(&bucket, &dir.path().join("a"), OpenMode::Create).unwrap();
        let batch = a.batch().unwrap();
        let blob = batch.add_blob(b"shared through the bucket").unwrap();
        let empty = batch.add_blob(b"").unwrap();
        let pack = batch.commit().unwrap().pack.unwrap();
        assert!(bucket.join(pack_key(&pack)).is_file(), "the pack is uploaded before the commit returns");

        let b = open_at(&bucket, &dir.path().join("b"), OpenMode::Existing).unwrap();
        let reader = b.reader().unwrap();
        assert_eq!(b.read_blob(&reader, blob).unwrap(), b"shared through the bucket");
        assert_eq!(b.read_blob(&reader, empty).unwrap(), b"");
        drop(reader);
        drop(b);
        // Opened again, the cache reads no trailer twice.
        let b = open_at(&bucket, &dir.path().join("b"), OpenMode::Existing).unwrap();
        let synced = b.remote().unwrap().sync(&b).unwrap();
        assert_eq!((synced.packs, synced.trailers_fetched, synced.packs_added), (1, 0, 0));
        // A pack gone from the bucket (a gc elsewhere) makes the index be rebuilt without it.
        std::fs::remove_file(bucket.join(pack_key(&pack))).unwrap();
        let synced = b.remote().unwrap().sync(&b).unwrap();
        assert!(synced.rebuilt);
        assert_eq!(b.reader().unwrap().blob(&blob).unwrap(), None);
    }

    #[test]
    fn small_blobs_read_together_cost_one_window_not_the_whole_pack() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let a = open_at(&bucket, &dir.path().join("a"), OpenMode::Create).unwrap();
        let batch = a.batch().unwrap();
        // Incompressible, so the stored bytes are as long as the blobs: 64 x 16 KiB.
        let contents: Vec<Vec<u8>> = (0..64u64)
            .map(|i| (0..16 * 1024u64).map(|j| (i.wrapping_mul(2654435761) ^ j.wrapping_mul(40503)) as u8).collect())
            .collect();
        let blobs: Vec<rejig_format::id::BlobId> = contents.iter().map(|c| batch.add_blob(c).unwrap()).collect();
        let pack = batch.commit().unwrap().pack.unwrap();
        drop(a);

        let b = open_at(&bucket, &dir.path().join("b"), OpenMode::Existing).unwrap();
        let counters = b.remote().unwrap().backend().counters();
        let gets_before = counters.gets.load(Ordering::SeqCst);
        let reader = b.reader().unwrap();
        for (blob, content) in blobs.iter().zip(&contents) {
            assert_eq!(&b.read_blob(&reader, *blob).unwrap(), content, "blob {blob}");
        }
        assert_eq!(counters.gets.load(Ordering::SeqCst) - gets_before, 1, "one window holds all 64 blobs");
        assert!(!pack_path(&b.root().join("packs"), &pack).exists(), "the pack is not fetched whole");
    }

    /// `n` packs of one small blob each (and, with `manifests`, a package each), uploaded by a
    /// cache that is then closed; returns the blobs and the packages' header digests.
    fn upload_packs(
        bucket: &Path,
        cache: &Path,
        n: u8,
        manifests: bool,
    ) -> (Vec<rejig_format::id::BlobId>, Vec<rejig_format::digest::HeaderSha256>) {
        use rejig_format::manifest::{Nevra, PackageManifest};
        let a = open_at(bucket, cache, OpenMode::Create).unwrap();
        let (mut blobs, mut headers) = (Vec::new(), Vec::new());
        for i in 0..n {
            let batch = a.batch().unwrap();
            blobs.push(batch.add_blob(format!("blob {i}").as_bytes()).unwrap());
            if manifests {
                let manifest = PackageManifest {
                    nevra: Nevra {
                        name: format!("pkg-{i}"),
                        epoch: None,
                        version: "1".into(),
                        release: "1".into(),
                        arch: "noarch".into(),
                    },
                    header_sha256: rejig_format::digest::HeaderSha256::from_bytes([i; 32]),
                    file_sha256: None,
                    digest_algo: "sha256".into(),
                    compression: "zstd".into(),
                    files: Vec::new(),
                };
                batch.add_package(&manifest).unwrap();
                headers.push(manifest.header_sha256);
            }
            batch.commit().unwrap();
        }
        (blobs, headers)
    }

    fn gets(store: &Store) -> u64 {
        store.remote().unwrap().backend().counters().gets.load(Ordering::SeqCst)
    }

    fn bundles_in(bucket: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(bucket.join("bundles")) {
            Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    #[test]
    fn a_new_cache_reads_many_trailers_and_manifests_from_one_bundle_and_checks_each() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let (blobs, headers) = upload_packs(&bucket, &dir.path().join("a"), 20, true);
        assert_eq!(bundles_in(&bucket).len(), 1, "the uploader leaves one bundle of its 20 trailers");

        // One ranged GET (the bundle), not one per pack and one per manifest (the folder
        // backend does not count its whole reads, such as store.id's).
        let b = open_at(&bucket, &dir.path().join("b"), OpenMode::Existing).unwrap();
        assert_eq!(gets(&b), 1);
        let reader = b.reader().unwrap();
        for header in &headers {
            b.read_blob(&reader, reader.package(header).unwrap().unwrap()).unwrap();
        }
        assert_eq!(gets(&b), 1, "the manifests came with the bundle");
        for (i, blob) in blobs.iter().enumerate() {
            assert_eq!(b.read_blob(&reader, *blob).unwrap(), format!("blob {i}").as_bytes());
        }
        assert!(b.remote().unwrap().findings().is_empty());
        drop(reader);
        drop(b);

        // A bundle that lies: one entry holds another pack's trailer (with the true size, so
        // only the trailer's hash gives it away), one entry's manifest copy is altered, and
        // one entry names a pack the bucket does not hold. Each is caught: the liars' packs
        // are read from the packs, and the absent pack is not indexed.
        let good = std::fs::read(&bundles_in(&bucket)[0]).unwrap();
        let mut altered = decode_bundle(&good).unwrap()[3].copies[0].1.to_vec();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        let mut entries = decode_bundle(&good).unwrap();
        let (victim, copied) = (entries[0].id, entries[3].id);
        entries[0].trailer = entries[1].trailer;
        entries[3].copies[0].1 = &altered;
        let absent = PackId::from_bytes([9; 32]);
        entries.push(BundleEntry {
            id: absent,
            size: entries[2].size,
            trailer: entries[2].trailer,
            copies: Vec::new(),
        });
        let lying = encode_bundle(&entries);
        std::fs::write(bucket.join(BUNDLES).join(blake3::hash(&lying).to_hex().as_str()), &lying).unwrap();
        std::fs::remove_file(bucket.join(BUNDLES).join(blake3::hash(&good).to_hex().as_str())).unwrap();
        // And one whose content is not what its name says.
        std::fs::write(bucket.join(BUNDLES).join("ab".repeat(32)), &good).unwrap();

        let c = open_at(&bucket, &dir.path().join("c"), OpenMode::Existing).unwrap();
        let findings = c.remote().unwrap().findings().join("\n");
        // Another pack's trailer either hashes to that pack's name or, longer than the
        // victim's, does not fit its data: refused either way.
        assert!(findings.contains(&format!("its entry for pack {victim}: its trailer")), "{findings}");
        assert!(findings.contains(&format!("its entry for pack {copied}: its copy of blob")), "{findings}");
        assert!(findings.contains(&format!("{BUNDLES}{} ", "ab".repeat(32))), "{findings}");
        assert!(findings.contains("does not hash to its name"), "{findings}");
        let reader = c.reader().unwrap();
        for (i, blob) in blobs.iter().enumerate() {
            assert_eq!(c.read_blob(&reader, *blob).unwrap(), format!("blob {i}").as_bytes());
        }
        for header in &headers {
            c.read_blob(&reader, reader.package(header).unwrap().unwrap()).unwrap();
        }
        let packs: Vec<PackId> = reader.packs().unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(packs.len(), 20);
        assert!(!packs.contains(&absent), "a bundle cannot make a pack the bucket lacks appear");
    }

    #[test]
    fn a_sync_fetches_package_manifests_so_reading_them_costs_no_request() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        // Fewer packs than make a bundle: this is about the manifests alone.
        let (_, headers) = upload_packs(&bucket, &dir.path().join("a"), 6, true);
        assert!(bundles_in(&bucket).is_empty());
        let b = open_at(&bucket, &dir.path().join("b"), OpenMode::Existing).unwrap();
        let opened = gets(&b);
        let reader = b.reader().unwrap();
        for header in &headers {
            let blob = reader.package(header).unwrap().unwrap();
            let manifest = rejig_format::manifest::PackageManifest::decode(&b.read_blob(&reader, blob).unwrap());
            assert_eq!(manifest.unwrap().header_sha256, *header);
        }
        assert_eq!(gets(&b), opened, "every manifest was fetched while the store opened");
        drop(reader);
        drop(b);
        // Kept in the cache: opened again, the store reads them without a request.
        let b = open_at(&bucket, &dir.path().join("b"), OpenMode::Existing).unwrap();
        let opened = gets(&b);
        let reader = b.reader().unwrap();
        for header in &headers {
            let blob = reader.package(header).unwrap().unwrap();
            b.read_blob(&reader, blob).unwrap();
        }
        assert_eq!(gets(&b), opened);
    }
}
