//! What rebuilding a jigdo's commit needs. A package is needed only when some content it
//! must supply is in neither the store's objects nor its blobs: a newer jigdo fetches only
//! packages whose content changed, and one that only relabels or re-owns files fetches
//! nothing.

use std::collections::BTreeMap;

use rejig_format::jigdo::{ContentSource, Jigdo};
use rejig_format::{ObjectKey, ObjectType};
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
}

impl JigdoPlan {
    /// Objects the rebuild will write into the store.
    pub fn objects_missing(&self) -> u64 {
        self.objects_total - self.objects_present
    }
}

/// Plans the rebuild of `jigdo` against what `store` holds.
pub fn plan_jigdo(store: &Store, jigdo: &Jigdo) -> Result<JigdoPlan> {
    let reader = store.reader()?;
    let mut plan = JigdoPlan { objects_total: jigdo.content.len() as u64, ..Default::default() };
    for (index, entry) in jigdo.content.iter().enumerate() {
        if reader.contains_object(&ObjectKey::new(entry.object, ObjectType::File))? {
            plan.objects_present += 1;
            continue;
        }
        match &entry.source {
            ContentSource::Symlink(_) => plan.symlinks.push(index),
            ContentSource::New => plan.from_blobs.push(index),
            ContentSource::Package { .. } if reader.blob(&entry.content)?.is_some() => plan.from_blobs.push(index),
            ContentSource::Package { package, .. } => plan.needed.entry(*package).or_default().push(index),
        }
    }
    Ok(plan)
}

/// What package `package` must satisfy and produce for `plan`: the jigdo's binding, and the
/// objects of its entries.
pub fn package_demand(jigdo: &Jigdo, plan: &JigdoPlan, package: u32) -> Result<PackageDemand> {
    let bound = jigdo.packages.get(package as usize);
    let mut demand = PackageDemand { binding: bound.cloned(), objects: Default::default() };
    for &index in plan.needed.get(&package).map(Vec::as_slice).unwrap_or_default() {
        let Some(entry) = jigdo.content.get(index) else { continue };
        if let ContentSource::Package { file, .. } = entry.source {
            let header = jigdo.header_of(entry)?;
            demand.objects.entry(file).or_default().push((header, entry.object));
        }
    }
    Ok(demand)
}
