//! Jigdos and package sources that lie: each must fail with a clear error that names what is
//! wrong, and leave the target repository as it was (here: not created, or without the ref).
//!
//! The fixture is real: packages from the corpus, extracted with `rpm2cpio | cpio`, committed
//! with `ostree commit`, described by `rejig build`. Hostile variants are re-wrapped with the
//! rpm crate's builder from the real jigdo's extracted payload.
#![allow(clippy::unwrap_used)]

mod util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rejig_store::jigdo::{commit_provide, ContentSource, Jigdo, JIGDO_PROVIDE};
use tempfile::TempDir;
use util::{assert_stderr_mentions, num, ostree_commit, ostree_init, p, run, text, Rejig};

const CORPUS: &str = "../shared/corpus/rpms";
const PACKAGES: [&str; 4] = [
    "fedora/ngircd-22-2.fc22.x86_64.rpm",
    "fedora/iok-1.3.11-1.fc14.i686.rpm",
    "opensuse/asm-1.5.3-0.noarch.rpm",
    "opensuse/python39-evtx-0.7.4-29.1.noarch.rpm",
];
const NAME: &str = "hostile";

struct Fixture {
    dir: TempDir,
    packages: PathBuf,
    commit: String,
    jigdo: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let packages = dir.path().join("packages");
        let root = dir.path().join("root");
        fs::create_dir_all(&packages).unwrap();
        fs::create_dir_all(&root).unwrap();
        for package in PACKAGES {
            let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS).join(package);
            let to = packages.join(Path::new(package).file_name().unwrap());
            fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
            let out = run(Command::new("sh")
                .current_dir(&root)
                .arg("-c")
                .arg(format!("rpm2cpio {} | cpio -idm --quiet --no-absolute-filenames", p(&to))));
            assert!(out.status.success(), "{}", util::report("rpm2cpio | cpio", &out));
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
    fn parts(&self) -> (Jigdo, Vec<(String, Vec<u8>)>) {
        let file = rejig_importer::jigdo::read_jigdo(&self.jigdo, None).unwrap();
        let extract = self.dir.path().join(format!("extract-{}", rand_suffix()));
        fs::create_dir_all(&extract).unwrap();
        let out = run(Command::new("sh")
            .current_dir(&extract)
            .arg("-c")
            .arg(format!("rpm2cpio {} | cpio -idm --quiet --no-absolute-filenames", p(&self.jigdo))));
        assert!(out.status.success(), "{}", util::report("rpm2cpio jigdo", &out));
        let new_dir = extract.join(format!("usr/lib/rejig/{NAME}/new"));
        let mut new = Vec::new();
        for entry in fs::read_dir(&new_dir).unwrap() {
            let entry = entry.unwrap();
            new.push((entry.file_name().to_string_lossy().into_owned(), fs::read(entry.path()).unwrap()));
        }
        (file.jigdo, new)
    }

    /// Wraps tables and files into a jigdo RPM the way `build` does, with chosen provides.
    fn wrap(&self, label: &str, tables: &[u8], new: &[(String, Vec<u8>)], provides: &[String]) -> PathBuf {
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

    fn provides(&self) -> Vec<String> {
        vec![JIGDO_PROVIDE.to_owned(), commit_provide(&self.commit.parse().unwrap())]
    }

    /// Exports `jigdo` into a fresh repository with a fresh store; requires a clean failure
    /// that mentions every `needles`, and no repository left behind.
    fn export_fails(&self, jigdo: &Path, needles: &[&str]) {
        let repo = self.dir.path().join(format!("repo-{}", rand_suffix()));
        let out = Rejig::new().fails(&["export", p(jigdo), "--packages", p(&self.packages), "--repo", p(&repo)]);
        for needle in needles {
            assert_stderr_mentions(&out, needle, "the error must say what is wrong and where");
        }
        assert!(!repo.exists(), "a refused export created {}", repo.display());
    }
}

fn new_files(new: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    new.iter().map(|(name, bytes)| (format!("new/{name}"), bytes.clone())).collect()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

#[test]
fn the_honest_rewrap_exports_so_the_variants_test_what_they_change() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let rewrapped = fixture.wrap("honest", &jigdo.encode().unwrap(), &new_files(&new), &fixture.provides());
    let repo = fixture.dir.path().join("honest-repo");
    let report = Rejig::new().json(&[
        "export",
        p(&rewrapped),
        "--packages",
        p(&fixture.packages),
        "--repo",
        p(&repo),
        "--ref",
        "os",
    ]);
    assert_eq!(text(&report, "commit"), fixture.commit);
    util::verify_exported_repo(&repo, &fixture.commit);
}

#[test]
fn hostile_jigdos_are_refused_before_the_repository_is_touched() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let tables = jigdo.encode().unwrap();
    let files = new_files(&new);

