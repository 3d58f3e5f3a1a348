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

use rejig_format::jigdo::rpm_names::TABLES_FILE;
use rejig_format::jigdo::{commit_provide, package_requirement, payload_dir, JigdoHead, JIGDO_PROVIDE};
use rejig_format::object::Commit;
use rejig_store::durable;
use rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, PackageBuilder};

use crate::error::{Error, IoContext, Result};

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

/// The jigdo RPM's version and release for `head`.
fn version_release(head: &JigdoHead) -> Result<(String, String)> {
    let commit = Commit::decode(&head.commit_bytes)?;
    Ok((rpm_version(&commit), format!("{}.{}", commit.timestamp, &head.commit.to_hex()[..12])))
}

/// The file name `build --output-dir` gives the jigdo of `head` called `name`:
/// `<name>-<version>-<release>.noarch.rpm`.
pub fn jigdo_file_name(head: &JigdoHead, name: &str) -> Result<String> {
    check_name(name)?;
    let (version, release) = version_release(head)?;
    Ok(format!("{name}-{version}-{release}.noarch.rpm"))
}

/// Writes the jigdo RPM for `head` to `output`, atomically (temp file, fsync, rename). It
/// carries the head as its tables and `Requires:` every part exactly. Packages are bound by
/// the head's table, not by `Requires:`: nothing reads such requirements, and at about 50
/// bytes of uncompressed header per package (and as much again in every repodata listing the
/// jigdo) they were the largest thing in a jigdo fetched on every update.
pub fn write_jigdo_rpm(head: &JigdoHead, name: &str, output: &Path) -> Result<JigdoRpm> {
    check_name(name)?;
    let jigdo = head;
    let commit = Commit::decode(&jigdo.commit_bytes)?;
    let (version, release) = version_release(head)?;
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
            // No space reserved for signing in place: 4 KiB of zeros in every jigdo, fetched on
            // every update. rpmsign still signs it, by rewriting the file.
            BuildConfig::v4()
                .compression(CompressionWithLevel::Zstd(10))
                .source_date(u32::try_from(commit.timestamp).unwrap_or(u32::MAX))
                .reserved_space(None),
        )
        .release(release.clone())
        .build_host("rejig")
        .description(format!("rejig jigdo of OSTree commit {}.\n\n{}\n\n{}", jigdo.commit, commit.subject, commit.body))
        .provides(Dependency::any(JIGDO_PROVIDE))
        .provides(Dependency::any(commit_provide(&jigdo.commit)));
    for part in jigdo.unique_parts() {
        let (capability, evr) = package_requirement(&part.nevra());
        builder.requires(Dependency::eq(capability, evr));
    }
    builder.with_dir_entry(FileOptions::dir(dir.clone())).map_err(rpm_error)?;
    builder.with_file_contents(jigdo.encode()?, FileOptions::new(format!("{dir}/{TABLES_FILE}"))).map_err(rpm_error)?;
    let package = builder.build().map_err(rpm_error)?;
    let bytes = write_package(&package, output)?;
    Ok(JigdoRpm { path: output.to_path_buf(), name: name.to_owned(), version, release, bytes })
}

/// Writes a built package to `output` atomically, readable by all; returns its size.
pub(crate) fn write_package(package: &rpm::Package, output: &Path) -> Result<u64> {
    let rpm_error = |e: rpm::Error| Error::Jigdo(format!("writing {}: {e}", output.display()));
    let mut temp = durable::TempFile::beside(output, ".rejig-jigdo-", 0o600)?;
    package.write(temp.as_file_mut()).map_err(rpm_error)?;
    // A jigdo is published like any package: readable by the web server that mirrors it,
    // whatever the umask.
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).at(output)?;
    temp.as_file_mut().flush().at(output)?;
    let bytes = temp.as_file().metadata().at(output)?.len();
    temp.persist()?;
    Ok(bytes)
}
