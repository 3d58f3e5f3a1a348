//! The jigdo tables and their encoding (FORMAT.md "jigdo tables"): little-endian, lengths and
//! counts u32 and checked against the bytes left, the whole zstd-compressed with its raw size
//! declared first and enforced while decompressing.

#![deny(clippy::indexing_slicing)]

use std::io::Read;

use crate::bounded::Cursor;
use crate::digest::{FileSha256, HeaderSha256, PackageBinding};
use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectId};
use crate::manifest::Nevra;
use crate::object::{metadata_checksum, Commit, DirMeta, DirTree, FileHeader, FileMeta, XattrSet};

/// The tables format version this code writes and reads.
pub const TABLES_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RJJIGDO\x01";
/// Decoded tables larger than this are refused (a commit of a million files is ~100 MiB).
const MAX_TABLES_SIZE: u64 = 256 << 20;

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

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::invalid("jigdo", detail)
}

impl Jigdo {
    /// The uncompressed tables.
    pub fn encode_raw(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&TABLES_VERSION.to_le_bytes());
        out.extend_from_slice(self.commit.as_bytes());
        put_bytes(&mut out, &self.commit_bytes);
        match &self.commitmeta {
            Some(meta) => {
                out.push(1);
                put_bytes(&mut out, meta);
            }
            None => out.push(0),
        }
        for list in [&self.dirtrees, &self.dirmetas] {
            put_u32(&mut out, list.len());
            for object in list {
                put_bytes(&mut out, object);
            }
        }
        put_u32(&mut out, self.packages.len());
        for package in &self.packages {
            let n = &package.nevra;
            for text in [&n.name, &n.version, &n.release, &n.arch] {
                put_bytes(&mut out, text.as_bytes());
            }
            match n.epoch {
                Some(epoch) => {
                    out.push(1);
                    out.extend_from_slice(&epoch.to_le_bytes());
                }
                None => out.push(0),
            }
            out.extend_from_slice(package.header.as_bytes());
            match &package.file {
                Some(digest) => {
                    out.push(1);
                    out.extend_from_slice(digest.as_bytes());
                }
                None => out.push(0),
            }
        }
        put_u32(&mut out, self.metadata.len());
        for meta in &self.metadata {
            out.extend_from_slice(&meta.uid().to_le_bytes());
            out.extend_from_slice(&meta.gid().to_le_bytes());
            out.extend_from_slice(&meta.permissions().to_le_bytes());
            put_bytes(&mut out, &meta.xattrs().encode());
        }
        put_u32(&mut out, self.content.len());
        for entry in &self.content {
            out.extend_from_slice(entry.object.as_bytes());
            out.extend_from_slice(&entry.meta.to_le_bytes());
            out.extend_from_slice(entry.content.as_bytes());
            match &entry.source {
                ContentSource::Package { package, file } => {
                    out.push(1);
                    out.extend_from_slice(&package.to_le_bytes());
                    out.extend_from_slice(&file.to_le_bytes());
                }
                ContentSource::New => out.push(2),
                ContentSource::Symlink(target) => {
                    out.push(3);
                    put_bytes(&mut out, target.as_bytes());
                }
            }
        }
        out
    }

    /// The tables as shipped: raw size (u64 LE), then zstd.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let raw = self.encode_raw();
        let mut out = (raw.len() as u64).to_le_bytes().to_vec();
        out.extend(zstd::bulk::compress(&raw, 19).map_err(|e| Error::Compress { what: "jigdo tables", error: e })?);
        Ok(out)
    }

    /// Decodes shipped tables: decompression is bounded by the declared size, which is itself
    /// bounded, and the result is validated ([`Jigdo::validate`]).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (size, compressed) =
            bytes.split_at_checked(8).ok_or_else(|| Error::malformed("jigdo tables", "truncated"))?;
        let size = u64::from_le_bytes(size.try_into().map_err(|_| Error::malformed("jigdo tables", "truncated"))?);
        if size > MAX_TABLES_SIZE {
            return Err(Error::malformed(
                "jigdo tables",
                format!("declares {size} bytes, over the {MAX_TABLES_SIZE}-byte limit"),
            ));
        }
        // A stream, so memory follows the bytes that really come out rather than the
        // declared size; one byte past it is read to detect a lie.
        let mut raw = Vec::new();
        zstd::stream::read::Decoder::new(compressed)
            .and_then(|decoder| decoder.take(size + 1).read_to_end(&mut raw))
            .map_err(|e| Error::malformed("jigdo tables", format!("zstd: {e}")))?;
        if raw.len() as u64 != size {
            return Err(Error::malformed("jigdo tables", format!("{} bytes where {size} were declared", raw.len())));
        }
        let jigdo = Self::decode_raw(&raw)?;
        jigdo.validate()?;
        Ok(jigdo)
    }

    /// Decodes the uncompressed tables (structure only; see [`Jigdo::validate`]).
    pub fn decode_raw(raw: &[u8]) -> Result<Self> {
        let mut r = Cursor::new(raw, "jigdo tables");
        if r.take(8)? != MAGIC {
            return Err(Error::malformed("jigdo tables", "bad magic"));
        }
        let version = r.u32()?;
        if version != TABLES_VERSION {
            return Err(Error::malformed(
                "jigdo tables",
                format!("version {version}; this rejig reads version {TABLES_VERSION}"),
            ));
        }
        let text = |r: &mut Cursor<'_>| {
            String::from_utf8(r.bytes()?.to_vec()).map_err(|_| Error::malformed("jigdo tables", "text is not UTF-8"))
        };
        let commit = ObjectId::from_bytes(r.array()?);
        let commit_bytes = r.bytes()?.to_vec();
        let commitmeta = if r.flag()? { Some(r.bytes()?.to_vec()) } else { None };
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let n = r.count(4)?;
            list.reserve(n);
            for _ in 0..n {
                list.push(r.bytes()?.to_vec());
            }
        }
        let [dirtrees, dirmetas] = lists;
        let n = r.count(4 * 4 + 1 + 32 + 1)?;
        let mut packages = Vec::with_capacity(n);
        for _ in 0..n {
            let (name, version, release, arch) = (text(&mut r)?, text(&mut r)?, text(&mut r)?, text(&mut r)?);
            let epoch = if r.flag()? { Some(r.u32()?) } else { None };
            let header = HeaderSha256::from_bytes(r.array()?);
            let file = if r.flag()? { Some(FileSha256::from_bytes(r.array()?)) } else { None };
            packages.push(PackageBinding { nevra: Nevra { name, epoch, version, release, arch }, header, file });
        }
        let n = r.count(4 * 3 + 4)?;
        let mut metadata = Vec::with_capacity(n);
        for _ in 0..n {
            let (uid, gid, permissions) = (r.u32()?, r.u32()?, r.u32()?);
            let xattrs = XattrSet::decode(r.bytes()?)?;
            metadata.push(FileMeta::new(uid, gid, permissions, xattrs)?);
        }
        let n = r.count(32 + 4 + 32 + 1)?;
        let mut content = Vec::with_capacity(n);
        for _ in 0..n {
            let object = ObjectId::from_bytes(r.array()?);
            let meta = r.u32()?;
            let key = BlobId::from_bytes(r.array()?);
            let source = match r.u8()? {
                1 => ContentSource::Package { package: r.u32()?, file: r.u32()? },
                2 => ContentSource::New,
                3 => ContentSource::Symlink(text(&mut r)?),
                other => return Err(Error::malformed("jigdo tables", format!("unknown content source {other}"))),
            };
            content.push(ContentEntry { object, source, meta, content: key });
        }
        if !r.is_empty() {
            return Err(Error::malformed("jigdo tables", "trailing bytes"));
        }
        Ok(Self { commit, commit_bytes, commitmeta, dirtrees, dirmetas, packages, metadata, content })
    }

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
mod tests {
    use super::*;
    use crate::object::{DirEntry, FileEntry, FileName, VariantDict};

    /// A commit of `/a` (new content), `/l -> a` and `/d/b` (from package 0, file 3).
    fn sample() -> Jigdo {
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
    fn round_trip() {
        let jigdo = sample();
        jigdo.validate().unwrap();
        assert_eq!(Jigdo::decode(&jigdo.encode().unwrap()).unwrap(), jigdo);
    }

    #[test]
    fn hostile_tables_are_refused() {
        let raw = sample().encode_raw();
        for len in 0..raw.len() {
            assert!(Jigdo::decode_raw(&raw[..len]).is_err(), "truncated at {len}");
        }
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
        // A declared size over the limit is refused before decompressing.
        let mut huge = sample().encode().unwrap();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Jigdo::decode(&huge).is_err());
    }
}
