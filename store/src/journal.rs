//! The roots journal, `<store>/roots.journal` (FORMAT.md §3a): an append-only record of each
//! use of a root and of each root gc dropped, written beside the index so that a rebuild of
//! the index from the packs (`fsck --repair`) knows which roots were used last and which gc
//! had already let go. The packs list roots but not when they were used; the index knows, but
//! the index is what a repair replaces.
//!
//! ```text
//! journal = "RJROOTS\x01" ‖ store id (16) ‖ record…
//! record  = kind u8 (1 use, 2 drop) ‖ key (33) ‖ stamp u64 LE ‖ check (first 4 bytes of BLAKE3 of the 42 before)
//! ```
//!
//! Every append is fsynced (fdatasync) before the index transaction it goes with commits.
//! The decoder reads fixed-size records one at a time: a torn last record (a crash in the
//! middle of an append) is ignored and cut off before the next append, and a record whose
//! check fails is skipped and counted.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::identity::StoreId;
use rejig_format::id::ObjectKey;

/// The journal's magic, whose last byte is its version.
pub const MAGIC: &[u8; 8] = b"RJROOTS\x01";
const HEADER_LEN: usize = 8 + 16;
/// The length of one record.
pub const RECORD_LEN: usize = 1 + 33 + 8 + 4;

/// What a record says of a root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootEvent {
    /// Used (imported, committed, rebuilt or exported) at the stamp.
    Use,
    /// Dropped by gc at the stamp.
    Drop,
}

/// The last thing the journal says of each root, and what it could not read.
#[derive(Clone, Debug, Default)]
pub struct JournalState {
    /// Per root: the latest event and its stamp.
    pub roots: HashMap<ObjectKey, (RootEvent, u64)>,
    /// Records skipped because their check failed.
    pub damaged: u64,
    /// Bytes of a torn last record.
    pub torn_bytes: u64,
    /// Length of the header plus every whole record: where the next append goes.
    pub valid_len: u64,
}

impl JournalState {
    /// The stamp of a root's last use, unless its latest event is a drop.
    pub fn last_use(&self, key: &ObjectKey) -> Option<u64> {
        match self.roots.get(key) {
            Some((RootEvent::Use, stamp)) => Some(*stamp),
            _ => None,
        }
    }

    /// True when gc dropped the root after its last use.
    pub fn dropped(&self, key: &ObjectKey) -> bool {
        matches!(self.roots.get(key), Some((RootEvent::Drop, _)))
    }

    fn apply(&mut self, event: RootEvent, key: ObjectKey, stamp: u64) {
        let newer = self.roots.get(&key).is_none_or(|(_, old)| stamp >= *old);
        if newer {
            self.roots.insert(key, (event, stamp));
        }
    }
}

fn encode(event: RootEvent, key: &ObjectKey, stamp: u64) -> [u8; RECORD_LEN] {
    let mut out = [0u8; RECORD_LEN];
    out[0] = match event {
        RootEvent::Use => 1,
        RootEvent::Drop => 2,
    };
    out[1..34].copy_from_slice(&key.to_bytes());
    out[34..42].copy_from_slice(&stamp.to_le_bytes());
    let check = blake3::hash(&out[..42]);
    out[42..].copy_from_slice(&check.as_bytes()[..4]);
    out
}

fn decode(record: &[u8; RECORD_LEN]) -> Option<(RootEvent, ObjectKey, u64)> {
    let check = blake3::hash(&record[..42]);
    if record[42..] != check.as_bytes()[..4] {
        return None;
    }
    let event = match record[0] {
        1 => RootEvent::Use,
        2 => RootEvent::Drop,
        _ => return None,
    };
    let key = ObjectKey::from_bytes(record[1..34].try_into().ok()?).ok()?;
    let stamp = u64::from_le_bytes(record[34..42].try_into().ok()?);
    Some((event, key, stamp))
}

