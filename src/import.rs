//! `rejig import`: packages into the store, each on its own, or a commit from an OSTree
//! repository, all or nothing.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use rejig_importer::package::PackagesReport;
use rejig_store::{Progress, Store};
use serde::Serialize;

/// What to import with [`packages`].
#[derive(Clone, Debug, Default)]
pub struct ImportPackagesOptions {
    /// RPM files, or directories searched recursively for `*.rpm`.
    pub paths: Vec<PathBuf>,
}

/// What [`packages`] did: the importer's report (every package imported, skipped or
/// failed), with the totals of what is new.
#[derive(Clone, Debug, Serialize)]
pub struct ImportPackagesReport {
    /// Every package imported or skipped, every failure, and the wall time.
    #[serde(flatten)]
    pub imported: PackagesReport,
    /// Packages newly imported.
    pub packages_imported: usize,
    /// Packages the store already had.
    pub packages_skipped: usize,
    /// Raw bytes of the new content.
    pub raw_bytes_written: u64,
    /// Bytes of packs written.
    pub bytes_stored: u64,
}

impl ImportPackagesReport {
    /// The error the import amounts to when packages failed: the others were imported, but
    /// the command must not look like a success.
    pub fn failure(&self) -> Option<anyhow::Error> {
        let (packages, failures) = (&self.imported.packages, &self.imported.failures);
        if failures.is_empty() {
            return None;
        }
        let reasons: Vec<String> = failures.iter().map(|(_, error)| format!("\n  {error}")).collect();
        let rest = match packages.len() {
            0 => String::new(),
            n => format!("; the other {n} were imported"),
        };
        Some(anyhow!(
            "{} of {} packages failed{rest}:{}",
            failures.len(),
            failures.len() + packages.len(),
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
    let imported = report.packages.iter().filter(|p| !p.skipped);
    Ok(ImportPackagesReport {
        packages_imported: imported.clone().count(),
        packages_skipped: report.packages.iter().filter(|p| p.skipped).count(),
        raw_bytes_written: imported.clone().map(|p| p.raw_bytes).sum(),
        bytes_stored: imported.map(|p| p.pack_bytes).sum(),
        imported: report,
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

/// What [`commit`] did: the importer's report, whose JSON shows the commit as hex (empty if
/// the import named none).
pub type ImportCommitReport = rejig_importer::ImportReport;

/// Imports a commit and everything it reaches, verified; nothing is recorded unless all of
/// it is.
pub fn commit(store: &Store, options: &ImportCommitOptions, progress: &dyn Progress) -> Result<ImportCommitReport> {
    rejig_importer::import_commit(store, &options.repo, &options.rev, progress)
        .with_context(|| format!("importing {} from {}", options.rev, options.repo.display()))
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
        assert_eq!(first.packages_imported, first.imported.packages.len());
        assert_eq!(first.packages_skipped, 0);
        assert!(first.raw_bytes_written > 0 && first.bytes_stored > 0);
        assert!(first.failure().is_none());

        std::fs::write(rpms.join("broken.rpm"), b"not a package").unwrap();
        let again = packages(&store, &options, &NoProgress).unwrap();
        assert_eq!(again.packages_imported, 0);
        assert_eq!(again.packages_skipped, first.imported.packages.len());
        assert_eq!(again.imported.failures.len(), 1);
        let message = again.failure().unwrap().to_string();
        let total = first.imported.packages.len() + 1;
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
