//! What rebuilding a jigdo's commit needs. A package is needed only when some content it
//! must supply is in neither the store's objects nor its blobs: a newer jigdo fetches only
//! packages whose content changed, and one that only relabels or re-owns files fetches
//! nothing.
//!
//! Time follows the change: the plan walks the commit from its root and does not enter a
//! directory whose dirtree the store already holds, since the store records a dirtree only
//! with everything it reaches (an import's batch, or [`crate::jigdo::complete_commit`] after
//! every object is verified), gc keeps or drops a commit's closure whole, and a repair that
//! drops damaged content drops the dirtrees above it (`rejig-store`'s gc). An update that
//! changes one file visits the directories on its path, not every object.

use std::collections::{BTreeMap, HashMap, HashSet};

use rejig_format::jigdo::{ContentSource, Jigdo};
use rejig_format::object::{metadata_checksum, Commit, DirTree};
use rejig_format::{BlobId, ObjectId, ObjectKey, ObjectType};
use rejig_store::Store;

use crate::error::Result;
use crate::package::PackageDemand;

/// How each content object of a jigdo will be obtained.
#[derive(Clone, Debug, Default)]
pub struct JigdoPlan {
    /// Content objects of the commit.
    pub objects_total: u64,
    /// Already in the store.
    pub objects_present: u64,
    /// Entries (indexes into the jigdo's content) rebuilt from content already stored or
    /// carried by the jigdo: new content, and package content the store holds.
    pub from_blobs: Vec<usize>,
    /// Symlink entries, which the tables describe completely.
    pub symlinks: Vec<usize>,
    /// Needed packages (indexes into the jigdo's package table) and the entries each must
    /// supply, in package-table order.
    pub needed: BTreeMap<u32, Vec<usize>>,
    /// Entries the walk looked at (the others are below a dirtree the store holds).
    pub visited: Vec<usize>,
    /// Directories not entered because the store holds their dirtree.
    pub subtrees_reused: u64,
}

impl JigdoPlan {
    /// Objects the rebuild will write into the store.
    pub fn objects_missing(&self) -> u64 {
        self.objects_total - self.objects_present
    }

    /// Counts `coming` (content delta parts will bring) as stored: entries that needed a
    /// package for it are rebuilt from blobs instead, and a package left with nothing to
    /// supply is not needed.
    pub fn assume_blobs(&mut self, jigdo: &Jigdo, coming: &HashSet<BlobId>) {
        for entries in self.needed.values_mut() {
            entries.retain(|&index| match jigdo.content.get(index) {
                Some(entry) if coming.contains(&entry.content) => {
                    self.from_blobs.push(index);
                    false
                }
                _ => true,
            });
        }
        self.needed.retain(|_, entries| !entries.is_empty());
    }
}

/// Plans the rebuild of `jigdo` (validated) against what `store` holds.
pub fn plan_jigdo(store: &Store, jigdo: &Jigdo) -> Result<JigdoPlan> {
    let reader = store.reader()?;
    let mut plan = JigdoPlan { objects_total: jigdo.content.len() as u64, ..Default::default() };
    let entries: HashMap<ObjectId, usize> = jigdo.content.iter().enumerate().map(|(i, e)| (e.object, i)).collect();
    let trees: HashMap<ObjectId, &[u8]> = jigdo.dirtrees.iter().map(|b| (metadata_checksum(b), b.as_slice())).collect();
    let root = Commit::decode(&jigdo.commit_bytes)?.root_tree;
    let (mut pending, mut seen, mut looked) = (vec![root], HashSet::new(), HashSet::new());
    let mut missing = 0u64;
    while let Some(tree) = pending.pop() {
        if !seen.insert(tree) {
            continue;
        }
        if reader.contains_object(&ObjectKey::new(tree, ObjectType::DirTree))? {
            plan.subtrees_reused += 1;
            continue;
        }
        // Validation found every dirtree the walk reaches; a missing one reuses nothing.
        let Some(bytes) = trees.get(&tree) else { continue };
        let listing = DirTree::decode(bytes)?;
        for file in listing.files() {
            let Some(&index) = entries.get(&file.content) else { continue };
            if !looked.insert(index) {
                continue;
            }
            plan.visited.push(index);
            let Some(entry) = jigdo.content.get(index) else { continue };
            if reader.contains_object(&ObjectKey::new(entry.object, ObjectType::File))? {
                continue;
            }
            missing += 1;
            match &entry.source {
                ContentSource::Symlink(_) => plan.symlinks.push(index),
                ContentSource::New => plan.from_blobs.push(index),
                ContentSource::Package { .. } if reader.has_blob(&entry.content)? => plan.from_blobs.push(index),
                ContentSource::Package { package, .. } => plan.needed.entry(*package).or_default().push(index),
            }
        }
        pending.extend(listing.dirs().iter().map(|d| d.tree));
    }
    plan.objects_present = plan.objects_total - missing;
    Ok(plan)
}

/// What package `package` must satisfy and produce for `plan`: the jigdo's binding, and the
/// objects of its entries.
pub fn package_demand(jigdo: &Jigdo, plan: &JigdoPlan, package: u32) -> Result<PackageDemand> {
    let bound = jigdo.packages.get(package as usize);
    let mut demand = PackageDemand { binding: bound.cloned(), ..Default::default() };
    for &index in plan.needed.get(&package).map(Vec::as_slice).unwrap_or_default() {
        let Some(entry) = jigdo.content.get(index) else { continue };
        if let ContentSource::Package { file, .. } = entry.source {
            let header = jigdo.header_of(entry)?;
            demand.objects.entry(file).or_default().push((header, entry.object));
        }
    }
    Ok(demand)
}
