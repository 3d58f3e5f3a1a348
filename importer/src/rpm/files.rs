//! The file table (rpm-format.md §1.6): one entry per file, from DIRNAMES, DIRINDEXES and
//! BASENAMES (or OLDFILENAMES) plus the per-file arrays. Every array must have one item per
//! file; hardlink sets come from equal (FILEDEVICES, FILEINODES) among regular, non-ghost
//! files.
//!
//! Paths are policy, not just format: whatever consumes a package (rpm, a compose, rejig's
//! own jigdo build) writes them below some root, so a package is refused when a path could
//! land outside it or somewhere other than where it says. rpm-format.md §1.6 lists the rules:
//! every path is absolute (`DIRNAMES` start with `/`; source packages hold bare names), has
//! no empty, `.` or `..` component and no NUL, appears once, and does not go through a file
//! of the same package that is not a directory, in particular a symlink (`/usr/x -> /etc`
//! with `/usr/x/passwd` would write `/etc/passwd`: the CVE-2021-35939 pattern).

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
        match component {
            b"" => return Err(bad("has an empty component")),
            b"." => return Err(bad("has a '.' component")),
            b".." => return Err(bad("has a '..' component")),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a path below another file of the package that is not a directory: through a
/// symlink it would be written wherever the link points; below a regular file it cannot
/// exist. Paths are already checked by [`check_path`], so a plain prefix is an ancestor.
fn check_ancestors(files: &[RpmFile], by_path: &HashMap<&[u8], usize>) -> RpmResult<()> {
    for file in files {
        let path = file.path.as_slice();
        for (at, _) in path.iter().enumerate().skip(1).filter(|&(_, &b)| b == b'/') {
            let Some(ancestor) = path.get(..at).and_then(|a| by_path.get(a)).and_then(|&i| files.get(i)) else {
                continue;
            };
            let show = |p: &[u8]| format!("{:?}", String::from_utf8_lossy(p));
            match ancestor.file_type() {
                S_IFDIR => {}
                S_IFLNK => {
                    return Err(RpmError::new(
                        "file table",
                        format!(
                            "path {} goes through the symlink {} -> {} that the package itself creates",
                            show(path),
                            show(&ancestor.path),
                            show(&ancestor.link_target)
                        ),
                    ))
                }
                _ => {
                    return Err(RpmError::new(
                        "file table",
                        format!(
                            "path {} is below {}, which the package declares as a non-directory (mode {:o})",
                            show(path),
                            show(&ancestor.path),
                            ancestor.mode
                        ),
                    ))
                }
            }
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
                return Err(RpmError::new(
                    "file table",
                    format!("path {:?} appears twice", String::from_utf8_lossy(path)),
                ));
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
        let by_path: HashMap<&[u8], usize> = files.iter().enumerate().map(|(i, f)| (f.path.as_slice(), i)).collect();
        check_ancestors(&files, &by_path)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::rpm::header::{HeaderKind, HEADER_MAGIC};
    use crate::rpm::tags::TagType;

    /// One file: DIRNAMES index, basename, mode, link target.
    type Spec<'a> = (u32, &'a str, u32, &'a str);

    fn strings(items: &[&str]) -> Vec<u8> {
        items.iter().flat_map(|s| s.bytes().chain([0])).collect()
    }

    /// A main header holding just a file table (and SOURCERPM unless `source`), with a region
    /// like every real header, laid out as librpm writes it.
    fn header(dirnames: &[&str], files: &[Spec<'_>], source: bool) -> Header {
        let n = files.len() as u32;
        let be = |values: &mut dyn Iterator<Item = u32>, width: usize| -> Vec<u8> {
            values.flat_map(|v| v.to_be_bytes()[4 - width..].to_vec()).collect()
        };
        let mut entries: Vec<(u32, TagType, u32, Vec<u8>)> = vec![
            (tag::FILESIZES, TagType::Int32, n, be(&mut files.iter().map(|f| f.3.len() as u32), 4)),
            (tag::FILEMODES, TagType::Int16, n, be(&mut files.iter().map(|f| f.2), 2)),
            (tag::FILELINKTOS, TagType::StringArray, n, strings(&files.iter().map(|f| f.3).collect::<Vec<_>>())),
            (tag::FILEUSERNAME, TagType::StringArray, n, strings(&vec!["root"; files.len()])),
            (tag::FILEGROUPNAME, TagType::StringArray, n, strings(&vec!["root"; files.len()])),
            (tag::SOURCERPM, TagType::String, 1, b"x-1-1.src.rpm\0".to_vec()),
            (tag::DIRINDEXES, TagType::Int32, n, be(&mut files.iter().map(|f| f.0), 4)),
            (tag::BASENAMES, TagType::StringArray, n, strings(&files.iter().map(|f| f.1).collect::<Vec<_>>())),
            (tag::DIRNAMES, TagType::StringArray, dirnames.len() as u32, strings(dirnames)),
        ];
        if source {
            entries.retain(|e| e.0 != tag::SOURCERPM);
        }
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (t, kind, count, bytes) in &entries {
            while !data.len().is_multiple_of(kind.item_size().unwrap_or(1) as usize) {
                data.push(0);
            }
            index.push([*t, *kind as u32, data.len() as u32, *count]);
            data.extend_from_slice(bytes);
        }
        let il = entries.len() as u32 + 1;
        let region = [tag::HEADERIMMUTABLE, TagType::Bin as u32, data.len() as u32, 16];
        data.extend(tag::HEADERIMMUTABLE.to_be_bytes());
        data.extend((TagType::Bin as u32).to_be_bytes());
        data.extend((-((il * 16) as i32)).to_be_bytes());
        data.extend(16u32.to_be_bytes());
        let mut raw = HEADER_MAGIC.to_vec();
        raw.extend([0; 4]);
        raw.extend(il.to_be_bytes());
        raw.extend((data.len() as u32).to_be_bytes());
        for entry in std::iter::once(region).chain(index) {
            raw.extend(entry.iter().flat_map(|v| v.to_be_bytes()));
        }
        raw.extend(data);
        Header::parse(&raw, HeaderKind::Main).unwrap().0
    }

    const REG: u32 = S_IFREG | 0o644;
    const DIR: u32 = S_IFDIR | 0o755;
    const LNK: u32 = S_IFLNK | 0o777;

    fn refused(dirnames: &[&str], files: &[Spec<'_>], expect: &[&str]) {
        let error = FileTable::from_header(&header(dirnames, files, false)).unwrap_err().to_string();
        for needle in expect {
            assert!(error.contains(needle), "{dirnames:?} {files:?}: {error:?} should mention {needle:?}");
        }
    }

    #[test]
    fn an_ordinary_table_is_accepted() {
        let table = FileTable::from_header(&header(
            &["/usr/", "/usr/bin/", "/usr/lib/"],
            &[
                (0, "bin", DIR, ""),
                (1, "sh", REG, ""),
                (1, "bash", LNK, "sh"),
                (2, "libc.so.6", REG, ""),
                (2, "libc.so", LNK, "/usr/lib/libc.so.6"),
                // A symlink to a directory is fine as long as nothing is packaged below it.
                (0, "lib64", LNK, "lib"),
                // "..." and names that merely start with dots are ordinary names.
                (2, "...", REG, ""),
                (2, "..hidden", REG, ""),
            ],
            false,
        ))
        .unwrap();
        assert_eq!(table.files.len(), 8);
        assert_eq!(table.files[2].path, b"/usr/bin/bash");
    }

    #[test]
    fn traversal_and_unnormalised_paths_are_refused() {
        refused(&["/usr/../etc/"], &[(0, "passwd", REG, "")], &["/usr/../etc/passwd", "'..' component"]);
        refused(&["/../../etc/"], &[(0, "shadow", REG, "")], &["'..' component"]);
        refused(&["/usr/"], &[(0, "..", REG, "")], &["\"/usr/..\"", "'..' component"]);
        refused(&["/usr/./bin/"], &[(0, "x", REG, "")], &["/usr/./bin/x", "'.' component"]);
        refused(&["/usr//bin/"], &[(0, "x", REG, "")], &["/usr//bin/x", "empty component"]);
        refused(&["/"], &[(0, "", REG, "")], &["bad basename"]);
        refused(&["/usr/"], &[(0, "a/b", REG, "")], &["bad basename", "a/b"]);
    }

    #[test]
    fn relative_dirnames_are_refused_in_binary_packages_only() {
        refused(&["usr/bin/"], &[(0, "x", REG, "")], &["\"usr/bin/x\"", "not absolute"]);
        refused(&[""], &[(0, "x", REG, "")], &["\"x\"", "not absolute"]);
        refused(&["/usr/"], &[(1, "x", REG, "")], &["dir index 1 out of range"]);
        // A source package holds bare names under the dirname "".
        let srpm = FileTable::from_header(&header(&[""], &[(0, "x.spec", REG, "")], true)).unwrap();
        assert_eq!(srpm.files[0].path, b"x.spec");
    }

    #[test]
    fn a_path_listed_twice_is_refused() {
        refused(&["/etc/"], &[(0, "passwd", REG, ""), (0, "passwd", REG, "")], &["/etc/passwd", "appears twice"]);
        // Twice through two spellings of one directory in DIRNAMES.
        refused(
            &["/etc/", "/etc/"],
            &[(0, "passwd", REG, ""), (1, "passwd", LNK, "/x")],
            &["/etc/passwd", "appears twice"],
        );
    }

    #[test]
    fn a_path_through_a_symlink_of_the_same_package_is_refused() {
        refused(
            &["/usr/", "/usr/x/"],
            &[(0, "x", LNK, "/etc"), (1, "passwd", REG, "")],
            &["/usr/x/passwd", "symlink \"/usr/x\" -> \"/etc\""],
        );
        // Whatever the order, and however deep below the link.
        refused(
            &["/usr/x/a/b/", "/usr/"],
            &[(0, "evil", REG, ""), (1, "x", LNK, "../etc")],
            &["/usr/x/a/b/evil", "/usr/x"],
        );
        // A relative link, a symlink below the link, a directory below the link.
        refused(&["/", "/lib/"], &[(0, "lib", LNK, "usr/lib"), (1, "y", LNK, "z")], &["/lib/y"]);
        refused(&["/", "/lib/"], &[(0, "lib", LNK, "usr/lib"), (1, "d", DIR, "")], &["/lib/d"]);
    }

    #[test]
    fn a_path_below_a_regular_file_is_refused() {
        refused(
            &["/usr/", "/usr/f/"],
            &[(0, "f", REG, ""), (1, "g", REG, "")],
            &["/usr/f/g", "\"/usr/f\"", "non-directory"],
        );
    }
}
