//! The sparse 4 GiB package (built with rpmbuild by the test support) imports with bounded memory: its content
//! streams through the decompressor, the digests and the pack writer and is never held.
//! This file holds one test so that the process's peak RSS (VmHWM) is the import's.

#![allow(clippy::unwrap_used)]

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn four_gib_package_imports_under_100_mb() {
    let package = rejig_test_support::corpus::package("generated/ostree-fixture-bigfile-1.0-1.noarch.rpm");
    let dir = tempfile::tempdir().unwrap();
    let store = rejig_store::Store::open(dir.path(), &|_| {}).unwrap();
    let import = rejig_importer::package::import_package(&store, &package).unwrap();
    assert!(!import.skipped);
    assert!(import.raw_bytes > 4 << 30, "the 4 GiB file was not stored: {} bytes", import.raw_bytes);
    let report = rejig_store::fsck::fsck(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let peak = peak_rss_kib();
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB is over 100 MB");
}
