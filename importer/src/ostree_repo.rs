//! Reads a commit and everything it reaches out of an OSTree repository (archive,
//! bare-user, bare-user-only or bare) into the store. Every object is checked against its
//! checksum before it is recorded; content already in the store is skipped unread.
//! Nothing is recorded unless the whole import succeeds: the batch commits at the end.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use rejig_format::object::dirmeta::decode_owner_mode_xattrs;
use rejig_format::object::meta::{S_IFLNK, S_IFREG};
use rejig_format::object::{metadata_checksum, Commit, DirMeta, DirTree, FileHeader, FileMeta, VariantDict, XattrSet};
use rejig_format::repo_mode::mode_from_config;
use rejig_format::{chain, ObjectId, ObjectKey, ObjectType, RepoMode};
use rejig_store::{Batch, Progress, Store};

use crate::content::store_content;
use crate::error::{Error, IoContext, Result};
use crate::xattrs::read_xattrs;

/// Metadata objects larger than this are refused (ostree's own limit is 128 MiB).
const MAX_METADATA_SIZE: u64 = 128 << 20;
/// Content headers larger than this are refused; xattrs are at most 64 KiB each on Linux.
const MAX_HEADER_SIZE: usize = 16 << 20;

/// A regular file's bytes and their declared size.
type Payload = (Box<dyn Read + Send>, u64);

/// An OSTree repository opened for reading.
pub struct SourceRepo {
    path: PathBuf,
    mode: RepoMode,
}

/// What an import did. In JSON, the commit is hex (empty if the import named none).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// The imported commit.
    #[serde(serialize_with = "rejig_format::report::display_or_empty")]
    pub commit: Option<ObjectId>,
    /// Objects the commit reaches (commit, dirtrees, dirmetas, content, detached metadata).
    pub objects_total: u64,
    /// Objects newly recorded.
    pub objects_imported: u64,
    /// Objects the store already had.
    pub objects_skipped: u64,
    /// Blobs written to the new pack.
    pub blobs_written: u64,
    /// Raw bytes of those blobs.
    pub raw_bytes_written: u64,
    /// Size of the new pack on disk.
    pub bytes_stored: u64,
    /// Wall time.
    pub seconds: f64,
}

/// A valid ostree ref name: `([\w\d][-._\w\d]*/)*[\w\d][-._\w\d]*`.
fn is_valid_ref(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphanumeric() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || "-._".contains(c))
        })
}

impl SourceRepo {
    /// Opens a repository and reads its mode from `config`.
    pub fn open(path: &Path) -> Result<Self> {
        let config_path = path.join("config");
        let config = std::fs::read_to_string(&config_path)
            .map_err(|e| Error::NotARepo { path: path.to_path_buf(), detail: format!("cannot read config: {e}") })?;
        let mode = mode_from_config(&config).map_err(|error| Error::RepoConfig { path: path.to_path_buf(), error })?;
        Ok(Self { path: path.to_path_buf(), mode })
    }

