//! `rejig export JIGDO.rpm` and `rejig plan`: rebuild a jigdo's commit in the store from the
//! packages it names, fetching only those whose needed content the store lacks, then write
//! it into a repository with the ordinary exporter.
//!
//! Order: import the jigdo (its new content and tables); plan; fetch the needed packages;
//! import each in one payload pass that also produces the objects the jigdo names from it;
//! complete the commit (objects from stored content, symlinks, metadata), which checks that
//! every object is present and verified; only then export. A failure before the export
//! leaves the repository untouched.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use rejig_exporter::{check_target, export_commit, ExportOptions, ExportReport};
use rejig_format::jigdo::Jigdo;
use rejig_format::manifest::Nevra;
use rejig_format::{ObjectId, PackageBinding};
use rejig_importer::jigdo::{complete_commit, package_demand, plan_jigdo, read_jigdo, JigdoFile, JigdoPlan};
use rejig_importer::package::import_package_for;
use rejig_importer::source::{fetch, Catalog, Location};
use rejig_store::{Progress, Store};

use crate::sources::Sources;

/// What `export JIGDO.rpm` did.
pub struct RebuildReport {
    /// The commit, as the jigdo names it and as rebuilt.
    pub commit: ObjectId,
    /// Packages in the jigdo's table.
    pub packages_total: usize,
    /// Packages whose content the store lacked.
    pub packages_needed: usize,
    /// Packages read from the sources.
    pub packages_fetched: usize,
    /// Bytes of the package files fetched (downloaded or read locally).
    pub bytes_fetched: u64,
    /// Of those, bytes that crossed the network.
    pub bytes_downloaded: u64,
    /// Content objects of the commit.
    pub content_objects: u64,
    /// Of those, already in the store before the rebuild.
    pub objects_present: u64,
    /// The export into the repository.
    pub export: ExportReport,
    /// Wall time of the whole command.
    pub seconds: f64,
}

/// One needed package, for `plan`.
pub struct PlannedPackage {
    /// Its identity.
    pub nevra: Nevra,
    /// Where the first matching source has it; None when no source offers it.
    pub location: Option<String>,
    /// Its size when the source says.
    pub size: Option<u64>,
}

/// What `plan` found.
pub struct PlanReport {
    /// The jigdo's commit.
    pub commit: ObjectId,
    /// Packages in the jigdo's table.
    pub packages_total: usize,
    /// Needed packages, in table order.
    pub needed: Vec<PlannedPackage>,
    /// Content objects of the commit, and of those already in the store.
    pub objects_total: u64,
    /// Content objects already in the store.
    pub objects_present: u64,
}

impl PlanReport {
    /// Bytes an export would fetch (of the packages whose size is known).
    pub fn bytes_to_fetch(&self) -> u64 {
        self.needed.iter().filter_map(|p| p.size).sum()
    }
}

fn wanted(jigdo: &Jigdo, plan: &JigdoPlan) -> Vec<(u32, PackageBinding)> {
    plan.needed.keys().filter_map(|&index| Some((index, jigdo.packages.get(index as usize)?.clone()))).collect()
}

/// Runs `plan`: reads the jigdo without storing anything and matches its needs to sources.
pub fn plan(store: &Store, jigdo_path: &Path, sources: &Sources, progress: &dyn Progress) -> Result<PlanReport> {
    let file = read_jigdo(jigdo_path, None)?;
    let plan = plan_jigdo(store, &file.jigdo)?;
    let catalog = if plan.needed.is_empty() { Catalog::default() } else { sources.catalog(progress)? };
    let needed = wanted(&file.jigdo, &plan)
        .into_iter()
        .map(|(_, want)| {
            let offer = catalog.offers(&want.nevra).iter().find(|o| {
                o.header_sha256.is_none_or(|h| h == want.header)
                    && (o.file_sha256.is_none() || want.file.is_none() || o.file_sha256 == want.file)
            });
            PlannedPackage {
                nevra: want.nevra,
                location: offer.map(|o| match &o.location {
                    Location::Local(path) => path.display().to_string(),
                    Location::Remote(url) => url.clone(),
                }),
                size: offer.and_then(|o| o.size),
            }
        })
        .collect();
    Ok(PlanReport {
        commit: file.jigdo.commit,
        packages_total: file.jigdo.packages.len(),
        needed,
        objects_total: plan.objects_total,
        objects_present: plan.objects_present,
    })
}

