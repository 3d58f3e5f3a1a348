//! The properties the fuzz targets check, callable from stable `cargo test` so that every
//! input a fuzzer ever found is replayed on each test run
//! (`store/format/tests/fuzz_regressions.rs`).

use crate::jigdo::{assemble, decode_delta_records, encode_delta_records, JigdoHead, TABLES_VERSION};
use crate::object::{Commit, DirMeta, DirTree, FileHeader, VariantDict, XattrSet};
use crate::pack::trailer::Trailer;
use crate::record::ObjectRecord;

/// Every OSTree object decoder on the same bytes: none may panic, and whatever decodes must
/// re-encode to exactly the input (normal form).
pub fn ostree_objects(data: &[u8]) {
    if let Ok(v) = DirTree::decode(data) {
        assert_eq!(v.encode(), data, "dirtree round trip");
    }
    if let Ok(v) = DirMeta::decode(data) {
        assert_eq!(v.encode(), data, "dirmeta round trip");
    }
    if let Ok(v) = Commit::decode(data) {
        assert_eq!(v.encode(), data, "commit round trip");
    }
    if let Ok(v) = FileHeader::decode(data) {
        assert_eq!(v.encode(), data, "file header round trip");
    }
    if let Ok((v, size)) = FileHeader::decode_archive(data) {
        assert_eq!(v.encode_archive(size), data, "archive header round trip");
    }
    if let Ok(v) = VariantDict::decode(data) {
        assert_eq!(v.encode(), data, "a{{sv}} round trip");
    }
    if let Ok(v) = XattrSet::decode(data) {
        assert_eq!(v.encode(), data, "xattrs round trip");
    }
    if let Ok(v) = ObjectRecord::decode(data) {
        assert_eq!(v.encode(), data, "record round trip");
    }
}

/// The pack trailer decoder: no panic, no allocation from unchecked counts, and a decoded
/// trailer re-encodes to the same bytes.
pub fn pack_trailer(data: &[u8]) {
    if let Ok((trailer, _)) = Trailer::decode(data, u64::MAX) {
        assert_eq!(trailer.encode().0, data, "trailer round trip");
    }
}

/// The jigdo head decoder (compressed and raw) and its check: no panic, no allocation from
/// unchecked counts; a decoded head of the current version re-encodes to the same bytes, and
/// one of an older version to a head that decodes to the same.
pub fn jigdo_tables(data: &[u8]) {
    if let Ok(head) = JigdoHead::decode_raw(data) {
        let encoded = head.encode_raw();
        if data.get(8..12) == Some(TABLES_VERSION.to_le_bytes().as_slice()) {
            assert_eq!(encoded, data, "jigdo head round trip");
        } else {
            assert_eq!(JigdoHead::decode_raw(&encoded).ok(), Some(head.clone()), "older jigdo head upgrade");
        }
        let _ = head.check();
    }
    let _ = JigdoHead::decode(data);
}

/// The delta records decoder: no panic, no allocation from unchecked counts; whatever decodes
/// names each content by its digest and re-encodes to the same bytes.
pub fn jigdo_delta_records(data: &[u8]) {
    if let Ok(blobs) = decode_delta_records(data) {
        assert!(blobs.iter().all(|(id, bytes)| *id == crate::BlobId::of(bytes)), "delta content named by its digest");
        if data.len() as u64 <= crate::jigdo::parts::MAX_RECORDS_PART {
            let pieces = encode_delta_records(blobs.iter().map(|(_, bytes)| bytes.as_slice()));
            assert_eq!(pieces.concat(), data, "delta records round trip");
        }
    }
}

/// The jigdo parts decoder: the first two bytes (LE) give the length of a raw head, the rest
/// is the concatenated records. No panic, no allocation from unchecked counts; whatever
/// assembles is a valid description.
pub fn jigdo_parts(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let Some((head, records)) = rest.split_at_checked(usize::from(u16::from_le_bytes(*len))) else { return };
    let Ok(head) = JigdoHead::decode_raw(head) else { return };
    if let Ok(assembled) = assemble(&head, records) {
        assert!(assembled.jigdo.validate().is_ok(), "an assembled jigdo validates");
    }
}
