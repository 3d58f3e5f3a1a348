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

/// The largest `config` read; ostree's are a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn repo_error(path: &Path, detail: impl Into<String>) -> Error {
    Error::Repo { path: path.into(), detail: detail.into() }
}

/// The repository's `config`, or None when there is none. As ostree, refuses a config that
/// cannot be read (not a regular file, not UTF-8 text, too large) and one whose
/// `[core] repo_version` is missing or not 1. A FIFO or device is never opened.
fn read_config(path: &Path) -> Result<Option<String>> {
    let config_path = path.join("config");
    let meta = match std::fs::metadata(&config_path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(&config_path).is_ok() {
                return Err(repo_error(path, "config is a dangling symlink; ostree cannot open this repository"));
            }
            return Ok(None);
        }
        Err(e) => return Err(e).at(&config_path),
    };
    if !meta.is_file() {
        return Err(repo_error(path, "config is not a regular file; ostree cannot open this repository"));
    }
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let file = File::from(rustix::fs::open(&config_path, flags, Mode::empty()).at(&config_path)?);
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).at(&config_path)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(repo_error(path, format!("config is larger than {MAX_CONFIG_BYTES} bytes; not an OSTree config")));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| repo_error(path, "config is not UTF-8 text; ostree cannot open this repository"))?;
    match core_value(&text, "repo_version") {
        Some("1") => Ok(Some(text)),
        Some(other) => Err(repo_error(
            path,
            format!("config says repo_version={other}; ostree and rejig know only version 1 repositories"),
        )),
        None => Err(repo_error(path, "config has no [core] repo_version; ostree cannot open this repository")),
    }
}

/// The value of `key` in the `[core]` group of a key file.
fn core_value<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    let mut in_core = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_core = line == "[core]";
        } else if in_core && !line.starts_with('#') {
            if let Some((k, value)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(value.trim());
                }
            }
        }
    }
    None
}

/// Refuses a repository whose layout would lead writes out of it or into nothing: every
/// skeleton directory, every `objects/XX` and every directory under `refs/heads` must be a
/// real directory (not a symlink), and `.lock`, if there, not a symlink.
fn check_layout(path: &Path) -> Result<()> {
    let symlink = |inner: &Path| {
        repo_error(
            path,
            format!(
                "{} is a symlink; rejig does not follow symlinks out of the repository (make it a real directory)",
                inner.display()
            ),
        )
    };
    for dir in SKELETON {
        let dir = path.join(dir);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink(&dir)),
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(repo_error(path, format!("{} is not a directory", dir.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(repo_error(path, format!("{} is missing; is this an OSTree repository?", dir.display())))
            }
            Err(e) => return Err(e).at(&dir),
        }
    }
    let lock = path.join(".lock");
    if std::fs::symlink_metadata(&lock).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(symlink(&lock));
    }
    let objects = path.join("objects");
    for entry in std::fs::read_dir(&objects).at(&objects)? {
        let entry = entry.at(&objects)?;
        if entry.file_type().at(entry.path())?.is_symlink() {
            return Err(symlink(&entry.path()));
        }
    }
    let mut dirs = vec![path.join("refs/heads")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let kind = entry.file_type().at(entry.path())?;
            if kind.is_symlink() {
                return Err(symlink(&entry.path()));
            } else if kind.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Refuses `dir` (of the repository at `path`) when this process cannot write to it.
fn writable(path: &Path, dir: &Path) -> Result<()> {
    match rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::ROFS) => {
            Err(repo_error(path, format!("{} is on a read-only filesystem; nothing can be written", dir.display())))
        }
        Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => Err(repo_error(
            path,
            format!("{} is not writable by this user; run as its owner or pick another --repo", dir.display()),
        )),
        Err(e) => Err(e).at(dir),
    }
}

/// `ostree init`'s config for `mode`.
fn config_text(mode: RepoMode) -> String {
    format!("[core]\nrepo_version=1\nmode={}\n", mode.config_name())
}

/// Creates the repository at `path`. When nothing is there, it is built whole in a hidden
/// directory beside `path` and renamed into place without replacing anything; when an empty
/// directory is there, the skeleton is made inside it and `config` linked in last without
/// replacing one. Either way a concurrent creator's repository wins, and is not an error.
fn create(path: &Path, mode: RepoMode) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => init_in_place(path, mode),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_aside(path, mode)?;
            if read_config(path)?.is_none() {
                // Someone made an empty directory there meanwhile.
                init_in_place(path, mode)?;
            }
            Ok(())
        }
        Err(e) => Err(e).at(path),
    }
}

fn create_aside(path: &Path, mode: RepoMode) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| repo_error(path, "names no directory"))?;
    std::fs::create_dir_all(parent).at(parent)?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos());
    let temp = parent.join(format!(
        ".{}.rejig-new-{}-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        nanos.unwrap_or_default(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&temp).at(&temp)?;
    let built = (|| -> Result<bool> {
        for dir in SKELETON {
            std::fs::create_dir_all(temp.join(dir)).at(temp.join(dir))?;
        }
        let config = temp.join("config");
        let mut file = File::create(&config).at(&config)?;
        file.write_all(config_text(mode).as_bytes()).at(&config)?;
        durable::sync_file(&file, &config)?;
        for dir in ["refs", ""] {
            durable::sync_dir(&temp.join(dir))?;
        }
        match renameat_with(CWD, &temp, CWD, path, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY) => Ok(false),
            Err(e) => Err(e).at(path),
        }
    })();
    match built {
        Ok(true) => Ok(durable::sync_dir(parent)?),
        Ok(false) | Err(_) => {
            let _ = std::fs::remove_dir_all(&temp);
            built.map(drop)
        }
    }
}

