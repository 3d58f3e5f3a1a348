//! Verification and repair. `fsck` reads every pack trailer, every blob (against its BLAKE3)
//! and every object (recomputing its OSTree checksum). `repair` rebuilds the index from the
//! pack trailers, which list everything each pack brought in.

use std::collections::HashSet;
use std::io::Read;

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::index::{IndexReader, IndexStats};
use crate::pack::reader::read_trailer;
use crate::pack::writer::FinishedPack;
use crate::store::Store;
use rejig_format::chain;
use rejig_format::id::{BlobId, ObjectKey, ObjectType, PackId};
use rejig_format::object::{metadata_checksum, Commit, DirMeta, DirTree};
use rejig_format::record::ObjectRecord;

/// What fsck looked at and what it found wrong. In JSON, pack ids are hex.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FsckReport {
    /// Pack files read.
    pub packs: u64,
    /// Blobs verified.
    pub blobs: u64,
    /// Objects verified.
    pub objects: u64,
    /// Package manifests verified.
    pub packages: u64,
    /// Raw bytes verified.
    pub bytes: u64,
    /// Pack files the index does not reference (left by an interrupted writer).
    pub unreferenced_packs: Vec<PackId>,
    /// Every problem, one line each. Empty means the store is sound.
    pub problems: Vec<String>,
}

fn pack_files(store: &Store) -> Result<Vec<(PackId, std::path::PathBuf)>> {
    let dir = store.packs_dir();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).at(&dir)? {
        let path = entry.at(&dir)?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        match (path.extension().and_then(|e| e.to_str()), stem.parse::<PackId>()) {
            (Some("pack"), Ok(id)) => out.push((id, path)),
            _ => continue,
        }
    }
    out.sort();
    Ok(out)
}

