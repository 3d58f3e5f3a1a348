//! Jigdo format 2 (FORMAT.md "jigdo"): a small head and content-addressed parts.
//!
//! The head ([`JigdoHead`]) is what the jigdo RPM carries: the commit, its detached
//! metadata, the package table and the list of parts, each bound by the BLAKE3 of its
//! contents and by the SHA-256 of its main header and of its file. Everything else travels in
//! parts, RPMs of their own named after their contents' BLAKE3, so that an identical part in
//! two versions is the same file and is fetched once:
//! - a *records* part is a piece of one byte stream ([`encode_records`]) that lists the
//!   commit's dirmetas, dirtrees, interned file metadata, content entries and small new
//!   content, in path order, cut with content-defined chunking ([`cut_records`]) so that a
//!   change in one directory changes only the pieces around it;
//! - an *object* part holds one new content object larger than [`BIG_OBJECT`], as is;
//! - *delta* parts (optional, built with `--delta-from`) carry the package content that is
//!   new since an earlier commit: a client that holds that commit fetches them instead of the
//!   packages that changed, so an update costs the files that changed, as an `ostree pull`
//!   does, not whole packages. A client without that commit ignores them.
//!
//! A client uses nothing from a part before its digests match the head's; [`assemble`]
//! decodes the concatenated records with bounds and validates the result as a whole.

#![deny(clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::io::Read;

use crate::bounded::Cursor;
use crate::digest::{FileSha256, HeaderSha256, PackageBinding};
use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectId};
use crate::jigdo::tables::{invalid, put_bytes, put_u32, ContentEntry, ContentSource, Jigdo};
use crate::manifest::Nevra;
use crate::object::{metadata_checksum, Commit, DirTree, FileMeta, XattrSet};

/// The tables format version this code writes (2: head and parts; 3: delta parts). It reads
/// 2 and 3.
pub const TABLES_VERSION: u32 = 3;
/// The oldest tables version this code reads.
const OLDEST_TABLES_VERSION: u32 = 2;
const MAGIC: &[u8; 8] = b"RJJIGDO\x01";
/// A decoded head larger than this is refused: it holds the commit, the package table and
/// about 120 bytes per part.
const MAX_HEAD_SIZE: u64 = 64 << 20;
/// The records of one commit may not exceed this many bytes in all (a commit of a million
/// files is about 150 MiB of records).
pub const MAX_RECORDS_SIZE: u64 = 512 << 20;
/// A records part larger than this is refused (the chunker cuts at [`CHUNK_MAX`]).
pub const MAX_RECORDS_PART: u64 = 1 << 20;
/// New content larger than this travels in an object part of its own.
pub const BIG_OBJECT: u64 = 256 << 10;
/// Content-defined chunking of the records: smallest, average and largest piece.
pub const CHUNK_MIN: usize = 4 << 10;
/// Average piece.
pub const CHUNK_AVG: usize = 16 << 10;
/// Largest piece.
pub const CHUNK_MAX: usize = 64 << 10;
/// Every part provides this; the number is the format generation.
pub const PART_PROVIDE: &str = "rejig-part(2)";
/// Prefix of a part's RPM name.
pub const PART_PREFIX: &str = "rejig-part-";
/// Where a part's one payload file lives: `<PARTS_DIR>/<BLAKE3 hex>`.
pub const PARTS_DIR: &str = "/usr/lib/rejig/parts";

/// What a part holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PartKind {
    /// A piece of the records stream.
    Records,
    /// One new content object.
    Object,
    /// Package content new since [`JigdoHead::delta_from`], small files as a stream of
    /// content records ([`encode_delta_records`]). Optional.
    DeltaRecords,
    /// One package content object new since [`JigdoHead::delta_from`], as is. Optional.
    DeltaObject,
}

impl PartKind {
    /// Its name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            PartKind::Records => "records",
            PartKind::Object => "object",
            PartKind::DeltaRecords => "delta-records",
            PartKind::DeltaObject => "delta-object",
        }
    }

    /// True for the optional parts a client fetches only when it holds the commit the delta
    /// is from.
    pub const fn is_delta(self) -> bool {
        matches!(self, PartKind::DeltaRecords | PartKind::DeltaObject)
    }

    /// Its code in the head.
    const fn code(self) -> u8 {
        match self {
            PartKind::Records => 1,
            PartKind::Object => 2,
            PartKind::DeltaRecords => 3,
            PartKind::DeltaObject => 4,
        }
    }
}

