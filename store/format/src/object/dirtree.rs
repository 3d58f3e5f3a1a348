//! Directory listings, `(a(say)a(sayay))` (ostree-format.md §1.3). Files (regular and
//! symlinks) and subdirectories are two arrays, each sorted by name bytes; a name appears
//! once across both. ostree looks names up by binary search, so order is part of validity.

use std::fmt;

use crate::error::{Error, Result};
use crate::gvariant::{decode, encode};
use crate::id::ObjectId;

/// A valid directory-entry name: UTF-8, non-empty, not `.` or `..`, no `/` and no NUL.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName(String);

impl FileName {
    /// Validates a name as ostree's `ot_util_filename_validate` does.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
            return Err(Error::invalid("file name", format!("{name:?}")));
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A regular file or symlink in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The entry's name.
    pub name: FileName,
    /// Its content object.
    pub content: ObjectId,
}

/// A subdirectory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name.
    pub name: FileName,
    /// Its dirtree object.
    pub tree: ObjectId,
    /// Its dirmeta object.
    pub meta: ObjectId,
}

/// A directory listing with sorted, unique names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirTree {
    files: Vec<FileEntry>,
    dirs: Vec<DirEntry>,
}

impl DirTree {
    /// Sorts the entries and checks that no name repeats.
    pub fn new(mut files: Vec<FileEntry>, mut dirs: Vec<DirEntry>) -> Result<Self> {
        files.sort_by(|a, b| a.name.cmp(&b.name));
        dirs.sort_by(|a, b| a.name.cmp(&b.name));
        let tree = Self { files, dirs };
        tree.check_names()?;
        Ok(tree)
    }

    fn check_names(&self) -> Result<()> {
        let strictly_sorted = |names: Vec<&FileName>| names.windows(2).all(|w| w.first() < w.get(1));
        if !strictly_sorted(self.files.iter().map(|e| &e.name).collect())
            || !strictly_sorted(self.dirs.iter().map(|e| &e.name).collect())
        {
            return Err(Error::invalid("dirtree", "names are not sorted and unique"));
        }
        for dir in &self.dirs {
            if self.files.binary_search_by(|f| f.name.cmp(&dir.name)).is_ok() {
                return Err(Error::invalid("dirtree", format!("{} is both a file and a directory", dir.name)));
            }
        }
        Ok(())
    }

    /// Regular files and symlinks, sorted by name.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Subdirectories, sorted by name.
    pub fn dirs(&self) -> &[DirEntry] {
        &self.dirs
    }

    /// The serialised object.
    pub fn encode(&self) -> Vec<u8> {
        let files = encode::variable_array(
            self.files.iter().map(|f| {
                encode::TupleWriter::new()
                    .variable(1, &encode::string(f.name.as_str()))
                    .last(1, f.content.as_bytes())
                    .finish()
            }),
            1,
        );
        let dirs = encode::variable_array(
            self.dirs.iter().map(|d| {
                encode::TupleWriter::new()
                    .variable(1, &encode::string(d.name.as_str()))
                    .variable(1, d.tree.as_bytes())
                    .last(1, d.meta.as_bytes())
                    .finish()
            }),
            1,
        );
        encode::TupleWriter::new().variable(1, &files).last(1, &dirs).finish()
    }

    /// Decodes a dirtree; it must be in normal form with sorted, unique, valid names.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut tuple = decode::TupleReader::new(bytes, "dirtree");
        let files_bytes = tuple.variable(1)?;
        let dirs_bytes = tuple.last(1)?;
        tuple.finish()?;
        let mut files = Vec::new();
        for element in decode::variable_array(files_bytes, 1, "dirtree files")? {
            let mut entry = decode::TupleReader::new(element, "dirtree file entry");
            let name = FileName::new(decode::string(entry.variable(1)?, "file name")?)?;
            let content = ObjectId::from_slice(entry.last(1)?)?;
            entry.finish()?;
            files.push(FileEntry { name, content });
        }
        let mut dirs = Vec::new();
        for element in decode::variable_array(dirs_bytes, 1, "dirtree dirs")? {
            let mut entry = decode::TupleReader::new(element, "dirtree dir entry");
            let name = FileName::new(decode::string(entry.variable(1)?, "dir name")?)?;
            let tree = ObjectId::from_slice(entry.variable(1)?)?;
            let meta = ObjectId::from_slice(entry.last(1)?)?;
            entry.finish()?;
            dirs.push(DirEntry { name, tree, meta });
        }
        let tree = Self { files, dirs };
        tree.check_names()?;
        if tree.encode() != bytes {
            return Err(Error::malformed("dirtree", "not in normal form"));
        }
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::metadata_checksum;

    fn id(hex: &str) -> ObjectId {
        hex.parse().unwrap()
    }

    #[test]
    fn empty_dirtree_is_one_zero_byte() {
        let empty = DirTree::default();
        assert_eq!(empty.encode(), vec![0]);
        assert_eq!(
            metadata_checksum(&empty.encode()).to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn golden_private_dirtree() {
        let secret = id("2bcfc00a714ec4c71a522f69acac3c54d0bbff478183cb85fb35214253888c86");
        let tree =
            DirTree::new(vec![FileEntry { name: FileName::new("secret").unwrap(), content: secret }], vec![]).unwrap();
        let bytes = tree.encode();
        assert_eq!(bytes.len(), 42);
        assert_eq!(
            metadata_checksum(&bytes).to_hex(),
            "4d4ad1a17254aa7df27505ff11a2db54f4c1b62e0fe10fcce62a014efab2d03f"
        );
        assert_eq!(DirTree::decode(&bytes).unwrap(), tree);
    }

    #[test]
    fn names_are_validated_and_byte_sorted() {
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(FileName::new(bad).is_err(), "{bad:?}");
        }
        let names = ["é", "a", "_", "Z9", "Z10", "B"];
        let files = names
            .iter()
            .map(|n| FileEntry { name: FileName::new(*n).unwrap(), content: ObjectId::from_bytes([1; 32]) })
            .collect();
        let tree = DirTree::new(files, vec![]).unwrap();
        let sorted: Vec<&str> = tree.files().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(sorted, ["B", "Z10", "Z9", "_", "a", "é"]);
        let clash = DirTree::new(
            vec![FileEntry { name: FileName::new("x").unwrap(), content: ObjectId::from_bytes([1; 32]) }],
            vec![DirEntry {
                name: FileName::new("x").unwrap(),
                tree: ObjectId::from_bytes([2; 32]),
                meta: ObjectId::from_bytes([3; 32]),
            }],
        );
        assert!(clash.is_err());
    }

    #[test]
    fn truncations_never_panic() {
        let tree = DirTree::new(
            vec![FileEntry { name: FileName::new("a").unwrap(), content: ObjectId::from_bytes([1; 32]) }],
            vec![DirEntry {
                name: FileName::new("d").unwrap(),
                tree: ObjectId::from_bytes([2; 32]),
                meta: ObjectId::from_bytes([3; 32]),
            }],
        )
        .unwrap();
        let bytes = tree.encode();
        for len in 0..bytes.len() {
            assert!(DirTree::decode(&bytes[..len]).is_err());
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x80;
            // A flip either fails to decode or decodes to something that re-encodes exactly.
            if let Ok(t) = DirTree::decode(&flipped) {
                assert_eq!(t.encode(), flipped);
            }
        }
    }
}
