//! ostree's repository lock: an open-file-description lock on `<repo>/.lock`
//! (ostree-format.md §3.1). Writers take it shared, as `ostree commit` and `pull` do; prune
//! takes it exclusive. OFD locks are per open file, not per process, so threads are safe.
//!
//! Stale temp files: a killed export can leave `tmp/rejig-<pid>-<n>` (a symlink or a file
//! not yet renamed into `objects/`) and `tmp/.rejig-*` (a ref or config being replaced).
//! rejig writes these only while it holds the shared lock, so whoever holds the lock
//! exclusively knows that none of them is being written: [`RepoLock::shared_after_cleanup`]
//! tries the exclusive lock without waiting, removes them if it got it, and turns it into the
//! shared lock in one step. When another process holds the lock, the cleanup is left to a
//! later export.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg};

use crate::error::{Error, IoContext, Result};

/// How long to wait for a conflicting lock, as ostree's `lock-timeout-secs` default.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// A held shared lock; released when dropped (the file is closed).
pub struct RepoLock {
    _file: File,
}

fn lock_request(kind: libc::c_short) -> libc::flock {
    libc::flock { l_type: kind, l_whence: libc::SEEK_SET as libc::c_short, l_start: 0, l_len: 0, l_pid: 0 }
}

impl RepoLock {
    /// Takes the shared lock, waiting up to [`LOCK_TIMEOUT`] for an exclusive holder.
    pub fn shared(repo: &Path) -> Result<Self> {
        let path = repo.join(".lock");
        Self::wait_shared(repo, open_lock_file(&path)?)
    }

    /// Takes the shared lock as [`RepoLock::shared`] does; but first, when no other process
    /// holds the lock at all, removes the temp files killed rejig exports left in `tmp/`
    /// (see the module's doc). Returns the lock; the number removed is not reported.
    pub fn shared_after_cleanup(repo: &Path) -> Result<Self> {
        let path = repo.join(".lock");
        let file = open_lock_file(&path)?;
        if fcntl(&file, FcntlArg::F_OFD_SETLK(&lock_request(libc::F_WRLCK as libc::c_short))).is_ok() {
            let swept = sweep_tmp(&repo.join("tmp"));
            // An OFD lock of the same open file is converted in place: no one gets in between.
            fcntl(&file, FcntlArg::F_OFD_SETLK(&lock_request(libc::F_RDLCK as libc::c_short))).at(&path)?;
            swept?;
            return Ok(Self { _file: file });
        }
        Self::wait_shared(repo, file)
    }

    fn wait_shared(repo: &Path, file: File) -> Result<Self> {
        let path = repo.join(".lock");
        let request = lock_request(libc::F_RDLCK as libc::c_short);
        let started = Instant::now();
        loop {
            match fcntl(&file, FcntlArg::F_OFD_SETLK(&request)) {
                Ok(_) => return Ok(Self { _file: file }),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) if started.elapsed() < LOCK_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => {
                    return Err(Error::Repo {
                        path: repo.to_path_buf(),
                        detail: format!(
                            "locked exclusively by another process (an `ostree prune`?) for over {}s; try again when it is done",
                            LOCK_TIMEOUT.as_secs()
                        ),
                    })
                }
                Err(e) => return Err(e).at(&path),
            }
        }
    }
}

/// Opens (creating it with mode 0640 if needed) the lock file, never through a symlink.
fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .at(path)
}

/// True for the names rejig gives its temp files in `tmp/`.
pub fn is_rejig_temp(name: &str) -> bool {
    name.starts_with("rejig-") || name.starts_with(".rejig-")
}

/// Removes rejig's temp files (never directories, never anything else) from `tmp`. Call only
/// with the lock held exclusively. Returns how many were removed.
fn sweep_tmp(tmp: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(tmp).at(tmp)? {
        let entry = entry.at(tmp)?;
        let stale = entry.file_name().to_str().is_some_and(is_rejig_temp);
        if stale && !entry.file_type().at(entry.path())?.is_dir() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(entry.path()),
            }
        }
    }
    Ok(removed)
}
