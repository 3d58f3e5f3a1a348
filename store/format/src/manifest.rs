//! Package manifests: what the store knows of an imported RPM, keyed by the SHA-256 of its
//! main header (which covers every per-file field and the payload digest). Encoding in
//! FORMAT.md "package manifests"; the decoder is bounded like every other.

#![deny(clippy::indexing_slicing)]

use std::fmt;

use crate::bounded::Cursor;
use crate::digest::{FileSha256, HeaderSha256};
use crate::error::{Error, Result};
use crate::id::BlobId;

/// Name, epoch, version, release and architecture.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nevra {
    /// Package name.
    pub name: String,
    /// Epoch, when the package has one.
    pub epoch: Option<u32>,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture (`noarch`, `x86_64`, `src`...).
    pub arch: String,
}

impl fmt::Display for Nevra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.epoch {
            Some(epoch) => write!(f, "{}-{epoch}:{}-{}.{}", self.name, self.version, self.release, self.arch),
            None => write!(f, "{}-{}-{}.{}", self.name, self.version, self.release, self.arch),
        }
    }
}

/// What kind of file an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestFileKind {
    /// A regular file whose content is a blob.
    Regular(BlobId),
    /// A symlink (target in the entry).
    Symlink,
    /// A directory.
    Directory,
    /// A ghost: listed in the header, absent from the payload.
    Ghost,
    /// A device, FIFO or socket, which OSTree cannot represent.
    Special,
}

/// One file of a package, in header order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestFile {
    /// The path as rpm installs it (bytes: old packages may not be UTF-8).
    pub path: Vec<u8>,
    /// The kind, with the content blob of regular files.
    pub kind: ManifestFileKind,
    /// Full `st_mode`.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Owner name.
    pub user: String,
    /// Group name.
    pub group: String,
    /// Symlink target (empty otherwise).
    pub link_target: Vec<u8>,
    /// FILEFLAGS.
    pub flags: u32,
    /// The `security.capability` xattr value, if any.
    pub caps: Option<Vec<u8>>,
    /// The header's hex digest of the content (empty when none).
    pub digest: String,
}

/// An imported package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageManifest {
    /// Identity.
    pub nevra: Nevra,
    /// SHA-256 of the main header: the store's key for this package.
    pub header_sha256: HeaderSha256,
    /// SHA-256 of the whole package file, when it was read from one.
    pub file_sha256: Option<FileSha256>,
    /// The file digest algorithm's rpm name (`sha256`, `md5`...).
    pub digest_algo: String,
    /// The payload compressor (`zstd`, `xz`...).
    pub compression: String,
    /// Every file, in header order.
    pub files: Vec<ManifestFile>,
}

const MAGIC: &[u8; 4] = b"RJMF";
const VERSION: u8 = 1;
/// The smallest encoded file entry, for bounding counts before allocation.
const MIN_FILE_LEN: usize = 4 + 1 + 4 + 8 + 4 + 4 + 4 + 4 + 1 + 4;

struct Writer(Vec<u8>);

impl Writer {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.0.extend_from_slice(b);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

impl PackageManifest {
    /// The stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(MAGIC.to_vec());
        w.0.push(VERSION);
        w.0.extend_from_slice(self.header_sha256.as_bytes());
        match &self.file_sha256 {
            Some(d) => {
                w.0.push(1);
                w.0.extend_from_slice(d.as_bytes());
            }
            None => w.0.push(0),
        }
        w.bytes(self.nevra.name.as_bytes());
        match self.nevra.epoch {
            Some(e) => {
                w.0.push(1);
                w.u32(e);
            }
            None => w.0.push(0),
        }
        for s in [&self.nevra.version, &self.nevra.release, &self.nevra.arch, &self.digest_algo, &self.compression] {
            w.bytes(s.as_bytes());
        }
        w.u32(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        for f in &self.files {
            w.bytes(&f.path);
            match &f.kind {
                ManifestFileKind::Regular(blob) => {
                    w.0.push(1);
                    w.0.extend_from_slice(blob.as_bytes());
                }
                ManifestFileKind::Symlink => w.0.push(2),
                ManifestFileKind::Directory => w.0.push(3),
                ManifestFileKind::Ghost => w.0.push(4),
                ManifestFileKind::Special => w.0.push(5),
            }
            w.u32(f.mode);
            w.0.extend_from_slice(&f.size.to_le_bytes());
            w.bytes(f.user.as_bytes());
            w.bytes(f.group.as_bytes());
            w.bytes(&f.link_target);
            w.u32(f.flags);
            match &f.caps {
                Some(c) => {
                    w.0.push(1);
                    w.bytes(c);
                }
                None => w.0.push(0),
            }
            w.bytes(f.digest.as_bytes());
        }
        w.0
    }

