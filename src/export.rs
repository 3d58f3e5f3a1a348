//! `rejig export COMMIT`: a commit of the store into an OSTree repository, through the
//! exporter.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rejig_exporter::ExportOptions;
use rejig_format::ObjectId;
use rejig_store::{Progress, Store};

/// What [`export_commit`] writes, and where.
#[derive(Clone, Debug)]
pub struct ExportCommitOptions {
    /// The commit, in the store.
    pub commit: ObjectId,
    /// The repository, created if missing.
    pub repo: PathBuf,
    /// Mode, ref and canonicalisation.
    pub export: ExportOptions,
}

/// What an export into a repository did: the exporter's report, whose JSON leaves out the
/// repository (text shows it).
pub type ExportCommitReport = rejig_exporter::ExportReport;

/// Writes a commit of the store into a repository; the ref moves last. The commit counts
/// as used now for `gc`.
pub fn export_commit(
    store: &Store,
    options: &ExportCommitOptions,
    progress: &dyn Progress,
) -> Result<ExportCommitReport> {
    let report = rejig_exporter::export_commit(store, options.commit, &options.repo, &options.export, progress)
        .with_context(|| format!("exporting {} into {}", options.commit, options.repo.display()))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_format::RepoMode;
    use rejig_store::NoProgress;

    #[test]
    fn a_commit_exports_once_then_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, commit) = testing::store_with_commit(&dir.path().join("store"), &dir.path().join("tree"));
        let export =
            ExportOptions { mode: Some(RepoMode::BareUser), ref_name: Some("a/b".into()), canonicalize: false };
        let options = ExportCommitOptions { commit, repo: dir.path().join("repo"), export };
        let first = export_commit(&store, &options, &NoProgress).unwrap();
        assert_eq!((first.commit, first.source_commit), (commit, commit));
        assert_eq!(first.objects_written, first.objects_total);
        let head = std::fs::read_to_string(dir.path().join("repo/refs/heads/a/b")).unwrap();
        assert_eq!(head.trim(), commit.to_hex());
        let again = export_commit(&store, &options, &NoProgress).unwrap();
        assert_eq!(again.objects_reused, again.objects_total);
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["mode"], "bare-user");
        assert_eq!(json["source_commit"], commit.to_hex());
        assert!(json.get("repo").is_none());
    }

    #[test]
    fn a_missing_commit_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(&dir.path().join("store"));
        let commit = ObjectId::from_bytes([7; 32]);
        let options = ExportCommitOptions { commit, repo: dir.path().join("repo"), export: Default::default() };
        let error = export_commit(&store, &options, &NoProgress).unwrap_err();
        assert!(format!("{error:#}").contains(&commit.to_hex()), "{error:#}");
    }
}
