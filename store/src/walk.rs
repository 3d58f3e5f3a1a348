//! Everything a commit reaches, read from the store. Every metadata object is checked
//! against its checksum as it is read, and a missing object is an error naming it and the
//! object that referenced it.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::index::IndexReader;
use crate::store::Store;
use rejig_format::id::{ObjectId, ObjectKey, ObjectType};
use rejig_format::object::{Commit, DirTree};
use rejig_format::record::ObjectRecord;

/// A commit and every object it reaches.
pub struct CommitClosure {
    /// The commit's checksum.
    pub id: ObjectId,
    /// The decoded commit.
    pub commit: Commit,
    /// The commit's exact bytes.
    pub commit_bytes: Vec<u8>,
    /// Detached metadata, if the store has it.
    pub commitmeta: Option<Vec<u8>>,
    /// Dirtree and dirmeta objects with their verified bytes, each once.
    pub metadata: Vec<(ObjectKey, Vec<u8>)>,
    /// Content objects with their records, each once.
    pub content: Vec<(ObjectId, ObjectRecord)>,
}

/// Reads the closure of `commit` from the store.
pub fn walk_commit(store: &Store, reader: &IndexReader<'_>, commit: ObjectId) -> Result<CommitClosure> {
    let commit_key = ObjectKey::new(commit, ObjectType::Commit);
    let commit_bytes = store.read_metadata(reader, commit_key)?;
    let decoded = Commit::decode(&commit_bytes)?;
    let meta_key = ObjectKey::new(commit, ObjectType::CommitMeta);
    let commitmeta =
        if reader.contains_object(&meta_key)? { Some(store.read_metadata(reader, meta_key)?) } else { None };

    let mut seen: HashSet<ObjectKey> = HashSet::new();
    let mut metadata = Vec::new();
    let mut content = Vec::new();
    let mut pending = vec![(decoded.root_tree, decoded.root_meta, commit_key)];
    while let Some((tree, meta, parent)) = pending.pop() {
        let meta_key = ObjectKey::new(meta, ObjectType::DirMeta);
        if seen.insert(meta_key) {
            let bytes = store.read_metadata(reader, meta_key).map_err(|e| referenced(e, parent))?;
            rejig_format::object::DirMeta::decode(&bytes)?;
            metadata.push((meta_key, bytes));
        }
        let tree_key = ObjectKey::new(tree, ObjectType::DirTree);
        if !seen.insert(tree_key) {
            continue;
        }
        let bytes = store.read_metadata(reader, tree_key).map_err(|e| referenced(e, parent))?;
        let listing = DirTree::decode(&bytes)?;
        for file in listing.files() {
            let key = ObjectKey::new(file.content, ObjectType::File);
            if seen.insert(key) {
                let record =
                    reader.object(&key)?.ok_or(Error::MissingObject(key)).map_err(|e| referenced(e, tree_key))?;
                if record.header().is_none() {
                    return Err(Error::invalid("object record", format!("{key} is not a content object")));
                }
                content.push((file.content, record));
            }
        }
        for dir in listing.dirs() {
            pending.push((dir.tree, dir.meta, tree_key));
        }
        metadata.push((tree_key, bytes));
    }
    Ok(CommitClosure { id: commit, commit: decoded, commit_bytes, commitmeta, metadata, content })
}

fn referenced(error: Error, by: ObjectKey) -> Error {
    match error {
        Error::MissingObject(key) => Error::invalid("commit", format!("the store lacks {key}, referenced by {by}")),
        other => other,
    }
}
