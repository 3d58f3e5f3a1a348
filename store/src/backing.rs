//! A store backed by the OSTree repository it feeds (FORMAT.md §3b): content and metadata
//! that an export wrote into that repository are read back from it instead of being kept a
//! second time in packs.
//!
//! The store knows nothing of repositories on disk: the caller installs a [`RepoObjects`]
//! (the exporter's, which knows the object layout of every mode and ostree's lock) with
//! [`Store::set_backing`]. What the store keeps here is the index side:
//! - a `backed` entry maps a blob to the repository object that holds its bytes, with the
//!   blob's length ([`BackedRef`]);
//! - every read of a backed blob is checked against the blob's BLAKE3 as it ends, so a
//!   changed object is an error, never wrong bytes;
//! - [`Store::check_backing`] drops entries whose object is gone or has the wrong size (an
//!   `ostree prune`, a deletion) with everything that needs them, so the next update fetches
//!   what supplies them again;
//! - [`Store::adopt_backed`] records entries after an export and rewrites the packs that
//!   held those blobs, in gc's crash-safe order (FORMAT.md §5.2, §5.4).
//! - [`Batch::add_backed_file`] writes a content object straight into the repository while a
//!   package is imported for it (direct import), and the entry is recorded with the batch
//!   once the repository is durable.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::durable::sync_dir;
use crate::error::{Error, IoContext, Result};
use crate::index::GcChanges;
use crate::pack::reader::{read_trailer, BlobReader};
use crate::pack::writer::{pack_path, HashingReader};
use crate::pack::BlobLocation;
use crate::store::{Batch, Store};
use rejig_format::id::{BlobId, ObjectId, ObjectKey, PackId};
use rejig_format::object::FileHeader;

/// The file in the store that names the repository backing it (absolute path, one line).
pub const FILE: &str = "backing";

/// Records that the store at `root` is backed by `repo` (made absolute). The store directory
/// is created if missing; the file is published through `tmp/` and a rename.
pub fn write(root: &Path, repo: &Path) -> Result<PathBuf> {
    let repo = std::path::absolute(repo).at(repo)?;
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).at(&tmp)?;
    let mut line = repo.as_os_str().as_encoded_bytes().to_vec();
    line.push(b'\n');
    crate::durable::write_file_via(&tmp, &root.join(FILE), &line)?;
    Ok(repo)
}

/// The repository backing the store at `root`, if it is backed.
pub fn read(root: &Path) -> Result<Option<PathBuf>> {
    let path = root.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            if line.is_empty() || line.contains(&b'\n') || line.first() != Some(&b'/') {
                return Err(Error::invalid("backing", format!("{} does not hold one absolute path", path.display())));
            }
            Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(line))))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The repository object that holds a blob's bytes: a content object's file content, or a
/// metadata object's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackedRef {
    /// The object in the repository.
    pub key: ObjectKey,
    /// The blob's length.
    pub raw_len: u64,
}

impl BackedRef {
    /// The 41-byte index encoding: key (33) ‖ raw_len u64 LE.
    pub fn to_bytes(&self) -> [u8; 41] {
        let mut out = [0u8; 41];
        out[..33].copy_from_slice(&self.key.to_bytes());
        out[33..].copy_from_slice(&self.raw_len.to_le_bytes());
        out
    }

    /// Decodes [`BackedRef::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 41]) -> Result<Self> {
        let mut key = [0u8; 33];
        key.copy_from_slice(&bytes[..33]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[33..]);
        Ok(Self { key: ObjectKey::from_bytes(&key)?, raw_len: u64::from_le_bytes(len) })
    }
}

/// Where a blob's bytes are: in a pack, or in the backing repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobSource {
    /// In a pack of the store.
    Pack(BlobLocation),
    /// In the backing repository.
    Repo(BackedRef),
}

impl BlobSource {
    /// The blob's length.
    pub fn raw_len(&self) -> u64 {
        match self {
            BlobSource::Pack(location) => location.raw_len,
            BlobSource::Repo(backed) => backed.raw_len,
        }
    }
}

/// What a cheap look at a repository object found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// No such object (or not a regular file).
    Missing,
    /// There, with the length of the bytes it holds when that is known without reading it.
    Present(Option<u64>),
}

