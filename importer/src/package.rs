//! Importing RPM packages into the store: one pass over each payload stores every file's
//! content as a blob (BLAKE3, deduplicated across packages) and records the package manifest
//! under its main-header SHA-256. A package the store already has is skipped after reading
//! only its header. Packages import in parallel, each as its own pack and index transaction,
//! so a failure loses nothing that other packages already committed.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use rejig_format::manifest::{ManifestFile, ManifestFileKind, Nevra, PackageManifest};
use rejig_format::object::{ContentHasher, FileHeader};
use rejig_format::{BlobId, FileSha256, HeaderSha256, ObjectId, ObjectKey, ObjectRecord, ObjectType, PackageBinding};
use rejig_store::store::IN_MEMORY_BLOB_LIMIT;
use rejig_store::{BackedWrite, Batch, Progress, Store};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::rpm::files::{is_source_package, RpmFile, S_IFDIR, S_IFLNK, S_IFREG};
use crate::rpm::package::{Digests, HashingReader, Package};
use crate::rpm::tags::tag;

/// What happened to one package. In JSON, the NEVRA is its display form and the digest hex;
/// the byte counts are named as the import report names its totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PackageImport {
    /// The file.
    pub path: PathBuf,
    /// Its identity.
    #[serde(serialize_with = "rejig_format::report::display")]
    pub nevra: Nevra,
    /// Main-header SHA-256.
    pub header_sha256: HeaderSha256,
    /// True when the store already had it.
    pub skipped: bool,
    /// Files in the header.
    pub files: u64,
    /// Raw bytes of new blobs.
    #[serde(rename = "raw_bytes_written")]
    pub raw_bytes: u64,
    /// Bytes of the new pack.
    #[serde(rename = "bytes_stored")]
    pub pack_bytes: u64,
    /// Content objects recorded for a [`PackageDemand`].
    #[serde(skip)]
    pub objects: u64,
    /// Of those, objects written straight into the backing repository.
    #[serde(skip)]
    pub objects_into_repo: u64,
}

/// What an import of several packages did. In JSON, a failure is `{"path", "error"}`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PackagesReport {
    /// Packages imported or skipped.
    pub packages: Vec<PackageImport>,
    /// Packages that failed, with the reason. Nothing of them was recorded.
    #[serde(serialize_with = "failures")]
    pub failures: Vec<(PathBuf, String)>,
    /// Wall time.
    pub seconds: f64,
}

/// Serialises failures as `{"path", "error"}`.
fn failures<S: serde::Serializer>(
    failures: &[(PathBuf, String)],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct Failure<'a> {
        path: &'a Path,
        error: &'a str,
    }
    serializer.collect_seq(failures.iter().map(|(path, error)| Failure { path, error }))
}

