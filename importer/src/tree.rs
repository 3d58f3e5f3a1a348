//! Commits a directory tree straight into the store, as `ostree commit` would: the same
//! objects and checksums, with file contents stored as blobs. Files are hashed and stored in
//! parallel; directories are built bottom-up.

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use rejig_format::object::{
    metadata_checksum, Commit, DirEntry, DirMeta, DirTree, FileEntry, FileHeader, FileMeta, FileName, VariantDict,
};
use rejig_format::{ObjectId, ObjectKey, ObjectType};
use rejig_store::{Batch, Progress, Store};

use crate::content::store_content;
use crate::error::{Error, IoContext, Result};
use crate::ostree_repo::ImportReport;
use crate::xattrs::read_xattrs;

/// The commit object's fields other than its tree.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// One-line subject.
    pub subject: String,
    /// Longer body.
    pub body: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// Commit metadata (e.g. `version`).
    pub metadata: VariantDict,
    /// The parent commit.
    pub parent: Option<ObjectId>,
}

struct Counter<'a> {
    batch: &'a Batch<'a>,
    progress: &'a dyn Progress,
}

impl Counter<'_> {
    fn add_metadata(&self, kind: ObjectType, bytes: Vec<u8>) -> Result<ObjectId> {
        let id = metadata_checksum(&bytes);
        self.batch.add_metadata(ObjectKey::new(id, kind), &bytes)?;
        Ok(id)
    }

    fn file(&self, path: &Path) -> Result<ObjectId> {
        let stat = std::fs::symlink_metadata(path).at(path)?;
        let (_, meta) = FileMeta::from_mode(stat.uid(), stat.gid(), stat.mode(), read_xattrs(path, false)?)?;
        let stored = if stat.file_type().is_symlink() {
            let target = std::fs::read_link(path).at(path)?.into_os_string().into_string().map_err(|_| {
                Error::Tree { path: path.into(), detail: "symlink target is not UTF-8; OSTree cannot commit it".into() }
            })?;
            store_content(self.batch, FileHeader::symlink(target, meta)?, None)
        } else {
            let mut reader = BufReader::new(File::open(path).at(path)?);
            store_content(self.batch, FileHeader::regular(meta), Some((&mut reader, stat.len())))
        };
        let (id, record) =
            stored.map_err(|e| Error::Tree { path: path.into(), detail: format!("changed while being read? {e}") })?;
        let key = ObjectKey::new(id, ObjectType::File);
        if !self.batch.has_object(&key)? {
            self.batch.add_object(key, &record)?;
        }
        self.progress.advance(1);
        Ok(id)
    }

    /// Returns the dirtree and dirmeta of `path`.
    fn directory(&self, path: &Path) -> Result<(ObjectId, ObjectId)> {
        let stat = std::fs::symlink_metadata(path).at(path)?;
        let (_, meta) = FileMeta::from_mode(stat.uid(), stat.gid(), stat.mode(), read_xattrs(path, false)?)?;
        let meta_id = self.add_metadata(ObjectType::DirMeta, DirMeta(meta).encode())?;
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(path).at(path)? {
            let entry = entry.at(path)?;
            let child = entry.path();
            let name = entry.file_name().into_string().map_err(|_| Error::Tree {
                path: child.clone(),
                detail: "name is not UTF-8; OSTree cannot commit it".into(),
            })?;
            let name = FileName::new(name)?;
            let kind = entry.file_type().at(&child)?;
            if kind.is_dir() {
                dirs.push((name, child));
            } else if kind.is_file() || kind.is_symlink() {
                files.push((name, child));
            } else {
                return Err(Error::Tree {
                    path: child,
                    detail: "not a regular file, symlink or directory; OSTree cannot commit it".into(),
                });
            }
        }
        let files: Vec<FileEntry> = files
            .par_iter()
            .map(|(name, child)| Ok(FileEntry { name: name.clone(), content: self.file(child)? }))
            .collect::<Result<_>>()?;
        let dirs: Vec<DirEntry> = dirs
            .par_iter()
            .map(|(name, child)| {
                let (tree, meta) = self.directory(child)?;
                Ok(DirEntry { name: name.clone(), tree, meta })
            })
            .collect::<Result<_>>()?;
        let tree_id = self.add_metadata(ObjectType::DirTree, DirTree::new(files, dirs)?.encode())?;
        Ok((tree_id, meta_id))
    }
}

/// Commits the directory at `root` into the store and records the commit as a root.
pub fn commit_directory(
    store: &Store,
    root: &Path,
    options: &CommitOptions,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    let started = Instant::now();
    let batch = store.batch()?;
    let counter = Counter { batch: &batch, progress };
    progress.start("committing files", 0);
    let (root_tree, root_meta) = counter.directory(root)?;
    progress.finish();
    let commit = Commit {
        metadata: options.metadata.clone(),
        parent: options.parent,
        related: Vec::new(),
        subject: options.subject.clone(),
        body: options.body.clone(),
        timestamp: options.timestamp,
        root_tree,
        root_meta,
    };
    let commit_id = counter.add_metadata(ObjectType::Commit, commit.encode())?;
    batch.add_root(ObjectKey::new(commit_id, ObjectType::Commit))?;
    let summary = batch.commit()?;
    Ok(ImportReport {
        commit: Some(commit_id),
        objects_total: summary.objects,
        objects_imported: summary.objects,
        objects_skipped: 0,
        blobs_written: summary.blobs,
        raw_bytes_written: summary.raw_bytes,
        bytes_stored: summary.pack_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}
