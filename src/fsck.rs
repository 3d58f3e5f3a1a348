//! `rejig fsck [--repair]`: verify every blob and object of the store, after rebuilding the
//! index from the packs if asked.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use rejig_format::PackId;
use rejig_store::{Progress, Store};
use serde::Serialize;

/// What [`fsck`] does.
#[derive(Clone, Debug, Default)]
pub struct FsckOptions {
    /// Rebuild the index from the pack files first.
    pub repair: bool,
}

/// What [`fsck`] found.
#[derive(Clone, Debug, Serialize)]
pub struct FsckReport {
    /// Pack files read.
    pub packs: u64,
    /// Blobs verified.
    pub blobs: u64,
    /// Objects verified.
    pub objects: u64,
    /// Package manifests verified.
    pub packages: u64,
    /// Raw bytes verified.
    pub bytes: u64,
    /// Pack files the index does not reference.
    #[serde(serialize_with = "crate::report::display_seq")]
    pub unreferenced_packs: Vec<PackId>,
    /// Every problem, one line each.
    pub problems: Vec<String>,
    /// The repair, when asked for.
    pub repaired: Option<RepairReport>,
    /// The store checked (text and errors only).
    #[serde(skip)]
    pub store: PathBuf,
}

/// What `--repair` did.
#[derive(Clone, Debug, Serialize)]
pub struct RepairReport {
    /// Packs whose entries were indexed.
    pub packs_indexed: u64,
    /// Packs that could not be read, with the reason.
    pub packs_skipped: Vec<String>,
    /// Objects in the rebuilt index (text only).
    #[serde(skip)]
    pub objects: u64,
    /// Blobs in the rebuilt index (text only).
    #[serde(skip)]
    pub blobs: u64,
    /// Roots in the rebuilt index (text only).
    #[serde(skip)]
    pub roots: u64,
}

impl FsckReport {
    /// The error a store with problems amounts to.
    pub fn failure(&self) -> Option<anyhow::Error> {
        (!self.problems.is_empty())
            .then(|| anyhow!("the store at {} has {} problem(s)", self.store.display(), self.problems.len()))
    }
}

/// Rebuilds the index from the packs when asked, then verifies the whole store. Problems
/// found are in the report ([`FsckReport::failure`]); an error means the check could not run.
pub fn fsck(store: &Store, options: &FsckOptions, _progress: &dyn Progress) -> Result<FsckReport> {
    let repaired = if options.repair {
        let repair = rejig_store::fsck::repair(store).context("rebuilding the index")?;
        Some(RepairReport {
            packs_indexed: repair.packs_indexed,
            packs_skipped: repair.packs_skipped,
            objects: repair.stats.objects,
            blobs: repair.stats.blobs,
            roots: repair.stats.roots,
        })
    } else {
        None
    };
    let report = rejig_store::fsck::fsck(store).context("checking the store")?;
    Ok(FsckReport {
        packs: report.packs,
        blobs: report.blobs,
        objects: report.objects,
        packages: report.packages,
        bytes: report.bytes,
        unreferenced_packs: report.unreferenced_packs,
        problems: report.problems,
        repaired,
        store: store.root().to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rejig_store::NoProgress;

    #[test]
    fn a_sound_store_has_no_problems_and_repair_rebuilds_the_same_index() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = testing::store_with_commit(&dir.path().join("store"), &dir.path().join("tree"));
        let checked = fsck(&store, &FsckOptions::default(), &NoProgress).unwrap();
        assert!(checked.problems.is_empty() && checked.failure().is_none());
        assert!(checked.objects > 0 && checked.packs > 0);
        assert!(serde_json::to_value(&checked).unwrap()["repaired"].is_null());

        let repaired = fsck(&store, &FsckOptions { repair: true }, &NoProgress).unwrap();
        let repair = repaired.repaired.as_ref().unwrap();
        assert_eq!(repair.packs_indexed, checked.packs);
        assert_eq!(repair.roots, 1);
        assert_eq!((repaired.objects, repaired.blobs), (checked.objects, checked.blobs));
    }

    #[test]
    fn a_damaged_pack_is_a_problem_and_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let (store, _) = testing::store_with_commit(&root, &dir.path().join("tree"));
        let pack = std::fs::read_dir(root.join("packs")).unwrap().next().unwrap().unwrap().path();
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[40] ^= 0xff;
        std::fs::write(&pack, bytes).unwrap();
        drop(store);
        let store = Store::open(&root, &|_| {}).unwrap();
        let report = fsck(&store, &FsckOptions::default(), &NoProgress).unwrap();
        assert!(!report.problems.is_empty());
        let failure = report.failure().unwrap().to_string();
        assert!(failure.starts_with(&format!("the store at {} has", root.display())), "{failure}");
    }
}
