//! Writes objects and refs into an OSTree repository (ostree-format.md §3).
//!
//! Every object file is written as an anonymous `O_TMPFILE` under `tmp/`, gets its
//! permissions, owner, xattrs and (bare content objects) mtime 0, is checked against its
//! checksum, and is then linked into `objects/` with `linkat`, which never replaces anything
//! (EEXIST means another writer stored the same object). Until then it has no name, so an
//! interruption leaves nothing behind and `tmp/` never holds a file with mtime 0. Symlinks of
//! bare modes, and filesystems without `O_TMPFILE`, use a named temp file and a no-replace
//! rename instead. Refs move only in [`OstreeRepo::set_ref`], after [`OstreeRepo::sync`].

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rejig_format::object::dirmeta::encode_owner_mode_xattrs;
use rejig_format::object::{ContentHasher, FileHeader};
use rejig_format::repo_mode::mode_from_config;
use rejig_format::{ObjectId, ObjectKey, ObjectType, RepoMode};
use rejig_store::durable;
use rustix::fs::{
    fchmod, fchown, fsetxattr, futimens, renameat_with, AtFlags, Mode, OFlags, RenameFlags, Timespec, Timestamps,
    XattrFlags, CWD,
};

use crate::error::{Error, IoContext, Result};
use crate::ostree::archive::write_filez;

/// The directories `ostree init` creates.
const SKELETON: &[&str] = &["objects", "tmp", "state", "extensions", "refs/heads", "refs/mirrors", "refs/remotes"];

/// An OSTree repository opened for writing.
pub struct OstreeRepo {
    path: PathBuf,
    mode: RepoMode,
    temp_counter: AtomicU64,
}

/// The outcome of writing one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The object's checksum, computed from what was written.
    pub id: ObjectId,
    /// False when the repository already had it.
    pub new: bool,
    /// Raw content bytes (0 for metadata and symlinks).
    pub bytes: u64,
}

/// A ref name that ostree would refuse.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a valid ref name (letters, digits, '-', '.', '_' and '/' separators)")]
pub struct BadRef(pub String);

/// Validates a ref name as ostree does: `([\w\d][-._\w\d]*/)*[\w\d][-._\w\d]*`.
pub fn validate_ref(name: &str) -> std::result::Result<(), BadRef> {
    let ok = !name.is_empty()
        && name.split('/').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphanumeric() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || "-._".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(BadRef(name.to_owned()))
    }
}

