//! Reading extended attributes from the filesystem in ostree's canonical form.

use std::path::Path;

use rejig_format::object::XattrSet;

use crate::error::{Error, IoContext, Result};

/// Attribute names and values can be at most 64 KiB on Linux.
const XATTR_MAX: usize = 64 * 1024;

/// All xattrs of `path` (not following symlinks), canonicalised: sorted, empty values
/// dropped, `user.ostreemeta` excluded when `skip_ostreemeta`.
pub fn read_xattrs(path: &Path, skip_ostreemeta: bool) -> Result<XattrSet> {
    let mut names = vec![0u8; XATTR_MAX];
    let len = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(len) => len,
        Err(rustix::io::Errno::NOTSUP) => 0,
        Err(e) => return Err(e).at(path),
    };
    let mut pairs = Vec::new();
    for name in names.get(..len).unwrap_or_default().split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if skip_ostreemeta && name == b"user.ostreemeta" {
            continue;
        }
        let mut value = vec![0u8; XATTR_MAX];
        let name_c = std::ffi::CString::new(name)
            .map_err(|_| Error::Tree { path: path.into(), detail: "xattr name with NUL".into() })?;
        let n = rustix::fs::lgetxattr(path, name_c.as_c_str(), &mut value[..]).at(path)?;
        value.truncate(n);
        pairs.push((name.to_vec(), value));
    }
    Ok(XattrSet::from_filesystem(pairs)?)
}
