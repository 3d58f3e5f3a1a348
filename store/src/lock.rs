//! One writer at a time. The lock is `flock(LOCK_EX)` on `<store>/lock`; the holder writes
//! a description of itself into the file, given by the caller (for the command line, its
//! command and pid), so that a waiting process can say who it waits for. The kernel drops the
//! lock when the holder exits, however it exits.

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
    /// Takes the lock, calling `on_wait` with the holder's description if it must wait, and
    /// then records `holder` as the description of this process.
    pub fn acquire(path: &Path, holder: &str, on_wait: &dyn Fn(&str)) -> Result<Self> {
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).at(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut held_by = String::new();
                let _ = file.read_to_string(&mut held_by);
                let held_by = held_by.trim();
                on_wait(if held_by.is_empty() { "another rejig process" } else { held_by });
                flock(&file, FlockOperation::LockExclusive).at(path)?;
            }
            Err(e) => return Err(e).at(path),
        }
        file.set_len(0).at(path)?;
        file.rewind().at(path)?;
        file.write_all(holder.as_bytes()).at(path)?;
        Ok(Self { _file: file })
    }
}

/// The description [`crate::Store::open`] records when the caller gives none.
pub fn default_holder() -> String {
    format!("pid {}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_records_the_callers_description_and_a_waiter_is_told_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = StoreLock::acquire(&path, "rejig export (pid 1)", &|_| panic!("nobody holds it yet")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "rejig export (pid 1)");
        let (told_tx, told_rx) = std::sync::mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let told = |holder: &str| told_tx.send(holder.to_owned()).unwrap();
                drop(StoreLock::acquire(&path, "pid 2", &told).unwrap());
            })
        };
        // The waiter is told before it blocks; the first lets go only then.
        let told = told_rx.recv().unwrap();
        drop(first);
        waiter.join().unwrap();
        assert_eq!(told, "rejig export (pid 1)");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "pid 2", "the new holder replaces the description");
    }
}
