//! Exports a commit from the store into an OSTree repository.
//!
//! Order (the durability argument is in FORMAT.md "export"):
//! 1. walk the commit in the store: every object present, every metadata object verified,
//!    every blob located; nothing is written before this succeeds;
//! 2. take ostree's shared lock, mark the commit partial (durably);
//! 3. write missing content, dirmeta and dirtree objects in parallel, each checked against its
//!    checksum as it is written;
//! 4. `syncfs`, then write the commit (and detached metadata), `syncfs` again;
//! 5. clear the partial marker and move the ref.
//!
//! A failure or a kill at any point leaves the ref where it was; objects already published are
//! complete and valid, and simply unreferenced.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use rejig_format::object::{metadata_checksum, Commit, DirEntry, DirMeta, DirTree, FileEntry, FileHeader};
use rejig_format::{BlobId, ObjectId, ObjectKey, ObjectRecord, ObjectType, RepoMode};
use rejig_store::walk::{walk_commit, CommitClosure};
use rejig_store::{BlobSource, Progress, Store};

use crate::error::{Error, Result};
use crate::ostree::lock::RepoLock;
use crate::ostree::repo::{validate_ref, OstreeRepo, Written};

/// What to export and how.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// The mode for a new repository, or the mode an existing one must have.
    pub mode: Option<RepoMode>,
    /// A ref (`refs/heads/<name>`) to point at the commit.
    pub ref_name: Option<String>,
    /// For bare-user-only: rewrite the commit as `ostree commit` would for that mode
    /// (uid and gid 0, no xattrs, permissions masked with 0755).
    pub canonicalize: bool,
}

/// What an export did. In JSON, ids are hex and the mode is its name; the repository is
/// left out (the caller named it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    /// The commit now in the repository (differs from `source_commit` only when canonicalised).
    pub commit: ObjectId,
    /// The commit that was asked for.
    pub source_commit: ObjectId,
    /// The repository.
    #[serde(skip)]
    pub repo: std::path::PathBuf,
    /// The repository's mode.
    #[serde(serialize_with = "rejig_format::report::display")]
    pub mode: RepoMode,
    /// Objects the commit reaches.
    pub objects_total: u64,
    /// Objects written.
    pub objects_written: u64,
    /// Objects the repository already had.
    pub objects_reused: u64,
    /// Raw content bytes written.
    pub bytes_written: u64,
    /// Objects the export looked at in the repository (checked for, or written). Below a
    /// directory whose dirtree the ref's previous commit already has at the same path, nothing
    /// is looked at, so an update visits what changed and the directories above it.
    pub objects_visited: u64,
    /// Directories not entered for that reason.
    pub subtrees_skipped: u64,
    /// Wall time.
    pub seconds: f64,
}

/// One content object to write.
struct ContentTask {
    id: ObjectId,
    header: FileHeader,
    blob: Option<(BlobId, BlobSource)>,
}

fn content_tasks(store: &Store, closure: &CommitClosure, only: Option<&Changed>) -> Result<Vec<ContentTask>> {
    let reader = store.reader()?;
    let mut tasks = Vec::with_capacity(closure.content.len());
    for (id, record) in &closure.content {
        if only.is_some_and(|changed| !changed.content.contains(id)) {
            continue;
        }
        let (header, blob) = match record {
            ObjectRecord::Regular { header, blob } => {
                let location = store.blob_source(&reader, blob)?.ok_or(rejig_store::Error::MissingBlob(*blob))?;
                (header.clone(), Some((*blob, location)))
            }
            ObjectRecord::Symlink { header } => (header.clone(), None),
            ObjectRecord::Metadata { .. } => {
                return Err(
                    rejig_format::Error::invalid("object record", format!("{id}.file is recorded as metadata")).into()
                )
            }
        };
        tasks.push(ContentTask { id: *id, header, blob });
    }
    Ok(tasks)
}

