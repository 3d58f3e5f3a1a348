//! One writer at a time. The lock is `flock(LOCK_EX)` on `<store>/lock`; the holder writes
//! its pid and command line into the file so that a waiting process can say who it waits for.
//! The kernel drops the lock when the holder exits, however it exits.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use crate::error::{IoContext, Result};

/// A held store lock; released on drop.
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock, calling `on_wait` with the holder's description if it must wait.
    pub fn acquire(path: &Path, on_wait: &dyn Fn(&str)) -> Result<Self> {
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).at(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                on_wait(if holder.is_empty() { "another rejig process" } else { holder });
                flock(&file, FlockOperation::LockExclusive).at(path)?;
            }
            Err(e) => return Err(e).at(path),
        }
        let args: Vec<String> = std::env::args().collect();
        file.set_len(0).at(path)?;
        file.rewind().at(path)?;
        write!(file, "pid {} ({})", std::process::id(), args.join(" ")).at(path)?;
        Ok(Self { _file: file })
    }
}
