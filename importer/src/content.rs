//! Storing one content object: its bytes become a blob while the same pass computes the
//! OSTree checksum, so every byte is read once. Input beyond the declared size is an error,
//! which bounds decompression bombs.

use std::io::Read;

use rejig_format::object::{ContentHasher, FileHeader};
use rejig_format::{ObjectId, ObjectRecord};
use rejig_store::store::IN_MEMORY_BLOB_LIMIT;
use rejig_store::Batch;

/// Why content could not be stored: the reader failed, or it delivered the wrong size.
#[derive(Debug)]
pub enum ContentError {
    /// The underlying read or the store failed.
    Failed(crate::Error),
    /// Fewer or more bytes than declared.
    Size {
        /// Bytes delivered.
        read: u64,
        /// Bytes declared.
        declared: u64,
    },
}

impl std::fmt::Display for ContentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContentError::Failed(e) => f.write_str(&rejig_format::chain(e)),
            ContentError::Size { read, declared } if read > declared => {
                write!(f, "content is longer than the declared {declared} bytes")
            }
            ContentError::Size { read, declared } => {
                write!(f, "truncated: {read} bytes of content where {declared} are declared")
            }
        }
    }
}

/// Stores a content object and returns its checksum and record. `content` is the file's
/// bytes with their declared size, or None for a symlink. The caller compares the checksum
/// with the name it expects; if they differ it must discard the batch.
pub fn store_content(
    batch: &Batch<'_>,
    header: FileHeader,
    content: Option<(&mut dyn Read, u64)>,
) -> std::result::Result<(ObjectId, ObjectRecord), ContentError> {
    let mut hasher = header.hasher();
    let Some((reader, size)) = content else {
        return Ok((hasher.finish(), ObjectRecord::Symlink { header }));
    };
    let mut counted = CheckedReader { inner: reader, hasher: &mut hasher, read: 0, limit: size };
    let failed = |e: std::io::Error| ContentError::Failed(crate::Error::Io { path: "<content>".into(), error: e });
    let blob = if size <= IN_MEMORY_BLOB_LIMIT {
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        counted.read_to_end(&mut data).map_err(|e| size_or(e, &counted, failed))?;
        check(counted.read, size)?;
        batch.add_blob(&data).map_err(|e| ContentError::Failed(e.into()))?
    } else {
        let (blob, _) = batch.add_blob_stream(&mut counted).map_err(|e| match e {
            rejig_store::Error::Io { error, .. } => size_or(error, &counted, failed),
            other => ContentError::Failed(other.into()),
        })?;
        check(counted.read, size)?;
        blob
    };
    Ok((hasher.finish(), ObjectRecord::Regular { header, blob }))
}

fn size_or(
    error: std::io::Error,
    reader: &CheckedReader<'_, &mut dyn Read>,
    failed: impl Fn(std::io::Error) -> ContentError,
) -> ContentError {
    if reader.read > reader.limit {
        ContentError::Size { read: reader.read, declared: reader.limit }
    } else {
        failed(error)
    }
}

fn check(read: u64, declared: u64) -> std::result::Result<(), ContentError> {
    if read == declared {
        Ok(())
    } else {
        Err(ContentError::Size { read, declared })
    }
}

/// Feeds the object checksum and fails past the declared size.
struct CheckedReader<'h, R> {
    inner: R,
    hasher: &'h mut ContentHasher,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for CheckedReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(format!("content is longer than the declared {} bytes", self.limit)));
        }
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}
