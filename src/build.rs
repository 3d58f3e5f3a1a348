//! `rejig build`: import a commit and the packages it was composed from, describe the commit
//! by them, and write the jigdo RPM.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rejig_exporter::jigdo::{check_name, describe_commit, write_jigdo_rpm, DescriptionStats, JigdoRpm};
use rejig_format::ObjectId;
use rejig_importer::import_commit;
use rejig_importer::package::import_packages;
use rejig_store::{Progress, Store};

use crate::sources::{local_packages, Sources};

/// What `build` did.
pub struct BuildReport {
    /// The commit described.
    pub commit: ObjectId,
    /// The jigdo RPM written.
    pub rpm: JigdoRpm,
    /// How the commit's content is sourced.
    pub stats: DescriptionStats,
    /// Packages read from the sources.
    pub packages_offered: usize,
    /// Wall time.
    pub seconds: f64,
}

/// The inputs of `build`.
pub struct BuildRequest<'a> {
    /// Repository holding the commit.
    pub repo: &'a Path,
    /// Ref or checksum.
    pub rev: &'a str,
    /// Package sources the commit was composed from.
    pub packages: &'a Sources,
    /// Name of the jigdo package.
    pub name: &'a str,
    /// Output file.
    pub output: &'a Path,
}

/// Runs `build`.
pub fn build(store: &Store, request: &BuildRequest<'_>, progress: &dyn Progress) -> Result<BuildReport> {
    let started = Instant::now();
    check_name(request.name)?;
    let imported = import_commit(store, request.repo, request.rev, progress)
        .with_context(|| format!("importing {} from {}", request.rev, request.repo.display()))?;
    let commit = imported.commit.context("the import named no commit")?;
    let paths: Vec<PathBuf> = local_packages(request.packages, progress)?;
    let mut report = build_jigdo(store, commit, &paths, request.name, request.output, progress)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The part of `build` after the commit is in the store: imports the packages (files or
/// directories searched recursively), describes `commit` by them and writes the jigdo RPM
/// named `name` to `output`. `seconds` covers this part only.
pub fn build_jigdo(
    store: &Store,
    commit: ObjectId,
    paths: &[PathBuf],
    name: &str,
    output: &Path,
    progress: &dyn Progress,
) -> Result<BuildReport> {
    let started = Instant::now();
    let report = import_packages(store, paths, progress).context("importing packages")?;
    if let Some((path, error)) = report.failures.first() {
        bail!(
            "{} of {} packages could not be imported, e.g. {}: {error}",
            report.failures.len(),
            report.failures.len() + report.packages.len(),
            path.display()
        );
    }
    let keys: Vec<_> = report.packages.iter().map(|p| p.header_sha256).collect();

    progress.start("describing the commit by its packages", 0);
    let description = describe_commit(store, commit, &keys).context("describing the commit")?;
    progress.finish();
    let rpm =
        write_jigdo_rpm(store, &description, name, output).with_context(|| format!("writing {}", output.display()))?;
    Ok(BuildReport {
        commit,
        rpm,
        stats: description.stats,
        packages_offered: keys.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
