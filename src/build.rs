//! `rejig build`: import a commit and the packages it was composed from, describe the commit
//! by them, and write the jigdo RPM and the parts it needs that the output directory lacks.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rejig_exporter::jigdo::{
    check_name, describe_commit, jigdo_file_name, write_jigdo_rpm, write_parts, DescriptionStats,
};
use rejig_format::jigdo::{JigdoHead, PartRef};
use rejig_format::{ObjectId, ObjectType};
use rejig_importer::import_commit;
use rejig_importer::jigdo::{read_part, Expect};
use rejig_importer::package::import_packages;
use rejig_store::{Progress, Store};
use serde::Serialize;

use crate::sources::{local_packages, Sources};

/// What [`build`] describes, by what, and where it writes.
pub struct BuildOptions {
    /// Repository holding the commit.
    pub repo: PathBuf,
    /// Ref or checksum.
    pub rev: String,
    /// Package sources the commit was composed from (local ones: build reads packages where
    /// they are).
    pub sources: Sources,
    /// Name of the jigdo package.
    pub name: String,
    /// Where the jigdo and its parts go.
    pub output: JigdoOutput,
    /// The commit delta parts are from, if any.
    pub delta_from: Option<DeltaFrom>,
}

/// The commit `build --delta-from` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaFrom {
    /// The described commit's parent.
    Parent,
    /// This commit.
    Commit(ObjectId),
}

impl DeltaFrom {
    /// Parses `parent` or a commit checksum.
    pub fn parse(text: &str) -> Result<Self> {
        if text == "parent" {
            return Ok(DeltaFrom::Parent);
        }
        text.parse().map(DeltaFrom::Commit).map_err(|_| {
            anyhow::anyhow!("--delta-from takes `parent` or a commit checksum (64 hex digits), not {text:?}")
        })
    }

    /// The commit it names for `commit`, whose bytes the store holds. `parent` is lenient,
    /// so that one publishing script serves the first release too: a commit without a parent,
    /// or whose parent this store never held, gets no delta, with a warning. A checksum the
    /// store lacks is an error.
    fn resolve(self, store: &Store, commit: ObjectId, progress: &dyn Progress) -> Result<Option<ObjectId>> {
        let reader = store.reader()?;
        let held = |id: ObjectId| reader.contains_object(&rejig_format::ObjectKey::new(id, ObjectType::Commit));
        let from = match self {
            DeltaFrom::Commit(from) if !held(from)? => {
                bail!("--delta-from {from}: this store does not hold that commit (build it with this store first)")
            }
            DeltaFrom::Commit(from) => from,
            DeltaFrom::Parent => {
                let bytes = store.read_metadata(&reader, rejig_format::ObjectKey::new(commit, ObjectType::Commit))?;
                match rejig_format::object::Commit::decode(&bytes)?.parent {
                    None => {
                        progress.warn(&format!("--delta-from parent: commit {commit} has no parent; no delta parts"));
                        return Ok(None);
                    }
                    Some(parent) if !held(parent)? => {
                        progress.warn(&format!(
                            "--delta-from parent: this store does not hold the parent {parent}; no delta parts"
                        ));
                        return Ok(None);
                    }
                    Some(parent) => parent,
                }
            }
        };
        if from == commit {
            bail!("--delta-from names the commit being described, {commit}");
        }
        Ok(Some(from))
    }
}

/// Where `build` writes.
#[derive(Clone, Debug)]
pub enum JigdoOutput {
    /// This jigdo file; the parts go beside it.
    File(PathBuf),
    /// This directory: the jigdo is named `<name>-<version>-<release>.noarch.rpm`, like the
    /// parts beside it.
    Dir(PathBuf),
}

impl From<PathBuf> for JigdoOutput {
    fn from(path: PathBuf) -> Self {
        JigdoOutput::File(path)
    }
}

impl JigdoOutput {
    /// The directory the parts go to.
    pub fn dir(&self) -> PathBuf {
        match self {
            JigdoOutput::Dir(dir) => dir.clone(),
            JigdoOutput::File(file) => match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            },
        }
    }
}

