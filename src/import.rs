//! `rejig import`: packages into the store, each on its own, or a commit from an OSTree
//! repository, all or nothing.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use rejig_format::manifest::Nevra;
use rejig_format::{HeaderSha256, ObjectId};
use rejig_store::{Progress, Store};
use serde::Serialize;

/// What to import with [`packages`].
#[derive(Clone, Debug, Default)]
pub struct ImportPackagesOptions {
    /// RPM files, or directories searched recursively for `*.rpm`.
    pub paths: Vec<PathBuf>,
}

/// What [`packages`] did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportPackagesReport {
    /// Packages newly imported.
    pub packages_imported: usize,
    /// Packages the store already had.
    pub packages_skipped: usize,
    /// Raw bytes of the new content.
    pub raw_bytes_written: u64,
    /// Bytes of packs written.
    pub bytes_stored: u64,
    /// Wall time.
    pub seconds: f64,
    /// Every package imported or skipped.
    pub packages: Vec<ImportedPackage>,
    /// Every package that failed; nothing of it was recorded.
    pub failures: Vec<PackageFailure>,
}

/// One package of [`ImportPackagesReport`].
#[derive(Clone, Debug, Serialize)]
pub struct ImportedPackage {
    /// The file.
    pub path: PathBuf,
    /// Its identity.
    #[serde(serialize_with = "crate::report::display")]
    pub nevra: Nevra,
    /// Main-header SHA-256, hex.
    pub header_sha256: HeaderSha256,
    /// True when the store already had it.
    pub skipped: bool,
    /// Files in its header.
    pub files: u64,
    /// Raw bytes of its new content.
    pub raw_bytes_written: u64,
    /// Bytes of its new pack.
    pub bytes_stored: u64,
}

/// A package that could not be imported.
#[derive(Clone, Debug, Serialize)]
pub struct PackageFailure {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: String,
}

impl ImportPackagesReport {
    /// The error the import amounts to when packages failed: the others were imported, but
    /// the command must not look like a success.
    pub fn failure(&self) -> Option<anyhow::Error> {
        if self.failures.is_empty() {
            return None;
        }
        let reasons: Vec<String> = self.failures.iter().map(|f| format!("\n  {}", f.error)).collect();
        let rest = match self.packages.len() {
            0 => String::new(),
            n => format!("; the other {n} were imported"),
        };
        Some(anyhow!(
            "{} of {} packages failed{rest}:{}",
            self.failures.len(),
            self.failures.len() + self.packages.len(),
            reasons.concat()
        ))
    }
}

/// Imports packages, in parallel and each on its own. A package that fails is listed in
/// the report's failures (see [`ImportPackagesReport::failure`]); an error means none could
/// be tried (e.g. a path that does not exist).
pub fn packages(
    store: &Store,
    options: &ImportPackagesOptions,
    progress: &dyn Progress,
) -> Result<ImportPackagesReport> {
    let report =
        rejig_importer::package::import_packages(store, &options.paths, progress).context("importing packages")?;
    let packages: Vec<ImportedPackage> = report
        .packages
        .into_iter()
        .map(|p| ImportedPackage {
            path: p.path,
            nevra: p.nevra,
            header_sha256: p.header_sha256,
            skipped: p.skipped,
            files: p.files,
            raw_bytes_written: p.raw_bytes,
            bytes_stored: p.pack_bytes,
        })
        .collect();
    let imported = packages.iter().filter(|p| !p.skipped);
    Ok(ImportPackagesReport {
        packages_imported: imported.clone().count(),
        packages_skipped: packages.iter().filter(|p| p.skipped).count(),
        raw_bytes_written: imported.clone().map(|p| p.raw_bytes_written).sum(),
        bytes_stored: imported.map(|p| p.bytes_stored).sum(),
        seconds: report.seconds,
        failures: report.failures.into_iter().map(|(path, error)| PackageFailure { path, error }).collect(),
        packages,
    })
}