    /// The repository's mode.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// Resolves a commit checksum or a ref (`name`, `remote:name`) to a commit id.
    pub fn resolve(&self, rev: &str) -> Result<ObjectId> {
        let unknown = || Error::UnknownRev { repo: self.path.clone(), rev: rev.to_owned() };
        if let Ok(id) = rev.parse::<ObjectId>() {
            let key = ObjectKey::new(id, ObjectType::Commit);
            return if self.path.join(self.mode.loose_path(&key)).exists() { Ok(id) } else { Err(unknown()) };
        }
        let candidates = match rev.split_once(':') {
            Some((remote, name)) if is_valid_ref(remote) && is_valid_ref(name) => {
                vec![format!("refs/remotes/{remote}/{name}")]
            }
            None if is_valid_ref(rev) => vec![format!("refs/heads/{rev}"), format!("refs/remotes/{rev}")],
            _ => return Err(unknown()),
        };
        for candidate in candidates {
            let path = self.path.join(&candidate);
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text.trim().parse().map_err(|_| Error::NotARepo {
                    path: path.clone(),
                    detail: format!("ref {rev} does not hold a checksum"),
                });
            }
        }
        Err(unknown())
    }

    fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.path.join(self.mode.loose_path(key))
    }

    /// Reads a metadata object and checks its checksum (detached metadata is not named by
    /// its own checksum, so it is only checked to decode).
    pub fn read_metadata(&self, key: ObjectKey) -> Result<Vec<u8>> {
        let path = self.object_path(&key);
        let bad = |detail: String| Error::BadObject { key, path: path.clone(), detail };
        let file = crate::source::open_regular_file(&path).map_err(|e| bad(format!("cannot open: {e}")))?;
        let size = file.metadata().at(&path)?.len();
        if size > MAX_METADATA_SIZE {
            return Err(bad(format!("{size} bytes is more than the {MAX_METADATA_SIZE}-byte limit")));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(MAX_METADATA_SIZE).read_to_end(&mut bytes).at(&path)?;
        if key.kind == ObjectType::CommitMeta {
            VariantDict::decode(&bytes).map_err(|error| Error::UndecodableObject { key, path: path.clone(), error })?;
        } else {
            let actual = metadata_checksum(&bytes);
            if actual != key.id {
                return Err(bad(format!("checksum mismatch: the bytes hash to {actual}")));
            }
        }
        Ok(bytes)
    }

    /// Reads a content object, verifies it and adds it (blob and record) to `batch`.
    pub fn import_content(&self, id: ObjectId, batch: &Batch<'_>) -> Result<()> {
        let key = ObjectKey::new(id, ObjectType::File);
        let path = self.object_path(&key);
        let bad = |detail: String| Error::BadObject { key, path: path.clone(), detail };
        let (header, payload) = self.open_content(&path).map_err(|e| match e {
            Error::Store(inner) => bad(chain(&inner)),
            Error::Format(error) => Error::UndecodableObject { key, path: path.clone(), error },
            Error::Io { error, .. } => bad(error.to_string()),
            other => other,
        })?;
        let (actual, record) = match payload {
            Some((mut reader, size)) => store_content(batch, header, Some((&mut *reader, size))),
            None => store_content(batch, header, None),
        }
        .map_err(|e| bad(e.to_string()))?;
        if actual != id {
            return Err(bad(format!("checksum mismatch: the object hashes to {actual}")));
        }
        batch.add_object(key, &record)?;
        Ok(())
    }

    /// The header and, for a regular file, a reader of its bytes and their declared size.
    fn open_content(&self, path: &Path) -> Result<(FileHeader, Option<Payload>)> {
        match self.mode {
            RepoMode::Archive => {
                let mut reader = BufReader::new(crate::source::open_regular_file(path).at(path)?);
                let mut prefix = [0u8; 8];
                reader.read_exact(&mut prefix).at(path)?;
                let (len, pad) = prefix.split_at(4);
                let declared =
                    usize::try_from(u32::from_be_bytes(len.try_into().unwrap_or([0xff; 4]))).unwrap_or(usize::MAX);
                if declared > MAX_HEADER_SIZE || pad != [0u8; 4] {
                    return Err(rejig_format::Error::malformed(
                        "archive object",
                        format!("bad header length {declared}"),
                    )
                    .into());
                }
                let mut header_bytes = vec![0u8; declared];
                reader.read_exact(&mut header_bytes).at(path)?;
                let (header, size) = FileHeader::decode_archive(&header_bytes)?;
                if header.symlink_target().is_some() {
                    let mut rest = [0u8; 1];
                    if reader.read(&mut rest).at(path)? != 0 {
                        return Err(
                            rejig_format::Error::malformed("archive object", "symlink with payload bytes").into()
                        );
                    }
                    return Ok((header, None));
                }
                Ok((header, Some((Box::new(flate2::bufread::DeflateDecoder::new(reader)), size))))
            }
            RepoMode::BareUser => {
                let mut meta = vec![0u8; MAX_HEADER_SIZE.min(1 << 17)];
                let n = rustix::fs::lgetxattr(path, "user.ostreemeta", &mut meta[..]).at(path)?;
                meta.truncate(n);
                let (uid, gid, mode, xattrs) = decode_owner_mode_xattrs(&meta, "user.ostreemeta")?;
                let (kind, file_meta) = FileMeta::from_mode(uid, gid, mode, xattrs)?;
                let file = crate::source::open_regular_file(path).at(path)?;
                let size = file.metadata().at(path)?.len();
                match kind {
                    S_IFLNK => {
                        let mut target = Vec::new();
                        file.take(8192).read_to_end(&mut target).at(path)?;
                        if target.last() == Some(&0) {
                            target.pop();
                        }
                        let target = String::from_utf8(target)
                            .map_err(|_| rejig_format::Error::malformed("bare-user symlink", "target is not UTF-8"))?;
                        Ok((FileHeader::symlink(target, file_meta)?, None))
                    }
                    S_IFREG => Ok((FileHeader::regular(file_meta), Some((Box::new(BufReader::new(file)), size)))),
                    other => {
                        Err(rejig_format::Error::invalid("user.ostreemeta", format!("mode type {other:#o}")).into())
                    }
                }
            }
            RepoMode::Bare | RepoMode::BareUserOnly => {
                let stat = std::fs::symlink_metadata(path).at(path)?;
                let xattrs = if self.mode == RepoMode::Bare { read_xattrs(path, false)? } else { XattrSet::new() };
                let (uid, gid) = if self.mode == RepoMode::Bare { (stat.uid(), stat.gid()) } else { (0, 0) };
                let (_, file_meta) = FileMeta::from_mode(uid, gid, stat.mode(), xattrs)?;
                if stat.file_type().is_symlink() {
                    let target = std::fs::read_link(path).at(path)?;
                    let target = target
                        .into_os_string()
                        .into_string()
                        .map_err(|_| rejig_format::Error::malformed("symlink", "target is not UTF-8"))?;
                    Ok((FileHeader::symlink(target, file_meta)?, None))
                } else if stat.file_type().is_file() {
                    let file = File::open(path).at(path)?;
                    Ok((FileHeader::regular(file_meta), Some((Box::new(BufReader::new(file)), stat.len()))))
                } else {
                    Err(rejig_format::Error::invalid("content object", "not a regular file or symlink").into())
                }
            }
        }
    }
}

