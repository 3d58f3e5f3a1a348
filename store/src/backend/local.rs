//! A folder that stands in for a bucket: the same keys as files under a directory. It lets
//! the sync logic run without a server (the store's own tests) and serves a farm whose
//! builders share a network filesystem. A conditional create is a hard link, which fails
//! when the name exists.

use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Backend, Counters, Created, Listed};
use crate::error::{Error, IoContext, Result};

/// A directory of objects.
pub struct LocalBackend {
    root: PathBuf,
    counters: Counters,
}

impl LocalBackend {
    /// Objects under `root`, created if missing.
    pub fn new(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root.join(".tmp")).at(root)?;
        Ok(Self { root: root.to_path_buf(), counters: Counters::default() })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if key.split('/').any(|part| part.is_empty() || part == "." || part == ".." || part.starts_with(".tmp")) {
            return Err(Error::invalid("object key", format!("{key:?} is not a key")));
        }
        Ok(self.root.join(key))
    }

    /// Writes `bytes` to a temporary file, durably, and returns its path.
    fn staged(&self, bytes: &[u8]) -> Result<PathBuf> {
        let tmp = self.root.join(".tmp");
        let file = tempfile::NamedTempFile::new_in(&tmp).at(&tmp)?;
        file.as_file().write_all_at(bytes, 0).at(file.path())?;
        crate::durable::sync_file(file.as_file(), file.path())?;
        let (_, path) = file.keep().map_err(|e| Error::io(&tmp, e.error))?;
        Ok(path)
    }

    fn parent_of(path: &Path) -> Result<()> {
        match path.parent() {
            Some(dir) => std::fs::create_dir_all(dir).at(dir),
            None => Ok(()),
        }
    }
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn put_create(&self, key: &str, bytes: Vec<u8>) -> Result<Created> {
        let path = self.path(key)?;
        Self::parent_of(&path)?;
        let staged = self.staged(&bytes)?;
        let linked = std::fs::hard_link(&staged, &path);
        let _ = std::fs::remove_file(&staged);
        match linked {
            Ok(()) => Ok(Created::Created),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Created::Existed),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(key)?;
        Self::parent_of(&path)?;
        let staged = self.staged(&bytes)?;
        crate::durable::rename(&staged, &path)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).at(&dir)? {
                let entry = entry.at(&dir)?;
                let path = entry.path();
                let meta = entry.metadata().at(&path)?;
                let Ok(relative) = path.strip_prefix(&self.root) else { continue };
                let key = relative.to_string_lossy().into_owned();
                if key.starts_with(".tmp") {
                    continue;
                }
                if meta.is_dir() {
                    dirs.push(path);
                } else if key.starts_with(prefix) {
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs());
                    out.push(Listed { key, size: meta.len(), modified });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn get_ranges(&self, wanted: &[(String, Range<u64>)]) -> Vec<Result<Vec<u8>>> {
        wanted
            .iter()
            .map(|(key, range)| {
                let path = self.path(key)?;
                let file = std::fs::File::open(&path).at(&path)?;
                let len = usize::try_from(range.end.saturating_sub(range.start))
                    .map_err(|_| Error::invalid("range", "too long"))?;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, range.start).at(&path)?;
                Counters::add(&self.counters.gets, 1);
                Counters::add(&self.counters.bytes_in, buf.len() as u64);
                Ok(buf)
            })
            .collect()
    }

    fn download(&self, key: &str, path: &Path) -> Result<u64> {
        let from = self.path(key)?;
        let copied = std::fs::copy(&from, path).at(&from)?;
        Counters::add(&self.counters.gets, 1);
        Counters::add(&self.counters.bytes_in, copied);
        Ok(copied)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}