/// Expands directories (recursively) into the `.rpm` files below them, sorted.
pub fn collect_rpms(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).at(path)?;
        if !meta.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut stack = vec![path.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).at(&dir)? {
                let entry = entry.at(&dir)?;
                let child = entry.path();
                if entry.file_type().at(&child)?.is_dir() {
                    stack.push(child);
                } else if child.extension().is_some_and(|e| e == "rpm") {
                    out.push(child);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A package's NEVRA from its main header.
pub fn nevra_of(package: &Package) -> Result<Nevra> {
    let epoch = package.main.integer(tag::EPOCH)?.map(|e| u32::try_from(e).unwrap_or(u32::MAX));
    let arch = if is_source_package(&package.main) { "src".to_owned() } else { package.text(tag::ARCH, "ARCH")? };
    Ok(Nevra {
        name: package.text(tag::NAME, "NAME")?,
        epoch,
        version: package.text(tag::VERSION, "VERSION")?,
        release: package.text(tag::RELEASE, "RELEASE")?,
        arch,
    })
}

fn manifest_file(file: &RpmFile, blob: Option<BlobId>) -> Result<ManifestFile> {
    let kind = match (file.is_ghost(), file.file_type(), blob) {
        (true, _, _) => ManifestFileKind::Ghost,
        (false, S_IFREG, Some(blob)) => ManifestFileKind::Regular(blob),
        (false, S_IFREG, None) => {
            return Err(Error::Rpm(crate::rpm::error::RpmError::new("payload", "a regular file got no content")));
        }
        (false, S_IFLNK, _) => ManifestFileKind::Symlink,
        (false, S_IFDIR, _) => ManifestFileKind::Directory,
        _ => ManifestFileKind::Special,
    };
    Ok(ManifestFile {
        path: file.path.clone(),
        kind,
        mode: file.mode,
        size: file.size,
        user: String::from_utf8_lossy(&file.user).into_owned(),
        group: String::from_utf8_lossy(&file.group).into_owned(),
        link_target: file.link_target.clone(),
        flags: file.flags,
        caps: file.caps.clone(),
        digest: String::from_utf8_lossy(&file.digest).into_owned(),
    })
}

/// What a caller requires of a package beyond its own digests: the binding a jigdo gives it,
/// and the content objects its files must produce in the same payload pass.
#[derive(Clone, Debug, Default)]
pub struct PackageDemand {
    /// The package the caller binds: the main-header SHA-256 it must have, and the SHA-256
    /// the whole file must have when the binding records it.
    pub binding: Option<PackageBinding>,
    /// File index (header order) → the content objects made of that file's bytes, each with
    /// the header it takes and the checksum it must hash to.
    pub objects: HashMap<u32, Vec<(FileHeader, ObjectId)>>,
    /// Write those objects straight into the repository backing the store, instead of
    /// packing their content (FORMAT.md §3b, direct import): the caller exports the commit
    /// into that repository next.
    pub into_backing: bool,
}

/// Imports one package.
pub fn import_package(store: &Store, path: &Path) -> Result<PackageImport> {
    import_package_for(store, path, &PackageDemand::default())
}

/// Imports one package, checking it against `demand` and recording the content objects it
/// asks for. Nothing is recorded unless every check passes.
pub fn import_package_for(store: &Store, path: &Path, demand: &PackageDemand) -> Result<PackageImport> {
    let prepared = prepare_import(store, path, demand).map_err(|e| in_package(path, e))?;
    let mut import = prepared.import;
    if let Some(batch) = prepared.batch {
        let written = batch.commit().map_err(|e| in_package(path, e.into()))?;
        import.raw_bytes = written.raw_bytes;
        import.pack_bytes = written.pack_bytes;
    }
    Ok(import)
}

/// A package read, checked and packed, but not yet in the store: commit its batch, or finish
/// it and record it with others ([`Batch::finish_pack`], [`Store::commit_finished`]), to make
/// it durable; drop it to leave the store as it was. `import` has no pack figures yet.
pub struct PreparedImport<'s> {
    /// What the import found.
    pub import: PackageImport,
    /// Its additions; None when the store already had the package.
    pub batch: Option<Batch<'s>>,
}

/// [`import_package_for`] without the commit, so that a caller importing many packages can
/// make them durable together, or not at all when one of them fails.
pub fn prepare_package_import<'s>(store: &'s Store, path: &Path, demand: &PackageDemand) -> Result<PreparedImport<'s>> {
    prepare_import(store, path, demand).map_err(|e| in_package(path, e))
}

/// Names the package file in an error that does not already.
fn in_package(path: &Path, error: Error) -> Error {
    match error {
        Error::Package { .. } => error,
        other => Error::Package { path: path.to_path_buf(), detail: rejig_format::chain(&other) },
    }
}

fn mismatch(what: &str, actual: &dyn std::fmt::Display, expected: &dyn std::fmt::Display) -> Error {
    Error::Rpm(crate::rpm::error::RpmError::new(
        "package",
        format!("is not the package the jigdo names: its {what} SHA-256 is {actual}, the jigdo binds {expected}"),
    ))
}

