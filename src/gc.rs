//! `rejig gc`: drop what no kept root needs, and give the space back.

use std::time::Instant;

use anyhow::{Context, Result};
use rejig_format::ObjectId;
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

/// What [`gc`] did.
#[derive(Clone, Debug, Serialize)]
pub struct GcReport {
    /// Bytes of packs before.
    pub bytes_before: u64,
    /// Bytes of packs after.
    pub bytes_after: u64,
    /// Bytes given back, downloads included.
    pub bytes_freed: u64,
    /// Roots kept, newest first.
    #[serde(serialize_with = "crate::report::display_seq")]
    pub roots_kept: Vec<ObjectId>,
    /// Roots dropped.
    #[serde(serialize_with = "crate::report::display_seq")]
    pub roots_dropped: Vec<ObjectId>,
    /// Roots dropped because something they reach is missing.
    pub roots_broken: Vec<BrokenRoot>,
    /// Objects removed.
    pub objects_removed: u64,
    /// Blobs removed.
    pub blobs_removed: u64,
    /// Package manifests removed.
    pub packages_removed: u64,
    /// Packs rewritten.
    pub packs_rewritten: u64,
    /// Packs deleted.
    pub packs_deleted: u64,
    /// True when the newest root alone needs more than `max_size`.
    pub over_budget: bool,
    /// Bytes of package downloads removed.
    pub downloads_removed: u64,
    /// Wall time.
    pub seconds: f64,
}

/// A root dropped as incomplete.
#[derive(Clone, Debug, Serialize)]
pub struct BrokenRoot {
    /// The commit.
    #[serde(serialize_with = "crate::report::display")]
    pub root: ObjectId,
    /// What it lacks.
    pub error: String,
}

/// Collects garbage: keeps the roots the options allow, everything they reach and the
/// packages that supply it; rewrites packs with little left alive.
pub fn gc(store: &Store, options: &GcOptions, progress: &dyn Progress) -> Result<GcReport> {
    let started = Instant::now();
    let options = rejig_store::gc::GcOptions { keep: options.keep, max_size: options.max_size, ..Default::default() };
    let report = rejig_store::gc::gc(store, &options, progress).context("collecting garbage")?;
    let ids = |list: &[(rejig_format::ObjectKey, u64)]| list.iter().map(|(k, _)| k.id).collect();
    Ok(GcReport {
        bytes_before: report.bytes_before,
        bytes_after: report.bytes_after,
        bytes_freed: report.bytes_freed(),
        roots_kept: ids(&report.roots_kept),
        roots_dropped: ids(&report.roots_dropped),
        roots_broken: report
            .roots_broken
            .iter()
            .map(|(key, why)| BrokenRoot { root: key.id, error: why.clone() })
            .collect(),
        objects_removed: report.objects_removed,
        blobs_removed: report.blobs_removed,
        packages_removed: report.packages_removed,
        packs_rewritten: report.packs_rewritten,
        packs_deleted: report.packs_deleted,
        over_budget: report.over_budget,
        downloads_removed: report.downloads_removed,
        seconds: started.elapsed().as_secs_f64(),
    })
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
        assert_eq!(report.roots_kept, vec![commit]);
        assert!(report.roots_dropped.is_empty() && report.roots_broken.is_empty());
        assert_eq!(report.packages_removed, imported.packages.len() as u64);
        assert_eq!(report.downloads_removed, 7);
        assert!(report.bytes_freed >= report.bytes_before - report.bytes_after);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["roots_kept"][0], commit.to_hex());

        let none = gc(&store, &GcOptions { keep: Some(0), max_size: None }, &NoProgress).unwrap();
        assert!(none.roots_kept.len() <= 1, "{:?}", none.roots_kept);
    }
}