fn write_task(
    store: &Store,
    repo: &OstreeRepo,
    task: &ContentTask,
    header: &FileHeader,
    expected: Option<ObjectId>,
) -> Result<Written> {
    if let Some(id) = expected {
        // Before opening the blob: most objects of an update are already there.
        if repo.has_object(&ObjectKey::new(id, ObjectType::File)) {
            return Ok(Written { id, new: false, bytes: 0 });
        }
    }
    match task.blob {
        Some((blob, location)) => {
            let mut stream = store.open_source(blob, location)?;
            repo.write_content(expected, header, Some((&mut stream, location.raw_len())))
        }
        None => repo.write_content(expected, header, None),
    }
}

fn check_representable(mode: RepoMode, closure: &CommitClosure) -> Result<()> {
    if mode != RepoMode::BareUserOnly {
        return Ok(());
    }
    let advice =
        "pass --canonicalize to rewrite the commit for bare-user-only (its checksum changes), or export to bare-user";
    for (id, record) in &closure.content {
        let Some(header) = record.header() else { continue };
        if !header.meta().is_canonical_for_bare_user_only() {
            let meta = header.meta();
            return Err(Error::Unrepresentable {
                key: ObjectKey::new(*id, ObjectType::File),
                mode: mode.name(),
                detail: format!("owner {}:{} and {} xattrs; {advice}", meta.uid(), meta.gid(), meta.xattrs().len()),
            });
        }
    }
    for (key, bytes) in &closure.metadata {
        if key.kind == ObjectType::DirMeta && !DirMeta::decode(bytes)?.0.is_canonical_for_bare_user_only() {
            return Err(Error::Unrepresentable {
                key: *key,
                mode: mode.name(),
                detail: format!("a directory not owned by root or with xattrs; {advice}"),
            });
        }
    }
    Ok(())
}

/// Checks what can refuse an export to `repo_path` before any commit is known: the ref name,
/// the options, the repository's config, mode and layout (no symlinks out of it), write
/// access to it, and a ref that clashes with an existing one. Returns the mode the
/// repository has or will be created with. Nothing is created.
pub fn check_target(repo_path: &Path, options: &ExportOptions) -> Result<RepoMode> {
    if let Some(name) = &options.ref_name {
        validate_ref(name).map_err(|error| Error::Ref { path: repo_path.into(), error })?;
    }
    if options.canonicalize && options.mode.is_some_and(|m| m != RepoMode::BareUserOnly) {
        return Err(Error::Repo {
            path: repo_path.into(),
            detail: "--canonicalize only applies to bare-user-only repositories".into(),
        });
    }
    let mode = OstreeRepo::planned_mode(repo_path, options.mode)?;
    OstreeRepo::preflight(repo_path, options.ref_name.as_deref())?;
    if mode == RepoMode::Bare && !rustix::process::geteuid().is_root() {
        return Err(Error::Repo {
            path: repo_path.into(),
            detail:
                "writing a bare repository needs root, to set owners and xattrs; run as root or use --mode bare-user"
                    .into(),
        });
    }
    if options.canonicalize && mode != RepoMode::BareUserOnly {
        return Err(Error::Repo {
            path: repo_path.into(),
            detail: format!("--canonicalize only applies to bare-user-only, and this is a {mode} repository"),
        });
    }
    Ok(mode)
}