/// What [`build_jigdo`] describes once the commit is in the store.
#[derive(Clone, Debug)]
pub struct BuildJigdoOptions {
    /// The commit, in the store.
    pub commit: ObjectId,
    /// Package files, or directories searched recursively.
    pub paths: Vec<PathBuf>,
    /// Name of the jigdo package.
    pub name: String,
    /// Where the jigdo and its parts go.
    pub output: JigdoOutput,
    /// The commit delta parts are from, if any.
    pub delta_from: Option<DeltaFrom>,
}

/// What a build did.
#[derive(Clone, Debug, Serialize)]
pub struct BuildReport {
    /// The commit described.
    #[serde(serialize_with = "crate::report::display")]
    pub commit: ObjectId,
    /// The jigdo RPM written.
    pub output: PathBuf,
    /// Its identity (`name-version-release.noarch`).
    pub nevra: String,
    /// What the jigdo is made of: objects and bytes from packages and new, packages used and
    /// unused.
    #[serde(flatten)]
    pub stats: DescriptionStats,
    /// Size of the jigdo RPM.
    pub jigdo_bytes: u64,
    /// Distinct parts the jigdo needs.
    pub parts_total: usize,
    /// Of those, parts this build wrote (the output directory lacked them).
    pub parts_new: usize,
    /// Bytes of the part files written.
    pub parts_new_bytes: u64,
    /// Bytes of all the part files the jigdo needs.
    pub parts_bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Packages read from the sources (text only).
    #[serde(skip)]
    pub packages_offered: usize,
    /// Of those, packages the store did not have yet and imported (a builder of a farm
    /// imports only what no builder has imported before).
    pub packages_imported: usize,
}

