//! The properties the RPM fuzz targets check, callable from stable `cargo test` so that kept
//! inputs are replayed on every run (`importer/tests/fuzz_regressions.rs`). Each must return
//! without panicking and without allocating from unchecked counts, whatever the bytes.

use crate::rpm::files::FileTable;
use crate::rpm::header::{Header, HeaderKind};
use crate::rpm::package::Package;

/// Both header kinds on arbitrary bytes, then every accessor on every entry.
pub fn rpm_header(data: &[u8]) {
    for kind in [HeaderKind::Signature, HeaderKind::Main] {
        if let Ok((header, used)) = Header::parse(data, kind) {
            assert!(used <= data.len());
            for entry in header.entries() {
                let _ = header.string(entry.tag);
                let _ = header.string_array(entry.tag);
                let _ = header.integers(entry.tag);
                let _ = header.bin(entry.tag);
            }
        }
    }
}

/// A main header on arbitrary bytes, then the file table built from it. Anything accepted
/// must have per-file data for every file and hardlink sets that point at regular files.
pub fn rpm_file_table(data: &[u8]) {
    if let Ok((header, _)) = Header::parse(data, HeaderKind::Main) {
        if let Ok(table) = FileTable::from_header(&header) {
            for set in &table.hardlink_sets {
                assert!(set.len() > 1);
                for &member in set {
                    assert!(member < table.files.len());
                }
            }
        }
    }
}

/// The payload walker over an arbitrary *decompressed* archive, under the headers of a real
/// package (`package` holds at least its lead and headers), so the fuzzer is not stuck
/// behind a compressor.
pub fn rpm_payload(package: &[u8], archive: &[u8]) {
    let mut reader = package;
    let Ok(parsed) = Package::read_headers(&mut reader) else { return };
    // The decompressor is chosen by magic; make every input an uncompressed cpio archive.
    let mut payload = b"07070".to_vec();
    payload.extend_from_slice(archive.strip_prefix(b"07070").unwrap_or(archive));
    walk(&parsed, &payload);
}

/// A whole package on arbitrary bytes.
pub fn rpm_package(data: &[u8]) {
    let mut reader = data;
    if let Ok(parsed) = Package::read_headers(&mut reader) {
        walk(&parsed, reader);
    }
}

fn walk(package: &Package, mut payload: &[u8]) {
    let files = &package.files.files;
    let _ = package.walk_payload(&mut payload, |members, content| {
        let mut total = 0u64;
        let mut buf = [0u8; 4096];
        loop {
            let n = content.read(&mut buf).map_err(|e| crate::rpm::error::RpmError::new("fuzz", e.to_string()))?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        let expected = members.first().and_then(|&m| files.get(m)).map(|f| f.size);
        assert!(expected.is_none_or(|size| total <= size), "delivered more than the header's size");
        Ok::<(), crate::rpm::error::RpmError>(())
    });
}
