//! The repository side of a backed store (FORMAT.md §3b): reading the objects of the
//! repository a store feeds, under ostree's shared lock, and adopting what an export wrote.
//!
//! Object layout (ostree-format.md §3): in bare, bare-user and bare-user-only repositories a
//! content object `objects/XX/REST.file` holds the file's bytes as they are (bare-user keeps
//! owner, mode and xattrs in the `user.ostreemeta` xattr, which rejig does not need: the
//! store's record has them); an archive `.filez` is a framed header followed by the content
//! as raw deflate. Metadata objects (`.dirtree`, `.dirmeta`, `.commit`) are their bytes in
//! every mode. Nothing read here is trusted: the store checks every stream against the
//! blob's BLAKE3 as it ends.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rejig_format::object::FileHeader;
use rejig_format::{BlobId, ObjectId, ObjectKey, ObjectRecord, ObjectType, RepoMode};
use rejig_store::backing::{Adopted, FileWrite, Presence};
use rejig_store::walk::CommitClosure;
use rejig_store::{BackedRef, RepoObjects, Store};
use rustix::fs::{AtFlags, FileType};

use crate::error::{Error, IoContext, Result};
use crate::ostree::lock::RepoLock;
use crate::ostree::repo::OstreeRepo;

/// The largest archive header read before the content (a header holds owner, mode, xattrs).
const MAX_ARCHIVE_HEADER: usize = 1 << 20;

/// Reads the objects of the repository backing a store. The shared repository lock is taken
/// on first use (once the repository exists) and held until this is dropped, so an
/// `ostree prune` waits instead of removing objects the store is relying on.
pub struct RepoBacking {
    path: PathBuf,
    mode: OnceLock<RepoMode>,
    /// The repository's directory, once it exists: objects are looked at relative to it,
    /// without walking the repository's own path every time.
    dir: OnceLock<File>,
    lock: Mutex<Option<RepoLock>>,
    /// The repository opened for writing, on a direct import's first object.
    writer: OnceLock<OstreeRepo>,
}

impl RepoBacking {
    /// A reader of the repository at `path` (which may not exist yet).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            mode: OnceLock::new(),
            dir: OnceLock::new(),
            lock: Mutex::new(None),
            writer: OnceLock::new(),
        }
    }

    /// The repository's mode and the lock, once the repository exists; None before.
    fn ready(&self) -> std::io::Result<Option<RepoMode>> {
        if let Some(mode) = self.mode.get() {
            return Ok(Some(*mode));
        }
        if !self.path.join("config").exists() {
            return Ok(None);
        }
        let mut lock = self.lock.lock().map_err(|_| std::io::Error::other("a thread panicked"))?;
        if lock.is_none() {
            *lock = Some(RepoLock::shared_after_cleanup(&self.path).map_err(std::io::Error::other)?);
        }
        let mode = OstreeRepo::planned_mode(&self.path, None).map_err(std::io::Error::other)?;
        if self.dir.get().is_none() {
            let _ = self.dir.set(File::open(&self.path)?);
        }
        Ok(Some(*self.mode.get_or_init(|| mode)))
    }

    fn object_path(&self, mode: RepoMode, key: &ObjectKey) -> PathBuf {
        self.path.join(mode.loose_path(key))
    }

    /// The repository, opened for writing once it exists (and locked, by [`Self::ready`]).
    fn writer(&self) -> std::io::Result<&OstreeRepo> {
        if let Some(repo) = self.writer.get() {
            return Ok(repo);
        }
        let Some(mode) = self.ready()? else {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "the repository does not exist yet"));
        };
        let repo = OstreeRepo::open_or_create(&self.path, Some(mode)).map_err(std::io::Error::other)?;
        Ok(self.writer.get_or_init(|| repo))
    }
}

impl RepoObjects for RepoBacking {
    fn path(&self) -> &Path {
        &self.path
    }

