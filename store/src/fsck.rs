//! Verification and repair. `fsck` reads every pack trailer, every blob (against its BLAKE3)
//! and every object (recomputing its OSTree checksum). `repair` rebuilds the index from the
//! pack trailers, which list everything each pack brought in.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use rayon::prelude::*;

use crate::error::{caused_by_descriptor_exhaustion, Error, IoContext, Result};
use crate::index::{IndexReader, IndexStats};
use crate::pack::reader::read_trailer;
use crate::pack::writer::FinishedPack;
use crate::pack::BlobLocation;
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

pub(crate) fn pack_files(store: &Store) -> Result<Vec<(PackId, std::path::PathBuf)>> {
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

impl ObjectProblem {
    /// The store error behind the problem, for a problem that is not the store's fault
    /// (running out of file descriptors): fsck stops with it instead of listing it.
    fn into_error(self) -> Error {
        match self {
            ObjectProblem::Index(error) | ObjectProblem::Failed { error, .. } => *error,
            ObjectProblem::Read { key, error } => Error::io(key.to_string(), error),
            ObjectProblem::Found { key, what } => Error::invalid("object", format!("{key}: {what}")),
        }
    }
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
        store
            .blob_source(reader, &blob)
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
            let mut stream = store.open_source(*blob, location(*blob)?).map_err(failed)?;
            let n =
                drain(&mut stream, |chunk| hasher.update(chunk)).map_err(|error| ObjectProblem::Read { key, error })?;
            let actual = hasher.finish();
            if actual != key.id {
                return Err(found(format!("content hashes to {actual}")));
            }
            Ok(n)
        }
        ObjectRecord::Metadata { blob } => {
            let bytes = store.open_source(*blob, location(*blob)?).and_then(|b| b.read_all()).map_err(failed)?;
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
    match store.remote() {
        Some(remote) => remote.fsck(store),
        None => check(store),
    }
}

/// Verifies the packs in the store's folder (for a store on object storage, its cache).
pub(crate) fn check(store: &Store) -> Result<FsckReport> {
    store.require_index()?;
    let reader = store.reader()?;
    let mut report = FsckReport::default();

    let indexed_packs: HashSet<PackId> = reader.packs()?.into_iter().map(|(id, _)| id).collect();
    let mut on_disk = HashSet::new();
    for (id, path) in pack_files(store)? {
        report.packs += 1;
        on_disk.insert(id);
        let file = store.pack_file(&id)?;
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
            Err(problem) if caused_by_descriptor_exhaustion(&problem) => return Err(problem.into_error()),
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
                    if !reader.has_blob(&blob)? {
                        report.problems.push(format!(
                            "package {} ({name}): content blob {blob} is not in the index",
                            manifest.nevra
                        ));
                    }
                }
                report.packages += 1;
            }
            Err(e) if e.is_too_many_open_files() => return Err(e),
            Err(e) => report.problems.push(format!("package {name}: {}", chain(&e))),
        }
    }

    let blobs = reader.blobs()?;
    report.blobs = blobs.len() as u64;
    let unreferenced: Vec<_> = blobs.into_iter().filter(|(id, _)| !referenced.contains(id)).collect();
    let failures: Vec<Error> = unreferenced
        .par_iter()
        .filter_map(|(id, location)| {
            store.open_blob(*id, *location).and_then(|mut s| drain(&mut s, |_| {}).at("<blob>")).err()
        })
        .collect();
    for failure in failures {
        if failure.is_too_many_open_files() {
            return Err(failure);
        }
        report.problems.push(chain(&failure));
    }
    Ok(report)
}