/// Makes the skeleton inside an existing directory, which must hold nothing else, then links
/// `config` in without replacing one (a concurrent creator's stays).
fn init_in_place(path: &Path, mode: RepoMode) -> Result<()> {
    let foreign = std::fs::read_dir(path)
        .at(path)?
        .filter_map(|e| e.ok())
        .any(|e| !SKELETON.iter().any(|s| s.split('/').next() == e.file_name().to_str()) && e.file_name() != ".lock");
    if foreign {
        if read_config(path)?.is_some() {
            return Ok(());
        }
        return Err(repo_error(path, "exists, is not empty and has no config: not an OSTree repository"));
    }
    for dir in SKELETON {
        std::fs::create_dir_all(path.join(dir)).at(path.join(dir))?;
    }
    let config = path.join("config");
    let mut temp = tempfile::Builder::new().prefix(".config.rejig-").tempfile_in(path).at(path)?;
    temp.as_file_mut().write_all(config_text(mode).as_bytes()).at(temp.path())?;
    durable::sync_file(temp.as_file(), temp.path())?;
    match temp.persist_noclobber(&config) {
        Ok(_) => Ok(durable::sync_dir(path)?),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.error).at(&config),
    }
}

impl OstreeRepo {
    /// The mode the repository at `path` has, or would be created with: an existing
    /// repository's own mode (which must match `requested` when one is given), else
    /// `requested`, else archive. Creates nothing.
    pub fn planned_mode(path: &Path, requested: Option<RepoMode>) -> Result<RepoMode> {
        match read_config(path)? {
            Some(config) => {
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
            None => Ok(requested.unwrap_or(RepoMode::Archive)),
        }
    }

    /// Checks, before anything is fetched or written, what would make a write into `path`
    /// fail half-way or leave the repository: a directory the export must write to that is
    /// read-only (or, for a new repository, the nearest existing parent), a symlink where the
    /// layout has a directory (ostree-format.md §3.1), and a ref name that clashes with an
    /// existing ref (`a/b` when `a` is a ref, or `a` when refs `a/...` exist). Creates nothing.
    pub fn preflight(path: &Path, ref_name: Option<&str>) -> Result<()> {
        if read_config(path)?.is_none() {
            let mut existing = path;
            while let Err(e) = std::fs::symlink_metadata(existing) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(e).at(existing);
                }
                existing = match existing.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
            }
            return writable(path, existing);
        }
        check_layout(path)?;
        for dir in ["", "objects", "tmp", "state", "refs/heads"] {
            writable(path, &path.join(dir))?;
        }
        let Some(name) = ref_name else { return Ok(()) };
        let heads = path.join("refs/heads");
        let clash = |detail: String| Err(Error::Repo { path: path.into(), detail });
        let parts: Vec<&str> = name.split('/').collect();
        for end in 1..parts.len() {
            let prefix = parts.get(..end).unwrap_or_default().join("/");
            if std::fs::symlink_metadata(heads.join(&prefix)).is_ok_and(|m| !m.is_dir()) {
                return clash(format!(
                    "ref {prefix:?} exists, so no ref can be made below it as {name:?} (ostree refuses it too); \
                     pick another --ref"
                ));
            }
        }
        if std::fs::symlink_metadata(heads.join(name)).is_ok_and(|m| m.is_dir()) {
            return clash(format!("refs {name}/... exist, so {name:?} cannot be a ref itself; pick another --ref"));
        }
        Ok(())
    }

    /// Opens the repository at `path`, creating the full `ostree init` skeleton if it does not
    /// exist (in `requested` mode, archive by default). An existing repository must be in
    /// `requested` mode when one is given.
    ///
    /// Creation is atomic: a new repository is built beside its path and renamed into place,
    /// and an existing empty directory gets its `config` last, never replacing one. Another
    /// export creating the same repository at the same moment is not an error: its repository
    /// is used, once it is checked like any existing one.
    pub fn open_or_create(path: &Path, requested: Option<RepoMode>) -> Result<Self> {
        let planned = Self::planned_mode(path, requested)?;
        if read_config(path)?.is_none() {
            create(path, planned)?;
        }
        // Whoever created it, what is there now must be what was planned.
        let mode = Self::planned_mode(path, Some(planned))?;
        check_layout(path)?;
        Ok(Self { path: path.to_path_buf(), mode, temp_counter: AtomicU64::new(0) })
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
        self.write_content_through(expected, header, content)
    }

    /// [`OstreeRepo::write_content`] without the look for the object first: the content is
    /// always read to its end and hashed (a direct import needs every byte of it), and an
    /// object that is already there is left as it is.
    pub fn write_content_through(
        &self,
        expected: Option<ObjectId>,
        header: &FileHeader,
        content: Option<(&mut dyn Read, u64)>,
    ) -> Result<Written> {
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
                    Err(Error::Checksum { key: ObjectKey::new(expected, ObjectType::File), actual: id })
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

    /// The commit `refs/heads/<name>` names, when the ref exists and holds one checksum.
    pub fn read_ref(&self, name: &str) -> Option<ObjectId> {
        validate_ref(name).ok()?;
        let text = std::fs::read_to_string(self.path.join("refs/heads").join(name)).ok()?;
        if text.len() > 128 {
            return None;
        }
        text.trim().parse().ok()
    }

    /// A metadata object's bytes, when the repository has it, it is at most `limit` bytes and
    /// it hashes to its name; None otherwise. Callers use it only to learn what the repository
    /// already holds, never as a source of objects to write.
    pub fn read_verified_metadata(&self, key: &ObjectKey, limit: u64) -> Option<Vec<u8>> {
        let path = self.path.join(self.mode.loose_path(key));
        let file = File::open(path).ok()?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= limit && rejig_format::object::metadata_checksum(&bytes) == key.id).then_some(bytes)
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