/// A part as the head binds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRef {
    /// What it holds.
    pub kind: PartKind,
    /// BLAKE3 of its contents (the payload file): names the part and keys it in a store.
    pub content: BlobId,
    /// Size of its contents.
    pub size: u64,
    /// SHA-256 of the part RPM's main header.
    pub header: HeaderSha256,
    /// SHA-256 of the part RPM file.
    pub file: FileSha256,
    /// Size of the part RPM file.
    pub file_size: u64,
}

/// The NEVRA of the part whose contents hash to `content`: `rejig-part-<first 16 hex>`,
/// version `<other 48 hex>`, release 0, noarch.
pub fn part_nevra(content: &BlobId) -> Nevra {
    let hex = content.to_hex();
    let (name, version) = hex.split_at(16);
    Nevra {
        name: format!("{PART_PREFIX}{name}"),
        epoch: None,
        version: version.to_owned(),
        release: "0".to_owned(),
        arch: "noarch".to_owned(),
    }
}

/// The contents digest a part NEVRA names, if it is one.
pub fn parse_part_nevra(nevra: &Nevra) -> Option<BlobId> {
    let name = nevra.name.strip_prefix(PART_PREFIX)?;
    if nevra.release != "0" || nevra.arch != "noarch" || nevra.epoch.is_some_and(|e| e != 0) {
        return None;
    }
    format!("{name}{}", nevra.version).parse().ok()
}

/// The file name `build` gives the part: `<name>-<version>-<release>.noarch.rpm`.
pub fn part_file_name(content: &BlobId) -> String {
    let n = part_nevra(content);
    format!("{}-{}-{}.{}.rpm", n.name, n.version, n.release, n.arch)
}

/// The payload path of a part's contents.
pub fn part_payload_path(content: &BlobId) -> String {
    format!("{PARTS_DIR}/{content}")
}

impl PartRef {
    /// Its NEVRA ([`part_nevra`]).
    pub fn nevra(&self) -> Nevra {
        part_nevra(&self.content)
    }

    /// The binding a fetch and a check use: NEVRA, header and file digests.
    pub fn binding(&self) -> PackageBinding {
        PackageBinding { nevra: self.nevra(), header: self.header, file: Some(self.file) }
    }
}

/// What a jigdo RPM carries (its `tables` file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JigdoHead {
    /// The commit's checksum.
    pub commit: ObjectId,
    /// The commit object's bytes.
    pub commit_bytes: Vec<u8>,
    /// Detached metadata (signatures), when the commit has it.
    pub commitmeta: Option<Vec<u8>>,
    /// The packages content comes from.
    pub packages: Vec<PackageBinding>,
    /// The parts: records parts in stream order, then object parts by contents digest, then
    /// delta parts.
    pub parts: Vec<PartRef>,
    /// The commit the delta parts are from: a client holding it may fetch them instead of
    /// packages. Present exactly when there are delta parts.
    pub delta_from: Option<ObjectId>,
}

fn malformed(detail: impl Into<String>) -> Error {
    Error::malformed("jigdo tables", detail)
}

