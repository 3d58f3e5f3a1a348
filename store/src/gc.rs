//! Garbage collection under a budget. Roots (commits, each recorded when it was imported,
//! committed or rebuilt from a jigdo, and touched when used) are ordered by last use; gc keeps
//! the newest `keep` of them, and fewer when their data exceeds `max_size`. Everything they
//! reach stays: objects and their blobs, and the manifests of packages whose every file's
//! content they keep (so a warm build skips re-reading them). A package only partly kept,
//! such as the previous release of an updated package that shares a licence file with the
//! new one, loses its manifest; its still-live content stays through the objects. Everything
//! else goes.
//!
//! Packs are immutable, so space comes back by deleting packs with nothing live and by
//! rewriting packs whose live fraction is low: their live blobs (copied compressed, not
//! recompressed) and the live index entries their trailers list go into new packs of about
//! 32 MiB. Small packs are folded into them the same way (`fold.rs`).
//! Order: new pack durable (fsync, rename, fsync the directory), then one index transaction,
//! then the old pack files are deleted. A crash leaves either the old index with the old
//! packs (and an unreferenced new pack) or the new index with some unreferenced old packs;
//! the next gc deletes unreferenced packs. The store lock (one process at a time) means no
//! export can be reading what gc removes.

use std::collections::{HashMap, HashSet};
use std::fs::File;

use crate::durable::sync_dir;
use crate::error::{IoContext, Result};
use crate::index::{GcChanges, IndexReader};
use crate::pack::reader::read_trailer;
use crate::pack::writer::pack_path;
use crate::pack::BlobLocation;
use crate::progress::Progress;
use crate::store::Store;
use crate::walk::walk_commit;
use rejig_format::digest::HeaderSha256;
use rejig_format::id::{BlobId, ObjectId, ObjectKey, ObjectType, PackId};
use rejig_format::manifest::PackageManifest;
use rejig_format::object::DirTree;

/// What to keep.
#[derive(Clone, Debug)]
pub struct GcOptions {
    /// Keep at most this many roots, the most recently used first (None: all).
    pub keep: Option<usize>,
    /// Drop the least recently used roots until what the rest need fits in this many bytes of
    /// packs (the newest root is always kept).
    pub max_size: Option<u64>,
    /// Rewrite packs whose live bytes are below this fraction of their blob bytes.
    pub rewrite_below: f64,
    /// Fold packs smaller than this together (see `fold.rs`).
    pub fold_below: u64,
    /// The size of the packs a collection writes.
    pub target_pack_size: u64,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            keep: None,
            max_size: None,
            rewrite_below: 0.5,
            fold_below: crate::fold::SMALL_PACK,
            target_pack_size: crate::fold::TARGET_PACK_SIZE,
        }
    }
}

/// What a collection did. In JSON, roots are their commit checksums (hex), and a broken
/// root is `{"root", "error"}`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct GcReport {
    /// Roots kept, newest first, with their last-use stamp.
    #[serde(serialize_with = "root_ids")]
    pub roots_kept: Vec<(ObjectKey, u64)>,
    /// Roots dropped.
    #[serde(serialize_with = "root_ids")]
    pub roots_dropped: Vec<(ObjectKey, u64)>,
    /// Roots dropped because their commit is incomplete in the store.
    #[serde(serialize_with = "broken_roots")]
    pub roots_broken: Vec<(ObjectKey, String)>,
    /// Objects removed from the index.
    pub objects_removed: u64,
    /// Blobs removed from the index.
    pub blobs_removed: u64,
    /// Packages removed.
    pub packages_removed: u64,
    /// Packs rewritten into the new packs because little in them was live.
    pub packs_rewritten: u64,
    /// Small packs folded together into the new packs.
    pub packs_folded: u64,
    /// New packs written (what the rewritten and folded packs became).
    pub packs_written: u64,
    /// Packs deleted because nothing in them was live, or that the index did not reference.
    pub packs_deleted: u64,
    /// Bytes of pack files before and after.
    pub bytes_before: u64,
    /// After.
    pub bytes_after: u64,
    /// Whether `max_size` could not be met even with only the newest root.
    pub over_budget: bool,
    /// Bytes of package downloads removed (finished ones a failed export left, and partial
    /// ones a later export would have resumed).
    pub downloads_removed: u64,
    /// In a backed store: references to repository objects that are gone or changed size,
    /// dropped (with what needs them) before marking.
    pub backed_dropped: Vec<String>,
}

