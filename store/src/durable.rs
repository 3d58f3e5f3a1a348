//! Durable writes: a file gets its name only once its bytes are safe on disk.
//!
//! The order, in one place for every writer of rejig (packs and the index here, the OSTree
//! repository's config, refs and partial-commit marker, jigdo RPMs, downloaded packages): the
//! bytes go to a temporary file on the target's filesystem; that file is fsynced; it is renamed
//! over the target; the directory holding the target is fsynced, so that the rename itself
//! survives a crash (FORMAT.md §5). A crash at any point leaves either the old file or the new
//! one under the target's name, never a part of one.
//!
//! Errors name the file or directory at fault: the target for anything done to the file that
//! becomes it, the directory for a directory sync.

use std::fs::{File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// fsyncs a file's data and metadata; `path` names it in the error.
pub fn sync_file(file: &File, path: &Path) -> Result<()> {
    file.sync_all().at(path)
}

/// fsyncs a directory, so that the names created, renamed or removed in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Renames `from`, whose bytes must already be durable, to `to`, then fsyncs the directory
/// holding `to`.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).at(to)?;
    sync_dir(parent(to))
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// A file being written under a temporary name, to be published as its target by
/// [`TempFile::persist`]. Dropped unpublished, the temporary file is removed.
pub struct TempFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl TempFile {
    /// Creates a new, empty temporary file in `dir`, which must be on the target's filesystem,
    /// named `prefix` followed by random characters, with permissions `mode` (less the umask).
    pub fn create_in(dir: &Path, prefix: &str, target: &Path, mode: u32) -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir)
            .at(dir)?;
        Ok(Self { temp, target: target.to_path_buf() })
    }

    /// Creates a new, empty temporary file beside `target`; see [`TempFile::create_in`].
    pub fn beside(target: &Path, prefix: &str, mode: u32) -> Result<Self> {
        Self::create_in(parent(target), prefix, target, mode)
    }

    /// The file, to write to.
    pub fn as_file(&self) -> &File {
        self.temp.as_file()
    }

    /// The file, to write to.
    pub fn as_file_mut(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Publishes the file: fsync, rename over the target, fsync the target's directory.
    /// Returns the file, still open, now under the target's name.
    pub fn persist(self) -> Result<File> {
        let TempFile { temp, target } = self;
        sync_file(temp.as_file(), &target)?;
        let file = temp.persist(&target).map_err(|e| Error::io(&target, e.error))?;
        sync_dir(parent(&target))?;
        Ok(file)
    }
}

/// Writes `bytes` to `target` durably, through a temporary file created in `temp_dir` (on the
/// target's filesystem) with permissions 0644 less the umask.
pub fn write_file_via(temp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = TempFile::create_in(temp_dir, ".rejig-", target, 0o644)?;
    temp.as_file_mut().write_all(bytes).at(target)?;
    temp.persist().map(drop)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn write_file_replaces_the_target_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config");
        write_file_via(dir.path(), &target, b"one").unwrap();
        write_file_via(dir.path(), &target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["config"]);
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o022, 0, "not group- or world-writable");
    }

    #[test]
    fn a_dropped_temp_file_is_removed_and_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("ref");
        let temp = TempFile::beside(&target, ".t-", 0o644).unwrap();
        drop(temp);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let missing = dir.path().join("missing");
        let error = write_file_via(&missing, &missing.join("x"), b"").unwrap_err().to_string();
        assert!(error.contains(&*missing.to_string_lossy()), "{error}");
        let error = sync_dir(&missing).unwrap_err().to_string();
        assert!(error.contains(&*missing.to_string_lossy()), "{error}");
    }
}
