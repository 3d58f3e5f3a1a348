//! Archive-mode content objects (`.filez`, ostree-format.md §3.2):
//! `BE32(len Z) ‖ 0000 ‖ Z ‖ rawdeflate(content)` with `Z = (tuuuusa(ayay))`. Symlinks have
//! nothing after the header; an empty file still gets a deflate stream.

use std::io::{Read, Write};

use crate::ostree::repo::copy_hashed;

use flate2::write::DeflateEncoder;
use flate2::Compression;
use rejig_format::object::header::length_prefix;
use rejig_format::object::{ContentHasher, FileHeader};

/// ostree's default `[archive] zlib-level`.
pub const ZLIB_LEVEL: u32 = 6;

/// Writes a `.filez` object to `out`, streaming `content` (None for a symlink) through
/// deflate and through `hasher`. Returns the raw bytes written.
pub fn write_filez(
    out: &mut dyn Write,
    header: &FileHeader,
    size: u64,
    content: Option<&mut &mut dyn Read>,
    hasher: &mut ContentHasher,
) -> std::io::Result<u64> {
    let archive_header = header.encode_archive(size);
    out.write_all(&length_prefix(archive_header.len()))?;
    out.write_all(&archive_header)?;
    if content.is_none() {
        return Ok(0);
    }
    let mut encoder = DeflateEncoder::new(out, Compression::new(ZLIB_LEVEL));
    let total = copy_hashed(content, &mut encoder, hasher)?;
    encoder.finish()?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rejig_format::object::{FileMeta, XattrSet};

    #[test]
    fn empty_file_gets_a_deflate_stream_and_symlink_none() {
        let meta = FileMeta::new(0, 0, 0o644, XattrSet::new()).unwrap();
        let header = FileHeader::regular(meta.clone());
        let mut out = Vec::new();
        let mut hasher = header.hasher();
        write_filez(&mut out, &header, 0, Some(&mut (&mut &b""[..] as &mut dyn Read)), &mut hasher).unwrap();
        // ostree-format.md §4 empty.filez.
        assert_eq!(
            hex::encode(&out),
            "0000001a00000000000000000000000000000000000000000000".to_owned() + "81a4000000000019" + "0300"
        );
        assert_eq!(hasher.finish().to_hex(), "cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e");
        let link = FileHeader::symlink("hello.txt", FileMeta::new(0, 0, 0o777, XattrSet::new()).unwrap()).unwrap();
        let mut out = Vec::new();
        write_filez(&mut out, &link, 0, None, &mut link.hasher()).unwrap();
        assert_eq!(out.len(), 8 + 0x23);
    }
}