fn prepare_import<'s>(store: &'s Store, path: &Path, demand: &PackageDemand) -> Result<PreparedImport<'s>> {
    let file = crate::source::open_regular_file(path).at(path)?;
    let mut file_sha = Sha256::new();
    let mut reader = HashingReader { inner: BufReader::with_capacity(256 * 1024, file), hasher: &mut file_sha };
    let package = Package::read_headers(&mut reader)?;
    if let Some(expected) = demand.binding.as_ref().map(|b| &b.header) {
        if package.header_sha256 != *expected {
            return Err(mismatch("main-header", &package.header_sha256, expected));
        }
    }
    let nevra = nevra_of(&package)?;
    let mut import = PackageImport {
        path: path.to_path_buf(),
        nevra,
        header_sha256: package.header_sha256,
        skipped: false,
        files: package.files.files.len() as u64,
        raw_bytes: 0,
        pack_bytes: 0,
        objects: 0,
        objects_into_repo: 0,
    };
    if demand.objects.is_empty() && store.reader()?.package(&package.header_sha256)?.is_some() {
        import.skipped = true;
        return Ok(PreparedImport { import, batch: None });
    }
    let batch = store.batch()?;
    let mut blobs: Vec<Option<BlobId>> = vec![None; package.files.files.len()];
    let files = &package.files.files;
    let mut objects = 0u64;
    let mut objects_into_repo = 0u64;
    // With the whole file's SHA-256 bound (checked below, before anything is committed), the
    // package's own payload and file digests cover nothing more: they are not computed again.
    let digests = match demand.binding.as_ref().and_then(|b| b.file.as_ref()) {
        Some(_) => Digests::CoveredByFile,
        None => Digests::Check,
    };
    let summary = package.walk_payload_with(&mut reader, digests, |members, content| {
        let size = members.first().and_then(|&m| files.get(m)).map(|f| f.size).unwrap_or(0);
        let wanted: Vec<&(FileHeader, ObjectId)> = members
            .iter()
            .filter_map(|&m| u32::try_from(m).ok().and_then(|m| demand.objects.get(&m)))
            .flatten()
            .collect();
        // The first object made of this content goes straight into the backing repository,
        // which checks its checksum as it writes it; the others are hashed here.
        let direct = wanted.first().copied().filter(|_| demand.into_backing && size > 0);
        let mut hashers: Vec<ContentHasher> =
            wanted.iter().skip(usize::from(direct.is_some())).map(|(header, _)| header.hasher()).collect();
        let mut into_repo = |written: BackedWrite| -> Option<(BlobId, ObjectId)> {
            let (_, expected) = direct?;
            match written {
                BackedWrite::Written(blob) => {
                    objects_into_repo += 1;
                    Some((blob, *expected))
                }
                // The check below refuses the package.
                BackedWrite::Refused(actual) => Some((BlobId::of(&[]), actual)),
                BackedWrite::Declined => None,
            }
        };
        // The blob, and the checksum the repository found for the first object.
        let (blob, first) = if size <= IN_MEMORY_BLOB_LIMIT {
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            content.read_to_end(&mut data).map_err(|e| Error::Io { path: path.to_path_buf(), error: e })?;
            hashers.iter_mut().for_each(|h| h.update(&data));
            let written = match direct {
                Some((header, id)) => {
                    let key = ObjectKey::new(*id, ObjectType::File);
                    batch.add_backed_file(key, header, &mut data.as_slice(), data.len() as u64)?
                }
                None => BackedWrite::Declined,
            };
            match into_repo(written) {
                Some((blob, first)) => (blob, Some(first)),
                None => {
                    if let Some((header, _)) = direct {
                        let mut hasher = header.hasher();
                        hasher.update(&data);
                        hashers.insert(0, hasher);
                    }
                    (batch.add_blob(&data)?, None)
                }
            }
        } else {
            let written = match direct {
                Some((header, id)) => {
                    let mut tee = TeeHashers { inner: content, hashers: &mut hashers };
                    batch.add_backed_file(ObjectKey::new(*id, ObjectType::File), header, &mut tee, size)?
                }
                None => BackedWrite::Declined,
            };
            match into_repo(written) {
                Some((blob, first)) => (blob, Some(first)),
                None => {
                    // Declined before reading anything: the first object is hashed here too.
                    if let Some((header, _)) = direct {
                        hashers.insert(0, header.hasher());
                    }
                    (batch.add_blob_stream(&mut TeeHashers { inner: content, hashers: &mut hashers })?.0, None)
                }
            }
        };
        let actuals = first.into_iter().chain(hashers.into_iter().map(ContentHasher::finish));
        for ((header, expected), actual) in wanted.into_iter().zip(actuals) {
            if actual != *expected {
                let name = members.first().and_then(|&m| files.get(m)).map(|f| f.path.as_slice()).unwrap_or_default();
                return Err(Error::Rpm(crate::rpm::error::RpmError::new(
                    "payload",
                    format!(
                        "object {expected} does not rebuild from {}: with the jigdo's metadata it hashes to {actual}",
                        String::from_utf8_lossy(name)
                    ),
                )));
            }
            batch.add_object(ObjectKey::new(actual, ObjectType::File), &ObjectRecord::content(header.clone(), blob))?;
            objects += 1;
        }
        for &member in members {
            if let Some(slot) = blobs.get_mut(member) {
                *slot = Some(blob);
            }
        }
        Ok::<(), Error>(())
    })?;
    let demanded: usize = demand.objects.values().map(Vec::len).sum();
    if objects != demanded as u64 {
        let missing = demand.objects.iter().find(|(&i, _)| blobs.get(i as usize).is_none_or(Option::is_none));
        let what = match missing {
            Some((index, wanted)) => format!(
                "object {} should come from file index {index}, which has no content in the payload{}",
                wanted.first().map(|(_, id)| id.to_string()).unwrap_or_default(),
                files
                    .get(*index as usize)
                    .map(|f| format!(" ({})", String::from_utf8_lossy(&f.path)))
                    .unwrap_or_default()
            ),
            None => "an object was not produced".to_owned(),
        };
        return Err(Error::Rpm(crate::rpm::error::RpmError::new(
            "payload",
            format!("{objects} of {demanded} demanded objects were produced: {what}"),
        )));
    }
    let file_sha256 = FileSha256::from_bytes(file_sha.finalize().into());
    if let Some(expected) = demand.binding.as_ref().and_then(|b| b.file.as_ref()) {
        if file_sha256 != *expected {
            return Err(mismatch("file", &file_sha256, expected));
        }
    }
    let manifest = PackageManifest {
        nevra: import.nevra.clone(),
        header_sha256: package.header_sha256,
        file_sha256: Some(file_sha256),
        digest_algo: package.files.digest_algo.map(|a| a.name()).unwrap_or("none").to_owned(),
        compression: summary.compression.map(|c| c.name()).unwrap_or("none").to_owned(),
        files: files.iter().zip(&blobs).map(|(f, b)| manifest_file(f, *b)).collect::<Result<_>>()?,
    };
    batch.add_package(&manifest)?;
    import.objects = objects;
    import.objects_into_repo = objects_into_repo;
    Ok(PreparedImport { import, batch: Some(batch) })
}

