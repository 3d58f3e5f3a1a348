//! `rejig gc`: drop what no kept root needs, and give the space back.

use std::time::Instant;

use anyhow::{Context, Result};
use rejig_store::{Progress, Store};
use serde::Serialize;

/// Which roots [`gc`] keeps.
#[derive(Clone, Debug, Default)]
pub struct GcOptions {
    /// Keep at most this many roots, the most recently used (None: all).
    pub keep: Option<usize>,
    /// Keep fewer roots (never less than the newest) when what they need exceeds this many
    /// bytes of packs.
    pub max_size: Option<u64>,
}

/// What [`gc`] did: the store's report, with the bytes it gave back and the time it took.
#[derive(Clone, Debug, Serialize)]
pub struct GcReport {
    /// Roots kept and dropped, what was removed, bytes before and after.
    #[serde(flatten)]
    pub collected: rejig_store::gc::GcReport,
    /// Bytes given back, downloads included.
    pub bytes_freed: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Collects garbage: keeps the roots the options allow, everything they reach and the
/// packages that supply it; rewrites packs with little left alive.
pub fn gc(store: &Store, options: &GcOptions, progress: &dyn Progress) -> Result<GcReport> {
    let started = Instant::now();
    let options = rejig_store::gc::GcOptions { keep: options.keep, max_size: options.max_size, ..Default::default() };
    let report = rejig_store::gc::gc(store, &options, progress).context("collecting garbage")?;
    Ok(GcReport { bytes_freed: report.bytes_freed(), collected: report, seconds: started.elapsed().as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_store::NoProgress;

    #[test]
    fn gc_keeps_the_newest_roots_and_drops_unreferenced_packages() {
        let dir = tempfile::tempdir().unwrap();
        let (store, commit) = testing::store_with_commit(&dir.path().join("store"), &dir.path().join("tree"));
        let rpms = testing::write_distro(&dir.path().join("rpms"));
        let options = crate::import::ImportPackagesOptions { paths: vec![rpms] };
        let imported = crate::import::packages(&store, &options, &NoProgress).unwrap();
        std::fs::write(store.downloads_dir().unwrap().join("left.rpm"), b"partial").unwrap();

        let report = gc(&store, &GcOptions::default(), &NoProgress).unwrap();
        let ids = |roots: &[(rejig_format::ObjectKey, u64)]| roots.iter().map(|(key, _)| key.id).collect::<Vec<_>>();
        assert_eq!(ids(&report.collected.roots_kept), vec![commit]);
        assert!(report.collected.roots_dropped.is_empty() && report.collected.roots_broken.is_empty());
        assert_eq!(report.collected.packages_removed, imported.imported.packages.len() as u64);
        assert_eq!(report.collected.downloads_removed, 7);
        assert!(report.bytes_freed >= report.collected.bytes_before - report.collected.bytes_after);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["roots_kept"][0], commit.to_hex());

        // A broken root shows as its checksum and what it lacks.
        let mut broken = report.clone();
        let key = report.collected.roots_kept[0].0;
        broken.collected.roots_broken = vec![(key, "missing dirtree".into())];
        let json = serde_json::to_value(&broken).unwrap();
        assert_eq!(json["roots_broken"], serde_json::json!([{"root": commit.to_hex(), "error": "missing dirtree"}]));

        let none = gc(&store, &GcOptions { keep: Some(0), max_size: None }, &NoProgress).unwrap();
        assert!(none.collected.roots_kept.len() <= 1, "{:?}", none.collected.roots_kept);
    }

    /// Folding writes packs of the target size, not one pack of everything, and what it
    /// wrote is complete: fsck is clean, and so is an index rebuilt from the new packs alone.
    #[test]
    fn folding_rolls_over_at_the_target_pack_size_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(&dir.path().join("store"));
        // Ten commits of incompressible files, one pack each, all kept.
        let mut commits = Vec::new();
        for version in 0..10u64 {
            let tree = dir.path().join(format!("tree{version}"));
            std::fs::create_dir_all(&tree).unwrap();
            for file in 0..3u64 {
                let bytes = rejig_test_support::rng::Rng::new(version * 10 + file).bytes(20_000);
                std::fs::write(tree.join(format!("f{file}")), bytes).unwrap();
            }
            let options = rejig_importer::tree::CommitOptions {
                subject: format!("v{version}"),
                body: String::new(),
                timestamp: 1_700_000_000,
                metadata: rejig_format::object::VariantDict::new(),
                parent: None,
            };
            let committed = rejig_importer::tree::commit_directory(&store, &tree, &options, &NoProgress).unwrap();
            commits.push(committed.commit.unwrap());
        }
        let before = rejig_store::fsck::fsck(&store).unwrap();
        assert_eq!(before.packs, 10, "{before:?}");

        let target = 64 << 10;
        let options = rejig_store::gc::GcOptions { target_pack_size: target, ..Default::default() };
        let report = rejig_store::gc::gc(&store, &options, &NoProgress).unwrap();
        let mut kept: Vec<_> = report.roots_kept.iter().map(|(k, _)| k.id).collect();
        kept.sort();
        commits.sort();
        assert_eq!(kept, commits);
        assert_eq!(report.packs_folded, 10, "{report:?}");
        assert!(report.packs_written >= 3, "600 kB of blobs in packs of 64 KiB: {report:?}");
        let after = rejig_store::fsck::fsck(&store).unwrap();
        assert!(after.problems.is_empty(), "{:?}", after.problems);
        assert_eq!(after.packs, report.packs_written, "{report:?}");
        assert_eq!((after.objects, after.blobs), (before.objects, before.blobs), "nothing was dead");
        // Every new pack but the last (the smallest) stopped at the first blob past the target.
        let mut sizes: Vec<u64> =
            std::fs::read_dir(store.packs_dir()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
        sizes.sort();
        assert!(sizes.iter().skip(1).all(|&size| size >= target), "{sizes:?}");

        rejig_store::fsck::repair(&store).unwrap();
        let rebuilt = rejig_store::fsck::fsck(&store).unwrap();
        assert!(rebuilt.problems.is_empty(), "{:?}", rebuilt.problems);
        assert_eq!((rebuilt.objects, rebuilt.blobs, rebuilt.packages), (after.objects, after.blobs, after.packages));
    }
}
