//! The pack trailer: what a pack holds, readable without the index.

#![deny(clippy::indexing_slicing)]

use crate::bounded::Cursor;
use crate::digest::HeaderSha256;
use crate::error::{Error, Result};
use crate::id::{BlobId, ObjectKey, PackId};
use crate::pack::{Codec, VERSION};

/// A blob as the trailer lists it (its pack is implied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobEntry {
    /// The blob.
    pub id: BlobId,
    /// Offset of its stored bytes in the pack.
    pub offset: u64,
    /// Stored length.
    pub stored_len: u64,
    /// Raw length.
    pub raw_len: u64,
    /// Storage codec.
    pub codec: Codec,
}

/// Everything a pack brought into the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trailer {
    /// The blobs stored in the pack.
    pub blobs: Vec<BlobEntry>,
    /// Object records (encoded [`crate::record::ObjectRecord`]s).
    pub objects: Vec<(ObjectKey, Vec<u8>)>,
    /// Roots (commits) the import that wrote this pack asked to keep.
    pub roots: Vec<ObjectKey>,
    /// Packages: main-header SHA-256 and the blob holding the manifest.
    pub packages: Vec<(HeaderSha256, BlobId)>,
}

const BLOB_ENTRY_LEN: usize = 32 + 8 + 8 + 8 + 1;
const TAG_BLOBS: u8 = 1;
const TAG_OBJECTS: u8 = 2;
const TAG_ROOTS: u8 = 3;
const TAG_PACKAGES: u8 = 4;

fn count(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes()
}

impl Trailer {
    /// Serialises the trailer body (without its checksum).
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.blobs.len() * BLOB_ENTRY_LEN);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(TAG_BLOBS);
        out.extend_from_slice(&count(self.blobs.len()));
        for blob in &self.blobs {
            out.extend_from_slice(blob.id.as_bytes());
            out.extend_from_slice(&blob.offset.to_le_bytes());
            out.extend_from_slice(&blob.stored_len.to_le_bytes());
            out.extend_from_slice(&blob.raw_len.to_le_bytes());
            out.push(blob.codec as u8);
        }
        out.push(TAG_OBJECTS);
        out.extend_from_slice(&count(self.objects.len()));
        for (key, record) in &self.objects {
            out.extend_from_slice(&key.to_bytes());
            out.extend_from_slice(&count(record.len()));
            out.extend_from_slice(record);
        }
        out.push(TAG_ROOTS);
        out.extend_from_slice(&count(self.roots.len()));
        for key in &self.roots {
            out.extend_from_slice(&key.to_bytes());
        }
        if !self.packages.is_empty() {
            out.push(TAG_PACKAGES);
            out.extend_from_slice(&count(self.packages.len()));
            for (header, manifest) in &self.packages {
                out.extend_from_slice(header.as_bytes());
                out.extend_from_slice(manifest.as_bytes());
            }
        }
        out
    }

    /// The trailer as stored: checksum, then body. Returns the bytes and the pack id.
    pub fn encode(&self) -> (Vec<u8>, PackId) {
        let body = self.encode_body();
        let id = PackId::from_bytes(*blake3::hash(&body).as_bytes());
        let mut out = Vec::with_capacity(32 + body.len());
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&body);
        (out, id)
    }

    /// Decodes a stored trailer, checking its checksum. `data_end` is where blob data must end.
    pub fn decode(bytes: &[u8], data_end: u64) -> Result<(Self, PackId)> {
        let (sum, body) = bytes.split_at_checked(32).ok_or_else(|| Error::malformed("pack trailer", "too short"))?;
        let id = PackId::from_bytes(*blake3::hash(body).as_bytes());
        if id.as_bytes() != sum {
            return Err(Error::malformed("pack trailer", "checksum mismatch"));
        }
        let mut cursor = Cursor::new(body, "pack trailer");
        if cursor.u32()? != VERSION {
            return Err(Error::malformed("pack trailer", "unsupported version"));
        }
        let mut trailer = Trailer::default();
        while !cursor.is_empty() {
            let tag = cursor.u8()?;
            let min_entry = match tag {
                TAG_BLOBS => BLOB_ENTRY_LEN,
                TAG_OBJECTS => 33 + 4,
                TAG_ROOTS => 33,
                TAG_PACKAGES => 64,
                other => return Err(Error::malformed("pack trailer", format!("unknown section {other}"))),
            };
            let n = cursor.count(min_entry)?;
            for _ in 0..n {
                match tag {
                    TAG_BLOBS => {
                        let entry = BlobEntry {
                            id: BlobId::from_bytes(cursor.array()?),
                            offset: cursor.u64()?,
                            stored_len: cursor.u64()?,
                            raw_len: cursor.u64()?,
                            codec: Codec::from_u8(cursor.u8()?)
                                .ok_or_else(|| Error::malformed("pack trailer", "unknown codec"))?,
                        };
                        let end = entry.offset.checked_add(entry.stored_len);
                        if entry.offset < super::MAGIC.len() as u64 || end.is_none_or(|end| end > data_end) {
                            return Err(Error::malformed(
                                "pack trailer",
                                format!("blob {} lies outside the data", entry.id),
                            ));
                        }
                        trailer.blobs.push(entry);
                    }
                    TAG_OBJECTS => {
                        let key = ObjectKey::from_bytes(&cursor.array()?)?;
                        trailer.objects.push((key, cursor.bytes()?.to_vec()));
                    }
                    TAG_ROOTS => trailer.roots.push(ObjectKey::from_bytes(&cursor.array()?)?),
                    _ => trailer
                        .packages
                        .push((HeaderSha256::from_bytes(cursor.array()?), BlobId::from_bytes(cursor.array()?))),
                }
            }
        }
        Ok((trailer, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{ObjectId, ObjectType};

    fn sample() -> Trailer {
        Trailer {
            blobs: vec![BlobEntry { id: BlobId::of(b"x"), offset: 8, stored_len: 1, raw_len: 1, codec: Codec::Raw }],
            objects: vec![(ObjectKey::new(ObjectId::from_bytes([1; 32]), ObjectType::DirTree), vec![3; 33])],
            roots: vec![ObjectKey::new(ObjectId::from_bytes([2; 32]), ObjectType::Commit)],
            packages: vec![(HeaderSha256::from_bytes([9; 32]), BlobId::of(b"x"))],
        }
    }

    #[test]
    fn round_trip() {
        let (bytes, id) = sample().encode();
        assert_eq!(Trailer::decode(&bytes, 9).unwrap(), (sample(), id));
    }

    #[test]
    fn damage_is_detected() {
        let (bytes, _) = sample().encode();
        for len in 0..bytes.len() {
            assert!(Trailer::decode(&bytes[..len], 9).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert!(Trailer::decode(&flipped, 9).is_err());
        // A blob outside the data region.
        assert!(Trailer::decode(&bytes, 8).is_err());
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut body = VERSION.to_le_bytes().to_vec();
        body.push(TAG_BLOBS);
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut bytes = blake3::hash(&body).as_bytes().to_vec();
        bytes.extend_from_slice(&body);
        assert!(Trailer::decode(&bytes, 100).is_err());
    }
}
