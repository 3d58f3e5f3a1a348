//! A real jigdo to attack: real packages fetched from registries (`rejig_test_support::corpus`),
//! extracted with `rpm2cpio | cpio`,
//! committed with `ostree commit`, described by `rejig build`; and the means to re-wrap its
//! tables and new content into hostile variants with the rpm crate's builder, the way `build`
//! wraps them. Used by the `bad_input` module and its `lying_jigdo` rows.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rejig_format::jigdo::{commit_provide, Jigdo, JIGDO_PROVIDE};
use tempfile::TempDir;

use super::{assert_stderr_mentions, num, ostree_commit, ostree_init, p, report, run, text, Rejig};

/// The packages the fixture's commit is composed from (keys of `rejig_test_support::corpus`):
/// two of rpm's test packages and two built with rpmbuild, with gzip, uncompressed, xz and
/// zstd payloads, hardlinks, symlinks, ghosts and directories under `/etc`. Each owns a
/// directory, and one is larger than 10 kB (for the network faults that cut transfers).
pub const PACKAGES: [&str; 4] = [
    "rpm/RPMS/hello-2.0-1.i686.rpm",
    "rpm/RPMS/hlinktest-1.0-1.noarch.rpm",
    "generated/rejig-linkfarm-20210617-1.noarch.rpm",
    "generated/rejig-manyfiles-1.0-1.noarch.rpm",
];
/// The jigdo's name.
pub const NAME: &str = "hostile";

/// The compose, its commit and its jigdo, in a temp dir.
pub struct Fixture {
    pub dir: TempDir,
    /// A directory holding exactly the four packages.
    pub packages: PathBuf,
    pub commit: String,
    /// The jigdo `rejig build` wrote.
    pub jigdo: PathBuf,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("rejig-jigdo-fixture-").tempdir().unwrap();
        let packages = dir.path().join("packages");
        let root = dir.path().join("root");
        fs::create_dir_all(&packages).unwrap();
        fs::create_dir_all(&root).unwrap();
        for package in PACKAGES {
            // Named by NEVRA, as a repository names them and as the tests look them up.
            let from = rejig_test_support::corpus::package(package);
            let nevra = super::rpmbuild::rpm_query(&from, &["--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"]);
            let to = packages.join(format!("{nevra}.rpm"));
            fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
            let out = run(Command::new("sh")
                .current_dir(&root)
                .arg("-c")
                .arg(format!("rpm2cpio {} | cpio -idm --quiet --no-absolute-filenames", p(&to))));
            assert!(out.status.success(), "{}", report("rpm2cpio | cpio", &out));
        }
        if root.join("etc").exists() {
            fs::create_dir_all(root.join("usr")).unwrap();
            fs::rename(root.join("etc"), root.join("usr/etc")).unwrap();
        }
        fs::write(root.join("usr/os-release"), "NAME=hostile\n").unwrap();
        let repo = dir.path().join("compose");
        ostree_init(&repo, "archive");
        let commit = ostree_commit(&repo, "os", &root, "v1");
        let jigdo = dir.path().join("hostile.rpm");
        let build = Rejig::new().build(&repo, "os", &packages, NAME, &jigdo);
        assert_eq!(text(&build, "commit"), commit, "{build}");
        assert!(num(&build, "objects_new") >= 1, "os-release is new content: {build}");
        Fixture { dir, packages, commit, jigdo }
    }

    /// The real jigdo's tables and new content files.
    pub fn parts(&self) -> (Jigdo, Vec<(String, Vec<u8>)>) {
        let file = rejig_importer::jigdo::read_jigdo(&self.jigdo, None).unwrap();
        let extract = self.dir.path().join(format!("extract-{}", rand_suffix()));
        fs::create_dir_all(&extract).unwrap();
        let out = run(Command::new("sh")
            .current_dir(&extract)
            .arg("-c")
            .arg(format!("rpm2cpio {} | cpio -idm --quiet --no-absolute-filenames", p(&self.jigdo))));
        assert!(out.status.success(), "{}", report("rpm2cpio jigdo", &out));
        let new_dir = extract.join(format!("usr/lib/rejig/{NAME}/new"));
        let mut new = Vec::new();
        for entry in fs::read_dir(&new_dir).unwrap() {
            let entry = entry.unwrap();
            new.push((entry.file_name().to_string_lossy().into_owned(), fs::read(entry.path()).unwrap()));
        }
        (file.jigdo, new)
    }

    /// Wraps tables and files into a jigdo RPM the way `build` does, with chosen provides.
    pub fn wrap(&self, label: &str, tables: &[u8], new: &[(String, Vec<u8>)], provides: &[String]) -> PathBuf {
        let mut builder = rpm::PackageBuilder::new(NAME, "0", "Distributable", "noarch", "hostile jigdo");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
        for provide in provides {
            builder.provides(rpm::Dependency::any(provide.clone()));
        }
        let dir = format!("/usr/lib/rejig/{NAME}");
        builder.with_file_contents(tables.to_vec(), rpm::FileOptions::new(format!("{dir}/tables"))).unwrap();
        for (name, bytes) in new {
            builder.with_file_contents(bytes.clone(), rpm::FileOptions::new(format!("{dir}/{name}"))).unwrap();
        }
        let path = self.dir.path().join(format!("{label}.rpm"));
        builder.build().unwrap().write_file(&path).unwrap();
        path
    }

    /// The provides `build` gives the fixture's jigdo.
    pub fn provides(&self) -> Vec<String> {
        vec![JIGDO_PROVIDE.to_owned(), commit_provide(&self.commit.parse().unwrap())]
    }

    /// Exports `jigdo` into a fresh repository with a fresh store; requires a clean failure
    /// that mentions every `needles`, and no repository left behind.
    pub fn export_fails(&self, jigdo: &Path, needles: &[&str]) {
        let repo = self.dir.path().join(format!("repo-{}", rand_suffix()));
        let out = Rejig::new().fails(&["export", p(jigdo), "--packages", p(&self.packages), "--repo", p(&repo)]);
        for needle in needles {
            assert_stderr_mentions(&out, needle, "the error must say what is wrong and where");
        }
        assert!(!repo.exists(), "a refused export created {}", repo.display());
    }
}

/// The new content files as they sit in the payload (`new/BLAKE3`).
pub fn new_files(new: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    new.iter().map(|(name, bytes)| (format!("new/{name}"), bytes.clone())).collect()
}

/// A suffix unique within the process, for file names.
pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}
