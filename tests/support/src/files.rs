//! Small file-system helpers that panic with the path they failed on.

use std::fs;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;

/// Flips every bit of the byte at `offset`.
pub fn flip_byte(path: &Path, offset: u64) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap_or_else(|e| panic!("read {} at {offset}: {e}", path.display()));
    byte[0] ^= 0xff;
    file.write_all_at(&byte, offset).unwrap_or_else(|e| panic!("write {} at {offset}: {e}", path.display()));
}

/// Writes a file.
pub fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// `mkdir -p`.
pub fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

/// Makes a symlink.
pub fn symlink(target: &str, path: &Path) {
    std::os::unix::fs::symlink(target, path).unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
}

/// chmod (files and directories only; it follows symlinks).
pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

/// lchown.
pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("lchown {uid}:{gid} {}: {e}", path.display()));
}

/// Sets a `user.*` xattr (never on a symlink: Linux refuses user.* there).
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()).unwrap_or_else(|e| {
        panic!("setxattr {name} on {}: {e} (does the filesystem support user xattrs?)", path.display())
    });
}