/// Serialises roots as their checksums.
fn root_ids<S: serde::Serializer>(roots: &[(ObjectKey, u64)], serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_seq(roots.iter().map(|(key, _)| key.id))
}

/// Serialises broken roots as `{"root", "error"}`.
fn broken_roots<S: serde::Serializer>(
    roots: &[(ObjectKey, String)],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct BrokenRoot<'a> {
        root: rejig_format::ObjectId,
        error: &'a str,
    }
    serializer.collect_seq(roots.iter().map(|(key, error)| BrokenRoot { root: key.id, error }))
}

impl GcReport {
    /// Bytes given back to the filesystem.
    pub fn bytes_freed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after) + self.downloads_removed
    }
}

/// Everything one set of roots keeps alive.
#[derive(Default)]
struct Live {
    objects: HashSet<ObjectKey>,
    blobs: HashSet<BlobId>,
    packages: HashSet<HeaderSha256>,
    /// Stored bytes of `blobs`.
    bytes: u64,
}

impl Live {
    fn add_blob(&mut self, id: BlobId, locations: &HashMap<BlobId, BlobLocation>) {
        if self.blobs.insert(id) {
            self.bytes += locations.get(&id).map(|l| l.stored_len).unwrap_or(0);
        }
    }
}

/// Every package's manifest blob and non-empty content blobs, by main-header SHA-256.
type PackageIndex = HashMap<HeaderSha256, (BlobId, Vec<BlobId>)>;

fn package_index(store: &Store, reader: &IndexReader<'_>) -> Result<PackageIndex> {
    let mut index = PackageIndex::new();
    for (header, manifest_blob) in reader.packages()? {
        let Ok(manifest) = store.read_blob(reader, manifest_blob).and_then(|b| Ok(PackageManifest::decode(&b)?)) else {
            // An unreadable manifest keeps nothing alive; fsck reports it.
            continue;
        };
        let mut blobs = Vec::new();
        for blob in manifest.blobs() {
            if reader.blob_len(&blob)?.is_some_and(|len| len > 0) {
                blobs.push(blob);
            }
        }
        index.insert(header, (manifest_blob, blobs));
    }
    Ok(index)
}

/// Adds what `root` reaches to `live`. Fails if the commit is incomplete.
fn mark(
    store: &Store,
    reader: &IndexReader<'_>,
    root: ObjectKey,
    locations: &HashMap<BlobId, BlobLocation>,
    live: &mut Live,
) -> Result<()> {
    let closure = walk_commit(store, reader, root.id)?;
    let mut keys = vec![root];
    let meta_key = ObjectKey::new(root.id, ObjectType::CommitMeta);
    if reader.contains_object(&meta_key)? {
        keys.push(meta_key);
    }
    keys.extend(closure.metadata.iter().map(|(key, _)| *key));
    keys.extend(closure.content.iter().map(|(id, _)| ObjectKey::new(*id, ObjectType::File)));
    for key in keys {
        if live.objects.insert(key) {
            if let Some(blob) = reader.object(&key)?.and_then(|r| r.blob()) {
                live.add_blob(blob, locations);
            }
        }
    }
    keep_jigdo_parts(store, reader, root, locations, live)
}

/// A commit rebuilt from a jigdo keeps the jigdo's parts, so that the next update fetches
/// only the parts that changed. An unreadable list keeps nothing more; fsck reports it.
fn keep_jigdo_parts(
    store: &Store,
    reader: &IndexReader<'_>,
    root: ObjectKey,
    locations: &HashMap<BlobId, BlobLocation>,
    live: &mut Live,
) -> Result<()> {
    let key = ObjectKey::new(root.id, ObjectType::JigdoParts);
    let Ok(bytes) = store.read_metadata(reader, key) else { return Ok(()) };
    live.objects.insert(key);
    if let Some(blob) = reader.object(&key)?.and_then(|r| r.blob()) {
        live.add_blob(blob, locations);
    }
    for part in rejig_format::jigdo::parts::decode_part_list(&bytes).unwrap_or_default() {
        // A part's content may be a file's, read from the backing repository.
        if locations.contains_key(&part) || reader.backed(&part)?.is_some() {
            live.add_blob(part, locations);
        }
    }
    Ok(())
}

