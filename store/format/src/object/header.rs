//! Content-object headers (ostree-format.md §1.1 and §3.2).
//!
//! The checksum of a content object is
//! `SHA256(BE32(len H) ‖ 0000 ‖ H ‖ payload)` where `H` is `(uuuusa(ayay))` =
//! (uid, gid, mode, rdev = 0, symlink target, xattrs) with uid, gid and mode stored
//! big-endian. Archive repositories store `(tuuuusa(ayay))` instead, with the uncompressed
//! size first (0 for symlinks).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::gvariant::{decode, encode};
use crate::id::ObjectId;
use crate::object::meta::{FileMeta, S_IFLNK, S_IFREG};
use crate::object::xattr::XattrSet;

/// What a content object is: a regular file (content in a blob) or a symlink (target in
/// the header, no payload).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentKind {
    /// A regular file.
    Regular,
    /// A symbolic link with a non-empty target that contains no NUL.
    Symlink(String),
}

/// The header of a content object: its kind and metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileHeader {
    kind: ContentKind,
    meta: FileMeta,
}

impl FileHeader {
    /// A regular file's header.
    pub fn regular(meta: FileMeta) -> Self {
        Self { kind: ContentKind::Regular, meta }
    }

    /// A symlink's header. The target must be non-empty and free of NUL bytes.
    pub fn symlink(target: impl Into<String>, meta: FileMeta) -> Result<Self> {
        let target = target.into();
        if target.is_empty() || target.contains('\0') {
            return Err(Error::invalid("symlink target", format!("{target:?} is empty or contains NUL")));
        }
        Ok(Self { kind: ContentKind::Symlink(target), meta })
    }

    /// Regular file or symlink.
    pub fn kind(&self) -> &ContentKind {
        &self.kind
    }

    /// The symlink target, if this is a symlink.
    pub fn symlink_target(&self) -> Option<&str> {
        match &self.kind {
            ContentKind::Symlink(target) => Some(target),
            ContentKind::Regular => None,
        }
    }

    /// Owner, group, permissions and xattrs.
    pub fn meta(&self) -> &FileMeta {
        &self.meta
    }

    /// This header with other metadata.
    pub fn with_meta(&self, meta: FileMeta) -> Self {
        Self { kind: self.kind.clone(), meta }
    }

    /// This header as `ostree commit` writes it into a bare-user-only repository.
    pub fn canonicalized_for_bare_user_only(&self) -> Self {
        let mask = match self.kind {
            ContentKind::Regular => 0o755,
            ContentKind::Symlink(_) => 0o7777,
        };
        self.with_meta(self.meta.canonicalized_for_bare_user_only(mask))
    }

    /// The full `st_mode`, type bits included.
    pub fn mode(&self) -> u32 {
        let kind = match self.kind {
            ContentKind::Regular => S_IFREG,
            ContentKind::Symlink(_) => S_IFLNK,
        };
        kind | self.meta.permissions()
    }

    fn target_str(&self) -> &str {
        self.symlink_target().unwrap_or("")
    }

    /// The `(uuuusa(ayay))` encoding that the checksum covers.
    pub fn encode(&self) -> Vec<u8> {
        let mut fixed = [0u8; 16];
        fixed[0..4].copy_from_slice(&self.meta.uid().to_be_bytes());
        fixed[4..8].copy_from_slice(&self.meta.gid().to_be_bytes());
        fixed[8..12].copy_from_slice(&self.mode().to_be_bytes());
        encode::TupleWriter::new()
            .fixed(4, &fixed)
            .variable(1, &encode::string(self.target_str()))
            .last(1, &self.meta.xattrs().encode())
            .finish()
    }

    /// The archive-mode `(tuuuusa(ayay))` encoding, with the uncompressed size first.
    pub fn encode_archive(&self, size: u64) -> Vec<u8> {
        let mut fixed = [0u8; 24];
        fixed[0..8].copy_from_slice(&size.to_be_bytes());
        fixed[8..12].copy_from_slice(&self.meta.uid().to_be_bytes());
        fixed[12..16].copy_from_slice(&self.meta.gid().to_be_bytes());
        fixed[16..20].copy_from_slice(&self.mode().to_be_bytes());
        encode::TupleWriter::new()
            .fixed(8, &fixed)
            .variable(1, &encode::string(self.target_str()))
            .last(1, &self.meta.xattrs().encode())
            .finish()
    }

    fn from_parts(uid: u32, gid: u32, mode: u32, rdev: u32, target: &str, xattrs: XattrSet) -> Result<Self> {
        if rdev != 0 {
            return Err(Error::malformed("file header", format!("rdev is {rdev}, not 0")));
        }
        let (kind, meta) = FileMeta::from_mode(uid, gid, mode, xattrs)?;
        match kind {
            S_IFREG if target.is_empty() => Ok(Self::regular(meta)),
            S_IFREG => Err(Error::malformed("file header", "regular file with a symlink target")),
            S_IFLNK => Self::symlink(target, meta),
            other => {
                Err(Error::invalid("file header", format!("mode type {other:#o} is not a regular file or symlink")))
            }
        }
    }

