//! Describing a commit by packages: every content object of the commit is matched to a
//! package file with the same bytes, whatever its path, owner, mode or xattrs; what no
//! package holds becomes new content carried by the jigdo, each distinct content once.
//!
//! Matching is by content (BLAKE3 of the bytes), so `/etc` moved to `/usr/etc`, re-owned,
//! re-moded and relabelled files still come from packages. The choice among packages holding
//! the same bytes is deterministic: a package file at one of the object's own paths first
//! (in commit walk order), otherwise the first package in NEVRA order.

use std::collections::{BTreeMap, HashMap, HashSet};

use rejig_format::jigdo::{ContentEntry, ContentSource, Jigdo};
use rejig_format::manifest::{ManifestFileKind, Nevra, PackageManifest};
use rejig_format::object::{DirTree, FileMeta};
use rejig_format::{BlobId, HeaderSha256, ObjectId, ObjectRecord, ObjectType, PackageBinding};
use rejig_store::walk::walk_commit;
use rejig_store::Store;

use crate::error::Result;

/// A commit described by packages, ready to be written as a jigdo RPM.
pub struct Description {
    /// The tables.
    pub jigdo: Jigdo,
    /// Content no package holds, each distinct blob once, with its size, sorted.
    pub new_content: Vec<(BlobId, u64)>,
    /// The delta, unless empty: the commit it is from, and the package content it lacks, each
    /// distinct blob once with its size, in package-table then file order (files of one
    /// package sit together, so they compress together).
    pub delta: Option<(ObjectId, Vec<(BlobId, u64)>)>,
    /// What the description is made of.
    pub stats: DescriptionStats,
}

/// Counts for the build report. JSON counts the packages used and unused, and names the
/// unused ones (`unused`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DescriptionStats {
    /// Content objects of the commit.
    pub objects_total: u64,
    /// Of those, supplied by a package file.
    pub objects_from_packages: u64,
    /// Of those, carried as new content.
    pub objects_new: u64,
    /// Of those, symlinks (described by the tables alone).
    pub objects_symlink: u64,
    /// Distinct content bytes packages supply.
    pub bytes_from_packages: u64,
    /// Distinct content bytes the jigdo carries.
    pub bytes_new: u64,
    /// Distinct package content bytes the delta parts carry (new since `--delta-from`).
    pub bytes_delta: u64,
    /// Packages that supply at least one object, in NEVRA order.
    #[serde(serialize_with = "count")]
    pub packages_used: Vec<Nevra>,
    /// Packages offered that supply nothing.
    #[serde(flatten, serialize_with = "count_and_names")]
    pub packages_unused: Vec<Nevra>,
}

/// Serialises a list as its length.
fn count<T, S: serde::Serializer>(list: &[T], serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_u64(list.len() as u64)
}

/// Serialises the unused packages as `packages_unused` (how many) and `unused` (their NEVRAs).
fn count_and_names<S: serde::Serializer>(unused: &[Nevra], serializer: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("packages_unused", &unused.len())?;
    map.serialize_entry("unused", &unused.iter().map(Nevra::to_string).collect::<Vec<_>>())?;
    map.end()
}

/// A package file that holds some content.
#[derive(Clone, Copy)]
struct Candidate {
    /// Index into the NEVRA-sorted manifests.
    package: usize,
    /// File index in header order.
    file: u32,
}