/// Keeps the manifests of packages whose whole content is live. A package with no content
/// (only directories, symlinks, empty files) costs nothing to re-import and is not kept.
fn keep_whole_packages(packages: &PackageIndex, locations: &HashMap<BlobId, BlobLocation>, live: &mut Live) {
    for (header, (manifest, blobs)) in packages {
        if !blobs.is_empty() && blobs.iter().all(|b| live.blobs.contains(b)) && live.packages.insert(*header) {
            live.add_blob(*manifest, locations);
        }
    }
}

/// Collects garbage (see the module documentation).
pub fn gc(store: &Store, options: &GcOptions, progress: &dyn Progress) -> Result<GcReport> {
    match store.remote() {
        Some(remote) => remote.gc(store, options, progress),
        None => collect(store, options, progress),
    }
}

/// Collects garbage in the store's folder (for a store on object storage, its cache).
pub(crate) fn collect(store: &Store, options: &GcOptions, progress: &dyn Progress) -> Result<GcReport> {
    store.require_index()?;
    // A backed store: references to repository objects that are gone are dropped first.
    // Backed entries that still hold cost no pack space and are kept, even when nothing
    // kept reaches them: the next update reads that content from the repository instead of
    // fetching it (FORMAT.md §3b).
    let mut report = GcReport { backed_dropped: store.check_backing()?.dropped, ..Default::default() };
    adopt_unindexed_roots(store)?;
    let reader = store.reader()?;
    let locations: HashMap<BlobId, BlobLocation> = reader.blobs()?.into_iter().collect();
    let packages = package_index(store, &reader)?;

    let mut roots = reader.roots()?;
    roots.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    progress.start("marking what the kept roots reach", roots.len() as u64);
    let mut live = Live::default();
    for (root, used) in roots {
        progress.advance(1);
        let within_count = options.keep.is_none_or(|keep| report.roots_kept.len() < keep);
        if !within_count {
            report.roots_dropped.push((root, used));
            continue;
        }
        let mut candidate = Live {
            objects: live.objects.clone(),
            blobs: live.blobs.clone(),
            packages: live.packages.clone(),
            bytes: live.bytes,
        };
        if let Err(e) = mark(store, &reader, root, &locations, &mut candidate) {
            report.roots_broken.push((root, rejig_format::chain(&e)));
            continue;
        }
        keep_whole_packages(&packages, &locations, &mut candidate);
        let fits = options.max_size.is_none_or(|max| candidate.bytes <= max);
        if fits || report.roots_kept.is_empty() {
            report.over_budget |= !fits;
            live = candidate;
            report.roots_kept.push((root, used));
        } else {
            report.roots_dropped.push((root, used));
        }
    }
    progress.finish();

    let mut changes = GcChanges {
        dead_roots: report.roots_dropped.iter().chain(&report_broken_keys(&report)).map(|(k, _)| *k).collect(),
        dead_objects: reader
            .objects()?
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| !live.objects.contains(key))
            .collect(),
        dead_blobs: locations.keys().filter(|id| !live.blobs.contains(id)).copied().collect(),
        dead_packages: packages.keys().filter(|h| !live.packages.contains(*h)).copied().collect(),
        ..Default::default()
    };
    report.objects_removed = changes.dead_objects.len() as u64;
    report.blobs_removed = changes.dead_blobs.len() as u64;
    report.packages_removed = changes.dead_packages.len() as u64;

    // Which packs to rewrite: those whose live blob bytes are a small part of their blobs.
    let indexed_packs: HashMap<PackId, u64> = reader.packs()?.into_iter().collect();
    let mut total: HashMap<PackId, u64> = HashMap::new();
    let mut kept: HashMap<PackId, u64> = HashMap::new();
    for (id, location) in &locations {
        *total.entry(location.pack).or_default() += location.stored_len;
        if live.blobs.contains(id) {
            *kept.entry(location.pack).or_default() += location.stored_len;
        }
    }
    let rewrite: Vec<PackId> = indexed_packs
        .keys()
        .filter(|pack| {
            // A pack of index entries only (no blobs) is small and left as it is.
            let all = total.get(pack).copied().unwrap_or(0);
            let alive = kept.get(pack).copied().unwrap_or(0);
            all > 0 && (alive as f64) < options.rewrite_below * all as f64
        })
        .copied()
        .collect();
    let folded = crate::fold::small_packs(&indexed_packs, &rewrite, options.fold_below);
    report.packs_rewritten = rewrite.len() as u64;
    report.packs_folded = folded.len() as u64;
    let rewrite: Vec<PackId> = rewrite.into_iter().chain(folded).collect();

    progress.start("rewriting packs", rewrite.len() as u64);
    let mut writer = crate::fold::RollingWriter::new(store, options.target_pack_size)?;
    for pack in &rewrite {
        let path = pack_path(&store.packs_dir(), pack);
        let file = store.pack_file(pack)?;
        let (trailer, _) = read_trailer(&file, &path)?;
        for entry in trailer.blobs.iter().filter(|e| live.blobs.contains(&e.id)) {
            // Only the copy the index points at moves; a duplicate elsewhere stays dead.
            if locations.get(&entry.id).is_some_and(|l| l.pack == *pack && l.offset == entry.offset) {
                writer.append_copy(entry, &file, &path)?;
            }
        }
        // Index entries this pack brought in must stay listed in some pack, so that
        // `fsck --repair` can rebuild them.
        for (key, record) in &trailer.objects {
            if live.objects.contains(key) {
                writer.add_object_encoded(*key, record.clone());
            }
        }
        for key in trailer.roots.iter().filter(|k| report.roots_kept.iter().any(|(r, _)| r == *k)) {
            writer.add_root(*key);
        }
        for (header, manifest) in trailer.packages.iter().filter(|(h, _)| live.packages.contains(h)) {
            writer.add_package(*header, *manifest);
        }
        progress.advance(1);
    }
    changes.new_packs = writer.finish()?;
    progress.finish();
    report.packs_written = changes.new_packs.len() as u64;
    changes.removed_packs = rewrite.clone();

    report.bytes_before = pack_bytes(store)?;
    drop(reader);
    store.index().apply_gc(&changes)?;
    store.forget_open_packs()?;
    store.compact_journal()?;

    // The index no longer refers to these; deleting them is what frees the space. Packs the
    // index never referenced (left by a crash between rename and index commit) go too.
    let referenced: HashSet<PackId> = store.reader()?.packs()?.into_iter().map(|(id, _)| id).collect();
    let dir = store.packs_dir();
    for entry in std::fs::read_dir(&dir).at(&dir)? {
        let path = entry.at(&dir)?.path();
        let id = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<PackId>().ok());
        if let (Some(id), Some("pack")) = (id, path.extension().and_then(|e| e.to_str())) {
            // A pack whose trailer cannot be read is damage, not debris: left for the operator.
            if !referenced.contains(&id) && (rewrite.contains(&id) || trailer_readable(&path)?) {
                std::fs::remove_file(&path).at(&path)?;
                report.packs_deleted += u64::from(!rewrite.contains(&id));
            }
        }
    }
    sync_dir(&dir)?;
    report.bytes_after = pack_bytes(store)?;
    report.downloads_removed = clear_downloads(store)?;
    Ok(report)
}

