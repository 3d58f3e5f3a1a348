//! The test assets the `rpm` crate publishes with its source (`tests/assets/RPMS` and
//! `SRPMS`). The crate is a dependency of the workspace, so cargo has its source once the
//! workspace is built; `cargo metadata` says where.

use std::fs;
use std::path::{Path, PathBuf};

use super::cache::cargo_metadata;
use super::PINNED;

/// The version of the rpm crate whose assets are pinned.
const VERSION: &str = "0.30.";

/// Fills `staging` with every pinned `rpm-crate/` package.
pub fn populate(staging: &Path) {
    let assets = assets_dir();
    for (key, _) in PINNED.iter().filter(|(key, _)| key.starts_with("rpm-crate/")) {
        let from = assets.join(&key["rpm-crate/".len()..]);
        let to = staging.join(key);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap_or_else(|e| {
            panic!("test data: copying the rpm crate's test asset {} to {}: {e}", from.display(), to.display())
        });
    }
}

/// `tests/assets` of the rpm crate's source, as `cargo metadata` locates the crate.
pub(super) fn assets_dir() -> PathBuf {
    let metadata = cargo_metadata(false);
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "rpm" && p["version"].as_str().is_some_and(|v| v.starts_with(VERSION)))
        .and_then(|p| p["manifest_path"].as_str())
        .unwrap_or_else(|| {
            panic!("test data: `cargo metadata` lists no package rpm {VERSION}x (the rpm crate's test assets)")
        });
    let assets = Path::new(manifest).parent().unwrap().join("tests/assets");
    assert!(assets.is_dir(), "test data: the rpm crate's source has no {}", assets.display());
    assets
}
