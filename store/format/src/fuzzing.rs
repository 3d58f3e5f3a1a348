//! The properties the fuzz targets check, callable from stable `cargo test` so that every
//! input a fuzzer ever found is replayed on each test run
//! (`store/format/tests/fuzz_regressions.rs`).

use crate::jigdo::Jigdo;
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

/// The jigdo tables decoder (compressed and raw) and its validation: no panic, no allocation
/// from unchecked counts, and decoded tables re-encode to the same bytes.
pub fn jigdo_tables(data: &[u8]) {
    if let Ok(jigdo) = Jigdo::decode_raw(data) {
        assert_eq!(jigdo.encode_raw(), data, "jigdo tables round trip");
        let _ = jigdo.validate();
    }
    let _ = Jigdo::decode(data);
}