/// Read access to the objects of the backing repository. Implementations hold ostree's
/// shared repository lock while the store may rely on the objects.
pub trait RepoObjects: Send + Sync {
    /// The repository.
    fn path(&self) -> &Path;
    /// Whether the object is there, without reading it.
    fn probe(&self, key: &ObjectKey) -> std::io::Result<Presence>;
    /// The bytes the object holds (a content object's file content; a metadata object's
    /// bytes), unverified; None when the object is not there.
    fn open(&self, key: &ObjectKey) -> std::io::Result<Option<Box<dyn Read + Send>>>;
    /// Writes a regular file's content object, reading `content` (`size` bytes) to its end
    /// even when the object is already there. It is published only if header and content
    /// hash to `expected`.
    fn write_file(
        &self,
        expected: ObjectId,
        header: &FileHeader,
        content: &mut dyn Read,
        size: u64,
    ) -> std::io::Result<FileWrite>;
    /// Makes every object written so far durable.
    fn sync(&self) -> std::io::Result<()>;
}

/// What [`RepoObjects::write_file`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileWrite {
    /// The object is in the repository (written now, or by another writer meanwhile).
    Written,
    /// Header and content hash to this other checksum: nothing was published.
    Mismatch(ObjectId),
}

/// What [`Batch::add_backed_file`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackedWrite {
    /// The object is in the repository and the blob will be recorded as backed by it.
    Written(BlobId),
    /// Nothing was read: the store is not backed, or the repository has the object already
    /// (its bytes are checked when an export adopts it). The caller packs the content.
    Declined,
    /// The content was read, but with the header it hashes to this other checksum: nothing
    /// was published or recorded.
    Refused(ObjectId),
}

impl Batch<'_> {
    /// Direct import (FORMAT.md §3b): writes a regular file's content object straight into
    /// the backing repository instead of packing its content, checking its checksum as it
    /// writes, and records the blob as backed by it when the batch is recorded. Recording first makes the repository durable
    /// ([`Store::commit_finished`]), so an entry never names an object a power cut could lose.
    pub fn add_backed_file(
        &self,
        key: ObjectKey,
        header: &FileHeader,
        content: &mut dyn Read,
        size: u64,
    ) -> Result<BackedWrite> {
        let Some(objects) = self.store().backing() else { return Ok(BackedWrite::Declined) };
        let in_repo = |detail: String| Error::RepoObject { key, repo: objects.path().into(), detail };
        match objects.probe(&key) {
            Ok(Presence::Missing) => {}
            Ok(Presence::Present(_)) => return Ok(BackedWrite::Declined),
            Err(e) => return Err(in_repo(format!("cannot look for the object: {e}"))),
        }
        let mut hashing = HashingReader::new(content);
        let written = objects
            .write_file(key.id, header, &mut hashing, size)
            .map_err(|e| in_repo(format!("cannot write the object: {e}")))?;
        if let FileWrite::Mismatch(actual) = written {
            return Ok(BackedWrite::Refused(actual));
        }
        let (blob, raw_len) = hashing.finish();
        self.add_backed(blob, BackedRef { key, raw_len })?;
        Ok(BackedWrite::Written(blob))
    }
}

/// What [`Store::check_backing`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackingCheck {
    /// Backed entries looked at.
    pub checked: u64,
    /// Entries whose repository object is gone or has the wrong size, dropped.
    pub dropped: Vec<String>,
    /// Index entries dropped with them (objects, dirtrees above them, packages, roots).
    pub entries_dropped: u64,
}

/// What [`Store::adopt_backed`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Blobs now read from the repository.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Packs rewritten without them.
    pub packs_rewritten: u64,
    /// Packs written for what those packs still held.
    pub packs_written: u64,
}

impl Store {
    /// Installs the reader of the backing repository. Reads of backed blobs fail until it is.
    pub fn set_backing(&self, objects: Arc<dyn RepoObjects>) -> Result<()> {
        *self.backing_slot().write().map_err(|_| Error::invalid("store", "a thread panicked"))? = Some(objects);
        Ok(())
    }

    /// The installed reader of the backing repository.
    pub fn backing(&self) -> Option<Arc<dyn RepoObjects>> {
        self.backing_slot().read().ok().and_then(|b| b.clone())
    }