    /// Decodes [`PackageManifest::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Cursor::new(bytes, "package manifest");
        let string = |r: &mut Cursor<'_>| {
            String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| Error::malformed("package manifest", "string is not UTF-8"))
        };
        if r.take(4)? != MAGIC || r.u8()? != VERSION {
            return Err(Error::malformed("package manifest", "bad magic or version"));
        }
        let header_sha256 = HeaderSha256::from_bytes(r.array()?);
        let file_sha256 = if r.flag()? { Some(FileSha256::from_bytes(r.array()?)) } else { None };
        let name = string(&mut r)?;
        let epoch = if r.flag()? { Some(r.u32()?) } else { None };
        let (version, release, arch) = (string(&mut r)?, string(&mut r)?, string(&mut r)?);
        let (digest_algo, compression) = (string(&mut r)?, string(&mut r)?);
        let count = r.count(MIN_FILE_LEN)?;
        let mut files = Vec::with_capacity(count);
        for _ in 0..count {
            let path = r.bytes()?.to_vec();
            let kind = match r.u8()? {
                1 => ManifestFileKind::Regular(BlobId::from_bytes(r.array()?)),
                2 => ManifestFileKind::Symlink,
                3 => ManifestFileKind::Directory,
                4 => ManifestFileKind::Ghost,
                5 => ManifestFileKind::Special,
                other => return Err(Error::malformed("package manifest", format!("unknown file kind {other}"))),
            };
            let mode = r.u32()?;
            let size = r.u64()?;
            let (user, group) = (string(&mut r)?, string(&mut r)?);
            let link_target = r.bytes()?.to_vec();
            let flags = r.u32()?;
            let caps = if r.flag()? { Some(r.bytes()?.to_vec()) } else { None };
            let digest = string(&mut r)?;
            files.push(ManifestFile { path, kind, mode, size, user, group, link_target, flags, caps, digest });
        }
        if !r.is_empty() {
            return Err(Error::malformed("package manifest", "trailing bytes"));
        }
        Ok(Self {
            nevra: Nevra { name, epoch, version, release, arch },
            header_sha256,
            file_sha256,
            digest_algo,
            compression,
            files,
        })
    }

    /// Blobs of the regular files.
    pub fn blobs(&self) -> impl Iterator<Item = BlobId> + '_ {
        self.files.iter().filter_map(|f| match f.kind {
            ManifestFileKind::Regular(blob) => Some(blob),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PackageManifest {
        PackageManifest {
            nevra: Nevra {
                name: "hello".into(),
                epoch: Some(2),
                version: "1.0".into(),
                release: "1".into(),
                arch: "noarch".into(),
            },
            header_sha256: HeaderSha256::from_bytes([7; 32]),
            file_sha256: None,
            digest_algo: "sha256".into(),
            compression: "zstd".into(),
            files: vec![
                ManifestFile {
                    path: b"/usr/bin/hello".to_vec(),
                    kind: ManifestFileKind::Regular(BlobId::of(b"x")),
                    mode: 0o100755,
                    size: 1,
                    user: "root".into(),
                    group: "root".into(),
                    link_target: vec![],
                    flags: 0,
                    caps: Some(vec![1, 2, 3]),
                    digest: "ab".into(),
                },
                ManifestFile {
                    path: b"/usr/bin/hi".to_vec(),
                    kind: ManifestFileKind::Symlink,
                    mode: 0o120777,
                    size: 5,
                    user: "root".into(),
                    group: "root".into(),
                    link_target: b"hello".to_vec(),
                    flags: 0,
                    caps: None,
                    digest: String::new(),
                },
            ],
        }
    }

    #[test]
    fn round_trip_and_display() {
        let m = sample();
        assert_eq!(PackageManifest::decode(&m.encode()).unwrap(), m);
        assert_eq!(m.nevra.to_string(), "hello-2:1.0-1.noarch");
    }

    #[test]
    fn damage_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(PackageManifest::decode(&bytes[..len]).is_err());
        }
        let mut huge = bytes.clone();
        // The file count follows magic, version, digests, NEVRA, algorithm and compressor.
        let count_at = 4 + 1 + 32 + 1 + (4 + 5) + 1 + 4 + (4 + 3) + (4 + 1) + (4 + 6) + (4 + 6) + (4 + 4);
        huge[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(PackageManifest::decode(&huge).is_err());
    }
}