/// Describes `commit` (already in the store, with everything it reaches) by the packages
/// whose main-header SHA-256 is in `packages` (already imported). With `delta_from` (a
/// commit whose metadata the store holds), the package content that commit lacks is also
/// listed for delta parts.
pub fn describe_commit(
    store: &Store,
    commit: ObjectId,
    packages: &[HeaderSha256],
    delta_from: Option<ObjectId>,
) -> Result<Description> {
    let reader = store.reader()?;
    let closure = walk_commit(store, &reader, commit)?;
    let earlier: Option<HashSet<BlobId>> = match delta_from {
        Some(from) => Some(
            walk_commit(store, &reader, from)?
                .content
                .iter()
                .filter_map(|(_, record)| match record {
                    ObjectRecord::Regular { blob, .. } => Some(*blob),
                    _ => None,
                })
                .collect(),
        ),
        None => None,
    };

    let mut manifests = Vec::with_capacity(packages.len());
    for key in packages.iter().collect::<HashSet<_>>() {
        let blob = reader
            .package(key)?
            .ok_or_else(|| rejig_format::Error::invalid("package", format!("{key} is not in the store")))?;
        manifests.push(PackageManifest::decode(&store.read_blob(&reader, blob)?)?);
    }
    manifests.sort_by(|a, b| a.nevra.cmp(&b.nevra).then(a.header_sha256.cmp(&b.header_sha256)));

    // Where each content is: by blob, and by (blob, path) for the same-path rule.
    let mut by_blob: HashMap<BlobId, Candidate> = HashMap::new();
    let mut by_path: HashMap<(BlobId, &[u8]), Candidate> = HashMap::new();
    for (package, manifest) in manifests.iter().enumerate() {
        for (file, entry) in manifest.files.iter().enumerate() {
            if let ManifestFileKind::Regular(blob) = entry.kind {
                let candidate = Candidate { package, file: u32::try_from(file).unwrap_or(u32::MAX) };
                by_blob.entry(blob).or_insert(candidate);
                by_path.entry((blob, entry.path.as_slice())).or_insert(candidate);
            }
        }
    }

    let records: HashMap<ObjectId, &ObjectRecord> = closure.content.iter().map(|(id, r)| (*id, r)).collect();
    let same_path = match_same_paths(&closure, &records, &by_path)?;

    let mut interned: BTreeMap<FileMeta, u32> = BTreeMap::new();
    let mut metadata = Vec::new();
    let mut content = Vec::with_capacity(closure.content.len());
    let mut used = vec![false; manifests.len()];
    let mut stats = DescriptionStats { objects_total: closure.content.len() as u64, ..Default::default() };
    let mut packaged_blobs = HashSet::new();
    // Package content the delta's commit lacks, keyed for package-then-file order.
    let mut delta_blobs: BTreeMap<(usize, u32), (BlobId, u64)> = BTreeMap::new();
    let mut new_blobs = BTreeMap::new();
    let mut sorted: Vec<&(ObjectId, ObjectRecord)> = closure.content.iter().collect();
    sorted.sort_by_key(|(id, _)| *id);
    for (object, record) in sorted {
        let Some(header) = record.header() else { continue };
        let meta = header.meta().clone();
        let next = u32::try_from(metadata.len()).unwrap_or(u32::MAX);
        let meta_index = *interned.entry(meta.clone()).or_insert_with(|| {
            metadata.push(meta);
            next
        });
        let (source, blob) = match record {
            ObjectRecord::Regular { blob, .. } => {
                let size = reader.blob_len(blob)?.unwrap_or(0);
                // Empty content costs nothing to carry, and must not make a package needed.
                let found = if size == 0 { None } else { same_path.get(object).or(by_blob.get(blob)).copied() };
                match found {
                    Some(c) => {
                        used[c.package] = true;
                        stats.objects_from_packages += 1;
                        if packaged_blobs.insert(*blob) {
                            stats.bytes_from_packages += size;
                            if earlier.as_ref().is_some_and(|e| !e.contains(blob)) {
                                delta_blobs.insert((c.package, c.file), (*blob, size));
                            }
                        }
                        (ContentSource::Package { package: c.package as u32, file: c.file }, *blob)
                    }
                    None => {
                        stats.objects_new += 1;
                        new_blobs.insert(*blob, size);
                        (ContentSource::New, *blob)
                    }
                }
            }
            _ => {
                stats.objects_symlink += 1;
                let target = header.symlink_target().unwrap_or_default().to_owned();
                (ContentSource::Symlink(target), BlobId::from_bytes([0; 32]))
            }
        };
        content.push(ContentEntry { object: *object, source, meta: meta_index, content: blob });
    }
    stats.bytes_new = new_blobs.values().sum();
    stats.bytes_delta = delta_blobs.values().map(|(_, size)| size).sum();
    // A delta with nothing in it is no delta (the head names a commit only with parts).
    let delta = delta_from.filter(|_| !delta_blobs.is_empty()).map(|from| (from, delta_blobs.into_values().collect()));

    // Only used packages go into the table; renumber the entries' package indexes.
    let mut renumber = vec![u32::MAX; manifests.len()];
    let mut table = Vec::new();
    for (index, manifest) in manifests.iter().enumerate() {
        if used[index] {
            renumber[index] = table.len() as u32;
            table.push(PackageBinding {
                nevra: manifest.nevra.clone(),
                header: manifest.header_sha256,
                file: manifest.file_sha256,
            });
            stats.packages_used.push(manifest.nevra.clone());
        } else {
            stats.packages_unused.push(manifest.nevra.clone());
        }
    }
    for entry in &mut content {
        if let ContentSource::Package { package, .. } = &mut entry.source {
            *package = renumber[*package as usize];
        }
    }

    let (mut dirtrees, mut dirmetas) = (Vec::new(), Vec::new());
    for (key, bytes) in closure.metadata {
        match key.kind {
            ObjectType::DirTree => dirtrees.push(bytes),
            _ => dirmetas.push(bytes),
        }
    }
    let jigdo = Jigdo {
        commit,
        commit_bytes: closure.commit_bytes,
        commitmeta: closure.commitmeta,
        dirtrees,
        dirmetas,
        packages: table,
        metadata,
        content,
    };
    jigdo.validate()?;
    Ok(Description { jigdo, new_content: new_blobs.into_iter().collect(), delta, stats })
}

/// For each regular content object, the package file at one of its own paths with the same
/// bytes, if any: the first such path in a depth-first walk in name order.
fn match_same_paths(
    closure: &rejig_store::walk::CommitClosure,
    records: &HashMap<ObjectId, &ObjectRecord>,
    by_path: &HashMap<(BlobId, &[u8]), Candidate>,
) -> Result<HashMap<ObjectId, Candidate>> {
    let trees: HashMap<ObjectId, DirTree> = closure
        .metadata
        .iter()
        .filter(|(key, _)| key.kind == ObjectType::DirTree)
        .map(|(key, bytes)| Ok((key.id, DirTree::decode(bytes)?)))
        .collect::<Result<_>>()?;
    let mut found = HashMap::new();
    let mut pending = vec![(closure.commit.root_tree, Vec::new())];
    while let Some((tree, prefix)) = pending.pop() {
        let Some(listing) = trees.get(&tree) else { continue };
        for file in listing.files() {
            if found.contains_key(&file.content) {
                continue;
            }
            if let Some(ObjectRecord::Regular { blob, .. }) = records.get(&file.content) {
                let path = [prefix.as_slice(), b"/", file.name.as_str().as_bytes()].concat();
                if let Some(candidate) = by_path.get(&(*blob, path.as_slice())) {
                    found.insert(file.content, *candidate);
                }
            }
        }
        for dir in listing.dirs().iter().rev() {
            pending.push((dir.tree, [prefix.as_slice(), b"/", dir.name.as_str().as_bytes()].concat()));
        }
    }
    Ok(found)
}