    /// The repository this store is backed by (from `<store>/backing`), if any.
    pub fn backing_repo(&self) -> Result<Option<PathBuf>> {
        read(self.root())
    }

    /// Where a blob's bytes are: a pack wins over the repository.
    pub fn blob_source(&self, reader: &crate::IndexReader<'_>, id: &BlobId) -> Result<Option<BlobSource>> {
        if let Some(location) = reader.blob(id)? {
            return Ok(Some(BlobSource::Pack(location)));
        }
        Ok(reader.backed(id)?.map(BlobSource::Repo))
    }

    /// Streams a blob from where it is; the stream fails if the bytes do not match its BLAKE3.
    pub fn open_source(&self, id: BlobId, source: BlobSource) -> Result<BlobReader> {
        match source {
            BlobSource::Pack(location) => self.open_blob(id, location),
            BlobSource::Repo(backed) => self.open_backed(id, backed),
        }
    }

    /// Streams a backed blob from the repository, verified as it ends.
    pub fn open_backed(&self, id: BlobId, backed: BackedRef) -> Result<BlobReader> {
        let objects = self.backing().ok_or_else(|| Error::Backed {
            blob: id,
            key: backed.key,
            repo: self.backing_repo().ok().flatten().unwrap_or_default(),
            detail: "the store is backed by a repository, but no reader of it was installed".into(),
        })?;
        let gone = |detail: String| Error::Backed { blob: id, key: backed.key, repo: objects.path().into(), detail };
        match objects.open(&backed.key) {
            Ok(Some(stream)) => Ok(BlobReader::from_repo(stream, id, backed, objects.path())),
            Ok(None) => Err(gone("the object is gone from the repository (pruned or deleted)".into())),
            Err(e) => Err(gone(format!("cannot read the object: {e}"))),
        }
    }

    /// Looks at every backed entry (no reading: existence and size) and drops those whose
    /// repository object is gone or has the wrong size, with every index entry that needs
    /// them (objects, the dirtrees above them, packages, roots that no longer walk), so that
    /// the next import or export fetches what supplies them. Bytes changed in place are
    /// found when read (and by fsck).
    pub fn check_backing(&self) -> Result<BackingCheck> {
        self.require_index()?;
        let mut check = BackingCheck::default();
        let Some(objects) = self.backing() else { return Ok(check) };
        let backed = self.reader()?.backed_all()?;
        check.checked = backed.len() as u64;
        // A look is a path walk and a stat: on every core, since every open pays for it.
        let looked: Vec<(BlobId, String)> = backed
            .par_iter()
            .filter_map(|(blob, backed)| {
                let why = match objects.probe(&backed.key) {
                    Ok(Presence::Missing) => Some("is gone (pruned or deleted)".to_owned()),
                    Ok(Presence::Present(Some(len))) if len != backed.raw_len => {
                        Some(format!("holds {len} bytes instead of {}", backed.raw_len))
                    }
                    Ok(Presence::Present(_)) => None,
                    Err(e) => Some(format!("cannot be examined: {e}")),
                };
                why.map(|why| (*blob, format!("{} in {} {why}", backed.key, objects.path().display())))
            })
            .collect();
        let mut dead = Vec::new();
        for (blob, why) in looked {
            check.dropped.push(why);
            dead.push(blob);
        }
        if !dead.is_empty() {
            check.entries_dropped = self.drop_backed(&dead)?;
        }
        Ok(check)
    }

    /// Drops backed entries and whatever needs them (see [`Store::check_backing`]). Returns
    /// how many other index entries went with them.
    pub fn drop_backed(&self, blobs: &[BlobId]) -> Result<u64> {
        let changes = GcChanges { dead_backed: blobs.to_vec(), ..Default::default() };
        self.index().apply_gc(&changes)?;
        crate::gc::drop_incomplete(self, self.index())
    }

