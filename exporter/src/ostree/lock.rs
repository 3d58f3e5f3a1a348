//! ostree's repository lock: an open-file-description lock on `<repo>/.lock`
//! (ostree-format.md §3.1). Writers take it shared, as `ostree commit` and `pull` do; prune
//! takes it exclusive. OFD locks are per open file, not per process, so threads are safe.

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
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o640).open(&path).at(&path)?;
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