/// True when a pack's trailer decodes and names the pack. An error opening it (out of file
/// descriptors) is an error, never "unreadable".
fn trailer_readable(path: &std::path::Path) -> Result<bool> {
    let file = File::open(path).at(path)?;
    let id = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<PackId>().ok());
    Ok(matches!(read_trailer(&file, path), Ok((_, actual)) if Some(actual) == id))
}

/// The deletion rule's other half (FORMAT.md §5.2): a pack the index does not reference is
/// crash debris only if a rebuild of the index would recover no root from it. A pack that
/// lists a root the index lacks and the roots journal does not record as dropped (a writer
/// killed between the pack's rename and its index transaction) is indexed here, as a repair
/// would, instead of being deleted. Returns how many packs were indexed.
fn adopt_unindexed_roots(store: &Store) -> Result<u64> {
    let reader = store.reader()?;
    let indexed: HashSet<PackId> = reader.packs()?.into_iter().map(|(id, _)| id).collect();
    let roots: HashSet<ObjectKey> = reader.roots()?.into_iter().map(|(key, _)| key).collect();
    drop(reader);
    let journal = crate::journal::read(&store.root().join(crate::store::JOURNAL), &store.id())?.unwrap_or_default();
    let mut adopted = 0;
    for (id, path) in crate::fsck::pack_files(store)? {
        if indexed.contains(&id) {
            continue;
        }
        let file = File::open(&path).at(&path)?;
        let size = file.metadata().at(&path)?.len();
        let Ok((trailer, actual)) = read_trailer(&file, &path) else { continue };
        if actual == id && trailer.roots.iter().any(|r| !roots.contains(r) && !journal.dropped(r)) {
            store.index().commit_pack(&crate::pack::writer::FinishedPack { id, trailer, size })?;
            adopted += 1;
        }
    }
    Ok(adopted)
}

