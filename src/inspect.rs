//! `rejig inspect FILE`: summarise and verify a package, or a jigdo, without a store.

use std::path::PathBuf;

use anyhow::Result;
use rejig_format::jigdo::ContentSource;
use rejig_format::object::Commit;
use rejig_format::ObjectId;
use rejig_importer::jigdo::{is_jigdo, read_jigdo, JigdoFile};
use rejig_importer::package::{inspect_package, PackageInfo};
use rejig_store::Progress;
use serde::Serialize;

/// What [`inspect`] reads.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// A package or jigdo RPM.
    pub file: PathBuf,
}

/// A package's or a jigdo's summary; each says which it is in its `kind`.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum InspectReport {
    /// An ordinary package.
    Package(PackageSummary),
    /// A jigdo RPM.
    Jigdo(JigdoSummary),
}

/// A package, verified: the importer's summary, marked as a package.
#[derive(Clone, Debug, Serialize)]
pub struct PackageSummary {
    /// Always `package`.
    pub kind: &'static str,
    /// NEVRA, digests, file counts and sizes.
    #[serde(flatten)]
    pub info: PackageInfo,
}

impl From<PackageInfo> for PackageSummary {
    fn from(info: PackageInfo) -> Self {
        Self { kind: "package", info }
    }
}

/// A jigdo: its commit, packages and objects.
#[derive(Clone, Debug, Serialize)]
pub struct JigdoSummary {
    /// Always `jigdo`.
    pub kind: &'static str,
    /// The jigdo package's NEVRA.
    pub nevra: String,
    /// Its name.
    pub name: String,
    /// The commit it describes.
    #[serde(serialize_with = "crate::report::display")]
    pub commit: ObjectId,
    /// The commit's `version` metadata.
    pub version: Option<String>,
    /// The commit's subject.
    pub subject: Option<String>,
    /// The commit's timestamp.
    pub timestamp: Option<u64>,
    /// Size of the jigdo file.
    pub file_bytes: u64,
    /// The packages it requires, in table order.
    pub packages: Vec<String>,
    /// Content objects.
    pub objects_total: usize,
    /// Of those, from packages.
    pub objects_from_packages: usize,
    /// Of those, carried in the jigdo.
    pub objects_new: usize,
    /// Of those, symlinks.
    pub objects_symlink: usize,
    /// Bytes of carried content.
    pub new_bytes: u64,
    /// Blobs of carried content.
    pub new_blobs: usize,
    /// Dirtree objects.
    pub dirtrees: usize,
    /// Dirmeta objects.
    pub dirmetas: usize,
}

impl From<&JigdoFile> for JigdoSummary {
    fn from(file: &JigdoFile) -> Self {
        let jigdo = &file.jigdo;
        let count = |f: &dyn Fn(&ContentSource) -> bool| jigdo.content.iter().filter(|e| f(&e.source)).count();
        let commit = Commit::decode(&jigdo.commit_bytes).ok();
        Self {
            kind: "jigdo",
            nevra: file.nevra.to_string(),
            name: file.nevra.name.clone(),
            commit: jigdo.commit,
            version: commit
                .as_ref()
                .and_then(|c| c.metadata.get("version"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            subject: commit.as_ref().map(|c| c.subject.clone()),
            timestamp: commit.as_ref().map(|c| c.timestamp),
            file_bytes: file.file_bytes,
            packages: jigdo.packages.iter().map(|p| p.nevra.to_string()).collect(),
            objects_total: jigdo.content.len(),
            objects_from_packages: count(&|s| matches!(s, ContentSource::Package { .. })),
            objects_new: count(&|s| matches!(s, ContentSource::New)),
            objects_symlink: count(&|s| matches!(s, ContentSource::Symlink(_))),
            new_bytes: file.new_content.values().sum(),
            new_blobs: file.new_content.len(),
            dirtrees: jigdo.dirtrees.len(),
            dirmetas: jigdo.dirmetas.len(),
        }
    }
}

/// Reads and verifies the whole file (headers, payload, every digest) and summarises it.
/// The errors name the file.
pub fn inspect(options: &InspectOptions, _progress: &dyn Progress) -> Result<InspectReport> {
    if is_jigdo(&options.file)? {
        let file = read_jigdo(&options.file, None)?;
        return Ok(InspectReport::Jigdo((&file).into()));
    }
    Ok(InspectReport::Package(inspect_package(&options.file)?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_store::NoProgress;

    #[test]
    fn a_package_is_summarised_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let rpms = testing::write_distro(&dir.path().join("rpms"));
        let file = rpms.join("bash-5.2.26-1.x86_64.rpm");
        let InspectReport::Package(summary) = inspect(&InspectOptions { file }, &NoProgress).unwrap() else {
            panic!("a package inspected as a jigdo");
        };
        assert_eq!(summary.info.nevra.to_string(), "bash-5.2.26-1.x86_64");
        assert!(summary.info.header_digest_verified);
        assert_eq!(summary.info.files.symlinks, 1);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["kind"], "package");
        assert_eq!(json["nevra"], "bash-5.2.26-1.x86_64");
        assert_eq!(json["header_digest"], "verified");
        assert_eq!(json["files"]["regular"], 3);
        assert!(json["epoch"].is_null());

        // A package that records neither digest.
        let mut older = summary.clone();
        (older.info.header_digest_verified, older.info.payload_digest_verified) = (false, false);
        let json = serde_json::to_value(&older).unwrap();
        assert_eq!((&json["header_digest"], &json["payload_digest"]), (&"computed".into(), &"absent".into()));
    }

    #[test]
    fn a_jigdo_is_summarised() {
        let dir = tempfile::tempdir().unwrap();
        let built = testing::build_demo_jigdo(dir.path());
        let InspectReport::Jigdo(summary) =
            inspect(&InspectOptions { file: built.output.clone() }, &NoProgress).unwrap()
        else {
            panic!("a jigdo inspected as a package");
        };
        assert_eq!(summary.commit, built.commit);
        assert_eq!(summary.packages.len(), built.stats.packages_used.len());
        assert_eq!(summary.objects_total as u64, built.stats.objects_total);
        assert_eq!(summary.version.as_deref(), Some("1"));
        let json = serde_json::to_value(InspectReport::Jigdo(summary)).unwrap();
        assert_eq!(json["kind"], "jigdo");
        assert_eq!(json["commit"], built.commit.to_hex());
    }

    #[test]
    fn a_file_that_is_no_package_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nothing.rpm");
        std::fs::write(&file, b"nothing").unwrap();
        let error = inspect(&InspectOptions { file: file.clone() }, &NoProgress).unwrap_err();
        assert!(format!("{error:#}").contains(file.to_str().unwrap()), "{error:#}");
    }
}