/// Imports commit `rev` of the repository at `repo` and everything it reaches.
pub fn import_commit(store: &Store, repo: &Path, rev: &str, progress: &dyn Progress) -> Result<ImportReport> {
    let started = Instant::now();
    let source = SourceRepo::open(repo)?;
    let commit_id = source.resolve(rev)?;
    let batch = store.batch()?;
    let mut report = ImportReport { commit: Some(commit_id), ..Default::default() };

    let commit_key = ObjectKey::new(commit_id, ObjectType::Commit);
    let commit_bytes = source.read_metadata(commit_key)?;
    let commit = Commit::decode(&commit_bytes).map_err(|error| Error::UndecodableObject {
        key: commit_key,
        path: source.object_path(&commit_key),
        error,
    })?;
    let mut metadata = vec![(commit_key, commit_bytes)];
    let meta_key = ObjectKey::new(commit_id, ObjectType::CommitMeta);
    if source.object_path(&meta_key).exists() {
        metadata.push((meta_key, source.read_metadata(meta_key)?));
    }

    progress.start("reading directories", 0);
    let mut seen = HashSet::new();
    let mut content = Vec::new();
    let mut pending = vec![(commit.root_tree, commit.root_meta)];
    while let Some((tree, meta)) = pending.pop() {
        let meta_key = ObjectKey::new(meta, ObjectType::DirMeta);
        if seen.insert(meta_key) {
            let bytes = source.read_metadata(meta_key)?;
            DirMeta::decode(&bytes).map_err(|error| Error::UndecodableObject {
                key: meta_key,
                path: source.object_path(&meta_key),
                error,
            })?;
            metadata.push((meta_key, bytes));
        }
        let tree_key = ObjectKey::new(tree, ObjectType::DirTree);
        if !seen.insert(tree_key) {
            continue;
        }
        let bytes = source.read_metadata(tree_key)?;
        let listing = DirTree::decode(&bytes).map_err(|error| Error::UndecodableObject {
            key: tree_key,
            path: source.object_path(&tree_key),
            error,
        })?;
        for file in listing.files() {
            if seen.insert(ObjectKey::new(file.content, ObjectType::File)) {
                content.push(file.content);
            }
        }
        pending.extend(listing.dirs().iter().map(|d| (d.tree, d.meta)));
        metadata.push((tree_key, bytes));
        progress.advance(1);
    }
    progress.finish();

    report.objects_total = (metadata.len() + content.len()) as u64;
    let mut missing = Vec::with_capacity(content.len());
    for id in content {
        if !batch.has_object(&ObjectKey::new(id, ObjectType::File))? {
            missing.push(id);
        }
    }
    progress.start("importing content", missing.len() as u64);
    missing.par_iter().try_for_each(|id| {
        source.import_content(*id, &batch)?;
        progress.advance(1);
        Ok::<_, Error>(())
    })?;
    progress.finish();
    report.objects_imported += missing.len() as u64;

    for (key, bytes) in &metadata {
        if batch.has_object(key)? {
            continue;
        }
        batch.add_metadata(*key, bytes)?;
        report.objects_imported += 1;
    }
    report.objects_skipped = report.objects_total - report.objects_imported;
    batch.add_root(commit_key)?;
    let summary = batch.commit()?;
    report.blobs_written = summary.blobs;
    report.raw_bytes_written = summary.raw_bytes;
    report.bytes_stored = summary.pack_bytes;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