/// What to import with [`commit`].
#[derive(Clone, Debug)]
pub struct ImportCommitOptions {
    /// The OSTree repository (any mode).
    pub repo: PathBuf,
    /// A commit checksum or a ref (`name` or `remote:name`).
    pub rev: String,
}

/// What [`commit`] did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportCommitReport {
    /// The commit imported (empty in JSON if the import named none).
    #[serde(serialize_with = "crate::report::display_or_empty")]
    pub commit: Option<ObjectId>,
    /// Objects the commit reaches.
    pub objects_total: u64,
    /// Objects newly recorded.
    pub objects_imported: u64,
    /// Objects the store already had.
    pub objects_skipped: u64,
    /// Blobs written.
    pub blobs_written: u64,
    /// Raw bytes of those blobs.
    pub raw_bytes_written: u64,
    /// Bytes of the new pack.
    pub bytes_stored: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Imports a commit and everything it reaches, verified; nothing is recorded unless all of
/// it is.
pub fn commit(store: &Store, options: &ImportCommitOptions, progress: &dyn Progress) -> Result<ImportCommitReport> {
    let report = rejig_importer::import_commit(store, &options.repo, &options.rev, progress)
        .with_context(|| format!("importing {} from {}", options.rev, options.repo.display()))?;
    Ok(ImportCommitReport {
        commit: report.commit,
        objects_total: report.objects_total,
        objects_imported: report.objects_imported,
        objects_skipped: report.objects_skipped,
        blobs_written: report.blobs_written,
        raw_bytes_written: report.raw_bytes_written,
        bytes_stored: report.bytes_stored,
        seconds: report.seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_store::NoProgress;

    #[test]
    fn packages_import_once_and_failures_are_aggregated() {
        let dir = tempfile::tempdir().unwrap();
        let rpms = testing::write_distro(&dir.path().join("rpms"));
        let store = testing::store(&dir.path().join("store"));
        let options = ImportPackagesOptions { paths: vec![rpms.clone()] };
        let first = packages(&store, &options, &NoProgress).unwrap();
        assert_eq!(first.packages_imported, first.packages.len());
        assert_eq!(first.packages_skipped, 0);
        assert!(first.raw_bytes_written > 0 && first.bytes_stored > 0);
        assert!(first.failure().is_none());

        std::fs::write(rpms.join("broken.rpm"), b"not a package").unwrap();
        let again = packages(&store, &options, &NoProgress).unwrap();
        assert_eq!(again.packages_imported, 0);
        assert_eq!(again.packages_skipped, first.packages.len());
        assert_eq!(again.failures.len(), 1);
        let message = again.failure().unwrap().to_string();
        let total = first.packages.len() + 1;
        assert!(message.starts_with(&format!("1 of {total} packages failed; the other {} were imported:", total - 1)));

        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["failures"][0]["path"], rpms.join("broken.rpm").to_str().unwrap());
        assert_eq!(json["packages"][0]["skipped"], true);
    }

    #[test]
    fn a_commit_imports_from_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let (store, commit) = testing::store_with_commit(&dir.path().join("store"), &dir.path().join("tree"));
        let repo = dir.path().join("repo");
        let options = crate::export::ExportCommitOptions { commit, repo: repo.clone(), export: Default::default() };
        crate::export::export_commit(&store, &options, &NoProgress).unwrap();
        let other = testing::store(&dir.path().join("other"));
        let options = ImportCommitOptions { repo, rev: commit.to_hex() };
        let report = super::commit(&other, &options, &NoProgress).unwrap();
        assert_eq!(report.commit, Some(commit));
        assert_eq!(report.objects_imported, report.objects_total);
        let again = super::commit(&other, &options, &NoProgress).unwrap();
        assert_eq!(again.objects_imported, 0);
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["commit"], commit.to_hex());
    }
}