/// Feeds every byte read to several object hashers: one payload pass gives every metadata
/// variant of a large file its checksum.
struct TeeHashers<'a, 'h> {
    inner: &'a mut dyn Read,
    hashers: &'h mut [ContentHasher],
}

impl Read for TeeHashers<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = buf.get(..n).unwrap_or_default();
        self.hashers.iter_mut().for_each(|h| h.update(data));
        Ok(n)
    }
}

/// Imports packages (files, or directories searched recursively) in parallel. Each package
/// succeeds or fails on its own.
pub fn import_packages(store: &Store, paths: &[PathBuf], progress: &dyn Progress) -> Result<PackagesReport> {
    let started = Instant::now();
    let rpms = collect_rpms(paths)?;
    progress.start("importing packages", rpms.len() as u64);
    // More threads than cores: each package ends in a durable commit (rejig_store::threads).
    let results: Vec<(PathBuf, Result<PackageImport>)> = rejig_store::threads::with_io_threads(|| {
        rpms.par_iter()
            .map(|path| {
                let result = import_package(store, path);
                progress.advance(1);
                (path.clone(), result)
            })
            .collect()
    });
    progress.finish();
    let mut report = PackagesReport::default();
    for (path, result) in results {
        match result {
            Ok(import) => report.packages.push(import),
            Err(e) => report.failures.push((path, rejig_format::chain(&e))),
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A package summarised and verified, without touching the store. In JSON, the NEVRA is
/// given whole and in parts, the digests as `verified`, `computed` or `absent`, and the
/// counts by kind under `files`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PackageInfo {
    /// Identity.
    #[serde(flatten, serialize_with = "nevra_and_parts")]
    pub nevra: Nevra,
    /// Main-header SHA-256.
    pub header_sha256: HeaderSha256,
    /// SHA-256 of the whole file.
    pub file_sha256: FileSha256,
    /// True when signature tag 273 was present and matched; false when it was computed.
    #[serde(rename = "header_digest", serialize_with = "verified_or_computed")]
    pub header_digest_verified: bool,
    /// True when PAYLOADDIGEST was present and matched (it is absent in older packages).
    #[serde(rename = "payload_digest", serialize_with = "verified_or_absent")]
    pub payload_digest_verified: bool,
    /// The file digest algorithm.
    pub digest_algo: String,
    /// Regular files whose content digest was checked.
    pub file_digests_verified: u64,
    /// Payload compressor, by magic bytes.
    pub compression: String,
    /// Counts by kind.
    pub files: FileCounts,
    /// Sum of regular file sizes.
    pub installed_bytes: u64,
    /// Size of the package file.
    pub file_bytes: u64,
    /// Decompressed archive size.
    pub archive_bytes: u64,
}

/// A package's files by kind.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FileCounts {
    /// Regular files.
    pub regular: u64,
    /// Directories.
    pub directories: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Ghosts.
    pub ghosts: u64,
    /// Devices, FIFOs and sockets.
    pub special: u64,
    /// Hardlink sets.
    pub hardlink_sets: u64,
}

/// Serialises a NEVRA as `nevra` (its display form) beside its parts.
fn nevra_and_parts<S: serde::Serializer>(nevra: &Nevra, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(6))?;
    map.serialize_entry("nevra", &nevra.to_string())?;
    map.serialize_entry("name", &nevra.name)?;
    map.serialize_entry("epoch", &nevra.epoch)?;
    map.serialize_entry("version", &nevra.version)?;
    map.serialize_entry("release", &nevra.release)?;
    map.serialize_entry("arch", &nevra.arch)?;
    map.end()
}