/// What a rebuild of the index found. JSON shows the packs, what was dropped as damaged, and
/// where a damaged index went.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RepairReport {
    /// Packs whose entries were indexed.
    pub packs_indexed: u64,
    /// Packs that could not be read, with the reason; their entries are not indexed.
    pub packs_skipped: Vec<String>,
    /// Entries listed by packs but referring to data no pack holds (left by a collection),
    /// or needing data that failed verification.
    #[serde(skip)]
    pub entries_dropped: u64,
    /// Blobs whose bytes failed verification in every copy, dropped with what needs them.
    pub blobs_damaged: Vec<String>,
    /// Objects whose bytes do not hash to their name, dropped.
    pub objects_damaged: Vec<String>,
    /// Roots whose last use came from the roots journal, and from pack dates (no record).
    pub roots_from_journal: u64,
    /// Roots with no journal record, ordered by the date of the pack that lists them.
    pub roots_from_pack_dates: u64,
    /// Roots the journal records as dropped by gc, not brought back.
    pub roots_left_dropped: u64,
    /// In a backed store: blobs found again in the repository, each verified.
    pub backed_found: u64,
    /// Where the index that could not be trusted was moved (`index.redb.damaged-<time>`).
    pub damaged_index_moved_to: Option<std::path::PathBuf>,
    /// The index after the rebuild.
    #[serde(skip)]
    pub stats: IndexStats,
}

/// True when an error says the process ran out of something (file descriptors, memory) or
/// lacks permission, rather than that the bytes are wrong.
fn is_resource_failure(error: &Error) -> bool {
    match error {
        Error::Io { error, .. } | Error::BlobRead { error, .. } => crate::index::is_resource_error(error),
        _ => false,
    }
}

/// Reads a blob through and says whether its bytes verify; a resource failure is an error.
fn blob_sound(store: &Store, id: BlobId, location: BlobLocation) -> Result<bool> {
    let mut stream = match store.open_blob(id, location) {
        Ok(stream) => stream,
        Err(e) if is_resource_failure(&e) => return Err(e),
        Err(_) => return Ok(false),
    };
    match drain(&mut stream, |_| {}) {
        Ok(_) => Ok(true),
        Err(e) if crate::index::is_resource_error(&e) => Err(Error::io(store.packs_dir(), e)),
        Err(_) => Ok(false),
    }
}