impl JigdoHead {
    /// The uncompressed head.
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
        put_u32(&mut out, self.parts.len());
        for part in &self.parts {
            out.push(part.kind.code());
            out.extend_from_slice(part.content.as_bytes());
            out.extend_from_slice(&part.size.to_le_bytes());
            out.extend_from_slice(part.header.as_bytes());
            out.extend_from_slice(part.file.as_bytes());
            out.extend_from_slice(&part.file_size.to_le_bytes());
        }
        match &self.delta_from {
            Some(from) => {
                out.push(1);
                out.extend_from_slice(from.as_bytes());
            }
            None => out.push(0),
        }
        out
    }

    /// The head as shipped: raw size (u64 LE), then zstd.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let raw = self.encode_raw();
        let mut out = (raw.len() as u64).to_le_bytes().to_vec();
        out.extend(zstd::bulk::compress(&raw, 19).map_err(|e| Error::Compress { what: "jigdo tables", error: e })?);
        Ok(out)
    }

    /// Decodes a shipped head: decompression is bounded by the declared size, itself bounded,
    /// and the result is checked ([`JigdoHead::check`]).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (size, compressed) = bytes.split_at_checked(8).ok_or_else(|| malformed("truncated"))?;
        let size = u64::from_le_bytes(size.try_into().map_err(|_| malformed("truncated"))?);
        if size > MAX_HEAD_SIZE {
            return Err(malformed(format!("declares {size} bytes, over the {MAX_HEAD_SIZE}-byte limit")));
        }
        let mut raw = Vec::new();
        zstd::stream::read::Decoder::new(compressed)
            .and_then(|decoder| decoder.take(size + 1).read_to_end(&mut raw))
            .map_err(|e| malformed(format!("zstd: {e}")))?;
        if raw.len() as u64 != size {
            return Err(malformed(format!("{} bytes where {size} were declared", raw.len())));
        }
        let head = Self::decode_raw(&raw)?;
        head.check()?;
        Ok(head)
    }

    /// Decodes the uncompressed head (structure only; see [`JigdoHead::check`]).
    pub fn decode_raw(raw: &[u8]) -> Result<Self> {
        let mut r = Cursor::new(raw, "jigdo tables");
        if r.take(8)? != MAGIC {
            return Err(malformed("bad magic"));
        }
        let version = r.u32()?;
        if !(OLDEST_TABLES_VERSION..=TABLES_VERSION).contains(&version) {
            return Err(malformed(format!(
                "version {version}; this rejig reads versions {OLDEST_TABLES_VERSION} to {TABLES_VERSION}"
            )));
        }
        let text =
            |r: &mut Cursor<'_>| String::from_utf8(r.bytes()?.to_vec()).map_err(|_| malformed("text is not UTF-8"));
        let commit = ObjectId::from_bytes(r.array()?);
        let commit_bytes = r.bytes()?.to_vec();
        let commitmeta = if r.flag()? { Some(r.bytes()?.to_vec()) } else { None };
        let n = r.count(4 * 4 + 1 + 32 + 1)?;
        let mut packages = Vec::with_capacity(n);
        for _ in 0..n {
            let (name, version, release, arch) = (text(&mut r)?, text(&mut r)?, text(&mut r)?, text(&mut r)?);
            let epoch = if r.flag()? { Some(r.u32()?) } else { None };
            let header = HeaderSha256::from_bytes(r.array()?);
            let file = if r.flag()? { Some(FileSha256::from_bytes(r.array()?)) } else { None };
            packages.push(PackageBinding { nevra: Nevra { name, epoch, version, release, arch }, header, file });
        }
        let n = r.count(1 + 32 + 8 + 32 + 32 + 8)?;
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = match r.u8()? {
                1 => PartKind::Records,
                2 => PartKind::Object,
                3 if version >= 3 => PartKind::DeltaRecords,
                4 if version >= 3 => PartKind::DeltaObject,
                other => return Err(malformed(format!("unknown part kind {other}"))),
            };
            parts.push(PartRef {
                kind,
                content: BlobId::from_bytes(r.array()?),
                size: r.u64()?,
                header: HeaderSha256::from_bytes(r.array()?),
                file: FileSha256::from_bytes(r.array()?),
                file_size: r.u64()?,
            });
        }
        let delta_from = if version >= 3 && r.flag()? { Some(ObjectId::from_bytes(r.array()?)) } else { None };
        if !r.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        Ok(Self { commit, commit_bytes, commitmeta, packages, parts, delta_from })
    }

    /// Checks what can be checked without parts: the commit hashes to its name; records parts
    /// (delta ones too) are within [`MAX_RECORDS_PART`] each and [`MAX_RECORDS_SIZE`]
    /// together; one content digest is one part (same kind, same size, same file); object and
    /// delta parts are listed once; delta parts come with the commit they are from, which is
    /// not this one.
    pub fn check(&self) -> Result<()> {
        let actual = metadata_checksum(&self.commit_bytes);
        if actual != self.commit {
            return Err(invalid(format!(
                "the commit object hashes to {actual}, not to the {} the jigdo names",
                self.commit
            )));
        }
        Commit::decode(&self.commit_bytes)?;
        let mut total: u64 = 0;
        let mut seen: HashMap<BlobId, &PartRef> = HashMap::new();
        for part in &self.parts {
            if let Some(first) = seen.insert(part.content, part) {
                if first != part || part.kind != PartKind::Records {
                    return Err(invalid(format!("part {} is listed twice", part.nevra())));
                }
            }
            if matches!(part.kind, PartKind::Records | PartKind::DeltaRecords) {
                if part.size > MAX_RECORDS_PART {
                    return Err(invalid(format!(
                        "records part {} declares {} bytes, over the {MAX_RECORDS_PART}-byte limit",
                        part.nevra(),
                        part.size
                    )));
                }
                total = total.saturating_add(part.size);
            }
        }
        if total > MAX_RECORDS_SIZE {
            return Err(invalid(format!("the records parts add up to {total} bytes, over {MAX_RECORDS_SIZE}")));
        }
        let deltas = self.parts.iter().any(|p| p.kind.is_delta());
        match self.delta_from {
            Some(from) if from == self.commit => Err(invalid("the delta parts are from the commit itself")),
            Some(_) if !deltas => Err(invalid("the jigdo names a commit its delta is from but has no delta parts")),
            None if deltas => Err(invalid("the jigdo has delta parts but names no commit they are from")),
            _ => Ok(()),
        }
    }

    /// Each part once, in list order.
    pub fn unique_parts(&self) -> Vec<&PartRef> {
        let mut seen = HashSet::new();
        self.parts.iter().filter(|p| seen.insert(p.content)).collect()
    }

    /// Each part a client needs once, in list order: delta parts only with `delta`.
    pub fn wanted_parts(&self, delta: bool) -> Vec<&PartRef> {
        self.unique_parts().into_iter().filter(|p| delta || !p.kind.is_delta()).collect()
    }
}