/// Imports the commit and the sources' packages, describes the commit by them and writes the
/// jigdo RPM.
pub fn build(store: &Store, options: &BuildOptions, progress: &dyn Progress) -> Result<BuildReport> {
    let started = Instant::now();
    check_name(&options.name)?;
    let imported = import_commit(store, &options.repo, &options.rev, progress)
        .with_context(|| format!("importing {} from {}", options.rev, options.repo.display()))?;
    let commit = imported.commit.context("the import named no commit")?;
    let paths: Vec<PathBuf> = local_packages(&options.sources, progress)?;
    let request = BuildJigdoOptions {
        commit,
        paths,
        name: options.name.clone(),
        output: options.output.clone(),
        delta_from: options.delta_from,
    };
    let mut report = build_jigdo(store, &request, progress)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The part of `build` after the commit is in the store: imports the packages, describes
/// the commit by them and writes the jigdo RPM. `seconds` covers this part only. Every
/// package must import.
pub fn build_jigdo(store: &Store, options: &BuildJigdoOptions, progress: &dyn Progress) -> Result<BuildReport> {
    let started = Instant::now();
    let report = import_packages(store, &options.paths, progress).context("importing packages")?;
    if let Some((path, error)) = report.failures.first() {
        bail!(
            "{} of {} packages could not be imported, e.g. {}: {error}",
            report.failures.len(),
            report.failures.len() + report.packages.len(),
            path.display()
        );
    }
    let keys: Vec<_> = report.packages.iter().map(|p| p.header_sha256).collect();

    let delta_from = match options.delta_from {
        Some(from) => from.resolve(store, options.commit, progress)?,
        None => None,
    };
    progress.start("describing the commit by its packages", 0);
    let description = describe_commit(store, options.commit, &keys, delta_from).with_context(|| match delta_from {
        Some(from) => format!("describing the commit and its delta from {from} (which this store must hold)"),
        None => "describing the commit".to_owned(),
    })?;
    progress.finish();
    let dir = options.output.dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    progress.start("writing parts", 0);
    let written = write_parts(store, &description, &dir).context("writing the parts")?;
    progress.finish();
    let mut parts = Vec::with_capacity(written.len());
    let (mut parts_new, mut parts_new_bytes) = (0, 0);
    let mut bound: std::collections::HashMap<rejig_format::BlobId, PartRef> = Default::default();
    for part in &written {
        let binding = match bound.get(&part.content) {
            Some(binding) => binding.clone(),
            None => {
                // Read back with the client's reader: what is bound is what a client will see,
                // and a stale or damaged file of the same name is caught here.
                let file = read_part(&part.path, Expect::Kind(part.kind), None)
                    .with_context(|| format!("reading back {}", part.path.display()))?;
                if file.part.content != part.content {
                    bail!("{} does not hold the part its name says; remove it and build again", part.path.display());
                }
                if part.new {
                    parts_new += 1;
                    parts_new_bytes += file.part.file_size;
                }
                bound.insert(part.content, file.part.clone());
                file.part
            }
        };
        parts.push(binding);
    }
    let jigdo = &description.jigdo;
    let head = JigdoHead {
        commit: jigdo.commit,
        commit_bytes: jigdo.commit_bytes.clone(),
        commitmeta: jigdo.commitmeta.clone(),
        packages: jigdo.packages.clone(),
        parts,
        delta_from: description.delta.as_ref().map(|(from, _)| *from),
    };
    let output = match &options.output {
        JigdoOutput::File(file) => file.clone(),
        JigdoOutput::Dir(dir) => dir.join(jigdo_file_name(&head, &options.name)?),
    };
    let rpm =
        write_jigdo_rpm(&head, &options.name, &output).with_context(|| format!("writing {}", output.display()))?;
    Ok(BuildReport {
        commit: options.commit,
        output: rpm.path,
        nevra: format!("{}-{}-{}.noarch", rpm.name, rpm.version, rpm.release),
        stats: description.stats,
        jigdo_bytes: rpm.bytes,
        parts_total: bound.len(),
        parts_new,
        parts_new_bytes,
        parts_bytes: bound.values().map(|p| p.file_size).sum(),
        seconds: started.elapsed().as_secs_f64(),
        packages_offered: keys.len(),
        packages_imported: report.packages.iter().filter(|p| !p.skipped).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_importer::source::{FetchOptions, PackageSource};
    use rejig_store::NoProgress;

    fn sources(dir: &std::path::Path) -> Sources {
        Sources { list: vec![PackageSource::parse(dir.to_str().unwrap()).unwrap()], options: FetchOptions::default() }
    }

    #[test]
    fn a_jigdo_describes_the_demo_compose_by_its_packages() {
        let dir = tempfile::tempdir().unwrap();
        let report = testing::build_demo_jigdo(dir.path());
        assert_eq!(report.stats.packages_used.len(), 12);
        assert_eq!(report.packages_offered, 12);
        assert!(report.stats.packages_unused.is_empty());
        assert!(report.stats.objects_from_packages > 0 && report.stats.objects_new > 0);
        assert_eq!(
            report.stats.objects_total,
            report.stats.objects_from_packages + report.stats.objects_new + report.stats.objects_symlink
        );
        assert_eq!(std::fs::metadata(&report.output).unwrap().len(), report.jigdo_bytes);
        assert!(report.nevra.starts_with("demo-os-") && report.nevra.ends_with(".noarch"), "{}", report.nevra);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["unused"], serde_json::json!([]));
        assert!(json.get("packages_offered").is_none());
    }

    #[test]
    fn build_imports_the_commit_from_a_repository_and_reads_local_sources() {
        let dir = tempfile::tempdir().unwrap();
        let (store, commit) = testing::store_with_commit(&dir.path().join("store"), &dir.path().join("tree"));
        let repo = dir.path().join("repo");
        let export = crate::export::ExportCommitOptions { commit, repo: repo.clone(), export: Default::default() };
        crate::export::export_commit(&store, &export, &NoProgress).unwrap();
        drop(store);
        let rpms = testing::write_distro(&dir.path().join("rpms"));
        let builder = testing::store(&dir.path().join("builder"));
        let options = BuildOptions {
            repo,
            rev: commit.to_hex(),
            sources: sources(&rpms),
            name: "unit".into(),
            output: dir.path().join("unit.rpm").into(),
            delta_from: None,
        };
        let report = build(&builder, &options, &NoProgress).unwrap();
        assert_eq!(report.commit, commit);
        // The tree shares no content with the packages: every package is unused.
        assert_eq!((report.stats.packages_used.len(), report.stats.packages_unused.len()), (0, 12));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!((&json["packages_used"], &json["packages_unused"]), (&0.into(), &12.into()));
        let names: Vec<String> = report.stats.packages_unused.iter().map(ToString::to_string).collect();
        assert_eq!(json["unused"], serde_json::json!(names));
        assert_eq!(report.stats.objects_from_packages, 0);

        let bad = BuildOptions { name: "no/slash".into(), ..options };
        assert!(build(&builder, &bad, &NoProgress).is_err());
    }
}
