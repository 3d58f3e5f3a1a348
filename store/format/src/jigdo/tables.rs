//! The jigdo model a client rebuilds a commit from: the commit, its directories, the
//! package table and one entry per content object. Since format 2 it travels split: the
//! jigdo's head ([`crate::jigdo::parts::JigdoHead`]) and content-addressed parts
//! ([`crate::jigdo::parts`]), reassembled and validated here before use.

#![deny(clippy::indexing_slicing)]

use crate::digest::PackageBinding;
use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectId};
use crate::object::{metadata_checksum, Commit, DirMeta, DirTree, FileHeader, FileMeta};

/// Where a content object's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentSource {
    /// File `file` (in header order) of package `package` (an index into the package table).
    Package {
        /// Index into [`Jigdo::packages`].
        package: u32,
        /// Index of the file in that package's header order.
        file: u32,
    },
    /// New content carried by the jigdo itself, named by its BLAKE3.
    New,
    /// A symlink: the header says everything; this is its target.
    Symlink(String),
}

/// One content object of the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentEntry {
    /// The object's OSTree checksum, which the rebuilt object must have.
    pub object: ObjectId,
    /// Where its bytes come from.
    pub source: ContentSource,
    /// Index into [`Jigdo::metadata`]: owner, group, permissions and xattrs.
    pub meta: u32,
    /// BLAKE3 of the content (zero for symlinks): lets a client recognise content its store
    /// already holds, and names new content.
    pub content: BlobId,
}

/// Everything a client needs, besides packages and new content, to rebuild the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jigdo {
    /// The commit's checksum.
    pub commit: ObjectId,
    /// The commit object's bytes.
    pub commit_bytes: Vec<u8>,
    /// Detached metadata (signatures), when the commit has it.
    pub commitmeta: Option<Vec<u8>>,
    /// Every dirtree object the commit reaches.
    pub dirtrees: Vec<Vec<u8>>,
    /// Every dirmeta object the commit reaches.
    pub dirmetas: Vec<Vec<u8>>,
    /// The packages content comes from.
    pub packages: Vec<PackageBinding>,
    /// Interned file metadata (owner, group, permission bits, xattrs).
    pub metadata: Vec<FileMeta>,
    /// One entry per content object.
    pub content: Vec<ContentEntry>,
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

pub(crate) fn put_u32(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
}

pub(crate) fn invalid(detail: impl Into<String>) -> Error {
    Error::invalid("jigdo", detail)
}

impl Jigdo {
    /// The OSTree header an entry's object takes: its interned metadata, and its target if
    /// it is a symlink.
    pub fn header_of(&self, entry: &ContentEntry) -> Result<FileHeader> {
        let meta = self
            .metadata
            .get(entry.meta as usize)
            .ok_or_else(|| invalid(format!("{}: metadata index {} out of range", entry.object, entry.meta)))?
            .clone();
        match &entry.source {
            ContentSource::Symlink(target) => FileHeader::symlink(target.clone(), meta),
            _ => Ok(FileHeader::regular(meta)),
        }
    }