/// The list of part blobs a store keeps with a commit ([`crate::ObjectType::JigdoParts`]):
/// a u32 count, then each BLAKE3.
pub fn encode_part_list(parts: &[BlobId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 32 * parts.len());
    put_u32(&mut out, parts.len());
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Decodes [`encode_part_list`], with bounds.
pub fn decode_part_list(bytes: &[u8]) -> Result<Vec<BlobId>> {
    let mut r = Cursor::new(bytes, "jigdo part list");
    let n = r.count(32)?;
    let mut parts = Vec::with_capacity(n);
    for _ in 0..n {
        parts.push(BlobId::from_bytes(r.array()?));
    }
    if !r.is_empty() {
        return Err(Error::malformed("jigdo part list", "trailing bytes"));
    }
    Ok(parts)
}

/// Cuts package content new since the delta's commit into delta records parts: each small
/// blob (at most [`BIG_OBJECT`]) as a content record, in the order given, in pieces of at
/// most [`MAX_RECORDS_PART`] bytes. Larger blobs travel as delta object parts.
pub fn encode_delta_records<'b>(blobs: impl IntoIterator<Item = &'b [u8]>) -> Vec<Vec<u8>> {
    let mut pieces = vec![Vec::new()];
    for bytes in blobs {
        let record = 1 + 4 + bytes.len();
        if pieces.last().is_some_and(|p| !p.is_empty() && (p.len() + record) as u64 > MAX_RECORDS_PART) {
            pieces.push(Vec::new());
        }
        if let Some(piece) = pieces.last_mut() {
            piece.push(TAG_BLOB);
            put_bytes(piece, bytes);
        }
    }
    pieces.retain(|p| !p.is_empty());
    pieces
}

/// Decodes a delta records part with bounds: content records only, each named by its BLAKE3.
pub fn decode_delta_records(bytes: &[u8]) -> Result<Vec<(BlobId, Vec<u8>)>> {
    let what = "jigdo delta records";
    let mut r = Cursor::new(bytes, what);
    let mut blobs = Vec::new();
    while !r.is_empty() {
        match r.u8()? {
            TAG_BLOB => {
                let bytes = r.bytes()?.to_vec();
                blobs.push((BlobId::of(&bytes), bytes));
            }
            other => return Err(Error::malformed(what, format!("record {other} where only content may be"))),
        }
    }
    Ok(blobs)
}

/// Checks that content a delta part carried is package content of `jigdo` (an entry
/// supplied by a package names it): a delta may stand in for packages, nothing else.
pub fn check_delta_content<'b>(jigdo: &Jigdo, carried: impl IntoIterator<Item = &'b BlobId>) -> Result<()> {
    let packaged: HashSet<&BlobId> = jigdo
        .content
        .iter()
        .filter(|e| matches!(e.source, ContentSource::Package { .. }))
        .map(|e| &e.content)
        .collect();
    match carried.into_iter().find(|id| !packaged.contains(id)) {
        Some(stray) => Err(invalid(format!("a delta part carries content {stray}, which no package entry names"))),
        None => Ok(()),
    }
}

const TAG_DIRMETA: u8 = 1;
const TAG_DIRTREE: u8 = 2;
const TAG_META: u8 = 3;
const TAG_ENTRY: u8 = 4;
const TAG_BLOB: u8 = 5;

/// A file metadata's record body and its key (the first 16 bytes of its BLAKE3): entries
/// name metadata by key, so that a new owner somewhere does not renumber every entry.
fn meta_body(meta: &FileMeta) -> (Vec<u8>, [u8; 16]) {
    let mut body = Vec::new();
    body.extend_from_slice(&meta.uid().to_le_bytes());
    body.extend_from_slice(&meta.gid().to_le_bytes());
    body.extend_from_slice(&meta.permissions().to_le_bytes());
    put_bytes(&mut body, &meta.xattrs().encode());
    let hash = blake3::hash(&body);
    let mut key = [0; 16];
    key.copy_from_slice(hash.as_bytes().get(..16).unwrap_or(&[0; 16]));
    (body, key)
}