/// Exports `commit` from `store` into the repository at `repo_path`.
pub fn export_commit(
    store: &Store,
    commit: ObjectId,
    repo_path: &Path,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<ExportReport> {
    let started = Instant::now();
    // Everything that can refuse the export is checked before the repository is created.
    let mode = check_target(repo_path, options)?;
    let closure = walk_commit(store, &store.reader()?, commit)?;
    if !options.canonicalize {
        check_representable(mode, &closure)?;
    }
    let repo = OstreeRepo::open_or_create(repo_path, Some(mode))?;
    // What killed exports left in tmp/ goes first, when no one else is using the repository.
    let _lock = RepoLock::shared_after_cleanup(repo.path())?;
    let changed = if options.canonicalize { None } else { changed_since_ref(&closure, &repo, options) };
    let tasks = content_tasks(store, &closure, changed.as_ref())?;

    let mut report = ExportReport {
        commit,
        source_commit: commit,
        repo: repo_path.to_path_buf(),
        mode,
        objects_total: 0,
        objects_written: 0,
        objects_reused: 0,
        bytes_written: 0,
        objects_visited: 0,
        subtrees_skipped: changed.as_ref().map_or(0, |c| c.subtrees_skipped),
        seconds: 0.0,
    };
    let count = |report: &mut ExportReport, written: &[Written]| {
        report.objects_total += written.len() as u64;
        report.objects_visited += written.len() as u64;
        report.objects_written += written.iter().filter(|w| w.new).count() as u64;
        report.bytes_written += written.iter().map(|w| w.bytes).sum::<u64>();
    };

    // Objects this export wrote (each hashed as written) and synced below.
    let mut fresh: HashSet<ObjectKey> = HashSet::new();
    if options.canonicalize {
        let final_commit = write_canonical(store, &repo, &closure, &tasks, progress, &mut |w| count(&mut report, w))?;
        report.commit = final_commit;
    } else {
        let commit_key = ObjectKey::new(commit, ObjectType::Commit);
        repo.mark_partial(&commit)?;
        progress.start("writing content", tasks.len() as u64);
        // More threads than cores: writing an object waits on the filesystem between reading
        // and hashing its bytes (rejig_store::threads).
        let written: Vec<Written> = rejig_store::threads::with_io_threads(|| {
            tasks
                .par_iter()
                .map(|task| {
                    let w = write_task(store, &repo, task, &task.header, Some(task.id));
                    progress.advance(1);
                    w
                })
                .collect::<Result<_>>()
        })?;
        progress.finish();
        count(&mut report, &written);
        fresh.extend(written.iter().filter(|w| w.new).map(|w| ObjectKey::new(w.id, ObjectType::File)));
        let written: Vec<(ObjectKey, Written)> = closure
            .metadata
            .par_iter()
            .filter(|(key, _)| changed.as_ref().is_none_or(|c| c.metadata.contains(key)))
            .map(|(key, bytes)| Ok((*key, Written { id: key.id, new: repo.write_metadata(key, bytes)?, bytes: 0 })))
            .collect::<Result<_>>()?;
        fresh.extend(written.iter().filter(|(_, w)| w.new).map(|(key, _)| *key));
        let written: Vec<Written> = written.into_iter().map(|(_, w)| w).collect();
        count(&mut report, &written);
        // Objects of the subtrees the previous commit shares: known present without a look.
        let unvisited = (closure.content.len() - tasks.len()) + (closure.metadata.len() - written.len());
        report.objects_total += unvisited as u64;
        repo.sync()?;
        let mut last = Vec::new();
        if let Some(meta) = &closure.commitmeta {
            let key = ObjectKey::new(commit, ObjectType::CommitMeta);
            last.push(Written { id: commit, new: repo.write_metadata(&key, meta)?, bytes: 0 });
        }
        last.push(Written { id: commit, new: repo.write_metadata(&commit_key, &closure.commit_bytes)?, bytes: 0 });
        count(&mut report, &last);
        repo.sync()?;
        repo.clear_partial(&commit)?;
    }
    if let Some(name) = &options.ref_name {
        repo.set_ref(name, &report.commit)?;
    }
    report.objects_reused = report.objects_total - report.objects_written;
    // A store backed by this repository now reads the commit's content from it (issue 13).
    // Adoption is crash-safe and optional: if it fails, the commit is exported and the store
    // simply keeps its own copies until the next export adopts them.
    if !options.canonicalize && crate::backing::backs(store, repo_path)? {
        if let Err(e) = crate::backing::adopt(store, &repo, &closure, &fresh) {
            progress.warn(&format!(
                "exported {commit}, but the store keeps its own copy of the content: reading it back from {} failed: {}",
                repo_path.display(),
                rejig_format::chain(&e)
            ));
        }
    }
    // Last use orders roots for `rejig gc`: what was just exported is kept longest.
    store.touch_root(commit)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What an export must look at when the ref already names a complete commit: the objects
/// outside every subtree the two commits share at the same path.
#[derive(Debug, Default)]
struct Changed {
    content: HashSet<ObjectId>,
    metadata: HashSet<ObjectKey>,
    subtrees_skipped: u64,
}

/// The largest dirtree read back from the repository to compare with.
const MAX_REPO_METADATA: u64 = 64 << 20;

/// Compares the commit with the one the ref names in the repository, directory by directory
/// along the same paths, without visiting the subtrees they share.
///
/// What this relies on: a commit in an ostree repository that is not marked partial
/// (`state/<commit>.commitpartial`) has every object it reaches. ostree keeps that invariant
/// (pull marks a commit partial until its closure is complete; prune removes only objects no
/// commit reaches), and this exporter writes a commit only after every object it reaches is
/// written and synced, and clears the mark after. So a dirtree of the ref's commit, and every
/// object below it, is present. Only the ref's commit is trusted, not any dirtree that happens
/// to be in `objects/` (an interrupted export may leave a dirtree without its children). The
/// old dirtrees along the way are read back from the repository and must hash to their names;
/// anything unexpected (no ref, a missing or partial commit, a dirtree that does not read
/// back) means no baseline, and every object is visited as before.
fn changed_since_ref(closure: &CommitClosure, repo: &OstreeRepo, options: &ExportOptions) -> Option<Changed> {
    let old = repo.read_ref(options.ref_name.as_deref()?)?;
    let old_key = ObjectKey::new(old, ObjectType::Commit);
    if repo.is_partial(&old) {
        return None;
    }
    let old_commit = Commit::decode(&repo.read_verified_metadata(&old_key, MAX_REPO_METADATA)?).ok()?;
    let new_trees: HashMap<ObjectId, &[u8]> = closure
        .metadata
        .iter()
        .filter(|(key, _)| key.kind == ObjectType::DirTree)
        .map(|(key, bytes)| (key.id, bytes.as_slice()))
        .collect();
    let old_tree = |id: ObjectId| -> Option<DirTree> {
        let bytes = repo.read_verified_metadata(&ObjectKey::new(id, ObjectType::DirTree), MAX_REPO_METADATA)?;
        DirTree::decode(&bytes).ok()
    };
    let mut changed = Changed::default();
    let mut pending =
        vec![(closure.commit.root_tree, closure.commit.root_meta, Some((old_commit.root_tree, old_commit.root_meta)))];
    while let Some((tree, meta, old)) = pending.pop() {
        if old.is_none_or(|(_, old_meta)| old_meta != meta) {
            changed.metadata.insert(ObjectKey::new(meta, ObjectType::DirMeta));
        }
        let old_listing = match old {
            Some((old_tree_id, _)) if old_tree_id == tree => {
                changed.subtrees_skipped += 1;
                continue;
            }
            Some((old_tree_id, _)) => Some(old_tree(old_tree_id)?),
            None => None,
        };
        changed.metadata.insert(ObjectKey::new(tree, ObjectType::DirTree));
        let listing = DirTree::decode(new_trees.get(&tree)?).ok()?;
        let old_files: HashMap<&str, ObjectId> =
            old_listing.iter().flat_map(|l| l.files()).map(|f| (f.name.as_str(), f.content)).collect();
        let old_dirs: HashMap<&str, (ObjectId, ObjectId)> =
            old_listing.iter().flat_map(|l| l.dirs()).map(|d| (d.name.as_str(), (d.tree, d.meta))).collect();
        for file in listing.files() {
            if old_files.get(file.name.as_str()) != Some(&file.content) {
                changed.content.insert(file.content);
            }
        }
        for dir in listing.dirs() {
            pending.push((dir.tree, dir.meta, old_dirs.get(dir.name.as_str()).copied()));
        }
    }
    Some(changed)
}

/// Writes the commit rewritten for bare-user-only and returns the new commit id. Content
/// checksums change with their headers, so new ids are computed while writing; directory
/// objects are then rebuilt bottom-up from them. Detached metadata (signatures over the
/// original commit) is not carried over.
fn write_canonical(
    store: &Store,
    repo: &OstreeRepo,
    closure: &CommitClosure,
    tasks: &[ContentTask],
    progress: &dyn Progress,
    count: &mut dyn FnMut(&[Written]),
) -> Result<ObjectId> {
    progress.start("writing content", tasks.len() as u64);
    let written: Vec<Written> = tasks
        .par_iter()
        .map(|task| {
            let w = write_task(store, repo, task, &task.header.canonicalized_for_bare_user_only(), None);
            progress.advance(1);
            w
        })
        .collect::<Result<_>>()?;
    progress.finish();
    count(&written);
    let content_map: HashMap<ObjectId, ObjectId> = tasks.iter().zip(&written).map(|(t, w)| (t.id, w.id)).collect();

    let originals: HashMap<ObjectKey, &Vec<u8>> = closure.metadata.iter().map(|(k, b)| (*k, b)).collect();
    let mut rewriter =
        Rewriter { originals, content_map, trees: HashMap::new(), metas: HashMap::new(), out: Vec::new() };
    let root_tree = rewriter.tree(closure.commit.root_tree)?;
    let root_meta = rewriter.meta(closure.commit.root_meta)?;
    let written: Vec<Written> = rewriter
        .out
        .par_iter()
        .map(|(key, bytes)| Ok(Written { id: key.id, new: repo.write_metadata(key, bytes)?, bytes: 0 }))
        .collect::<Result<_>>()?;
    count(&written);
    repo.sync()?;
    let mut commit = closure.commit.clone();
    commit.root_tree = root_tree;
    commit.root_meta = root_meta;
    let bytes = commit.encode();
    let id = metadata_checksum(&bytes);
    let new = repo.write_metadata(&ObjectKey::new(id, ObjectType::Commit), &bytes)?;
    count(&[Written { id, new, bytes: 0 }]);
    repo.sync()?;
    Ok(id)
}

/// Rebuilds directory objects with canonical metadata, each once.
struct Rewriter<'a> {
    originals: HashMap<ObjectKey, &'a Vec<u8>>,
    content_map: HashMap<ObjectId, ObjectId>,
    trees: HashMap<ObjectId, ObjectId>,
    metas: HashMap<ObjectId, ObjectId>,
    out: Vec<(ObjectKey, Vec<u8>)>,
}

impl Rewriter<'_> {
    fn original(&self, key: ObjectKey) -> Result<&[u8]> {
        self.originals.get(&key).map(|b| b.as_slice()).ok_or(Error::Store(rejig_store::Error::MissingObject(key)))
    }

    fn emit(&mut self, kind: ObjectType, bytes: Vec<u8>) -> ObjectId {
        let id = metadata_checksum(&bytes);
        self.out.push((ObjectKey::new(id, kind), bytes));
        id
    }

    fn meta(&mut self, id: ObjectId) -> Result<ObjectId> {
        if let Some(new) = self.metas.get(&id) {
            return Ok(*new);
        }
        let meta = DirMeta::decode(self.original(ObjectKey::new(id, ObjectType::DirMeta))?)?;
        let canonical = DirMeta(meta.0.canonicalized_for_bare_user_only(0o755));
        let new = self.emit(ObjectType::DirMeta, canonical.encode());
        self.metas.insert(id, new);
        Ok(new)
    }

    fn tree(&mut self, id: ObjectId) -> Result<ObjectId> {
        if let Some(new) = self.trees.get(&id) {
            return Ok(*new);
        }
        let tree = DirTree::decode(self.original(ObjectKey::new(id, ObjectType::DirTree))?)?;
        let mut files = Vec::with_capacity(tree.files().len());
        for file in tree.files() {
            let content = *self.content_map.get(&file.content).ok_or(Error::Store(
                rejig_store::Error::MissingObject(ObjectKey::new(file.content, ObjectType::File)),
            ))?;
            files.push(FileEntry { name: file.name.clone(), content });
        }
        let mut dirs = Vec::with_capacity(tree.dirs().len());
        for dir in tree.dirs() {
            dirs.push(DirEntry { name: dir.name.clone(), tree: self.tree(dir.tree)?, meta: self.meta(dir.meta)? });
        }
        let new = self.emit(ObjectType::DirTree, DirTree::new(files, dirs)?.encode());
        self.trees.insert(id, new);
        Ok(new)
    }
}
