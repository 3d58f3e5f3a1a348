//! The file table (rpm-format.md §1.6): one entry per file, from DIRNAMES, DIRINDEXES and
//! BASENAMES (or OLDFILENAMES) plus the per-file arrays. Every array must have one item per
//! file; paths are validated (no `..`, `.` or empty components, no duplicates, indexes in
//! range); hardlink sets come from equal (FILEDEVICES, FILEINODES) among regular, non-ghost
//! files.

use std::collections::{HashMap, HashSet};

use super::caps::caps_to_xattr;
use super::error::{RpmError, RpmResult};
use super::header::Header;
use super::tags::tag;

/// The `st_mode` type bits.
pub const S_IFMT: u32 = 0o170000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;
/// A directory.
pub const S_IFDIR: u32 = 0o040000;
/// A symlink.
pub const S_IFLNK: u32 = 0o120000;
/// FILEFLAGS: the file is not in the payload.
pub const FLAG_GHOST: u32 = 64;

/// The algorithm of FILEDIGESTS (FILEDIGESTALGO; absent means MD5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgo {
    /// 1.
    Md5,
    /// 2.
    Sha1,
    /// 8.
    Sha256,
    /// 9.
    Sha384,
    /// 10.
    Sha512,
    /// 11.
    Sha224,
}

impl DigestAlgo {
    fn from_tag(value: Option<u64>) -> RpmResult<Self> {
        Ok(match value {
            None | Some(1) => DigestAlgo::Md5,
            Some(2) => DigestAlgo::Sha1,
            Some(8) => DigestAlgo::Sha256,
            Some(9) => DigestAlgo::Sha384,
            Some(10) => DigestAlgo::Sha512,
            Some(11) => DigestAlgo::Sha224,
            Some(other) => {
                return Err(RpmError::new("file table", format!("unsupported file digest algorithm {other}")))
            }
        })
    }

    /// The name rpm uses.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgo::Md5 => "md5",
            DigestAlgo::Sha1 => "sha1",
            DigestAlgo::Sha256 => "sha256",
            DigestAlgo::Sha384 => "sha384",
            DigestAlgo::Sha512 => "sha512",
            DigestAlgo::Sha224 => "sha224",
        }
    }
}

/// One file as the header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmFile {
    /// The path as rpm installs it: `/usr/bin/x` (bare names in source packages).
    pub path: Vec<u8>,
    /// Full `st_mode`.
    pub mode: u32,
    /// Size in bytes (the target length for symlinks).
    pub size: u64,
    /// Owner name.
    pub user: Vec<u8>,
    /// Group name.
    pub group: Vec<u8>,
    /// Symlink target, empty otherwise.
    pub link_target: Vec<u8>,
    /// FILEFLAGS.
    pub flags: u32,
    /// Hex digest of the content, empty when there is none.
    pub digest: Vec<u8>,
    /// The `security.capability` value, when FILECAPS grants something.
    pub caps: Option<Vec<u8>>,
    /// Modification time.
    pub mtime: u32,
    /// Index of this file's hardlink set in [`FileTable::hardlink_sets`], if it has one.
    pub hardlink_set: Option<usize>,
}

impl RpmFile {
    /// True for files not shipped in the payload.
    pub fn is_ghost(&self) -> bool {
        self.flags & FLAG_GHOST != 0
    }

    /// The file type bits.
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
}

/// All files of a package, in header order.
#[derive(Clone, Debug, Default)]
pub struct FileTable {
    /// The files.
    pub files: Vec<RpmFile>,
    /// The algorithm of the digests.
    pub digest_algo: Option<DigestAlgo>,
    /// Sets of hardlinked files (indexes, ascending), each with at least two members.
    pub hardlink_sets: Vec<Vec<usize>>,
}

fn per_file<'a, T>(values: Option<Vec<T>>, n: usize, name: &'static str, required: bool) -> RpmResult<Option<Vec<T>>>
where
    T: 'a,
{
    match values {
        Some(v) if v.len() != n => {
            Err(RpmError::new("file table", format!("{name} has {} items for {n} files", v.len())))
        }
        None if required && n > 0 => Err(RpmError::new("file table", format!("{name} is missing"))),
        other => Ok(other),
    }
}

fn check_path(path: &[u8], source: bool) -> RpmResult<()> {
    let bad = |why: &str| RpmError::new("file table", format!("path {:?} {why}", String::from_utf8_lossy(path)));
    if path.contains(&0) {
        return Err(bad("contains NUL"));
    }
    let relative = match path.strip_prefix(b"/") {
        Some(rest) => rest,
        None if source => path,
        None => return Err(bad("is not absolute")),
    };
    if relative.is_empty() {
        return Err(bad("names the root directory"));
    }
    for component in relative.split(|&b| b == b'/') {
        if component.is_empty() || component == b"." || component == b".." {
            return Err(bad("has an empty, '.' or '..' component"));
        }
    }
    Ok(())
}

/// Source packages carry SOURCEPACKAGE, or (older ones) at least no SOURCERPM.
pub fn is_source_package(header: &Header) -> bool {
    header.entry(tag::SOURCEPACKAGE).is_some() || header.entry(tag::SOURCERPM).is_none()
}