/// The broken roots in the shape of the dropped ones.
fn report_broken_keys(report: &GcReport) -> Vec<(ObjectKey, u64)> {
    report.roots_broken.iter().map(|(k, _)| (*k, 0)).collect()
}

/// Empties `<store>/downloads/` (see FORMAT.md §1): its packages are only a cache of what
/// an export was fetching. Returns the bytes removed.
fn clear_downloads(store: &Store) -> Result<u64> {
    let dir = store.downloads_path();
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.at(&dir)?;
        if entry.file_type().at(entry.path())?.is_file() {
            removed += entry.metadata().at(entry.path())?.len();
            std::fs::remove_file(entry.path()).at(entry.path())?;
        }
    }
    Ok(removed)
}

/// Total size of the pack files on disk.
fn pack_bytes(store: &Store) -> Result<u64> {
    let dir = store.packs_dir();
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).at(&dir)? {
        let entry = entry.at(&dir)?;
        if entry.path().extension().is_some_and(|e| e == "pack") {
            total += entry.metadata().at(entry.path())?.len();
        }
    }
    Ok(total)
}

/// After the index is rebuilt from packs: drops entries a collection had removed but that
/// packs kept as they were still list (objects without blobs, packages missing content,
/// roots whose commit no longer walks). Returns how many entries were removed.
/// Dirtrees whose closure is not all in the index. The jigdo planner takes a stored dirtree
/// as proof that everything below it is stored (it does not enter such a directory), so
/// when a repair drops damaged content, the dirtrees above that content go too.
fn incomplete_dirtrees(store: &Store, reader: &IndexReader<'_>) -> Result<Vec<ObjectKey>> {
    let trees: Vec<ObjectKey> =
        reader.objects()?.into_iter().map(|(key, _)| key).filter(|key| key.kind == ObjectType::DirTree).collect();
    let mut complete = HashMap::new();
    for key in &trees {
        tree_complete(store, reader, key.id, &mut complete)?;
    }
    Ok(trees.into_iter().filter(|key| complete.get(&key.id) == Some(&false)).collect())
}

/// Whether dirtree `id` and everything below it are in the index, memoised in `known`. The
/// recursion is as deep as the tree, which the stored dirtrees' own checksums make acyclic.
fn tree_complete(
    store: &Store,
    reader: &IndexReader<'_>,
    id: ObjectId,
    known: &mut HashMap<ObjectId, bool>,
) -> Result<bool> {
    if let Some(&complete) = known.get(&id) {
        return Ok(complete);
    }
    let key = ObjectKey::new(id, ObjectType::DirTree);
    let complete = reader.contains_object(&key)? && {
        let bytes = store.read_metadata(reader, key)?;
        match DirTree::decode(&bytes) {
            Err(_) => false,
            Ok(tree) => {
                let mut complete = true;
                for file in tree.files() {
                    complete &= reader.contains_object(&ObjectKey::new(file.content, ObjectType::File))?;
                }
                for dir in tree.dirs() {
                    complete = complete
                        && reader.contains_object(&ObjectKey::new(dir.meta, ObjectType::DirMeta))?
                        && tree_complete(store, reader, dir.tree, known)?;
                }
                complete
            }
        }
    };
    known.insert(id, complete);
    Ok(complete)
}

pub(crate) fn drop_incomplete(store: &Store, index: &crate::index::Index) -> Result<u64> {
    let mut removed = index.drop_dangling()?;
    let reader = index.reader()?;
    let mut changes = GcChanges::default();
    for (header, manifest_blob) in reader.packages()? {
        let complete = match store.read_blob(&reader, manifest_blob).and_then(|b| Ok(PackageManifest::decode(&b)?)) {
            Ok(manifest) => manifest.blobs().all(|blob| reader.has_blob(&blob).unwrap_or(false)),
            Err(_) => false,
        };
        if !complete {
            changes.dead_packages.push(header);
        }
    }
    changes.dead_objects = incomplete_dirtrees(store, &reader)?;
    for (root, _) in reader.roots()? {
        if walk_commit(store, &reader, root.id).is_err() {
            changes.dead_roots.push(root);
        }
    }
    removed += (changes.dead_packages.len() + changes.dead_roots.len() + changes.dead_objects.len()) as u64;
    drop(reader);
    index.apply_gc(&changes)?;
    Ok(removed)
}