    /// Records that the repository objects in `refs` hold these blobs (each verified by the
    /// caller against the blob's BLAKE3), then rewrites the packs that held them, so that
    /// the store keeps them only in the repository. Order: the backed entries commit first
    /// (a blob then has two sources, the pack winning); the packs' remaining blobs and index
    /// entries are copied into new packs, durable; one index transaction forgets the pack
    /// copies and swaps the packs; the old pack files are deleted. A kill at any point leaves
    /// every blob readable from a pack or the repository.
    pub fn adopt_backed(&self, refs: &[(BlobId, BackedRef)]) -> Result<Adopted> {
        self.require_index()?;
        let mut adopted = Adopted::default();
        if !refs.is_empty() {
            self.index().add_backed(refs)?;
            adopted.blobs = refs.len() as u64;
            adopted.bytes = refs.iter().map(|(_, r)| r.raw_len).sum();
        }
        let reader = self.reader()?;
        // Pack copies of backed blobs, by pack. A backed store's packs hold few blobs, its
        // repository many: the packs are the list to go through.
        let locations: HashMap<BlobId, BlobLocation> = reader.blobs()?.into_iter().collect();
        let mut by_pack: HashMap<PackId, HashSet<BlobId>> = HashMap::new();
        for (blob, location) in &locations {
            if reader.backed(blob)?.is_some() {
                by_pack.entry(location.pack).or_default().insert(*blob);
            }
        }
        if by_pack.is_empty() {
            return Ok(adopted);
        }
        let roots: HashSet<ObjectKey> = reader.roots()?.into_iter().map(|(k, _)| k).collect();
        let mut packs: Vec<PackId> = by_pack.keys().copied().collect();
        packs.sort();
        let mut writer = crate::fold::RollingWriter::new(self, crate::fold::TARGET_PACK_SIZE)?;
        let mut changes = GcChanges::default();
        for pack in &packs {
            let path = pack_path(&self.packs_dir(), pack);
            let file = self.pack_file(pack)?;
            let (trailer, _) = read_trailer(&file, &path)?;
            let released = &by_pack[pack];
            for entry in &trailer.blobs {
                let indexed_here =
                    locations.get(&entry.id).is_some_and(|l| l.pack == *pack && l.offset == entry.offset);
                if !indexed_here {
                    continue;
                }
                if released.contains(&entry.id) {
                    changes.dead_blobs.push(entry.id);
                } else {
                    writer.append_copy(entry, &file, &path)?;
                }
            }
            // The index entries this pack lists stay listed somewhere, for `fsck --repair`.
            for (key, record) in &trailer.objects {
                if reader.contains_object(key)? {
                    writer.add_object_encoded(*key, record.clone());
                }
            }
            for key in trailer.roots.iter().filter(|k| roots.contains(k)) {
                writer.add_root(*key);
            }
            for (header, manifest) in &trailer.packages {
                if reader.package(header)?.is_some() {
                    writer.add_package(*header, *manifest);
                }
            }
        }
        changes.new_packs = writer.finish()?;
        changes.removed_packs = packs.clone();
        adopted.packs_rewritten = packs.len() as u64;
        adopted.packs_written = changes.new_packs.len() as u64;
        drop(reader);
        self.index().apply_gc(&changes)?;
        self.forget_open_packs()?;
        let referenced: HashSet<PackId> = self.reader()?.packs()?.into_iter().map(|(id, _)| id).collect();
        for pack in packs.iter().filter(|p| !referenced.contains(p)) {
            let path = pack_path(&self.packs_dir(), pack);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        sync_dir(&self.packs_dir())?;
        Ok(adopted)
    }
}

/// Checks a backed blob's stream as it ends: length and BLAKE3.
pub(crate) struct VerifiedRepoRead {
    inner: Box<dyn Read + Send>,
    id: BlobId,
    backed: BackedRef,
    repo: PathBuf,
    hasher: blake3::Hasher,
    read: u64,
    done: bool,
}

impl VerifiedRepoRead {
    pub(crate) fn new(inner: Box<dyn Read + Send>, id: BlobId, backed: BackedRef, repo: &Path) -> Self {
        Self { inner, id, backed, repo: repo.into(), hasher: blake3::Hasher::new(), read: 0, done: false }
    }

    fn changed(&self, detail: String) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            Error::Backed {
                blob: self.id,
                key: self.backed.key,
                repo: self.repo.clone(),
                detail: format!("the object changed in the repository ({detail}); rejig treats it as absent: run `rejig gc` or `rejig fsck --repair`, then export again to fetch what supplies it"),
            },
        )
    }
}

