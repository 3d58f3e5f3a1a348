//! `rejig export COMMIT`: a commit of the store into an OSTree repository, through the
//! exporter.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rejig_exporter::ExportOptions;
use rejig_format::{ObjectId, RepoMode};
use rejig_store::{Progress, Store};
use serde::Serialize;

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

/// What an export into a repository did.
#[derive(Clone, Debug, Serialize)]
pub struct ExportCommitReport {
    /// The commit now in the repository (differs from `source_commit` only when canonicalised).
    #[serde(serialize_with = "crate::report::display")]
    pub commit: ObjectId,
    /// The commit asked for.
    #[serde(serialize_with = "crate::report::display")]
    pub source_commit: ObjectId,
    /// The repository's mode.
    #[serde(serialize_with = "crate::report::display")]
    pub mode: RepoMode,
    /// Objects the commit reaches.
    pub objects_total: u64,
    /// Objects written.
    pub objects_written: u64,
    /// Objects the repository already had.
    pub objects_reused: u64,
    /// Raw content bytes written.
    pub bytes_written: u64,
    /// Wall time.
    pub seconds: f64,
    /// The repository (text only).
    #[serde(skip)]
    pub repo: PathBuf,
}

impl From<rejig_exporter::ExportReport> for ExportCommitReport {
    fn from(report: rejig_exporter::ExportReport) -> Self {
        Self {
            commit: report.commit,
            source_commit: report.source_commit,
            mode: report.mode,
            objects_total: report.objects_total,
            objects_written: report.objects_written,
            objects_reused: report.objects_reused,
            bytes_written: report.bytes_written,
            seconds: report.seconds,
            repo: report.repo,
        }
    }
}

/// Writes a commit of the store into a repository; the ref moves last. The commit counts
/// as used now for `gc`.
pub fn export_commit(
    store: &Store,
    options: &ExportCommitOptions,
    progress: &dyn Progress,
) -> Result<ExportCommitReport> {
    let report = rejig_exporter::export_commit(store, options.commit, &options.repo, &options.export, progress)
        .with_context(|| format!("exporting {} into {}", options.commit, options.repo.display()))?;
    Ok(report.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
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
