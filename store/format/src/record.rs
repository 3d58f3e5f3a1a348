//! What the index says about an object. A content object is a header plus, for a regular
//! file, the blob holding its bytes; a metadata object is a blob of its exact bytes.
//!
//! Encoding (FORMAT.md "object records"): a tag byte, then
//! - `1` regular file: blob id (32 bytes) ‖ `(uuuusa(ayay))` header;
//! - `2` symlink: `(uuuusa(ayay))` header;
//! - `3` metadata: blob id (32 bytes).

#![deny(clippy::indexing_slicing)]

use crate::error::{Error, Result};
use crate::id::BlobId;
use crate::object::{ContentKind, FileHeader};

/// The index record of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectRecord {
    /// A regular file: its header and content blob.
    Regular {
        /// Ownership, mode and xattrs.
        header: FileHeader,
        /// The file's bytes.
        blob: BlobId,
    },
    /// A symlink, fully described by its header.
    Symlink {
        /// Target, ownership, mode and xattrs.
        header: FileHeader,
    },
    /// A dirtree, dirmeta, commit or commitmeta stored byte-for-byte.
    Metadata {
        /// The object's exact bytes.
        blob: BlobId,
    },
}

impl ObjectRecord {
    /// The record for a content object with this header; `blob` is ignored for symlinks.
    pub fn content(header: FileHeader, blob: BlobId) -> Self {
        match header.kind() {
            ContentKind::Regular => ObjectRecord::Regular { header, blob },
            ContentKind::Symlink(_) => ObjectRecord::Symlink { header },
        }
    }

    /// The content header, for content objects.
    pub fn header(&self) -> Option<&FileHeader> {
        match self {
            ObjectRecord::Regular { header, .. } | ObjectRecord::Symlink { header } => Some(header),
            ObjectRecord::Metadata { .. } => None,
        }
    }

    /// The blob holding this object's bytes, if it has one.
    pub fn blob(&self) -> Option<BlobId> {
        match self {
            ObjectRecord::Regular { blob, .. } | ObjectRecord::Metadata { blob } => Some(*blob),
            ObjectRecord::Symlink { .. } => None,
        }
    }

    /// The stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            ObjectRecord::Regular { header, blob } => {
                out.push(1);
                out.extend_from_slice(blob.as_bytes());
                out.extend_from_slice(&header.encode());
            }
            ObjectRecord::Symlink { header } => {
                out.push(2);
                out.extend_from_slice(&header.encode());
            }
            ObjectRecord::Metadata { blob } => {
                out.push(3);
                out.extend_from_slice(blob.as_bytes());
            }
        }
        out
    }

    /// Decodes [`ObjectRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (tag, rest) = bytes.split_first().ok_or_else(|| Error::malformed("object record", "empty"))?;
        let split_blob = |rest: &[u8]| -> Result<(BlobId, Vec<u8>)> {
            let (blob, tail) =
                rest.split_at_checked(32).ok_or_else(|| Error::malformed("object record", "short blob id"))?;
            Ok((BlobId::from_slice(blob)?, tail.to_vec()))
        };
        match tag {
            1 => {
                let (blob, header) = split_blob(rest)?;
                let header = FileHeader::decode(&header)?;
                if header.symlink_target().is_some() {
                    return Err(Error::malformed("object record", "regular-file record with a symlink header"));
                }
                Ok(ObjectRecord::Regular { header, blob })
            }
            2 => {
                let header = FileHeader::decode(rest)?;
                if header.symlink_target().is_none() {
                    return Err(Error::malformed("object record", "symlink record with a regular-file header"));
                }
                Ok(ObjectRecord::Symlink { header })
            }
            3 => {
                let (blob, tail) = split_blob(rest)?;
                if !tail.is_empty() {
                    return Err(Error::malformed("object record", "trailing bytes"));
                }
                Ok(ObjectRecord::Metadata { blob })
            }
            other => Err(Error::malformed("object record", format!("unknown tag {other}"))),
        }
    }
}