    fn probe(&self, key: &ObjectKey) -> std::io::Result<Presence> {
        let (Some(mode), Some(dir)) = (self.ready()?, self.dir.get()) else { return Ok(Presence::Missing) };
        match rustix::fs::statat(dir, mode.loose_path(key), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {
                let compressed = mode == RepoMode::Archive && key.kind == ObjectType::File;
                Ok(Presence::Present((!compressed).then_some(u64::try_from(stat.st_size).unwrap_or(0))))
            }
            Ok(_) | Err(rustix::io::Errno::NOENT) => Ok(Presence::Missing),
            Err(e) => Err(e.into()),
        }
    }

    fn open(&self, key: &ObjectKey) -> std::io::Result<Option<Box<dyn Read + Send>>> {
        let Some(mode) = self.ready()? else { return Ok(None) };
        let path = self.object_path(mode, key);
        let file = match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // A symlink where a file should be (ELOOP) is not the object.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !file.metadata()?.is_file() {
            return Ok(None);
        }
        if mode == RepoMode::Archive && key.kind == ObjectType::File {
            return Ok(Some(Box::new(archive_content(file)?)));
        }
        Ok(Some(Box::new(file)))
    }

    fn write_file(
        &self,
        expected: ObjectId,
        header: &FileHeader,
        content: &mut dyn Read,
        size: u64,
    ) -> std::io::Result<FileWrite> {
        match self.writer()?.write_content_through(Some(expected), header, Some((content, size))) {
            Ok(_) => Ok(FileWrite::Written),
            Err(Error::Checksum { actual, .. }) => Ok(FileWrite::Mismatch(actual)),
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        self.writer()?.sync().map_err(std::io::Error::other)
    }
}

/// The content of an archive `.filez`: the framed header is skipped, the rest inflated.
fn archive_content(file: File) -> std::io::Result<flate2::read::DeflateDecoder<BufReader<File>>> {
    let mut reader = BufReader::new(file);
    let mut prefix = [0u8; 8];
    reader.read_exact(&mut prefix)?;
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > MAX_ARCHIVE_HEADER {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "archive header too large"));
    }
    std::io::copy(&mut (&mut reader).take(len as u64), &mut std::io::sink())?;
    Ok(flate2::read::DeflateDecoder::new(reader))
}

/// Installs the backing repository's reader in `store` if the store is backed; returns the
/// repository.
pub fn install(store: &Store) -> Result<Option<PathBuf>> {
    let Some(repo) = store.backing_repo()? else { return Ok(None) };
    store.set_backing(Arc::new(RepoBacking::new(&repo)))?;
    Ok(Some(repo))
}

/// True when `repo` is the repository backing `store`.
pub fn backs(store: &Store, repo: &Path) -> Result<bool> {
    let Some(backing) = store.backing_repo()? else { return Ok(false) };
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    Ok(same(&backing, repo))
}

/// Prepares a direct import (FORMAT.md §3b) ahead of an export into `repo_path`: true when
/// the import may write the commit's content objects straight into that repository, that is
/// when it backs `store`, the export keeps the commit as it is (no `--canonicalize`), and the
/// mode holds every object as it is (not bare-user-only, whose export first checks that the
/// whole commit fits it). The repository is then created if missing, before the import.
pub fn prepare_direct_import(store: &Store, repo_path: &Path, options: &crate::ExportOptions) -> Result<bool> {
    if options.canonicalize || !backs(store, repo_path)? {
        return Ok(false);
    }
    let mode = crate::check_target(repo_path, options)?;
    if mode == RepoMode::BareUserOnly {
        return Ok(false);
    }
    OstreeRepo::open_or_create(repo_path, Some(mode))?;
    Ok(true)
}

/// Hashes what the repository object holds; None when it is missing or unreadable.
fn repo_blob(objects: &dyn RepoObjects, key: &ObjectKey) -> Option<(BlobId, u64)> {
    let mut stream = objects.open(key).ok()??;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some((BlobId::from_bytes(*hasher.finalize().as_bytes()), len)),
            Ok(n) => {
                len += n as u64;
                hasher.update(&buf[..n]);
            }
            Err(_) => return None,
        }
    }
}

/// One blob an export put into the backing repository.
struct Candidate {
    blob: BlobId,
    key: ObjectKey,
    record: ObjectRecord,
}

