//! Fixtures for the core's unit tests, made on the spot: the demo's distro as RPMs, a small
//! tree committed into a store, a jigdo of the demo's compose.

use std::path::{Path, PathBuf};

use rejig_format::object::VariantDict;
use rejig_format::ObjectId;
use rejig_importer::tree::{commit_directory, CommitOptions};
use rejig_store::{NoProgress, Store};

use crate::build::{build_jigdo, BuildJigdoOptions, BuildReport};
use crate::demo::{compose_and_commit, distro, write_packages};

/// Opens a store that nobody else holds.
pub fn store(path: &Path) -> Store {
    Store::open_as(path, "a core unit test", &|holder| panic!("unexpected wait for {holder}")).unwrap()
}

/// Writes the demo's v1 distro as RPMs into `dir`; returns `dir`.
pub fn write_distro(dir: &Path) -> PathBuf {
    write_packages(dir, &distro(false).unwrap(), &NoProgress).unwrap();
    dir.to_path_buf()
}

/// A store at `store_path` holding one commit of a small tree (laid out at `tree`) whose
/// content no demo package has.
pub fn store_with_commit(store_path: &Path, tree: &Path) -> (Store, ObjectId) {
    std::fs::create_dir_all(tree.join("usr/share/unit")).unwrap();
    std::fs::write(tree.join("usr/share/unit/a"), b"the core's own test content\n").unwrap();
    std::fs::write(tree.join("usr/share/unit/b"), vec![0x5a; 100_000]).unwrap();
    std::os::unix::fs::symlink("a", tree.join("usr/share/unit/c")).unwrap();
    let store = store(store_path);
    let options = CommitOptions {
        subject: "unit".to_owned(),
        body: String::new(),
        timestamp: 1_700_000_000,
        metadata: VariantDict::new(),
        parent: None,
    };
    let commit = commit_directory(&store, tree, &options, &NoProgress).unwrap().commit.unwrap();
    (store, commit)
}

/// The demo's v1 compose committed into a build store under `dir`, and its jigdo written to
/// `dir/demo-os-1.rpm`. The packages are in `dir/packages`.
pub fn build_demo_jigdo(dir: &Path) -> BuildReport {
    let packages = distro(false).unwrap();
    let rpms = dir.join("packages");
    write_packages(&rpms, &packages, &NoProgress).unwrap();
    let store = store(&dir.join("build-store"));
    let (commit, _) = compose_and_commit(&store, &dir.join("rootfs"), &packages, 1, None, &NoProgress).unwrap();
    let options = BuildJigdoOptions {
        commit,
        paths: vec![rpms],
        name: "demo-os".into(),
        output: dir.join("demo-os-1.rpm").into(),
        delta_from: None,
    };
    build_jigdo(&store, &options, &NoProgress).unwrap()
}
