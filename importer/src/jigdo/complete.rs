//! The last step of rebuilding a jigdo's commit in the store: objects made from content the
//! store already holds (new content, and package content an earlier version brought) are
//! hashed with the jigdo's metadata and checked, symlinks and metadata objects are recorded,
//! and only when every content object of the commit is present and verified is the commit
//! itself recorded, as a root, in the same transaction.

use std::collections::HashSet;
use std::io::Read;

use rayon::prelude::*;
use rejig_format::jigdo::Jigdo;
use rejig_format::object::metadata_checksum;
use rejig_format::{ObjectId, ObjectKey, ObjectRecord, ObjectType};
use rejig_store::{Progress, Store};

use crate::error::{Error, Result};
use crate::jigdo::plan::JigdoPlan;

/// What the completion recorded.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    /// Objects hashed from content already in the store.
    pub objects_from_blobs: u64,
    /// Symlink objects recorded from the tables.
    pub symlinks: u64,
}

fn incomplete(object: ObjectId, detail: impl std::fmt::Display) -> Error {
    Error::Format(rejig_format::Error::invalid("jigdo", format!("object {object}: {detail}")))
}

/// Records the objects `plan` makes from stored blobs and the tables, and the commit once it
/// is complete, with the list of the jigdo's `parts` (kept with the commit, see
/// [`ObjectType::JigdoParts`]). Packages the plan needed must have been imported with their
/// demands first.
pub fn complete_commit(
    store: &Store,
    jigdo: &Jigdo,
    plan: &JigdoPlan,
    parts: &[rejig_format::BlobId],
    progress: &dyn Progress,
) -> Result<Completion> {
    let reader = store.reader()?;
    let mut sources = Vec::with_capacity(plan.from_blobs.len());
    // The plan's indexes come from this jigdo, so they are in range.
    for entry in plan.from_blobs.iter().filter_map(|&index| jigdo.content.get(index)) {
        let location = store
            .blob_source(&reader, &entry.content)?
            .ok_or_else(|| incomplete(entry.object, format!("its content {} is not in the store", entry.content)))?;
        sources.push((entry, location));
    }
    progress.start("hashing objects from stored content", sources.len() as u64);
    let batch = store.batch()?;
    sources.par_iter().try_for_each(|(entry, location)| {
        let header = jigdo.header_of(entry)?;
        let mut hasher = header.hasher();
        let mut blob = store.open_source(entry.content, *location)?;
        std::io::copy(&mut blob as &mut dyn Read, &mut hasher)
            .map_err(|e| incomplete(entry.object, format!("reading content {}: {e}", entry.content)))?;
        let actual = hasher.finish();
        if actual != entry.object {
            return Err(incomplete(
                entry.object,
                format!("content {} with the jigdo's metadata hashes to {actual}", entry.content),
            ));
        }
        batch.add_object(ObjectKey::new(actual, ObjectType::File), &ObjectRecord::content(header, entry.content))?;
        progress.advance(1);
        Ok::<(), Error>(())
    })?;
    progress.finish();
    for &index in &plan.symlinks {
        let Some(entry) = jigdo.content.get(index) else { continue };
        let header = jigdo.header_of(entry)?;
        // Jigdo::validate checked the checksum; the record is what a store import writes.
        batch.add_object(ObjectKey::new(entry.object, ObjectType::File), &ObjectRecord::Symlink { header })?;
    }
    let produced: HashSet<usize> = plan.from_blobs.iter().chain(&plan.symlinks).copied().collect();
    // Entries below a dirtree the store holds were not visited: they are in the store.
    for (index, entry) in plan.visited.iter().filter_map(|&i| Some((i, jigdo.content.get(i)?))) {
        if !produced.contains(&index) && !reader.contains_object(&ObjectKey::new(entry.object, ObjectType::File))? {
            return Err(incomplete(entry.object, "no package or stored content produced it; nothing was written"));
        }
    }
    for bytes in &jigdo.dirtrees {
        batch.add_metadata(ObjectKey::new(metadata_checksum(bytes), ObjectType::DirTree), bytes)?;
    }
    for bytes in &jigdo.dirmetas {
        batch.add_metadata(ObjectKey::new(metadata_checksum(bytes), ObjectType::DirMeta), bytes)?;
    }
    if let Some(meta) = &jigdo.commitmeta {
        batch.add_metadata(ObjectKey::new(jigdo.commit, ObjectType::CommitMeta), meta)?;
    }
    let parts_key = ObjectKey::new(jigdo.commit, ObjectType::JigdoParts);
    let list = rejig_format::jigdo::parts::encode_part_list(parts);
    let list_blob = batch.add_blob(&list)?;
    batch.add_object(parts_key, &ObjectRecord::Metadata { blob: list_blob })?;
    let commit_key = ObjectKey::new(jigdo.commit, ObjectType::Commit);
    batch.add_metadata(commit_key, &jigdo.commit_bytes)?;
    batch.add_root(commit_key)?;
    batch.commit()?;
    Ok(Completion { objects_from_blobs: plan.from_blobs.len() as u64, symlinks: plan.symlinks.len() as u64 })
}