impl Read for VerifiedRepoRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // Never more than one byte past the recorded length: a longer object is an error,
        // not an unbounded read.
        let left = self.backed.raw_len.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.backed.raw_len {
            return Err(self.changed(format!("longer than {} bytes", self.backed.raw_len)));
        }
        self.hasher.update(&buf[..n]);
        if n == 0 {
            if self.read != self.backed.raw_len {
                return Err(self.changed(format!("{} bytes instead of {}", self.read, self.backed.raw_len)));
            }
            if self.hasher.finalize().as_bytes() != self.id.as_bytes() {
                return Err(self.changed("BLAKE3 mismatch".into()));
            }
            self.done = true;
        }
        Ok(n)
    }
}

/// The store error inside an I/O error from a backed stream (or the I/O error itself).
pub(crate) fn into_error(error: std::io::Error) -> Error {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(Error::Backed { blob, key, repo, detail }) => {
            Error::Backed { blob: *blob, key: *key, repo: repo.clone(), detail: detail.clone() }
        }
        _ => Error::io("<backed blob>", error),
    }
}

/// For a rebuild of the index (`fsck --repair`), which finds no backed entries in the packs:
/// every object whose blob no pack holds is looked up in the backing repository under its
/// own key (a content object's file, a metadata object), and its bytes are recorded as the
/// blob's if they hash to it. Objects whose repository copy is gone or changed stay without
/// a blob and are dropped by the rebuild like any other. Returns how many blobs were found.
pub(crate) fn rederive(store: &Store, index: &crate::index::Index) -> Result<u64> {
    let Some(objects) = store.backing() else { return Ok(0) };
    let reader = index.reader()?;
    let mut found: HashMap<BlobId, BackedRef> = HashMap::new();
    for (key, record) in reader.objects()? {
        let Some(blob) = record.blob() else { continue };
        if !matches!(
            key.kind,
            rejig_format::id::ObjectType::File
                | rejig_format::id::ObjectType::DirTree
                | rejig_format::id::ObjectType::DirMeta
                | rejig_format::id::ObjectType::Commit
        ) || found.contains_key(&blob)
            || reader.blob(&blob)?.is_some()
        {
            continue;
        }
        let Ok(Some(mut stream)) = objects.open(&key) else { continue };
        let mut hasher = blake3::Hasher::new();
        let mut len = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        let sound = loop {
            match stream.read(&mut buf) {
                Ok(0) => break hasher.finalize().as_bytes() == blob.as_bytes(),
                Ok(n) => {
                    len += n as u64;
                    hasher.update(&buf[..n]);
                }
                Err(_) => break false,
            }
        };
        if sound {
            found.insert(blob, BackedRef { key, raw_len: len });
        }
    }
    drop(reader);
    let refs: Vec<(BlobId, BackedRef)> = found.into_iter().collect();
    if !refs.is_empty() {
        index.add_backed(&refs)?;
    }
    Ok(refs.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rejig_format::id::{ObjectId, ObjectType};

    fn key() -> ObjectKey {
        ObjectKey::new(ObjectId::from_bytes([7; 32]), ObjectType::File)
    }

    #[test]
    fn a_backed_ref_round_trips() {
        let backed = BackedRef { key: key(), raw_len: 1 << 40 };
        assert_eq!(BackedRef::from_bytes(&backed.to_bytes()).unwrap(), backed);
    }

    fn read(bytes: &[u8], expected: &[u8]) -> std::io::Result<Vec<u8>> {
        let id = BlobId::of(expected);
        let backed = BackedRef { key: key(), raw_len: expected.len() as u64 };
        let mut stream =
            VerifiedRepoRead::new(Box::new(std::io::Cursor::new(bytes.to_vec())), id, backed, Path::new("/repo"));
        let mut out = Vec::new();
        stream.read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn a_repository_object_is_used_only_if_it_holds_exactly_the_blob() {
        assert_eq!(read(b"content", b"content").unwrap(), b"content");
        for (bytes, why) in [(&b"contenT"[..], "BLAKE3"), (b"content!", "longer"), (b"conten", "bytes instead")] {
            let error = read(bytes, b"content").unwrap_err();
            let message = into_error(error).to_string();
            assert!(message.contains("changed in the repository") && message.contains(why), "{message}");
        }
    }
}