/// Serialises a recorded digest's check as `verified`, or `computed` when it was not recorded.
fn verified_or_computed<S: serde::Serializer>(verified: &bool, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(if *verified { "verified" } else { "computed" })
}

/// Serialises a recorded digest's check as `verified`, or `absent` when it was not recorded.
fn verified_or_absent<S: serde::Serializer>(verified: &bool, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(if *verified { "verified" } else { "absent" })
}

/// Reads and verifies a whole package (headers, payload, every digest) and summarises it.
pub fn inspect_package(path: &Path) -> Result<PackageInfo> {
    let inner = || -> Result<PackageInfo> {
        let file = crate::source::open_regular_file(path).at(path)?;
        let file_bytes = file.metadata().at(path)?.len();
        let mut file_sha = Sha256::new();
        let mut reader = HashingReader { inner: BufReader::with_capacity(256 * 1024, file), hasher: &mut file_sha };
        let package = Package::read_headers(&mut reader)?;
        let mut digests = 0u64;
        let summary = package.walk_payload(&mut reader, |members, content| {
            std::io::copy(content, &mut std::io::sink())
                .map_err(|e| Error::Io { path: path.to_path_buf(), error: e })?;
            let checked =
                members.first().and_then(|&m| package.files.files.get(m)).is_some_and(|f| !f.digest.is_empty());
            digests += u64::from(checked);
            Ok::<(), Error>(())
        })?;
        let files = &package.files.files;
        let count = |pred: &dyn Fn(&RpmFile) -> bool| files.iter().filter(|f| pred(f)).count() as u64;
        Ok(PackageInfo {
            nevra: nevra_of(&package)?,
            header_sha256: package.header_sha256,
            file_sha256: FileSha256::from_bytes(file_sha.finalize().into()),
            header_digest_verified: package.header_digest == crate::rpm::package::HeaderDigest::Verified,
            payload_digest_verified: summary.payload_digest_verified,
            digest_algo: package.files.digest_algo.map(|a| a.name()).unwrap_or("none").to_owned(),
            file_digests_verified: digests,
            compression: summary.compression.map(|c| c.name()).unwrap_or("none").to_owned(),
            files: FileCounts {
                regular: count(&|f| !f.is_ghost() && f.file_type() == S_IFREG),
                directories: count(&|f| !f.is_ghost() && f.file_type() == S_IFDIR),
                symlinks: count(&|f| !f.is_ghost() && f.file_type() == S_IFLNK),
                ghosts: count(&|f| f.is_ghost()),
                special: count(&|f| !f.is_ghost() && ![S_IFREG, S_IFDIR, S_IFLNK].contains(&f.file_type())),
                hardlink_sets: package.files.hardlink_sets.len() as u64,
            },
            installed_bytes: files.iter().filter(|f| f.file_type() == S_IFREG && !f.is_ghost()).map(|f| f.size).sum(),
            file_bytes,
            archive_bytes: summary.archive_bytes,
        })
    };
    inner().map_err(|e| in_package(path, e))
}