    // A commit that does not match its Provides.
    let other = "ab".repeat(32);
    let wrong_provide =
        fixture.wrap("wrong-provide", &tables, &files, &[JIGDO_PROVIDE.to_owned(), format!("rejig-commit({other})")]);
    fixture.export_fails(&wrong_provide, &["rejig-commit", &other]);

    // Not a jigdo at all: no rejig-jigdo(1).
    let not_jigdo = fixture.wrap("not-jigdo", &tables, &files, &[commit_provide(&jigdo.commit)]);
    fixture.export_fails(&not_jigdo, &[JIGDO_PROVIDE]);

    // New content that does not hash to its name.
    let mut lying = files.clone();
    lying[0].1.push(b'!');
    let lying_new = fixture.wrap("lying-new", &tables, &lying, &fixture.provides());
    fixture.export_fails(&lying_new, &["hashes to", &lying[0].0]);

    // A file the format does not define.
    let mut extra = files.clone();
    extra.push(("payload-extra".to_owned(), b"x".to_vec()));
    let extra_file = fixture.wrap("extra-file", &tables, &extra, &fixture.provides());
    fixture.export_fails(&extra_file, &["unexpected file"]);

    // New content the tables need but the payload lacks.
    let missing_new = fixture.wrap("missing-new", &tables, &[], &fixture.provides());
    fixture.export_fails(&missing_new, &["lacks"]);

    // Tables that are not tables.
    let garbage = fixture.wrap("garbage", b"\x10\0\0\0\0\0\0\0not zstd", &files, &fixture.provides());
    fixture.export_fails(&garbage, &["jigdo tables"]);
}

#[test]
fn lying_tables_name_the_object_and_the_package() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);

    // An entry whose metadata does not give its checksum: the package content is right but
    // the object cannot be rebuilt. The error names the object and the package.
    let mut wrong_meta = jigdo.clone();
    let victim = wrong_meta
        .content
        .iter()
        .position(|e| matches!(e.source, ContentSource::Package { .. }))
        .expect("some content comes from a package");
    let entry = &mut wrong_meta.content[victim];
    let object = entry.object.to_hex();
    let ContentSource::Package { package, .. } = entry.source else { unreachable!() };
    let nevra = wrong_meta.packages[package as usize].nevra.to_string();
    let other_meta = (0..wrong_meta.metadata.len() as u32).find(|&m| m != entry.meta);
    match other_meta {
        Some(meta) => entry.meta = meta,
        None => {
            let mut meta = wrong_meta.metadata[entry.meta as usize].clone();
            meta = rejig_store::object::FileMeta::new(
                meta.uid() + 1,
                meta.gid(),
                meta.permissions(),
                meta.xattrs().clone(),
            )
            .unwrap();
            wrong_meta.metadata.push(meta);
            entry.meta = wrong_meta.metadata.len() as u32 - 1;
        }
    }
    let path = fixture.wrap("wrong-meta", &wrong_meta.encode().unwrap(), &files, &fixture.provides());
    fixture.export_fails(&path, &[&object, &nevra]);

    // A binding to a package nobody has: the header digest of one package is changed.
    let mut wrong_binding = jigdo.clone();
    wrong_binding.packages[0].header_sha256[0] ^= 0xff;
    let nevra = wrong_binding.packages[0].nevra.to_string();
    let path = fixture.wrap("wrong-binding", &wrong_binding.encode().unwrap(), &files, &fixture.provides());
    fixture.export_fails(&path, &[&nevra]);

    // A binding by file digest that the package file does not have.
    let mut wrong_file = jigdo.clone();
    let bound = wrong_file.packages.iter_mut().find(|p| p.file_sha256.is_some()).expect("build binds file digests");
    bound.file_sha256 = Some([7; 32]);
    let nevra = bound.nevra.to_string();
    let path = fixture.wrap("wrong-file-digest", &wrong_file.encode().unwrap(), &files, &fixture.provides());
    fixture.export_fails(&path, &[&nevra, "SHA-256"]);
}

#[test]
fn a_missing_package_is_named_and_nothing_is_written() {
    let fixture = Fixture::new();
    let partial = fixture.dir.path().join("partial");
    fs::create_dir_all(&partial).unwrap();
    for entry in fs::read_dir(&fixture.packages).unwrap().skip(1) {
        let entry = entry.unwrap();
        fs::copy(entry.path(), partial.join(entry.file_name())).unwrap();
    }
    let missing = fs::read_dir(&fixture.packages).unwrap().next().unwrap().unwrap().file_name();
    let name = missing.to_string_lossy().split('-').next().unwrap().to_owned();
    let repo = fixture.dir.path().join("repo-missing");
    let out = Rejig::new().fails(&["export", p(&fixture.jigdo), "--packages", p(&partial), "--repo", p(&repo)]);
    assert_stderr_mentions(&out, &name, "the error names the package no source offers");
    assert!(!repo.exists(), "a failed export created the repository");
}