/// Serialises everything of `jigdo` but the head, in path order: a depth-first walk in name
/// order that emits each directory's dirmeta and dirtree the first time they are met, then
/// for each file (first time met) its metadata (first time used), its content when it is
/// small new content (`small`, first time used), and its entry; then the subdirectories.
/// New content absent from `small` travels as an object part.
pub fn encode_records(jigdo: &Jigdo, small: &HashMap<BlobId, Vec<u8>>) -> Result<Vec<u8>> {
    let commit = Commit::decode(&jigdo.commit_bytes)?;
    let trees: HashMap<ObjectId, (&[u8], DirTree)> = jigdo
        .dirtrees
        .iter()
        .map(|b| Ok((metadata_checksum(b), (b.as_slice(), DirTree::decode(b)?))))
        .collect::<Result<_>>()?;
    let metas: HashMap<ObjectId, &[u8]> = jigdo.dirmetas.iter().map(|b| (metadata_checksum(b), b.as_slice())).collect();
    let entries: HashMap<ObjectId, &ContentEntry> = jigdo.content.iter().map(|e| (e.object, e)).collect();
    let mut out = Vec::new();
    let (mut trees_done, mut metas_done, mut files_done) = (HashSet::new(), HashSet::new(), HashSet::new());
    let (mut keys_done, mut blobs_done) = (HashSet::new(), HashSet::new());
    let mut pending = vec![(commit.root_tree, commit.root_meta)];
    while let Some((tree, meta)) = pending.pop() {
        if metas_done.insert(meta) {
            let bytes = metas.get(&meta).ok_or_else(|| invalid(format!("dirmeta {meta} is missing")))?;
            out.push(TAG_DIRMETA);
            put_bytes(&mut out, bytes);
        }
        if !trees_done.insert(tree) {
            continue;
        }
        let (bytes, listing) = trees.get(&tree).ok_or_else(|| invalid(format!("dirtree {tree} is missing")))?;
        out.push(TAG_DIRTREE);
        put_bytes(&mut out, bytes);
        for file in listing.files() {
            if !files_done.insert(file.content) {
                continue;
            }
            let entry = entries
                .get(&file.content)
                .ok_or_else(|| invalid(format!("content object {} ({}) has no entry", file.content, file.name)))?;
            let meta = jigdo
                .metadata
                .get(entry.meta as usize)
                .ok_or_else(|| invalid(format!("{}: metadata index {} out of range", entry.object, entry.meta)))?;
            let (body, key) = meta_body(meta);
            if keys_done.insert(key) {
                out.push(TAG_META);
                out.extend_from_slice(&body);
            }
            if entry.source == ContentSource::New && blobs_done.insert(entry.content) {
                if let Some(bytes) = small.get(&entry.content) {
                    out.push(TAG_BLOB);
                    put_bytes(&mut out, bytes);
                }
            }
            out.push(TAG_ENTRY);
            out.extend_from_slice(entry.object.as_bytes());
            out.extend_from_slice(&key);
            out.extend_from_slice(entry.content.as_bytes());
            match &entry.source {
                ContentSource::Package { package, file } => {
                    let binding = jigdo
                        .packages
                        .get(*package as usize)
                        .ok_or_else(|| invalid(format!("{}: package index {package} out of range", entry.object)))?;
                    out.push(1);
                    out.extend_from_slice(binding.header.as_bytes());
                    out.extend_from_slice(&file.to_le_bytes());
                }
                ContentSource::New => out.push(2),
                ContentSource::Symlink(target) => {
                    out.push(3);
                    put_bytes(&mut out, target.as_bytes());
                }
            }
        }
        pending.extend(listing.dirs().iter().rev().map(|d| (d.tree, d.meta)));
    }
    Ok(out)
}

/// Cuts a records stream into pieces with content-defined chunking (FastCDC 2020, sizes
/// [`CHUNK_MIN`], [`CHUNK_AVG`], [`CHUNK_MAX`]): the same bytes cut the same way wherever they
/// sit, so an edit moves only the cuts around it.
pub fn cut_records(stream: &[u8]) -> Vec<&[u8]> {
    fastcdc::v2020::FastCDC::new(stream, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX)
        .filter_map(|chunk| stream.get(chunk.offset..chunk.offset + chunk.length))
        .collect()
}