impl FileTable {
    /// Builds and validates the table from a main header.
    pub fn from_header(header: &Header) -> RpmResult<Self> {
        let source = is_source_package(header);
        let paths: Vec<Vec<u8>> = match header.string_array(tag::BASENAMES)? {
            Some(basenames) => {
                let dirnames = header.string_array(tag::DIRNAMES)?.unwrap_or_default();
                let indexes = per_file(header.integers(tag::DIRINDEXES)?, basenames.len(), "DIRINDEXES", true)?
                    .unwrap_or_default();
                basenames
                    .iter()
                    .zip(&indexes)
                    .map(|(base, &index)| {
                        if base.is_empty() || base.contains(&b'/') {
                            return Err(RpmError::new(
                                "file table",
                                format!("bad basename {:?}", String::from_utf8_lossy(base)),
                            ));
                        }
                        let dir = usize::try_from(index).ok().and_then(|i| dirnames.get(i)).ok_or_else(|| {
                            RpmError::new(
                                "file table",
                                format!("dir index {index} out of range ({} dirnames)", dirnames.len()),
                            )
                        })?;
                        Ok([*dir, *base].concat())
                    })
                    .collect::<RpmResult<_>>()?
            }
            None => {
                header.string_array(tag::OLDFILENAMES)?.unwrap_or_default().into_iter().map(<[u8]>::to_vec).collect()
            }
        };
        let n = paths.len();
        let mut seen = HashSet::with_capacity(n);
        for path in &paths {
            check_path(path, source)?;
            if !seen.insert(path.as_slice()) {
                return Err(RpmError::new("file table", format!("duplicate path {:?}", String::from_utf8_lossy(path))));
            }
        }

        let modes = per_file(header.integers(tag::FILEMODES)?, n, "FILEMODES", true)?.unwrap_or_default();
        let sizes = match (header.integers(tag::FILESIZES)?, header.integers(tag::LONGFILESIZES)?) {
            (Some(_), Some(_)) => return Err(RpmError::new("file table", "both FILESIZES and LONGFILESIZES")),
            (short, long) => per_file(long.or(short), n, "FILESIZES", true)?.unwrap_or_default(),
        };
        let strings = |t: u32, name: &'static str, required: bool| -> RpmResult<Vec<Vec<u8>>> {
            Ok(per_file(header.string_array(t)?, n, name, required)?
                .map(|v| v.into_iter().map(<[u8]>::to_vec).collect())
                .unwrap_or_else(|| vec![Vec::new(); n]))
        };
        let users = strings(tag::FILEUSERNAME, "FILEUSERNAME", true)?;
        let groups = strings(tag::FILEGROUPNAME, "FILEGROUPNAME", true)?;
        let links = strings(tag::FILELINKTOS, "FILELINKTOS", false)?;
        let digests = strings(tag::FILEDIGESTS, "FILEDIGESTS", false)?;
        let caps = strings(tag::FILECAPS, "FILECAPS", false)?;
        let numbers = |t: u32, name: &'static str| -> RpmResult<Vec<u64>> {
            Ok(per_file(header.integers(t)?, n, name, false)?.unwrap_or_else(|| vec![0; n]))
        };
        let flags = numbers(tag::FILEFLAGS, "FILEFLAGS")?;
        let mtimes = numbers(tag::FILEMTIMES, "FILEMTIMES")?;
        let devices = numbers(tag::FILEDEVICES, "FILEDEVICES")?;
        let inodes = numbers(tag::FILEINODES, "FILEINODES")?;
        let digest_algo = if n > 0 { Some(DigestAlgo::from_tag(header.integer(tag::FILEDIGESTALGO)?)?) } else { None };

        let mut files = Vec::with_capacity(n);
        let mut sets: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
        for (i, path) in paths.into_iter().enumerate() {
            let at = |v: &Vec<u64>| v.get(i).copied().unwrap_or(0);
            let take = |v: &Vec<Vec<u8>>| v.get(i).cloned().unwrap_or_default();
            let mode = u32::try_from(at(&modes)).map_err(|_| RpmError::new("file table", "mode out of range"))?;
            let caps_text = take(&caps);
            let caps = if caps_text.is_empty() {
                None
            } else {
                caps_to_xattr(
                    std::str::from_utf8(&caps_text).map_err(|_| RpmError::new("file capabilities", "not UTF-8"))?,
                )?
            };
            let file = RpmFile {
                path,
                mode,
                size: at(&sizes),
                user: take(&users),
                group: take(&groups),
                link_target: take(&links),
                flags: u32::try_from(at(&flags)).unwrap_or(u32::MAX),
                digest: take(&digests),
                caps,
                mtime: u32::try_from(at(&mtimes)).unwrap_or(0),
                hardlink_set: None,
            };
            if file.file_type() == S_IFLNK && file.link_target.is_empty() {
                return Err(RpmError::new(
                    "file table",
                    format!("symlink {:?} has no target", String::from_utf8_lossy(&file.path)),
                ));
            }
            if file.file_type() == S_IFREG && !file.is_ghost() && at(&inodes) > 0 {
                sets.entry((at(&devices), at(&inodes))).or_default().push(i);
            }
            files.push(file);
        }
        let mut hardlink_sets: Vec<Vec<usize>> = sets.into_values().filter(|members| members.len() > 1).collect();
        hardlink_sets.sort();
        for (set, members) in hardlink_sets.iter().enumerate() {
            for &member in members {
                if let Some(file) = files.get_mut(member) {
                    file.hardlink_set = Some(set);
                }
            }
        }
        Ok(Self { files, digest_algo, hardlink_sets })
    }
}