/// After an export of `closure` into `repo`, the repository backing `store`: every blob the
/// commit's content and directory objects hold is verified in the repository (its bytes
/// hashed against the blob's BLAKE3) and recorded as backed, and the packs that held them are
/// rewritten without them. A repository object whose bytes are wrong (changed in place
/// while the store held a good copy) is replaced from the store's copy first, so the
/// repository is sound again. Objects in `fresh` are not read back: the export wrote them
/// from the store's verified blobs, checked their checksums as it wrote, and synced them.
pub fn adopt(store: &Store, repo: &OstreeRepo, closure: &CommitClosure, fresh: &HashSet<ObjectKey>) -> Result<Adopted> {
    let objects: Arc<dyn RepoObjects> = match store.backing() {
        Some(objects) => objects,
        None => Arc::new(RepoBacking::new(repo.path())),
    };
    let reader = store.reader()?;
    // Only what a pack holds needs adopting; an empty blob costs nothing in a pack. A backed
    // store's packs hold little (manifests, parts, what is not exported yet), so one scan of
    // them is cheaper than a lookup per object of the commit.
    let mut packed: HashSet<BlobId> =
        reader.blobs()?.into_iter().filter(|(_, l)| l.raw_len > 0).map(|(blob, _)| blob).collect();
    let mut candidates = Vec::new();
    let mut push = |blob: BlobId, key: ObjectKey, record: ObjectRecord| {
        if packed.remove(&blob) {
            candidates.push(Candidate { blob, key, record });
        }
    };
    for (id, record) in &closure.content {
        if let ObjectRecord::Regular { blob, .. } = record {
            push(*blob, ObjectKey::new(*id, ObjectType::File), record.clone());
        }
    }
    let commit_key = ObjectKey::new(closure.id, ObjectType::Commit);
    let metadata = closure.metadata.iter().map(|(key, _)| *key).chain(std::iter::once(commit_key));
    for key in metadata {
        if let Some(record @ ObjectRecord::Metadata { blob }) = reader.object(&key)? {
            push(blob, key, record);
        }
    }
    let refs: Vec<(BlobId, BackedRef)> = candidates
        .par_iter()
        .map(|c| -> Result<Option<(BlobId, BackedRef)>> {
            let location = reader.blob(&c.blob)?.ok_or(rejig_store::Error::MissingBlob(c.blob))?;
            if fresh.contains(&c.key) {
                return Ok(Some((c.blob, BackedRef { key: c.key, raw_len: location.raw_len })));
            }
            let found = repo_blob(objects.as_ref(), &c.key);
            if found != Some((c.blob, location.raw_len)) {
                // Wrong or missing bytes under the object's name: write the store's copy.
                replace(store, repo, c, location)?;
                if repo_blob(objects.as_ref(), &c.key) != Some((c.blob, location.raw_len)) {
                    return Ok(None);
                }
            }
            Ok(Some((c.blob, BackedRef { key: c.key, raw_len: location.raw_len })))
        })
        .filter_map(|r| r.transpose())
        .collect::<Result<_>>()?;
    drop(reader);
    Ok(store.adopt_backed(&refs)?)
}

/// Replaces a repository object whose bytes are wrong with the store's verified copy.
fn replace(store: &Store, repo: &OstreeRepo, c: &Candidate, location: rejig_store::BlobLocation) -> Result<()> {
    let path = repo.path().join(repo.mode().loose_path(&c.key));
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).at(&path),
    }
    match &c.record {
        ObjectRecord::Regular { header, .. } => {
            let mut stream = store.open_blob(c.blob, location)?;
            repo.write_content(Some(c.key.id), header, Some((&mut stream, location.raw_len)))?;
        }
        ObjectRecord::Metadata { .. } => {
            let bytes = store.open_blob(c.blob, location)?.read_all()?;
            repo.write_metadata(&c.key, &bytes)?;
        }
        ObjectRecord::Symlink { .. } => {
            return Err(Error::Repo { path, detail: "a symlink has no content to adopt".into() });
        }
    }
    repo.sync()
}