/// A jigdo put back together from its head and its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// The whole description, validated ([`Jigdo::validate`]).
    pub jigdo: Jigdo,
    /// Small new content the records carried, each checked against its BLAKE3.
    pub small: Vec<(BlobId, Vec<u8>)>,
}

/// Decodes the concatenated records parts of `head` (in list order) with bounds, and checks
/// the whole: the description validates; every new content object is carried once, by the
/// records or by an object part; and nothing is carried that no entry uses.
pub fn assemble(head: &JigdoHead, records: &[u8]) -> Result<Assembled> {
    if records.len() as u64 > MAX_RECORDS_SIZE {
        return Err(malformed(format!("{} bytes of records, over {MAX_RECORDS_SIZE}", records.len())));
    }
    let what = "jigdo records";
    let bad = |detail: String| Error::malformed(what, detail);
    let mut r = Cursor::new(records, what);
    let packages: HashMap<HeaderSha256, u32> = head
        .packages
        .iter()
        .enumerate()
        .rev()
        .map(|(index, p)| (p.header, u32::try_from(index).unwrap_or(u32::MAX)))
        .collect();
    let (mut dirtrees, mut dirmetas, mut metadata, mut content, mut small) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut keys: HashMap<[u8; 16], u32> = HashMap::new();
    let mut small_ids = HashSet::new();
    while !r.is_empty() {
        match r.u8()? {
            TAG_DIRMETA => dirmetas.push(r.bytes()?.to_vec()),
            TAG_DIRTREE => dirtrees.push(r.bytes()?.to_vec()),
            TAG_META => {
                let (uid, gid, permissions) = (r.u32()?, r.u32()?, r.u32()?);
                let meta = FileMeta::new(uid, gid, permissions, XattrSet::decode(r.bytes()?)?)?;
                let (_, key) = meta_body(&meta);
                let index = u32::try_from(metadata.len()).map_err(|_| bad("too many metadata".into()))?;
                if keys.insert(key, index).is_some() {
                    return Err(bad(format!("file metadata {} is listed twice", hex::encode(key))));
                }
                metadata.push(meta);
            }
            TAG_BLOB => {
                let bytes = r.bytes()?.to_vec();
                let id = BlobId::of(&bytes);
                if !small_ids.insert(id) {
                    return Err(bad(format!("new content {id} is carried twice")));
                }
                small.push((id, bytes));
            }
            TAG_ENTRY => {
                let object = ObjectId::from_bytes(r.array()?);
                let key: [u8; 16] = r.array()?;
                let blob = BlobId::from_bytes(r.array()?);
                let meta = *keys.get(&key).ok_or_else(|| {
                    bad(format!("{object}: file metadata {} is not defined before", hex::encode(key)))
                })?;
                let source = match r.u8()? {
                    1 => {
                        let header = HeaderSha256::from_bytes(r.array()?);
                        let package = *packages
                            .get(&header)
                            .ok_or_else(|| bad(format!("{object}: package {header} is not in the package table")))?;
                        ContentSource::Package { package, file: r.u32()? }
                    }
                    2 => ContentSource::New,
                    3 => ContentSource::Symlink(
                        String::from_utf8(r.bytes()?.to_vec()).map_err(|_| bad("text is not UTF-8".into()))?,
                    ),
                    other => return Err(bad(format!("unknown content source {other}"))),
                };
                content.push(ContentEntry { object, source, meta, content: blob });
            }
            other => return Err(bad(format!("unknown record {other}"))),
        }
    }
    let jigdo = Jigdo {
        commit: head.commit,
        commit_bytes: head.commit_bytes.clone(),
        commitmeta: head.commitmeta.clone(),
        dirtrees,
        dirmetas,
        packages: head.packages.clone(),
        metadata,
        content,
    };
    jigdo.validate()?;
    let objects: HashSet<BlobId> =
        head.parts.iter().filter(|p| p.kind == PartKind::Object).map(|p| p.content).collect();
    let mut used = HashSet::new();
    for entry in &jigdo.content {
        if entry.source == ContentSource::New {
            if !small_ids.contains(&entry.content) && !objects.contains(&entry.content) {
                return Err(invalid(format!(
                    "object {} is new content {}, which neither the records nor a part carry",
                    entry.object, entry.content
                )));
            }
            used.insert(entry.content);
        }
    }
    if let Some(unused) = small_ids.iter().chain(&objects).find(|id| !used.contains(*id)) {
        return Err(invalid(format!("new content {unused} is carried but no entry uses it")));
    }
    if let Some(both) = small_ids.iter().find(|id| objects.contains(*id)) {
        return Err(invalid(format!("new content {both} is carried twice")));
    }
    Ok(Assembled { jigdo, small })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jigdo::tables::tests::sample;

    fn head_of(jigdo: &Jigdo, records: &[u8], objects: &[BlobId]) -> JigdoHead {
        let mut parts: Vec<PartRef> = cut_records(records)
            .into_iter()
            .map(|piece| PartRef {
                kind: PartKind::Records,
                content: BlobId::of(piece),
                size: piece.len() as u64,
                header: HeaderSha256::from_bytes([3; 32]),
                file: FileSha256::from_bytes([4; 32]),
                file_size: 1000,
            })
            .collect();
        parts.extend(objects.iter().map(|id| PartRef {
            kind: PartKind::Object,
            content: *id,
            size: 5,
            header: HeaderSha256::from_bytes([5; 32]),
            file: FileSha256::from_bytes([6; 32]),
            file_size: 1000,
        }));
        JigdoHead {
            commit: jigdo.commit,
            commit_bytes: jigdo.commit_bytes.clone(),
            commitmeta: jigdo.commitmeta.clone(),
            packages: jigdo.packages.clone(),
            parts,
            delta_from: None,
        }
    }

    fn sorted(mut jigdo: Jigdo) -> Jigdo {
        jigdo.content.sort_by_key(|e| e.object);
        jigdo.dirtrees.sort();
        jigdo.dirmetas.sort();
        jigdo
    }

    #[test]
    fn head_and_records_round_trip_with_small_content_inline_or_as_a_part() {
        let jigdo = sample();
        let small = HashMap::from([(BlobId::of(b"hello"), b"hello".to_vec())]);
        let records = encode_records(&jigdo, &small).unwrap();
        let head = head_of(&jigdo, &records, &[]);
        assert_eq!(JigdoHead::decode(&head.encode().unwrap()).unwrap(), head);
        let assembled = assemble(&head, &records).unwrap();
        assert_eq!(assembled.small, vec![(BlobId::of(b"hello"), b"hello".to_vec())]);
        // Metadata is renumbered in order of first use; compare what the entries mean.
        let meaning = |j: &Jigdo| {
            let mut v: Vec<_> =
                j.content.iter().map(|e| (e.object, e.source.clone(), j.header_of(e).unwrap(), e.content)).collect();
            v.sort_by_key(|x| x.0);
            v
        };
        assert_eq!(meaning(&assembled.jigdo), meaning(&jigdo));
        assert_eq!(sorted(assembled.jigdo.clone()).dirtrees, sorted(jigdo.clone()).dirtrees);

        // The same content as an object part instead.
        let records = encode_records(&jigdo, &HashMap::new()).unwrap();
        let head = head_of(&jigdo, &records, &[BlobId::of(b"hello")]);
        assert!(assemble(&head, &records).unwrap().small.is_empty());
        // Neither: refused, naming the content.
        let head = head_of(&jigdo, &records, &[]);
        let error = assemble(&head, &records).unwrap_err().to_string();
        assert!(error.contains(&BlobId::of(b"hello").to_string()), "{error}");
    }

    #[test]
    fn delta_parts_round_trip_and_carry_only_package_content() {
        let jigdo = sample();
        let records = encode_records(&jigdo, &HashMap::from([(BlobId::of(b"hello"), b"hello".to_vec())])).unwrap();
        let mut head = head_of(&jigdo, &records, &[]);
        let packaged: Vec<BlobId> = jigdo
            .content
            .iter()
            .filter(|e| matches!(e.source, ContentSource::Package { .. }))
            .map(|e| e.content)
            .collect();
        assert!(!packaged.is_empty());
        head.parts.push(PartRef {
            kind: PartKind::DeltaRecords,
            content: BlobId::of(b"delta"),
            size: 10,
            header: HeaderSha256::from_bytes([7; 32]),
            file: FileSha256::from_bytes([8; 32]),
            file_size: 900,
        });
        // Delta parts need the commit they are from, and it is not the commit itself.
        assert!(head.check().is_err());
        head.delta_from = Some(jigdo.commit);
        assert!(head.check().is_err());
        head.delta_from = Some(ObjectId::from_bytes([1; 32]));
        head.check().unwrap();
        let decoded = JigdoHead::decode(&head.encode().unwrap()).unwrap();
        assert_eq!(decoded, head);
        assert_eq!(decoded.wanted_parts(false).len() + 1, decoded.wanted_parts(true).len());
        let mut no_parts = head.clone();
        no_parts.parts.pop();
        assert!(no_parts.check().is_err(), "a delta commit without delta parts");
        // Assembly ignores delta parts: the records alone describe the commit.
        assemble(&head, &records).unwrap();

        // Records: pieces within the bound, each blob once, decoded back in order.
        let big = vec![7u8; BIG_OBJECT as usize];
        let blobs: Vec<&[u8]> = vec![b"one", &big, &big, &big, &big, b"two"];
        let pieces = encode_delta_records(blobs.iter().copied());
        assert!(pieces.len() > 1 && pieces.iter().all(|p| p.len() as u64 <= MAX_RECORDS_PART));
        let back: Vec<Vec<u8>> =
            pieces.iter().flat_map(|p| decode_delta_records(p).unwrap()).map(|(_, bytes)| bytes).collect();
        assert_eq!(back, blobs.iter().map(|b| b.to_vec()).collect::<Vec<_>>());
        // Cut inside the first record ("one": tag, length, 3 bytes).
        for len in 1..8 {
            assert!(decode_delta_records(&pieces[0][..len]).is_err(), "truncated at {len}");
        }
        assert!(decode_delta_records(&records).is_err(), "other records are refused");

        check_delta_content(&jigdo, &packaged).unwrap();
        let error = check_delta_content(&jigdo, &[BlobId::of(b"hello")]).unwrap_err().to_string();
        assert!(error.contains(&BlobId::of(b"hello").to_string()), "{error}");
    }

    #[test]
    fn version_2_heads_are_still_read() {
        let jigdo = sample();
        let records = encode_records(&jigdo, &HashMap::from([(BlobId::of(b"hello"), b"hello".to_vec())])).unwrap();
        let head = head_of(&jigdo, &records, &[]);
        let mut raw = head.encode_raw();
        raw[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(raw.pop(), Some(0), "version 3 ends with the delta flag");
        assert_eq!(JigdoHead::decode_raw(&raw).unwrap(), head);
        raw[8..12].copy_from_slice(&4u32.to_le_bytes());
        assert!(JigdoHead::decode_raw(&raw).is_err());
    }

    #[test]
    fn part_names_carry_the_whole_digest() {
        let id = BlobId::of(b"part");
        let nevra = part_nevra(&id);
        assert!(nevra.name.starts_with(PART_PREFIX) && nevra.version.len() == 48);
        assert_eq!(parse_part_nevra(&nevra), Some(id));
        assert!(part_file_name(&id).ends_with("-0.noarch.rpm"));
    }

    #[test]
    fn chunking_follows_content() {
        let mut stream: Vec<u8> = (0..400_000u32).flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes()).collect();
        let before: HashSet<Vec<u8>> = cut_records(&stream).into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(before.iter().map(Vec::len).sum::<usize>(), stream.len());
        stream[800_000] ^= 1;
        let after: Vec<Vec<u8>> = cut_records(&stream).into_iter().map(<[u8]>::to_vec).collect();
        let changed = after.iter().filter(|c| !before.contains(*c)).count();
        assert!((1..=2).contains(&changed), "{changed} of {} pieces changed", after.len());
    }

    #[test]
    fn hostile_heads_and_records_are_refused() {
        let jigdo = sample();
        let records = encode_records(&jigdo, &HashMap::from([(BlobId::of(b"hello"), b"hello".to_vec())])).unwrap();
        let head = head_of(&jigdo, &records, &[]);
        let raw = head.encode_raw();
        for len in 0..raw.len() {
            assert!(JigdoHead::decode_raw(&raw[..len]).is_err(), "head truncated at {len}");
        }
        for len in 0..records.len() {
            assert!(assemble(&head, &records[..len]).is_err(), "records truncated at {len}");
        }
        let mut wrong_commit = head.clone();
        wrong_commit.commit = ObjectId::from_bytes([9; 32]);
        assert!(wrong_commit.check().is_err());
        let mut too_big = head.clone();
        too_big.parts[0].size = MAX_RECORDS_PART + 1;
        assert!(too_big.check().is_err());
        let mut twice = head_of(&jigdo, &records, &[BlobId::of(b"x")]);
        let again = twice.parts[twice.parts.len() - 1].clone();
        twice.parts.push(again);
        assert!(twice.check().is_err());
        let mut huge = head.encode().unwrap();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(JigdoHead::decode(&huge).is_err());
        // An unused object part.
        let extra = head_of(&jigdo, &records, &[BlobId::of(b"unused")]);
        assert!(assemble(&extra, &records).is_err());
        // A package the table lacks.
        let mut no_packages = head.clone();
        no_packages.packages.clear();
        assert!(assemble(&no_packages, &records).is_err());
        // Unknown record tag.
        let mut tagged = records.clone();
        tagged.push(99);
        assert!(assemble(&head, &tagged).is_err());
    }
}