/// Reads a journal. `Ok(None)` when there is none, or when its header is not this store's
/// (a journal copied from elsewhere says nothing about these roots).
pub fn read(path: &Path, store: &StoreId) -> Result<Option<JournalState>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut header = [0u8; HEADER_LEN];
    if read_full(&mut reader, &mut header).at(path)? < HEADER_LEN {
        return Ok(None);
    }
    if &header[..8] != MAGIC || header[8..] != store.0 {
        return Ok(None);
    }
    let mut state = JournalState { valid_len: HEADER_LEN as u64, ..Default::default() };
    let mut record = [0u8; RECORD_LEN];
    loop {
        let n = read_full(&mut reader, &mut record).at(path)?;
        if n < RECORD_LEN {
            state.torn_bytes = n as u64;
            return Ok(Some(state));
        }
        state.valid_len += RECORD_LEN as u64;
        match decode(&record) {
            Some((event, key, stamp)) => state.apply(event, key, stamp),
            None => state.damaged += 1,
        }
    }
}

/// Reads until `buf` is full or the end; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The journal open for appends.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Opens the journal of `store` for appends, cutting off a torn last record. A missing
    /// journal, or one of another store, is written anew from `seed` (the index's roots).
    pub fn open(path: &Path, store: &StoreId, temp_dir: &Path, seed: &[(ObjectKey, u64)]) -> Result<Self> {
        match read(path, store)? {
            Some(state) => {
                let file = OpenOptions::new().append(true).open(path).at(path)?;
                if state.torn_bytes > 0 {
                    file.set_len(state.valid_len).at(path)?;
                    file.sync_data().at(path)?;
                }
                Ok(Self { file, path: path.to_path_buf() })
            }
            None => {
                let records: Vec<_> = seed.iter().map(|(key, stamp)| (RootEvent::Use, *key, *stamp)).collect();
                Self::rewrite(path, store, temp_dir, &records)
            }
        }
    }

    /// Replaces the journal, durably, by one holding `records`, and opens it for appends.
    pub fn rewrite(
        path: &Path,
        store: &StoreId,
        temp_dir: &Path,
        records: &[(RootEvent, ObjectKey, u64)],
    ) -> Result<Self> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + records.len() * RECORD_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&store.0);
        for (event, key, stamp) in records {
            bytes.extend_from_slice(&encode(*event, key, *stamp));
        }
        crate::durable::write_file_via(temp_dir, path, &bytes)?;
        let file = OpenOptions::new().append(true).open(path).at(path)?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    /// Appends records and makes them durable.
    pub fn append(&mut self, event: RootEvent, keys: &[ObjectKey], stamp: u64) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(keys.len() * RECORD_LEN);
        for key in keys {
            bytes.extend_from_slice(&encode(event, key, stamp));
        }
        self.file.write_all(&bytes).at(&self.path)?;
        self.file.sync_data().at(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rejig_format::id::{ObjectId, ObjectType};

    fn key(n: u8) -> ObjectKey {
        ObjectKey::new(ObjectId::from_bytes([n; 32]), ObjectType::Commit)
    }

    #[test]
    fn the_latest_event_wins_and_a_torn_or_damaged_record_is_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roots.journal");
        let id = StoreId([7; 16]);
        let mut journal = Journal::open(&path, &id, dir.path(), &[(key(1), 10)]).unwrap();
        journal.append(RootEvent::Use, &[key(2)], 20).unwrap();
        journal.append(RootEvent::Drop, &[key(1)], 30).unwrap();
        journal.append(RootEvent::Use, &[key(3)], 40).unwrap();
        drop(journal);
        let state = read(&path, &id).unwrap().unwrap();
        assert!(state.dropped(&key(1)));
        assert_eq!((state.last_use(&key(2)), state.last_use(&key(3))), (Some(20), Some(40)));

        // A torn append and a flipped byte in the middle.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER_LEN + RECORD_LEN + 5] ^= 1;
        bytes.extend_from_slice(&encode(RootEvent::Use, &key(4), 50)[..17]);
        std::fs::write(&path, &bytes).unwrap();
        let state = read(&path, &id).unwrap().unwrap();
        assert_eq!((state.damaged, state.torn_bytes), (1, 17));
        assert_eq!(state.last_use(&key(2)), None, "its record is damaged");
        assert_eq!(state.last_use(&key(4)), None, "its record is torn");

        // The next append starts at a record boundary.
        let mut journal = Journal::open(&path, &id, dir.path(), &[]).unwrap();
        journal.append(RootEvent::Use, &[key(5)], 60).unwrap();
        let state = read(&path, &id).unwrap().unwrap();
        assert_eq!((state.torn_bytes, state.last_use(&key(5))), (0, Some(60)));

        // Another store's journal says nothing.
        assert!(read(&path, &StoreId([8; 16])).unwrap().is_none());
    }
}
