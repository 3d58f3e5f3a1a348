//! `rejig mirror prune DIR --keep N`: keeps a directory of jigdos and parts (a distributor's
//! output directory, or a mirror of it) bounded. Per jigdo name it keeps the N newest jigdos
//! (by commit timestamp, then release), deletes the older ones, and deletes every part no kept
//! jigdo needs. Packages and other files are left alone. The repository metadata still lists
//! what was deleted, so the report says to run `createrepo_c --update DIR`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rejig_format::jigdo::parse_part_nevra;
use rejig_format::object::Commit;
use rejig_format::BlobId;
use rejig_importer::jigdo::{is_jigdo, read_jigdo};
use rejig_importer::package::nevra_of;
use rejig_importer::rpm::package::Package;
use rejig_store::Progress;
use serde::Serialize;

/// What [`prune`] works on.
#[derive(Clone, Debug)]
pub struct PruneOptions {
    /// The directory, searched recursively for `.rpm` files.
    pub dir: PathBuf,
    /// Jigdos to keep per name, the newest first (at least 1).
    pub keep: usize,
    /// Only report what would be deleted.
    pub dry_run: bool,
}

/// What [`prune`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    /// The directory.
    pub dir: PathBuf,
    /// Jigdos kept (file names relative to the directory).
    pub jigdos_kept: Vec<String>,
    /// Jigdos deleted.
    pub jigdos_deleted: Vec<String>,
    /// Parts kept.
    pub parts_kept: usize,
    /// Parts deleted.
    pub parts_deleted: usize,
    /// Bytes of the files deleted.
    pub bytes_deleted: u64,
    /// Parts a kept jigdo needs that the directory lacks (a mirror in need of repair).
    pub parts_missing: usize,
    /// True when nothing was deleted because of `--dry-run`.
    pub dry_run: bool,
    /// What to run next.
    pub next: String,
}

fn rpm_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let kind = entry.file_type().with_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() && path.file_name().is_some_and(|n| n != "repodata") {
            rpm_files(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "rpm") {
            out.push(path);
        }
    }
    Ok(())
}

/// Prunes `options.dir` (see the module documentation). A jigdo, or an `.rpm` whose headers
/// cannot be read (it might be a jigdo), makes it fail before anything is deleted, naming the
/// file: the parts it needs are not known.
pub fn prune(options: &PruneOptions, progress: &dyn Progress) -> Result<PruneReport> {
    anyhow::ensure!(options.keep >= 1, "--keep must be at least 1");
    let mut files = Vec::new();
    rpm_files(&options.dir, &mut files)?;
    files.sort();
    progress.start("reading jigdos and parts", files.len() as u64);
    // name -> [(timestamp, release, path, parts)]
    type Entry = ((u64, String), PathBuf, Vec<BlobId>);
    let mut jigdos: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut parts: Vec<(BlobId, PathBuf)> = Vec::new();
    for path in files {
        progress.advance(1);
        // A file whose headers cannot be read might be a jigdo whose parts would then look
        // unneeded: nothing is deleted until it is repaired or removed.
        let jigdo = is_jigdo(&path).with_context(|| {
            format!("cannot tell whether {} is a jigdo; nothing was deleted (remove or repair it)", path.display())
        })?;
        if jigdo {
            let file = read_jigdo(&path).with_context(|| format!("reading the jigdo {}", path.display()))?;
            let timestamp = Commit::decode(&file.head.commit_bytes).map(|c| c.timestamp).unwrap_or(0);
            let needs = file.head.parts.iter().map(|p| p.content).collect();
            jigdos.entry(file.nevra.name.clone()).or_default().push((
                (timestamp, file.nevra.release.clone()),
                path,
                needs,
            ));
            continue;
        }
        let Ok(package) = Package::open(&path) else { continue };
        let Ok(nevra) = nevra_of(&package) else { continue };
        if let Some(content) = parse_part_nevra(&nevra) {
            parts.push((content, path));
        }
    }
    progress.finish();
    let relative = |path: &Path| path.strip_prefix(&options.dir).unwrap_or(path).display().to_string();
    let mut report = PruneReport { dir: options.dir.clone(), dry_run: options.dry_run, ..Default::default() };
    let mut needed: HashSet<BlobId> = HashSet::new();
    let mut delete: Vec<PathBuf> = Vec::new();
    for (_, mut versions) in jigdos {
        versions.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        for (index, (_, path, needs)) in versions.into_iter().enumerate() {
            if index < options.keep {
                needed.extend(needs);
                report.jigdos_kept.push(relative(&path));
            } else {
                report.jigdos_deleted.push(relative(&path));
                delete.push(path);
            }
        }
    }
    let present: HashSet<BlobId> = parts.iter().map(|(c, _)| *c).collect();
    report.parts_missing = needed.iter().filter(|c| !present.contains(*c)).count();
    for (content, path) in parts {
        if needed.contains(&content) {
            report.parts_kept += 1;
        } else {
            report.parts_deleted += 1;
            delete.push(path);
        }
    }
    for path in &delete {
        report.bytes_deleted += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if !options.dry_run {
            std::fs::remove_file(path).with_context(|| format!("deleting {}", path.display()))?;
        }
    }
    if !options.dry_run {
        let dirs: std::collections::BTreeSet<&Path> = delete.iter().filter_map(|p| p.parent()).collect();
        for dir in dirs {
            rejig_store::durable::sync_dir(dir)?;
        }
    }
    report.next = if delete.is_empty() || options.dry_run {
        String::new()
    } else {
        format!("createrepo_c --update {}", options.dir.display())
    };
    Ok(report)
}
