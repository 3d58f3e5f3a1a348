//! Ownership, permissions and xattrs: what a content object and a dirmeta have in common.

use crate::error::{Error, Result};
use crate::object::xattr::XattrSet;

/// The file-type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;
/// A symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// A directory.
pub const S_IFDIR: u32 = 0o040000;

/// Owner, group, permission bits and xattrs. Permission bits are at most `0o7777`
/// (setuid, setgid and sticky are allowed, type bits are not).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileMeta {
    uid: u32,
    gid: u32,
    permissions: u32,
    xattrs: XattrSet,
}

impl FileMeta {
    /// Metadata with the given ids, permission bits and xattrs.
    pub fn new(uid: u32, gid: u32, permissions: u32, xattrs: XattrSet) -> Result<Self> {
        if permissions & !0o7777 != 0 {
            return Err(Error::invalid("permissions", format!("{permissions:#o} has bits outside 07777")));
        }
        Ok(Self { uid, gid, permissions, xattrs })
    }

    /// Splits a full `st_mode` into its type bits and validated metadata.
    pub fn from_mode(uid: u32, gid: u32, mode: u32, xattrs: XattrSet) -> Result<(u32, Self)> {
        Ok((mode & S_IFMT, Self::new(uid, gid, mode & !S_IFMT, xattrs)?))
    }

    /// The owner's uid.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The group's gid.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// Permission bits only (at most `0o7777`).
    pub fn permissions(&self) -> u32 {
        self.permissions
    }

    /// The extended attributes.
    pub fn xattrs(&self) -> &XattrSet {
        &self.xattrs
    }

    /// True when a bare-user-only repository can hold this metadata unchanged: root-owned and
    /// without xattrs.
    pub fn is_canonical_for_bare_user_only(&self) -> bool {
        self.uid == 0 && self.gid == 0 && self.xattrs.is_empty()
    }

    /// The form `ostree commit` gives metadata in a bare-user-only repository: uid and gid 0,
    /// no xattrs, and permissions masked with `permission_mask` (`0755` for regular files and
    /// directories; symlinks keep theirs).
    pub fn canonicalized_for_bare_user_only(&self, permission_mask: u32) -> Self {
        Self { uid: 0, gid: 0, permissions: self.permissions & permission_mask, xattrs: XattrSet::new() }
    }
}