impl OstreeRepo {
    /// The mode the repository at `path` has, or would be created with: an existing
    /// repository's own mode (which must match `requested` when one is given), else
    /// `requested`, else archive. Creates nothing.
    pub fn planned_mode(path: &Path, requested: Option<RepoMode>) -> Result<RepoMode> {
        let config_path = path.join("config");
        match std::fs::read_to_string(&config_path) {
            Ok(config) => {
                let mode =
                    mode_from_config(&config).map_err(|e| Error::Repo { path: path.into(), detail: e.to_string() })?;
                if let Some(requested) = requested.filter(|r| *r != mode) {
                    return Err(Error::Repo {
                        path: path.into(),
                        detail: format!(
                            "its mode is {mode}; --mode {requested} does not match (omit --mode, or pick another path)"
                        ),
                    });
                }
                Ok(mode)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(requested.unwrap_or(RepoMode::Archive)),
            Err(e) => Err(e).at(&config_path),
        }
    }

    /// Opens the repository at `path`, creating the full `ostree init` skeleton if it does not
    /// exist (in `requested` mode, archive by default). An existing repository must be in
    /// `requested` mode when one is given.
    pub fn open_or_create(path: &Path, requested: Option<RepoMode>) -> Result<Self> {
        let mode = Self::planned_mode(path, requested)?;
        if !path.join("config").exists() {
            Self::init(path, mode)?;
        }
        for dir in SKELETON {
            let dir = path.join(dir);
            if !dir.is_dir() {
                return Err(Error::Repo {
                    path: path.into(),
                    detail: format!("{} is missing; is this an OSTree repository?", dir.display()),
                });
            }
        }
        Ok(Self { path: path.to_path_buf(), mode, temp_counter: AtomicU64::new(0) })
    }

    /// Creates the skeleton; `config` is written last, so an interrupted init is retried.
    fn init(path: &Path, mode: RepoMode) -> Result<()> {
        if path.exists() {
            let foreign = std::fs::read_dir(path)
                .at(path)?
                .filter_map(|e| e.ok())
                .any(|e| !SKELETON.iter().any(|s| s.split('/').next() == e.file_name().to_str()));
            if foreign {
                return Err(Error::Repo {
                    path: path.into(),
                    detail: "exists, is not empty and has no config: not an OSTree repository".into(),
                });
            }
        }
        for dir in SKELETON {
            std::fs::create_dir_all(path.join(dir)).at(path.join(dir))?;
        }
        let config = format!("[core]\nrepo_version=1\nmode={}\n", mode.config_name());
        Ok(durable::write_file_via(&path.join("tmp"), &path.join("config"), config.as_bytes())?)
    }

    /// The repository's mode.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// The repository's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the repository has the object (one `fstatat`).
    pub fn has_object(&self, key: &ObjectKey) -> bool {
        std::fs::symlink_metadata(self.path.join(self.mode.loose_path(key))).is_ok()
    }

    fn temp_path(&self) -> PathBuf {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        self.path.join("tmp").join(format!("rejig-{}-{n}", std::process::id()))
    }

    /// Creates the file for a new object: an anonymous `O_TMPFILE` under `tmp/` where the
    /// filesystem supports it, so that nothing of it has a name until it is complete, with its
    /// permissions, owner, xattrs and mtime 0 already set. Elsewhere, a named temp file.
    fn stage(&self, permissions: u32) -> Result<Staged> {
        let tmp = self.path.join("tmp");
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        let (file, temp) = match rustix::fs::openat(CWD, &tmp, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => (File::from(fd), None),
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
                let path = self.temp_path();
                let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).at(&path)?;
                (file, Some(path))
            }
            Err(e) => return Err(e).at(&tmp),
        };
        let staged = Staged { file, temp, display: tmp };
        fchmod(&staged.file, Mode::from_raw_mode(permissions)).at(staged.path())?;
        Ok(staged)
    }

    /// The loose path of `key`, creating its `objects/XX` directory if needed.
    fn object_target(&self, key: &ObjectKey) -> Result<PathBuf> {
        let target = self.path.join(self.mode.loose_path(key));
        if let Some(dir) = target.parent() {
            match std::fs::create_dir(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e).at(dir),
                _ => {}
            }
        }
        Ok(target)
    }

    /// Gives a staged file its object name without replacing anything. Returns false if the
    /// object was already there (another writer stored it). `mtime_zero` content objects get
    /// mtime 0 before they are named, so no interruption can leave one with a real mtime.
    fn publish(&self, mut staged: Staged, key: &ObjectKey, mtime_zero: bool) -> Result<bool> {
        let target = self.object_target(key)?;
        if mtime_zero {
            set_mtime_zero(&staged.file).at(staged.path())?;
        }
        match staged.temp.take() {
            None => {
                let handle = format!("/proc/self/fd/{}", staged.file.as_raw_fd());
                match rustix::fs::linkat(CWD, handle.as_str(), CWD, &target, AtFlags::SYMLINK_FOLLOW) {
                    Ok(()) => Ok(true),
                    Err(rustix::io::Errno::EXIST) => Ok(false),
                    Err(e) => Err(e).at(&target),
                }
            }
            Some(temp) => self.rename_into_place(&temp, &target),
        }
    }

    /// Renames `temp` to `target` without replacing; removes `temp` if `target` exists.
    fn rename_into_place(&self, temp: &Path, target: &Path) -> Result<bool> {
        match renameat_with(CWD, temp, CWD, target, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::EXIST) => {
                std::fs::remove_file(temp).at(temp)?;
                Ok(false)
            }
            Err(e) => {
                let _ = std::fs::remove_file(temp);
                Err(e).at(target)
            }
        }
    }

    /// Writes a metadata object whose bytes the caller has verified.
    pub fn write_metadata(&self, key: &ObjectKey, bytes: &[u8]) -> Result<bool> {
        if self.has_object(key) {
            return Ok(false);
        }
        let mut staged = self.stage(0o644)?;
        staged.file.write_all(bytes).at(staged.path())?;
        self.publish(staged, key, false)
    }

    /// Writes a content object: `content` is the file's bytes and size (None for a symlink).
    /// The checksum is computed from what is written and must equal `expected` when given;
    /// otherwise nothing is published.
    pub fn write_content(
        &self,
        expected: Option<ObjectId>,
        header: &FileHeader,
        content: Option<(&mut dyn Read, u64)>,
    ) -> Result<Written> {
        if let Some(id) = expected {
            if self.has_object(&ObjectKey::new(id, ObjectType::File)) {
                return Ok(Written { id, new: false, bytes: 0 });
            }
        }
        let mut hasher = header.hasher();
        let meta = header.meta();
        let (size, mut reader) = match content {
            Some((reader, size)) => (size, Some(reader)),
            None => (0, None),
        };
        let mut written = 0u64;
        let check = |written: u64, hasher: ContentHasher, path: &Path| -> Result<ObjectKey> {
            if written != size {
                return Err(Error::Size { path: path.to_path_buf(), written, expected: size });
            }
            let id = hasher.finish();
            match expected {
                Some(expected) if expected != id => {
                    Err(Error::Checksum { key: ObjectKey::new(expected, ObjectType::File), actual: id.to_hex() })
                }
                _ => Ok(ObjectKey::new(id, ObjectType::File)),
            }
        };
        let (key, new) = match (self.mode, header.symlink_target()) {
            (RepoMode::Archive, _) => {
                let staged = self.stage(0o644)?;
                let mut out = BufWriter::with_capacity(64 * 1024, &staged.file);
                written = write_filez(&mut out, header, size, reader.as_mut(), &mut hasher).at(staged.path())?;
                out.flush().at(staged.path())?;
                drop(out);
                let key = check(written, hasher, &staged.path())?;
                (key, self.publish(staged, &key, false)?)
            }
            (RepoMode::BareUser, target) => {
                let ostreemeta = encode_owner_mode_xattrs(meta.uid(), meta.gid(), header.mode(), meta.xattrs());
                let mut staged = match target {
                    Some(_) => self.stage(0o644)?,
                    None => self.stage((meta.permissions() & 0o775) | 0o400)?,
                };
                match target {
                    Some(target) => staged.file.write_all(&[target.as_bytes(), &[0]].concat()).at(staged.path())?,
                    None => written = copy_hashed(reader.as_mut(), &staged.file, &mut hasher).at(staged.path())?,
                }
                fsetxattr(&staged.file, "user.ostreemeta", &ostreemeta, XattrFlags::empty()).at(staged.path())?;
                let key = check(written, hasher, &staged.path())?;
                (key, self.publish(staged, &key, true)?)
            }
            (RepoMode::Bare | RepoMode::BareUserOnly, Some(target)) => {
                let key = check(0, hasher, &self.path)?;
                let temp = self.temp_path();
                let linked = (|| {
                    rustix::fs::symlink(target, &temp).at(&temp)?;
                    if self.mode == RepoMode::Bare {
                        let (uid, gid) = (rustix::fs::Uid::from_raw(meta.uid()), rustix::fs::Gid::from_raw(meta.gid()));
                        rustix::fs::chownat(CWD, &temp, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).at(&temp)?;
                        for xattr in meta.xattrs().iter() {
                            rustix::fs::lsetxattr(&temp, xattr.name(), xattr.value(), XattrFlags::empty()).at(&temp)?;
                        }
                    }
                    self.rename_into_place(&temp, &self.object_target(&key)?)
                })();
                if linked.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                (key, linked?)
            }
            (RepoMode::Bare | RepoMode::BareUserOnly, None) => {
                let staged = self.stage(0o600)?;
                written = copy_hashed(reader.as_mut(), &staged.file, &mut hasher).at(staged.path())?;
                if self.mode == RepoMode::Bare {
                    let (uid, gid) = (rustix::fs::Uid::from_raw(meta.uid()), rustix::fs::Gid::from_raw(meta.gid()));
                    fchown(&staged.file, Some(uid), Some(gid)).at(staged.path())?;
                    for xattr in meta.xattrs().iter() {
                        fsetxattr(&staged.file, xattr.name(), xattr.value(), XattrFlags::empty()).at(staged.path())?;
                    }
                }
                // After chown, which clears setuid and setgid.
                fchmod(&staged.file, Mode::from_raw_mode(meta.permissions())).at(staged.path())?;
                let key = check(written, hasher, &staged.path())?;
                (key, self.publish(staged, &key, true)?)
            }
        };
        Ok(Written { id: key.id, new, bytes: written })
    }

    fn partial_marker(&self, commit: &ObjectId) -> PathBuf {
        self.path.join("state").join(format!("{commit}.commitpartial"))
    }

    /// Marks `commit` as partial while its objects are being written, as `ostree pull` does.
    /// The marker is fsynced with its directory before any object is written.
    pub fn mark_partial(&self, commit: &ObjectId) -> Result<()> {
        let path = self.partial_marker(commit);
        let marker = File::create(&path).at(&path)?;
        durable::sync_file(&marker, &path)?;
        Ok(durable::sync_dir(&self.path.join("state"))?)
    }

    /// Removes the partial marker once every object is durable.
    pub fn clear_partial(&self, commit: &ObjectId) -> Result<()> {
        let path = self.partial_marker(commit);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(&path),
            _ => Ok(()),
        }
    }

    /// True when a partial marker exists for `commit`.
    pub fn is_partial(&self, commit: &ObjectId) -> bool {
        self.partial_marker(commit).exists()
    }

    /// Makes everything written so far durable: one `syncfs` on the repository's filesystem.
    pub fn sync(&self) -> Result<()> {
        let dir = File::open(&self.path).at(&self.path)?;
        rustix::fs::syncfs(&dir).at(&self.path)
    }

    /// Points `refs/heads/<name>` at `commit`: temp file, fsync, rename, fsync the directory.
    pub fn set_ref(&self, name: &str, commit: &ObjectId) -> Result<()> {
        validate_ref(name).map_err(|error| Error::Ref { path: self.path.clone(), error })?;
        let target = self.path.join("refs/heads").join(name);
        let dir = target.parent().unwrap_or(&self.path).to_path_buf();
        std::fs::create_dir_all(&dir).at(&dir)?;
        Ok(durable::write_file_via(&self.path.join("tmp"), &target, format!("{commit}\n").as_bytes())?)
    }
}

