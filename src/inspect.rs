//! `rejig inspect FILE`: summarise and verify a package, or a jigdo, without a store.

use std::path::PathBuf;

use anyhow::Result;
use rejig_format::jigdo::{assemble, part_file_name, Assembled, ContentSource, PartKind};
use rejig_format::object::Commit;
use rejig_format::ObjectId;
use rejig_importer::jigdo::{is_jigdo, read_jigdo, read_part, Expect, JigdoFile};
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

/// One part of a jigdo.
#[derive(Clone, Debug, Serialize)]
pub struct PartSummary {
    /// Its NEVRA.
    pub nevra: String,
    /// `records` or `object`.
    pub kind: &'static str,
    /// Size of its contents.
    pub size: u64,
    /// Size of its file.
    pub file_bytes: u64,
    /// True when the file sits beside the jigdo and checks out against it.
    pub present: bool,
}

/// A jigdo: its commit, packages, parts and objects. The object counts come from the parts
/// beside the jigdo, and are absent when some records part is not there.
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
    /// The commit its delta parts are from (`build --delta-from`), if it has any.
    #[serde(serialize_with = "crate::report::display_or_empty")]
    pub delta_from: Option<ObjectId>,
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
    /// Its parts, each once, in list order.
    pub parts: Vec<PartSummary>,
    /// Bytes of all its part files.
    pub parts_bytes: u64,
    /// Content objects.
    pub objects_total: Option<usize>,
    /// Of those, from packages.
    pub objects_from_packages: Option<usize>,
    /// Of those, carried in parts.
    pub objects_new: Option<usize>,
    /// Of those, symlinks.
    pub objects_symlink: Option<usize>,
    /// Bytes of carried content.
    pub new_bytes: Option<u64>,
    /// Blobs of carried content.
    pub new_blobs: Option<usize>,
    /// Dirtree objects.
    pub dirtrees: Option<usize>,
    /// Dirmeta objects.
    pub dirmetas: Option<usize>,
}

impl JigdoSummary {
    fn of(file: &JigdoFile, parts: Vec<PartSummary>, assembled: Option<&Assembled>) -> Self {
        let head = &file.head;
        let commit = Commit::decode(&head.commit_bytes).ok();
        let jigdo = assembled.map(|a| &a.jigdo);
        let count =
            |f: &dyn Fn(&ContentSource) -> bool| jigdo.map(|j| j.content.iter().filter(|e| f(&e.source)).count());
        let objects: std::collections::HashMap<_, _> =
            head.parts.iter().filter(|p| p.kind == PartKind::Object).map(|p| (p.content, p.size)).collect();
        let new_blobs = assembled.map(|a| {
            let mut sizes: std::collections::HashMap<_, _> = objects.clone();
            sizes.extend(a.small.iter().map(|(id, bytes)| (*id, bytes.len() as u64)));
            sizes
        });
        Self {
            kind: "jigdo",
            nevra: file.nevra.to_string(),
            name: file.nevra.name.clone(),
            commit: head.commit,
            delta_from: head.delta_from,
            version: commit
                .as_ref()
                .and_then(|c| c.metadata.get("version"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            subject: commit.as_ref().map(|c| c.subject.clone()),
            timestamp: commit.as_ref().map(|c| c.timestamp),
            file_bytes: file.file_bytes,
            packages: head.packages.iter().map(|p| p.nevra.to_string()).collect(),
            parts_bytes: parts.iter().map(|p| p.file_bytes).sum(),
            parts,
            objects_total: jigdo.map(|j| j.content.len()),
            objects_from_packages: count(&|s| matches!(s, ContentSource::Package { .. })),
            objects_new: count(&|s| matches!(s, ContentSource::New)),
            objects_symlink: count(&|s| matches!(s, ContentSource::Symlink(_))),
            new_bytes: new_blobs.as_ref().map(|b| b.values().sum()),
            new_blobs: new_blobs.as_ref().map(|b| b.len()),
            dirtrees: jigdo.map(|j| j.dirtrees.len()),
            dirmetas: jigdo.map(|j| j.dirmetas.len()),
        }
    }
}

/// Reads a jigdo and the parts beside it (checked against it), and summarises them.
fn inspect_jigdo(path: &std::path::Path) -> Result<JigdoSummary> {
    let file = read_jigdo(path)?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut parts = Vec::new();
    let mut pieces = std::collections::HashMap::new();
    for part in file.head.unique_parts() {
        let beside = dir.join(part_file_name(&part.content));
        let read = beside.is_file().then(|| read_part(&beside, Expect::Bound(part), None));
        let present = matches!(read, Some(Ok(_)));
        if let Some(Ok(found)) = read {
            if part.kind == PartKind::Records {
                pieces.insert(part.content, found.records);
            }
        }
        parts.push(PartSummary {
            nevra: part.nevra().to_string(),
            kind: part.kind.name(),
            size: part.size,
            file_bytes: part.file_size,
            present,
        });
    }
    let records: Option<Vec<u8>> = file
        .head
        .parts
        .iter()
        .filter(|p| p.kind == PartKind::Records)
        .map(|p| pieces.get(&p.content).cloned())
        .collect::<Option<Vec<_>>>()
        .map(|v| v.concat());
    let assembled = match records {
        Some(records) => Some(assemble(&file.head, &records)?),
        None => None,
    };
    Ok(JigdoSummary::of(&file, parts, assembled.as_ref()))
}

/// Reads and verifies the whole file (headers, payload, every digest) and summarises it.
/// The errors name the file.
pub fn inspect(options: &InspectOptions, _progress: &dyn Progress) -> Result<InspectReport> {
    if is_jigdo(&options.file)? {
        return Ok(InspectReport::Jigdo(inspect_jigdo(&options.file)?));
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
        assert_eq!(summary.objects_total.map(|n| n as u64), Some(built.stats.objects_total));
        assert_eq!(summary.version.as_deref(), Some("1"));
        assert_eq!(summary.parts.len(), built.parts_total);
        assert!(summary.parts.iter().all(|p| p.present), "build writes the parts beside the jigdo");
        assert_eq!(summary.parts_bytes, built.parts_bytes);
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
