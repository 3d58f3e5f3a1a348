//! Writing a jigdo as an RPM (noarch, v4) with the rpm crate's builder, so it can be signed
//! with rpmsign, indexed with createrepo_c and mirrored like any package.
//!
//! Its NEVRA: the name given, the commit's `version` metadata (or 0) as version, and
//! `<timestamp>.<short checksum>` as release, so that newer commits of one version sort
//! later. The build time is the commit's timestamp and the build host is fixed, so the
//! same description always gives the same bytes.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rejig_format::jigdo::rpm_names::{NEW_DIR, TABLES_FILE};
use rejig_format::jigdo::{commit_provide, package_requirement, payload_dir, JIGDO_PROVIDE};
use rejig_format::object::Commit;
use rejig_store::{durable, Store};
use rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, PackageBuilder};

use crate::error::{Error, IoContext, Result};
use crate::jigdo::describe::Description;

/// What was written.
#[derive(Clone, Debug)]
pub struct JigdoRpm {
    /// The output file.
    pub path: PathBuf,
    /// The jigdo package's name, version and release.
    pub name: String,
    /// Version (from the commit's `version` metadata, or 0).
    pub version: String,
    /// Release.
    pub release: String,
    /// Size of the file.
    pub bytes: u64,
}

/// Checks a jigdo name: it becomes an RPM name and a directory in the payload.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['-', '.'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Jigdo(format!(
            "{name:?} is not a usable jigdo name: use letters, digits and ._+- (like an RPM name, e.g. fedora-iot)"
        )))
    }
}

/// An RPM version made of the commit's `version` metadata: rpm forbids `-` in versions.
fn rpm_version(commit: &Commit) -> String {
    let version = commit.metadata.get("version").and_then(|v| v.as_str()).unwrap_or("");
    let cleaned: String =
        version.chars().map(|c| if c.is_ascii_alphanumeric() || "._+~^".contains(c) { c } else { '_' }).collect();
    if cleaned.is_empty() {
        "0".to_owned()
    } else {
        cleaned
    }
}

/// Writes the jigdo RPM for `description` to `output`, atomically (temp file, fsync, rename).
pub fn write_jigdo_rpm(store: &Store, description: &Description, name: &str, output: &Path) -> Result<JigdoRpm> {
    check_name(name)?;
    let jigdo = &description.jigdo;
    let commit = Commit::decode(&jigdo.commit_bytes)?;
    let version = rpm_version(&commit);
    let release = format!("{}.{}", commit.timestamp, &jigdo.commit.to_hex()[..12]);
    let dir = payload_dir(name);
    let rpm_error = |e: rpm::Error| Error::Jigdo(format!("building the jigdo RPM: {e}"));

    let mut builder = PackageBuilder::new(
        name,
        &version,
        "Distributable",
        "noarch",
        &format!("OSTree commit {} described by its packages", &jigdo.commit.to_hex()[..12]),
    );
    builder
        .using_config(
            BuildConfig::v4()
                .compression(CompressionWithLevel::Zstd(10))
                .source_date(u32::try_from(commit.timestamp).unwrap_or(u32::MAX)),
        )
        .release(release.clone())
        .build_host("rejig")
        .description(format!("rejig jigdo of OSTree commit {}.\n\n{}\n\n{}", jigdo.commit, commit.subject, commit.body))
        .provides(Dependency::any(JIGDO_PROVIDE))
        .provides(Dependency::any(commit_provide(&jigdo.commit)));
    for package in &jigdo.packages {
        let (capability, evr) = package_requirement(&package.nevra);
        builder.requires(Dependency::eq(capability, evr));
    }
    builder.with_dir_entry(FileOptions::dir(dir.clone())).map_err(rpm_error)?;
    builder.with_file_contents(jigdo.encode()?, FileOptions::new(format!("{dir}/{TABLES_FILE}"))).map_err(rpm_error)?;
    if !description.new_content.is_empty() {
        builder.with_dir_entry(FileOptions::dir(format!("{dir}/{NEW_DIR}"))).map_err(rpm_error)?;
        let reader = store.reader()?;
        for (blob, _) in &description.new_content {
            let bytes = store.read_blob(&reader, *blob)?;
            builder
                .with_file_contents(bytes, FileOptions::new(format!("{dir}/{NEW_DIR}/{blob}")))
                .map_err(rpm_error)?;
        }
    }
    let package = builder.build().map_err(rpm_error)?;

    let mut temp = durable::TempFile::beside(output, ".rejig-jigdo-", 0o600)?;
    package.write(temp.as_file_mut()).map_err(rpm_error)?;
    // A jigdo is published like any package: readable by the web server that mirrors it,
    // whatever the umask.
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).at(output)?;
    temp.as_file_mut().flush().at(output)?;
    let bytes = temp.as_file().metadata().at(output)?.len();
    temp.persist()?;
    Ok(JigdoRpm { path: output.to_path_buf(), name: name.to_owned(), version, release, bytes })
}
