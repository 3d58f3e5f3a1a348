//! Helpers shared by the importer's integration tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use rejig_test_support::corpus;

/// Every package the corpus-wide tests read, sorted within each part: the packages fetched
/// from registries and built with rpmbuild (always), then the extra corpus (when
/// `REJIG_TEST_CORPUS` names it).
pub fn corpus() -> Vec<PathBuf> {
    let fetched = corpus::fetch().packages();
    assert!(fetched.len() >= 40, "the fetched and generated test packages are too few: {}", fetched.len());
    corpus::all_packages()
}