/// Drains a reader, returning the byte count; a [`crate::pack::reader::BlobReader`] fails
/// here if its bytes are wrong.
fn drain(reader: &mut dyn Read, mut sink: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        sink(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
}

/// What is wrong with one object, as fsck lists it.
#[derive(Debug, thiserror::Error)]
enum ObjectProblem {
    /// The index failed.
    #[error(transparent)]
    Index(Box<Error>),
    /// The object's bytes are not what its name says.
    #[error("{key}: {what}")]
    Found { key: ObjectKey, what: String },
    /// The object's blob fails while being read.
    #[error("{key}")]
    Read {
        key: ObjectKey,
        #[source]
        error: std::io::Error,
    },
    /// The object's blob cannot be opened, or its bytes do not decode.
    #[error("{key}")]
    Failed {
        key: ObjectKey,
        #[source]
        error: Box<Error>,
    },
}

/// Reads one object back and checks that it hashes to its name, returning its byte count.
fn check_object(
    store: &Store,
    reader: &IndexReader<'_>,
    key: ObjectKey,
    record: &ObjectRecord,
) -> std::result::Result<u64, ObjectProblem> {
    let found = |what: String| ObjectProblem::Found { key, what };
    let failed = |error: Error| ObjectProblem::Failed { key, error: Box::new(error) };
    let location = |blob: BlobId| {
        reader
            .blob(&blob)
            .map_err(|e| ObjectProblem::Index(Box::new(e)))?
            .ok_or_else(|| found(format!("its blob {blob} is not in the index")))
    };
    match record {
        ObjectRecord::Symlink { header } => {
            let actual = header.checksum(b"");
            if actual != key.id {
                return Err(found(format!("symlink header hashes to {actual}")));
            }
            Ok(0)
        }
        ObjectRecord::Regular { header, blob } => {
            let mut hasher = header.hasher();
            let mut stream = store.open_blob(*blob, location(*blob)?).map_err(failed)?;
            let n =
                drain(&mut stream, |chunk| hasher.update(chunk)).map_err(|error| ObjectProblem::Read { key, error })?;
            let actual = hasher.finish();
            if actual != key.id {
                return Err(found(format!("content hashes to {actual}")));
            }
            Ok(n)
        }
        ObjectRecord::Metadata { blob } => {
            let bytes = store.open_blob(*blob, location(*blob)?).and_then(|b| b.read_all()).map_err(failed)?;
            let decoded = match key.kind {
                ObjectType::Commit => Commit::decode(&bytes).map(drop),
                ObjectType::DirTree => DirTree::decode(&bytes).map(drop),
                ObjectType::DirMeta => DirMeta::decode(&bytes).map(drop),
                ObjectType::CommitMeta => rejig_format::object::VariantDict::decode(&bytes).map(drop),
                ObjectType::JigdoParts => rejig_format::jigdo::parts::decode_part_list(&bytes).map(drop),
                ObjectType::File => Err(rejig_format::Error::invalid("record", "file object stored as metadata")),
            };
            decoded.map_err(|e| failed(e.into()))?;
            let named_after_commit = matches!(key.kind, ObjectType::CommitMeta | ObjectType::JigdoParts);
            if !named_after_commit && metadata_checksum(&bytes) != key.id {
                return Err(found(format!("bytes hash to {}", metadata_checksum(&bytes))));
            }
            Ok(bytes.len() as u64)
        }
    }
}

/// Verifies the whole store.
pub fn fsck(store: &Store) -> Result<FsckReport> {
    let reader = store.reader()?;
    let mut report = FsckReport::default();

    let indexed_packs: HashSet<PackId> = reader.packs()?.into_iter().map(|(id, _)| id).collect();
    let mut on_disk = HashSet::new();
    for (id, path) in pack_files(store)? {
        report.packs += 1;
        on_disk.insert(id);
        let file = std::fs::File::open(&path).at(&path)?;
        match read_trailer(&file, &path) {
            Ok((_, actual)) if actual != id => {
                report.problems.push(format!("pack {id}: its trailer hashes to {actual}"))
            }
            Ok(_) => {}
            Err(e) => report.problems.push(chain(&e)),
        }
        if !indexed_packs.contains(&id) {
            report.unreferenced_packs.push(id);
        }
    }
    for id in indexed_packs.difference(&on_disk) {
        report.problems.push(format!("pack {id} is in the index but its file is missing"));
    }

    let objects = reader.objects()?;
    let referenced: HashSet<BlobId> = objects.iter().filter_map(|(_, r)| r.blob()).collect();
    let results: Vec<std::result::Result<u64, ObjectProblem>> =
        objects.par_iter().map(|(key, record)| check_object(store, &reader, *key, record)).collect();
    for result in results {
        match result {
            Ok(bytes) => {
                report.objects += 1;
                report.bytes += bytes;
            }
            Err(problem) => report.problems.push(chain(&problem)),
        }
    }

    for (header, manifest_blob) in reader.packages()? {
        let name = header.to_hex();
        let checked = store
            .read_blob(&reader, manifest_blob)
            .and_then(|bytes| Ok(rejig_format::manifest::PackageManifest::decode(&bytes)?));
        match checked {
            Ok(manifest) if manifest.header_sha256 != header => {
                report.problems.push(format!("package {name}: its manifest names header {}", manifest.header_sha256))
            }
            Ok(manifest) => {
                for blob in manifest.blobs() {
                    if reader.blob(&blob)?.is_none() {
                        report.problems.push(format!(
                            "package {} ({name}): content blob {blob} is not in the index",
                            manifest.nevra
                        ));
                    }
                }
                report.packages += 1;
            }
            Err(e) => report.problems.push(format!("package {name}: {}", chain(&e))),
        }
    }

    let blobs = reader.blobs()?;
    report.blobs = blobs.len() as u64;
    let unreferenced: Vec<_> = blobs.into_iter().filter(|(id, _)| !referenced.contains(id)).collect();
    let problems: Vec<String> = unreferenced
        .par_iter()
        .filter_map(|(id, location)| {
            let outcome = store.open_blob(*id, *location).and_then(|mut s| drain(&mut s, |_| {}).at("<blob>"));
            outcome.err().map(|e| chain(&e))
        })
        .collect();
    report.problems.extend(problems);
    Ok(report)
}

/// What a rebuild of the index found. JSON shows the packs only.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RepairReport {
    /// Packs whose entries were indexed.
    pub packs_indexed: u64,
    /// Packs that could not be read, with the reason; their entries are not indexed.
    pub packs_skipped: Vec<String>,
    /// Entries listed by packs but referring to data no pack holds (left by a collection).
    #[serde(skip)]
    pub entries_dropped: u64,
    /// The index after the rebuild.
    #[serde(skip)]
    pub stats: IndexStats,
}

/// Rebuilds the index from the pack trailers.
pub fn repair(store: &Store) -> Result<RepairReport> {
    let mut report = RepairReport::default();
    store.index().clear()?;
    for (id, path) in pack_files(store)? {
        let file = std::fs::File::open(&path).at(&path)?;
        let size = file.metadata().at(&path)?.len();
        match read_trailer(&file, &path) {
            Ok((trailer, actual)) if actual == id => {
                store.index().commit_pack(&FinishedPack { id, trailer, size })?;
                report.packs_indexed += 1;
            }
            Ok((_, actual)) => report.packs_skipped.push(format!("pack {id}: its trailer hashes to {actual}")),
            Err(e) => report.packs_skipped.push(chain(&e)),
        }
    }
    // Packs a collection kept as they were still list entries it dropped.
    report.entries_dropped = crate::gc::drop_incomplete(store)?;
    report.stats = store.reader()?.stats()?;
    Ok(report)
}
