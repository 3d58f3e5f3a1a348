//! `rejig fsck [--repair]`: verify every blob and object of the store, after rebuilding the
//! index from the packs if asked.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use rejig_store::{Progress, Store};
use serde::Serialize;

/// What [`fsck`] does.
#[derive(Clone, Debug, Default)]
pub struct FsckOptions {
    /// Rebuild the index from the pack files first.
    pub repair: bool,
}

/// What [`fsck`] found: the store's check, and the repair when asked for.
#[derive(Clone, Debug, Serialize)]
pub struct FsckReport {
    /// Packs, blobs and objects verified, and every problem.
    #[serde(flatten)]
    pub check: rejig_store::fsck::FsckReport,
    /// The repair, when asked for.
    pub repaired: Option<rejig_store::fsck::RepairReport>,
    /// The store checked (text and errors only).
    #[serde(skip)]
    pub store: PathBuf,
}

impl FsckReport {
    /// The error a store with problems amounts to.
    pub fn failure(&self) -> Option<anyhow::Error> {
        (!self.check.problems.is_empty())
            .then(|| anyhow!("the store at {} has {} problem(s)", self.store.display(), self.check.problems.len()))
    }
}

/// Rebuilds the index from the packs when asked, then verifies the whole store. Problems
/// found are in the report ([`FsckReport::failure`]); an error means the check could not run.
pub fn fsck(store: &Store, options: &FsckOptions, _progress: &dyn Progress) -> Result<FsckReport> {
    let repaired = match options.repair {
        true => Some(rejig_store::fsck::repair(store).context("rebuilding the index")?),
        false => None,
    };
    let check = rejig_store::fsck::fsck(store).context("checking the store")?;
    Ok(FsckReport { check, repaired, store: store.root().to_path_buf() })
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
        assert!(checked.check.problems.is_empty() && checked.failure().is_none());
        assert!(checked.check.objects > 0 && checked.check.packs > 0);
        assert!(serde_json::to_value(&checked).unwrap()["repaired"].is_null());

        let repaired = fsck(&store, &FsckOptions { repair: true }, &NoProgress).unwrap();
        let repair = repaired.repaired.as_ref().unwrap();
        assert_eq!(repair.packs_indexed, checked.check.packs);
        assert_eq!(repair.stats.roots, 1);
        assert_eq!((repaired.check.objects, repaired.check.blobs), (checked.check.objects, checked.check.blobs));
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
        assert!(!report.check.problems.is_empty());
        let failure = report.failure().unwrap().to_string();
        assert!(failure.starts_with(&format!("the store at {} has", root.display())), "{failure}");
    }
}