    /// Checks everything that can be checked without packages: the commit hashes to its name;
    /// every dirtree and dirmeta decodes; the commit's root and every directory entry are
    /// present, and every file entry has exactly one content entry; indexes are in range; and
    /// symlink entries hash to their checksum. Content from packages and new content is
    /// checked when it is rebuilt.
    pub fn validate(&self) -> Result<()> {
        let actual = metadata_checksum(&self.commit_bytes);
        if actual != self.commit {
            return Err(invalid(format!(
                "the commit object hashes to {actual}, not to the {} the jigdo names",
                self.commit
            )));
        }
        let commit = Commit::decode(&self.commit_bytes)?;
        let mut trees = std::collections::HashMap::with_capacity(self.dirtrees.len());
        for bytes in &self.dirtrees {
            let id = metadata_checksum(bytes);
            if trees.insert(id, DirTree::decode(bytes)?).is_some() {
                return Err(invalid(format!("dirtree {id} is listed twice")));
            }
        }
        let mut metas = std::collections::HashSet::with_capacity(self.dirmetas.len());
        for bytes in &self.dirmetas {
            DirMeta::decode(bytes)?;
            let id = metadata_checksum(bytes);
            if !metas.insert(id) {
                return Err(invalid(format!("dirmeta {id} is listed twice")));
            }
        }
        let entries: std::collections::HashMap<ObjectId, &ContentEntry> =
            self.content.iter().map(|e| (e.object, e)).collect();
        if entries.len() != self.content.len() {
            return Err(invalid("a content object is listed twice"));
        }
        for entry in &self.content {
            let header = self.header_of(entry)?;
            match &entry.source {
                ContentSource::Package { package, .. } if *package as usize >= self.packages.len() => {
                    return Err(invalid(format!("{}: package index {package} out of range", entry.object)));
                }
                ContentSource::Symlink(_) => {
                    let actual = header.checksum(b"");
                    if actual != entry.object {
                        return Err(invalid(format!("symlink {} hashes to {actual}", entry.object)));
                    }
                }
                _ => {}
            }
        }
        // Walk from the root: every directory reached must be present, each once (no cycles
        // can arise from checksums, but a hostile table could still omit objects).
        let mut pending = vec![(commit.root_tree, commit.root_meta)];
        let mut seen = std::collections::HashSet::new();
        let mut metas_seen = std::collections::HashSet::new();
        let mut referenced = std::collections::HashSet::new();
        while let Some((tree, meta)) = pending.pop() {
            if !metas.contains(&meta) {
                return Err(invalid(format!("dirmeta {meta} is missing")));
            }
            metas_seen.insert(meta);
            if !seen.insert(tree) {
                continue;
            }
            let listing = trees.get(&tree).ok_or_else(|| invalid(format!("dirtree {tree} is missing")))?;
            for file in listing.files() {
                if !entries.contains_key(&file.content) {
                    return Err(invalid(format!("content object {} ({}) has no entry", file.content, file.name)));
                }
                referenced.insert(file.content);
            }
            pending.extend(listing.dirs().iter().map(|d| (d.tree, d.meta)));
        }
        // Nothing else: a jigdo carries exactly the commit, so nothing unreachable is stored.
        if let Some(extra) = trees.keys().find(|id| !seen.contains(*id)) {
            return Err(invalid(format!("dirtree {extra} is not reached from the commit")));
        }
        if let Some(extra) = metas.iter().find(|id| !metas_seen.contains(*id)) {
            return Err(invalid(format!("dirmeta {extra} is not reached from the commit")));
        }
        if referenced.len() != entries.len() {
            return Err(invalid(format!(
                "{} content entries are not in any directory",
                entries.len() - referenced.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::digest::{FileSha256, HeaderSha256};
    use crate::manifest::Nevra;
    use crate::object::{DirEntry, FileEntry, FileName, VariantDict, XattrSet};

    /// A commit of `/a` (new content), `/l -> a` and `/d/b` (from package 0, file 3).
    pub(crate) fn sample() -> Jigdo {
        let root_meta = FileMeta::new(0, 0, 0o755, XattrSet::new()).unwrap();
        let file_meta = FileMeta::new(0, 0, 0o644, XattrSet::from_filesystem([("user.label", "x")]).unwrap()).unwrap();
        let link_meta = FileMeta::new(0, 0, 0o777, XattrSet::new()).unwrap();
        let a = FileHeader::regular(file_meta.clone()).checksum(b"hello");
        let b = FileHeader::regular(file_meta.clone()).checksum(b"packaged");
        let l = FileHeader::symlink("a", link_meta.clone()).unwrap().checksum(b"");
        let dirmeta = DirMeta(root_meta).encode();
        let sub =
            DirTree::new(vec![FileEntry { name: FileName::new("b").unwrap(), content: b }], vec![]).unwrap().encode();
        let root = DirTree::new(
            vec![
                FileEntry { name: FileName::new("a").unwrap(), content: a },
                FileEntry { name: FileName::new("l").unwrap(), content: l },
            ],
            vec![DirEntry {
                name: FileName::new("d").unwrap(),
                tree: metadata_checksum(&sub),
                meta: metadata_checksum(&dirmeta),
            }],
        )
        .unwrap()
        .encode();
        let commit = Commit {
            metadata: VariantDict::new(),
            parent: None,
            related: vec![],
            subject: "s".into(),
            body: String::new(),
            timestamp: 1,
            root_tree: metadata_checksum(&root),
            root_meta: metadata_checksum(&dirmeta),
        }
        .encode();
        Jigdo {
            commit: metadata_checksum(&commit),
            commit_bytes: commit,
            commitmeta: None,
            dirtrees: vec![root, sub],
            dirmetas: vec![dirmeta],
            packages: vec![PackageBinding {
                nevra: Nevra {
                    name: "p".into(),
                    epoch: None,
                    version: "1".into(),
                    release: "1".into(),
                    arch: "noarch".into(),
                },
                header: HeaderSha256::from_bytes([1; 32]),
                file: Some(FileSha256::from_bytes([2; 32])),
            }],
            metadata: vec![file_meta, link_meta],
            content: vec![
                ContentEntry { object: a, source: ContentSource::New, meta: 0, content: BlobId::of(b"hello") },
                ContentEntry {
                    object: b,
                    source: ContentSource::Package { package: 0, file: 3 },
                    meta: 0,
                    content: BlobId::of(b"packaged"),
                },
                ContentEntry {
                    object: l,
                    source: ContentSource::Symlink("a".into()),
                    meta: 1,
                    content: BlobId::from_bytes([0; 32]),
                },
            ],
        }
    }

    #[test]
    fn hostile_tables_are_refused() {
        let jigdo = sample();
        jigdo.validate().unwrap();
        let mut wrong_commit = sample();
        wrong_commit.commit = ObjectId::from_bytes([9; 32]);
        assert!(wrong_commit.validate().is_err());
        let mut missing_tree = sample();
        missing_tree.dirtrees.pop();
        assert!(missing_tree.validate().is_err());
        let mut bad_package = sample();
        bad_package.content[1].source = ContentSource::Package { package: 7, file: 0 };
        assert!(bad_package.validate().is_err());
        let mut bad_meta = sample();
        bad_meta.content[0].meta = 9;
        assert!(bad_meta.validate().is_err());
        let mut lying_symlink = sample();
        lying_symlink.content[2].source = ContentSource::Symlink("elsewhere".into());
        assert!(lying_symlink.validate().is_err());
        let mut orphan = sample();
        orphan.content.push(ContentEntry {
            object: ObjectId::from_bytes([5; 32]),
            source: ContentSource::New,
            meta: 0,
            content: BlobId::of(b""),
        });
        assert!(orphan.validate().is_err());
        let mut tree_twice = sample();
        tree_twice.dirtrees.push(tree_twice.dirtrees[0].clone());
        assert!(tree_twice.validate().is_err());
        let mut stray_tree = sample();
        stray_tree.dirtrees.push(DirTree::new(vec![], vec![]).unwrap().encode());
        assert!(stray_tree.validate().is_err());
        let mut stray_meta = sample();
        stray_meta.dirmetas.push(DirMeta(FileMeta::new(1, 1, 0o700, XattrSet::new()).unwrap()).encode());
        assert!(stray_meta.validate().is_err());
        let mut missing_entry = sample();
        missing_entry.content.remove(0);
        assert!(missing_entry.validate().is_err());
    }
}