/// Rebuilds the index from the pack trailers and the roots journal (FORMAT.md §3, §3a), into
/// a new file in `tmp/`, and swaps it in by rename: a failure or a kill at any point leaves
/// the old index (or none, if there was none) in place, never a partial one. Blobs and
/// objects that fail verification are left out, with the packages and roots that need them,
/// so that the next import or export stores their content again. An index the store did not
/// trust is kept beside it as `index.redb.damaged-<unix time>`.
pub fn repair(store: &Store) -> Result<RepairReport> {
    if let Some(remote) = store.remote() {
        return remote.repair(store);
    }
    let mut report = RepairReport::default();
    let temp = store.root().join("tmp").join("index.redb.rebuild");
    let _ = std::fs::remove_file(&temp);
    let fresh = crate::index::Index::create(&temp, &store.id())?;

    // Every pack's trailer; every copy of each blob, and the newest pack date of each root.
    let mut copies: HashMap<BlobId, Vec<BlobLocation>> = HashMap::new();
    let mut pack_dates: HashMap<ObjectKey, u64> = HashMap::new();
    for (id, path) in pack_files(store)? {
        let file = std::fs::File::open(&path).at(&path)?;
        let metadata = file.metadata().at(&path)?;
        let size = metadata.len();
        match read_trailer(&file, &path) {
            Ok((trailer, actual)) if actual == id => {
                let date = metadata
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                    .unwrap_or(0);
                for key in &trailer.roots {
                    let stamp = pack_dates.entry(*key).or_default();
                    *stamp = (*stamp).max(date);
                }
                for entry in &trailer.blobs {
                    copies.entry(entry.id).or_default().push(BlobLocation {
                        pack: id,
                        offset: entry.offset,
                        stored_len: entry.stored_len,
                        raw_len: entry.raw_len,
                        codec: entry.codec,
                    });
                }
                fresh.commit_pack(&FinishedPack { id, trailer, size })?;
                report.packs_indexed += 1;
            }
            Ok((_, actual)) => report.packs_skipped.push(format!("pack {id}: its trailer hashes to {actual}")),
            Err(e) if is_resource_failure(&e) => return Err(e),
            Err(e) => report.packs_skipped.push(chain(&e)),
        }
    }

    // Last use from the journal; a root gc dropped stays dropped.
    let journal = crate::journal::read(&store.root().join(crate::store::JOURNAL), &store.id())?.unwrap_or_default();
    let mut stamps = HashMap::new();
    for (key, _) in fresh.reader()?.roots()? {
        if journal.dropped(&key) {
            report.roots_left_dropped += 1;
        } else if let Some(stamp) = journal.last_use(&key) {
            report.roots_from_journal += 1;
            stamps.insert(key, stamp);
        } else {
            report.roots_from_pack_dates += 1;
            stamps.insert(key, pack_dates.get(&key).copied().unwrap_or(0));
        }
    }
    fresh.set_roots(&stamps)?;
    // A backed store's blobs are in its repository, not in packs.
    report.backed_found = crate::backing::rederive(store, &fresh)?;

    // Bit rot: every blob is read through; a damaged copy is replaced by a sound one if a
    // pack holds one, else the blob goes.
    let reader = fresh.reader()?;
    let blobs = reader.blobs()?;
    let verdicts: Vec<Result<(BlobId, Option<BlobLocation>, bool)>> = blobs
        .par_iter()
        .map(|(id, location)| {
            if blob_sound(store, *id, *location)? {
                return Ok((*id, None, true));
            }
            for other in copies.get(id).into_iter().flatten().filter(|l| *l != location) {
                if blob_sound(store, *id, *other)? {
                    return Ok((*id, Some(*other), true));
                }
            }
            Ok((*id, None, false))
        })
        .collect();
    let mut changes = crate::index::GcChanges::default();
    let mut moved = Vec::new();
    for verdict in verdicts {
        match verdict? {
            (id, Some(location), true) => moved.push((id, location)),
            (_, None, true) => {}
            (id, _, false) => {
                report.blobs_damaged.push(format!("blob {id}"));
                changes.dead_blobs.push(id);
            }
        }
    }
    drop(reader);
    for (id, location) in &moved {
        fresh.set_blob_location(id, location)?;
    }
    let dead: HashSet<BlobId> = changes.dead_blobs.iter().copied().collect();

    // Objects whose bytes do not hash to their name.
    let reader = fresh.reader()?;
    let objects = reader.objects()?;
    let problems: Vec<std::result::Result<(), (ObjectKey, ObjectProblem)>> = objects
        .par_iter()
        .filter(|(_, record)| record.blob().is_none_or(|b| !dead.contains(&b)))
        .map(|(key, record)| check_object(store, &reader, *key, record).map(drop).map_err(|p| (*key, p)))
        .collect();
    for problem in problems {
        match problem {
            Ok(()) => {}
            Err((_, ObjectProblem::Index(e))) => return Err(*e),
            Err((_, ObjectProblem::Failed { error, .. })) if is_resource_failure(&error) => return Err(*error),
            Err((_, ObjectProblem::Read { error, .. })) if crate::index::is_resource_error(&error) => {
                return Err(Error::io(store.packs_dir(), error))
            }
            Err((key, problem)) => {
                report.objects_damaged.push(chain(&problem));
                changes.dead_objects.push(key);
            }
        }
    }
    drop(reader);
    fresh.apply_gc(&changes)?;
    // Packs a collection kept as they were still list entries it dropped; and whatever needed
    // a damaged blob or object goes with it.
    report.entries_dropped = crate::gc::drop_incomplete(store, &fresh)? + changes.dead_objects.len() as u64;
    report.stats = fresh.reader()?.stats()?;

    // The swap: the new index is durable (redb fsyncs each commit); an untrusted old one is
    // kept under another name by a hard link, then the rename replaces it in one step.
    std::fs::File::open(&temp).and_then(|f| f.sync_all()).at(&temp)?;
    let target = store.root().join("index.redb");
    if store.distrusted().is_some() && target.exists() {
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let aside = store.root().join(format!("index.redb.damaged-{time}"));
        std::fs::hard_link(&target, &aside).at(&aside)?;
        report.damaged_index_moved_to = Some(aside);
    }
    crate::durable::rename(&temp, &target)?;
    store.index().replace_with(fresh, &target)?;
    store.rebuilt();
    store.attach_journal()?;
    Ok(report)
}
