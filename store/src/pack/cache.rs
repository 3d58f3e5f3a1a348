//! A bounded set of open pack files. A store of thousands of packs (one per imported
//! package) must not hold one descriptor per pack: the usual soft limit is 1,024, and the
//! importer, the exporter and the index need descriptors of their own. Every read of a pack
//! goes through [`PackCache`], which keeps at most [`capacity_for`] of them open and closes
//! the least recently used first. A reader that still streams from an evicted pack keeps its
//! own handle (an `Arc`) until it is done, so eviction never breaks a read in progress.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, IoContext, Result};
use crate::pack::writer::pack_path;
use rejig_format::id::PackId;

/// The soft limit on open files of this process, if the system tells it.
pub fn soft_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// How many packs to keep open under a soft limit of `soft` descriptors: a quarter of it,
/// between 4 and 256. The other three quarters are headroom for the package files, the
/// repository being written, sockets, the index and the worker threads' files.
pub fn capacity_for(soft: Option<u64>) -> usize {
    let soft = soft.unwrap_or(1024);
    usize::try_from((soft / 4).clamp(4, 256)).unwrap_or(4)
}

/// Raises this process's soft limit on open files to its hard limit (capped at 65,536),
/// returning the limits before and after when it changed anything. The pack cache does not
/// need it; the rest of a big run (parallel writers, many mirrors) runs more freely.
pub fn raise_soft_limit() -> Option<(u64, u64)> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current?;
    let wanted = limit.maximum.unwrap_or(u64::MAX).min(65_536);
    if wanted <= before {
        return None;
    }
    let raised = rustix::process::Rlimit { current: Some(wanted), maximum: limit.maximum };
    setrlimit(Resource::Nofile, raised).ok()?;
    Some((before, wanted))
}

struct Open {
    /// Open files, with the tick of their last use.
    files: HashMap<PackId, (Arc<File>, u64)>,
    /// Pack by last-use tick, oldest first.
    by_use: BTreeMap<u64, PackId>,
    tick: u64,
}

impl Open {
    fn evict_oldest(&mut self) {
        if let Some((_, id)) = self.by_use.pop_first() {
            self.files.remove(&id);
        }
    }
}

/// Open pack files, at most `capacity` at a time, least recently used closed first.
pub struct PackCache {
    dir: PathBuf,
    capacity: usize,
    open: Mutex<Open>,
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::invalid("pack cache", "a worker thread panicked while holding its lock")
}

impl PackCache {
    /// A cache of the packs in `dir`, sized for this process's soft limit on open files.
    pub fn new(dir: &Path) -> Self {
        Self::with_capacity(dir, capacity_for(soft_limit()))
    }

    /// A cache that keeps at most `capacity` (at least 1) packs open.
    pub fn with_capacity(dir: &Path, capacity: usize) -> Self {
        let open = Open { files: HashMap::new(), by_use: BTreeMap::new(), tick: 0 };
        Self { dir: dir.to_path_buf(), capacity: capacity.max(1), open: Mutex::new(open) }
    }

    /// How many packs it keeps open at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many packs are open now.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.open.lock().map(|open| open.files.len()).unwrap_or(0)
    }

    /// The open file of pack `id`, opening it (and closing the least recently used one) if
    /// needed. If the process is out of descriptors, half the cache is closed and the open is
    /// tried once more before [`Error::TooManyOpenFiles`] is returned.
    pub fn get(&self, id: &PackId) -> Result<Arc<File>> {
        let mut open = self.open.lock().map_err(poisoned)?;
        open.tick += 1;
        let tick = open.tick;
        if let Some((file, used)) = open.files.get_mut(id) {
            let file = file.clone();
            let previous = std::mem::replace(used, tick);
            open.by_use.remove(&previous);
            open.by_use.insert(tick, *id);
            return Ok(file);
        }
        while open.files.len() >= self.capacity {
            open.evict_oldest();
        }
        let path = pack_path(&self.dir, id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) => {
                let error = Error::io(&path, error);
                if !error.is_too_many_open_files() {
                    return Err(error);
                }
                let keep = open.files.len() / 2;
                while open.files.len() > keep {
                    open.evict_oldest();
                }
                File::open(&path).at(&path)?
            }
        };
        let file = Arc::new(file);
        open.files.insert(*id, (file.clone(), tick));
        open.by_use.insert(tick, *id);
        Ok(file)
    }

    /// Closes the cached file of pack `id`, whose file was just replaced.
    pub fn forget(&self, id: &PackId) -> Result<()> {
        let mut open = self.open.lock().map_err(poisoned)?;
        if let Some((_, used)) = open.files.remove(id) {
            open.by_use.remove(&used);
        }
        Ok(())
    }

    /// Closes every cached pack, so that packs deleted since free their space now.
    pub fn clear(&self) -> Result<()> {
        let mut open = self.open.lock().map_err(poisoned)?;
        open.files.clear();
        open.by_use.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn capacity_leaves_headroom_under_any_limit() {
        assert_eq!(capacity_for(Some(1024)), 256);
        assert_eq!(capacity_for(Some(64)), 16);
        assert_eq!(capacity_for(Some(12)), 4);
        assert_eq!(capacity_for(Some(1 << 20)), 256);
        assert_eq!(capacity_for(None), 256);
    }

    #[test]
    fn keeps_at_most_capacity_open_and_closes_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<PackId> = (0u8..6).map(|i| PackId::from_bytes([i; 32])).collect();
        for id in &ids {
            std::fs::write(pack_path(dir.path(), id), [0u8; 4]).unwrap();
        }
        let cache = PackCache::with_capacity(dir.path(), 3);
        for id in &ids[..3] {
            cache.get(id).unwrap();
        }
        // Touch the first, so the second is now the oldest.
        let first = cache.get(&ids[0]).unwrap();
        cache.get(&ids[3]).unwrap();
        assert_eq!(cache.open_count(), 3);
        let open = cache.open.lock().unwrap();
        assert!(open.files.contains_key(&ids[0]) && !open.files.contains_key(&ids[1]));
        drop(open);
        for id in &ids {
            cache.get(id).unwrap();
            assert!(cache.open_count() <= 3);
        }
        // A handle taken before eviction still reads.
        let mut buf = [1u8; 4];
        std::os::unix::fs::FileExt::read_exact_at(&*first, &mut buf, 0).unwrap();
        assert_eq!(buf, [0u8; 4]);
        cache.clear().unwrap();
        assert_eq!(cache.open_count(), 0);
        let missing = PackId::from_bytes([9; 32]);
        assert!(matches!(cache.get(&missing), Err(Error::Io { .. })));
    }
}
