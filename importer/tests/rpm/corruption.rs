//! Damaged packages are rejected with an error that says what is wrong, and nothing of them
//! reaches the store.

#![allow(clippy::unwrap_used)]

use rejig_test_support::corpus;

/// Writes a damaged copy of a test package and imports it into a fresh store.
fn import_damaged(key: &str, damage: impl Fn(&mut Vec<u8>)) -> String {
    let mut bytes = std::fs::read(corpus::package(key)).unwrap();
    damage(&mut bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.rpm");
    std::fs::write(&path, &bytes).unwrap();
    let store = rejig_store::Store::open(&dir.path().join("store"), &|_| {}).unwrap();
    let error =
        rejig_importer::package::import_package(&store, &path).expect_err("a damaged package was accepted").to_string();
    let stats = store.reader().unwrap().stats().unwrap();
    assert_eq!((stats.packages, stats.blobs, stats.packs), (0, 0, 0), "a failed import left data in the store");
    assert!(error.contains("damaged.rpm"), "the error does not name the file: {error}");
    error
}

/// Offset of the main header (after the lead, the signature header and its padding).
fn main_header_offset(bytes: &[u8]) -> usize {
    let il = u32::from_be_bytes(bytes[104..108].try_into().unwrap()) as usize;
    let dl = u32::from_be_bytes(bytes[108..112].try_into().unwrap()) as usize;
    let end = 96 + 16 + 16 * il + dl;
    end + (8 - (end - 96) % 8) % 8
}

const ZSTD: &str = "generated/ostree-fixture-1.0-1.w19.zstdio.noarch.rpm";

#[test]
fn a_flipped_header_byte_fails_the_header_digest() {
    let error = import_damaged(ZSTD, |b| {
        let at = main_header_offset(b) + 200;
        b[at] ^= 0x01;
    });
    assert!(error.contains("main header") || error.contains("SHA-256"), "{error}");
}

#[test]
fn a_flipped_payload_byte_is_caught() {
    let error = import_damaged(ZSTD, |b| {
        let at = b.len() - 40;
        b[at] ^= 0x40;
    });
    assert!(error.contains("payload"), "{error}");
}

#[test]
fn a_truncated_payload_is_caught() {
    let error = import_damaged(ZSTD, |b| b.truncate(b.len() - 100));
    assert!(error.contains("payload"), "{error}");
}

#[test]
fn a_truncated_header_is_caught() {
    let error = import_damaged(ZSTD, |b| {
        let at = main_header_offset(b) + 100;
        b.truncate(at);
    });
    assert!(error.contains("main header"), "{error}");
}

#[test]
fn not_an_rpm_is_caught() {
    let error = import_damaged(ZSTD, |b| b[0] = b'x');
    assert!(error.contains("not an RPM"), "{error}");
}

#[test]
fn an_uncompressed_payload_with_a_changed_file_fails_its_digest() {
    // No compressor to trip on: the file digest must catch the change.
    let error = import_damaged("generated/ostree-fixture-1.0-1.w0.ufdio.noarch.rpm", |b| {
        let needle = b"hello world";
        let at = b.windows(needle.len()).rposition(|w| w == needle).unwrap();
        b[at] = b'j';
    });
    assert!(error.contains("digest"), "{error}");
}