thread_local! {
    /// One copy buffer per worker thread: a fresh 256 KiB buffer per object would be an mmap
    /// and munmap per file.
    static COPY_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 256 * 1024]);
}

/// An object file not yet named in `objects/`.
struct Staged {
    file: File,
    /// The named temp file, when the filesystem has no `O_TMPFILE`; removed if never published.
    temp: Option<PathBuf>,
    /// What to call it in errors.
    display: PathBuf,
}

impl Staged {
    fn path(&self) -> PathBuf {
        self.temp.clone().unwrap_or_else(|| self.display.join("(O_TMPFILE)"))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Sets mtime 0 (and leaves atime alone), as ostree does for bare content objects.
fn set_mtime_zero(file: &File) -> rustix::io::Result<()> {
    let times = Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_OMIT },
        last_modification: Timespec { tv_sec: 0, tv_nsec: 0 },
    };
    futimens(file, &times)
}

/// Copies `reader` into `out`, feeding the checksum. Returns the bytes copied.
pub(crate) fn copy_hashed(
    reader: Option<&mut &mut dyn Read>,
    mut out: impl Write,
    hasher: &mut ContentHasher,
) -> std::io::Result<u64> {
    let Some(reader) = reader else { return Ok(0) };
    COPY_BUFFER.with(|buf| {
        let mut buf = buf.borrow_mut();
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            let chunk = buf.get(..n).unwrap_or_default();
            hasher.update(chunk);
            out.write_all(chunk)?;
            total += n as u64;
        }
    })
}