    /// Decodes `(uuuusa(ayay))`. The input must be in normal form.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut tuple = decode::TupleReader::new(bytes, "file header");
        let (uid, gid, mode, rdev) = (tuple.u32_be()?, tuple.u32_be()?, tuple.u32_be()?, tuple.u32_be()?);
        let target = decode::string(tuple.variable(1)?, "symlink target")?;
        let xattrs = XattrSet::decode(tuple.last(1)?)?;
        tuple.finish()?;
        let header = Self::from_parts(uid, gid, mode, rdev, target, xattrs)?;
        if header.encode() != bytes {
            return Err(Error::malformed("file header", "not in normal form"));
        }
        Ok(header)
    }

    /// Decodes `(tuuuusa(ayay))`, returning the header and the declared uncompressed size.
    pub fn decode_archive(bytes: &[u8]) -> Result<(Self, u64)> {
        let mut tuple = decode::TupleReader::new(bytes, "archive file header");
        let size = tuple.u64_be()?;
        let (uid, gid, mode, rdev) = (tuple.u32_be()?, tuple.u32_be()?, tuple.u32_be()?, tuple.u32_be()?);
        let target = decode::string(tuple.variable(1)?, "symlink target")?;
        let xattrs = XattrSet::decode(tuple.last(1)?)?;
        tuple.finish()?;
        let header = Self::from_parts(uid, gid, mode, rdev, target, xattrs)?;
        if header.symlink_target().is_some() && size != 0 {
            return Err(Error::malformed("archive file header", "symlink with a non-zero size"));
        }
        if header.encode_archive(size) != bytes {
            return Err(Error::malformed("archive file header", "not in normal form"));
        }
        Ok((header, size))
    }

    /// A hasher primed with the length-prefixed header; feed it the payload (nothing for a
    /// symlink) and call [`ContentHasher::finish`].
    pub fn hasher(&self) -> ContentHasher {
        let header = self.encode();
        let mut sha = Sha256::new();
        sha.update(length_prefix(header.len()));
        sha.update(&header);
        ContentHasher(sha)
    }

    /// The checksum of this header with `payload` (which must be empty for a symlink).
    pub fn checksum(&self, payload: &[u8]) -> ObjectId {
        let mut hasher = self.hasher();
        hasher.update(payload);
        hasher.finish()
    }
}

/// The 8-byte prefix of a framed header: big-endian length, then 4 zero bytes.
pub fn length_prefix(len: usize) -> [u8; 8] {
    let mut prefix = [0u8; 8];
    // Headers are built from bounded inputs; a header over 4 GiB cannot be produced.
    prefix[..4].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    prefix
}

/// Splits a framed header (`BE32(len) ‖ 0000 ‖ header ‖ rest`) into the header and the rest.
pub fn split_framed<'a>(bytes: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8])> {
    let (prefix, rest) =
        bytes.split_at_checked(8).ok_or_else(|| Error::malformed(what, "shorter than its 8-byte prefix"))?;
    let (len, pad) = prefix.split_at(4);
    let len = u32::from_be_bytes(len.try_into().map_err(|_| Error::malformed(what, "short length"))?);
    if pad != [0, 0, 0, 0] {
        return Err(Error::malformed(what, "non-zero padding after the length"));
    }
    let len = usize::try_from(len).map_err(|_| Error::malformed(what, "length overflow"))?;
    rest.split_at_checked(len)
        .ok_or_else(|| Error::malformed(what, format!("declares a {len}-byte header but is shorter")))
}

/// Streams a content object's payload into its checksum.
pub struct ContentHasher(Sha256);

impl ContentHasher {
    /// Feeds payload bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The object checksum.
    pub fn finish(self) -> ObjectId {
        ObjectId::from_bytes(self.0.finalize().into())
    }
}

impl std::io::Write for ContentHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: u32, gid: u32, perms: u32) -> FileMeta {
        FileMeta::new(uid, gid, perms, XattrSet::new()).unwrap()
    }

    #[test]
    fn golden_hello_header_and_checksum() {
        let header = FileHeader::regular(meta(1000, 1001, 0o644));
        assert_eq!(hex::encode(header.encode()), "000003e8000003e9000081a4000000000011");
        assert_eq!(
            header.checksum(b"hello world\n").to_hex(),
            "1cf7d7006ffc3322270a4cbd6034ca0fdc6f659cdc42ab65313354861079adca"
        );
        assert_eq!(FileHeader::decode(&header.encode()).unwrap(), header);
    }

    #[test]
    fn golden_symlink_and_archive_headers() {
        let link = FileHeader::symlink("hello.txt", meta(0, 0, 0o777)).unwrap();
        assert_eq!(link.checksum(b"").to_hex(), "f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35");
        assert_eq!(
            hex::encode(link.encode_archive(0)),
            "000000000000000000000000000000000000a1ff0000000068656c6c6f2e7478740022"
        );
        let hello = FileHeader::regular(meta(1000, 1001, 0o644));
        let archive = hello.encode_archive(12);
        assert_eq!(hex::encode(&archive), "000000000000000c000003e8000003e9000081a40000000000".to_owned() + "19");
        assert_eq!(FileHeader::decode_archive(&archive).unwrap(), (hello, 12));
    }

    #[test]
    fn hostile_headers_are_errors() {
        let good = FileHeader::regular(meta(0, 0, 0o644)).encode();
        for len in 0..good.len() {
            assert!(FileHeader::decode(&good[..len]).is_err());
        }
        let mut device = good.clone();
        device[8..12].copy_from_slice(&0o020644u32.to_be_bytes());
        assert!(FileHeader::decode(&device).is_err());
        let mut rdev = good.clone();
        rdev[15] = 1;
        assert!(FileHeader::decode(&rdev).is_err());
        assert!(split_framed(&[0, 0, 0, 9, 0, 0, 0, 0, 1], "t").is_err());
    }
}