/// Imports the jigdo itself: its new content goes into the store (unreferenced until the
/// commit completes), its tables are returned.
fn import_jigdo(store: &Store, path: &Path) -> Result<JigdoFile> {
    let batch = store.batch()?;
    let file = read_jigdo(path, Some(&batch))?;
    batch.commit().with_context(|| format!("storing the new content of {}", path.display()))?;
    Ok(file)
}

/// Runs `export JIGDO.rpm`.
pub fn export_jigdo(
    store: &Store,
    jigdo_path: &Path,
    sources: &Sources,
    repo: &Path,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<RebuildReport> {
    let started = Instant::now();
    // A repository the export would refuse is refused before any package is fetched.
    check_target(repo, options).with_context(|| format!("exporting into {}", repo.display()))?;
    let file = import_jigdo(store, jigdo_path)?;
    let jigdo = &file.jigdo;
    let plan = plan_jigdo(store, jigdo)?;
    let (indexes, wanted): (Vec<u32>, Vec<PackageBinding>) = wanted(jigdo, &plan).into_iter().unzip();
    let (mut bytes_fetched, mut bytes_downloaded) = (0, 0);
    if !wanted.is_empty() {
        if sources.is_empty() {
            bail!(
                "{} packages are needed and no --packages source was given, e.g. {}",
                wanted.len(),
                wanted.first().map(|w| w.nevra.to_string()).unwrap_or_default()
            );
        }
        let catalog = sources.catalog(progress)?;
        let download_dir = store.root().join("downloads");
        std::fs::create_dir_all(&download_dir).with_context(|| format!("creating {}", download_dir.display()))?;
        let fetched = fetch(&catalog, &wanted, &download_dir, &sources.options, progress);
        let mut ready = Vec::with_capacity(fetched.len());
        for ((index, want), result) in indexes.iter().zip(&wanted).zip(fetched) {
            let got = result.with_context(|| format!("fetching {}", want.nevra))?;
            bytes_fetched += got.size;
            bytes_downloaded += got.bytes_downloaded;
            ready.push((*index, want, got));
        }
        progress.start("importing needed packages", ready.len() as u64);
        ready.par_iter().try_for_each(|(index, want, got)| {
            let demand = package_demand(jigdo, &plan, *index)?;
            import_package_for(store, &got.path, &demand)
                .with_context(|| format!("package {} (from {})", want.nevra, got.path.display()))?;
            if got.temporary {
                // The store has its content now; an edge host's disk is not a package cache.
                let _ = std::fs::remove_file(&got.path);
            }
            progress.advance(1);
            Ok::<(), anyhow::Error>(())
        })?;
        progress.finish();
    }
    complete_commit(store, jigdo, &plan, progress).context("completing the commit in the store")?;
    let export = export_commit(store, jigdo.commit, repo, options, progress)
        .with_context(|| format!("exporting {} into {}", jigdo.commit, repo.display()))?;
    Ok(RebuildReport {
        commit: jigdo.commit,
        packages_total: jigdo.packages.len(),
        packages_needed: wanted.len(),
        packages_fetched: wanted.len(),
        bytes_fetched,
        bytes_downloaded,
        content_objects: plan.objects_total,
        objects_present: plan.objects_present,
        export,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether a path given to `export` or `inspect` is a file (a jigdo or package) rather than
/// a commit checksum.
pub fn is_file_argument(arg: &str) -> Option<PathBuf> {
    let path = PathBuf::from(arg);
    (arg.ends_with(".rpm") || path.is_file()).then_some(path)
}
