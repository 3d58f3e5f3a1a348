//! Reads packs: the trailer, and blobs as verified streams.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, IoContext, Result};
use crate::pack::BlobLocation;
use rejig_format::id::{BlobId, PackId};
use rejig_format::pack::trailer::Trailer;
use rejig_format::pack::{Codec, END_MAGIC, MAGIC};

/// Reads and verifies a pack's trailer.
pub fn read_trailer(file: &File, path: &Path) -> Result<(Trailer, PackId)> {
    let bad = |detail: &str| Error::Pack { path: path.to_path_buf(), detail: detail.to_owned() };
    let size = file.metadata().at(path)?.len();
    let footer_len = 16u64;
    if size < MAGIC.len() as u64 + footer_len {
        return Err(bad("too short to be a pack"));
    }
    let mut magic = [0u8; 8];
    file.read_exact_at(&mut magic, 0).at(path)?;
    if &magic != MAGIC {
        return Err(bad("bad magic at the start"));
    }
    let mut footer = [0u8; 16];
    file.read_exact_at(&mut footer, size - footer_len).at(path)?;
    let (len, end_magic) = footer.split_at(8);
    if end_magic != END_MAGIC {
        return Err(bad("bad magic at the end (truncated or still being written?)"));
    }
    let trailer_len = u64::from_le_bytes(len.try_into().map_err(|_| bad("short footer"))?);
    let data_end = (size - footer_len)
        .checked_sub(trailer_len)
        .filter(|&end| end >= MAGIC.len() as u64)
        .ok_or_else(|| bad("trailer length larger than the pack"))?;
    let trailer_len = usize::try_from(trailer_len).map_err(|_| bad("trailer too large"))?;
    let mut bytes = vec![0u8; trailer_len];
    file.read_exact_at(&mut bytes, data_end).at(path)?;
    Trailer::decode(&bytes, data_end).map_err(|error| Error::Trailer { path: path.to_path_buf(), error })
}

/// Reads `len` bytes from `offset` of a shared file without seeking.
struct PositionalReader {
    file: Arc<File>,
    position: u64,
    end: u64,
}

impl Read for PositionalReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.end - self.position).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let Some(target) = buf.get_mut(..want) else { return Ok(0) };
        let n = self.file.read_at(target, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

enum Source {
    /// Small blobs: decompressed and verified in one piece.
    Memory(std::io::Cursor<Vec<u8>>),
    Raw(PositionalReader),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<PositionalReader>>>),
    /// A backed blob read from the repository, checked by the reader itself.
    Repo(Box<crate::backing::VerifiedRepoRead>),
}

/// A blob's raw bytes, streamed from its pack. The BLAKE3 and the length are checked as the
/// stream ends: a reader that returns EOF without error delivered exactly the stored blob.
/// Decompression is bounded by the recorded raw length.
pub struct BlobReader {
    source: Source,
    id: BlobId,
    location: BlobLocation,
    hasher: blake3::Hasher,
    read: u64,
    verified: bool,
}

impl BlobReader {
    /// Opens blob `id` at `location` in the open pack `file`.
    pub fn new(file: Arc<File>, id: BlobId, location: BlobLocation) -> Result<Self> {
        if location.raw_len <= IN_MEMORY_LIMIT && location.stored_len <= IN_MEMORY_LIMIT {
            let bytes = read_small(&file, id, &location)?;
            let source = Source::Memory(std::io::Cursor::new(bytes));
            return Ok(Self { source, id, location, hasher: blake3::Hasher::new(), read: 0, verified: true });
        }
        let raw = PositionalReader {
            file,
            position: location.offset,
            end: location.offset.saturating_add(location.stored_len),
        };
        let source = match location.codec {
            Codec::Raw => Source::Raw(raw),
            Codec::Zstd => {
                let decoder = zstd::stream::read::Decoder::new(raw).map_err(|e| unreadable(id, &location, e))?;
                Source::Zstd(Box::new(decoder))
            }
        };
        Ok(Self { source, id, location, hasher: blake3::Hasher::new(), read: 0, verified: false })
    }

    /// Streams a backed blob from its repository object (see `backing.rs`); the stream
    /// checks length and BLAKE3 as it ends.
    pub(crate) fn from_repo(
        stream: Box<dyn Read + Send>,
        id: BlobId,
        backed: crate::backing::BackedRef,
        repo: &Path,
    ) -> Self {
        let source = Source::Repo(Box::new(crate::backing::VerifiedRepoRead::new(stream, id, backed, repo)));
        // No pack: the location only carries the length.
        let location = BlobLocation {
            pack: PackId::from_bytes([0; 32]),
            offset: 0,
            stored_len: backed.raw_len,
            raw_len: backed.raw_len,
            codec: Codec::Raw,
        };
        Self { source, id, location, hasher: blake3::Hasher::new(), read: 0, verified: false }
    }

    /// Blob `id` from its stored bytes read elsewhere (a ranged read of a pack in object
    /// storage), decompressed and verified like a small blob read from a local pack.
    pub fn from_stored(stored: Vec<u8>, id: BlobId, location: BlobLocation) -> Result<Self> {
        let bytes = decode_small(stored, id, &location)?;
        let source = Source::Memory(std::io::Cursor::new(bytes));
        Ok(Self { source, id, location, hasher: blake3::Hasher::new(), read: 0, verified: true })
    }

    /// True when a blob of `location` is read in one piece (see [`BlobReader::from_stored`]).
    pub fn fits_in_memory(location: &BlobLocation) -> bool {
        location.raw_len <= IN_MEMORY_LIMIT && location.stored_len <= IN_MEMORY_LIMIT
    }

    /// The blob's raw length.
    pub fn len(&self) -> u64 {
        self.location.raw_len
    }

    /// True for an empty blob.
    pub fn is_empty(&self) -> bool {
        self.location.raw_len == 0
    }

    /// Reads the whole blob into memory (for metadata and small files).
    pub fn read_all(mut self) -> Result<Vec<u8>> {
        if let Source::Memory(cursor) = self.source {
            return Ok(cursor.into_inner());
        }
        let capacity = usize::try_from(self.location.raw_len.min(64 << 20)).unwrap_or(0);
        let mut out = Vec::with_capacity(capacity);
        if let Source::Repo(stream) = &mut self.source {
            stream.read_to_end(&mut out).map_err(crate::backing::into_error)?;
            return Ok(out);
        }
        self.read_to_end(&mut out).map_err(|e| unreadable(self.id, &self.location, e))?;
        Ok(out)
    }
}

/// Blobs up to this size are read, decompressed and verified in one piece, with a zstd
/// context reused per thread: most files are small, and a fresh streaming decoder per file
/// costs more than the file.
const IN_MEMORY_LIMIT: u64 = 8 << 20;

thread_local! {
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

fn read_small(file: &File, id: BlobId, location: &BlobLocation) -> Result<Vec<u8>> {
    let stored_len = usize::try_from(location.stored_len).map_err(|_| corrupt(id, location, "too large".into()))?;
    let mut stored = vec![0u8; stored_len];
    file.read_exact_at(&mut stored, location.offset).map_err(|e| unreadable(id, location, e))?;
    decode_small(stored, id, location)
}

fn decode_small(stored: Vec<u8>, id: BlobId, location: &BlobLocation) -> Result<Vec<u8>> {
    let raw_len = usize::try_from(location.raw_len).map_err(|_| corrupt(id, location, "too large".into()))?;
    if stored.len() as u64 != location.stored_len {
        return Err(corrupt(id, location, format!("{} stored bytes instead of {}", stored.len(), location.stored_len)));
    }
    let raw = match location.codec {
        Codec::Raw => stored,
        Codec::Zstd => DECOMPRESSOR.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new().map_err(|e| unreadable(id, location, e))?);
            }
            let decompressor = slot.as_mut().ok_or_else(|| corrupt(id, location, "no zstd context".into()))?;
            // The capacity bounds the output: a longer blob is an error, not an allocation.
            decompressor.decompress(&stored, raw_len).map_err(|e| corrupt(id, location, format!("zstd: {e}")))
        })?,
    };
    if raw.len() != raw_len {
        return Err(corrupt(id, location, format!("{} bytes instead of {raw_len}", raw.len())));
    }
    if blake3::hash(&raw).as_bytes() != id.as_bytes() {
        return Err(corrupt(id, location, "BLAKE3 mismatch".into()));
    }
    Ok(raw)
}

fn corrupt(id: BlobId, location: &BlobLocation, detail: String) -> Error {
    Error::BlobCorrupt { blob: id, pack: location.pack, detail }
}

fn unreadable(id: BlobId, location: &BlobLocation, error: std::io::Error) -> Error {
    Error::BlobRead { blob: id, pack: location.pack, error }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.source {
            Source::Memory(cursor) => return cursor.read(buf),
            Source::Repo(stream) => return stream.read(buf),
            _ => {}
        }
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.source {
            Source::Memory(cursor) => cursor.read(buf)?,
            Source::Raw(r) => r.read(buf)?,
            Source::Zstd(r) => r.read(buf)?,
            Source::Repo(r) => r.read(buf)?,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        self.read += n as u64;
        if self.read > self.location.raw_len {
            return Err(std::io::Error::other(corrupt(
                self.id,
                &self.location,
                "longer than its recorded length".into(),
            )));
        }
        self.hasher.update(chunk);
        if n == 0 {
            if self.read != self.location.raw_len {
                return Err(std::io::Error::other(corrupt(
                    self.id,
                    &self.location,
                    format!("{} bytes instead of {}", self.read, self.location.raw_len),
                )));
            }
            if self.hasher.finalize().as_bytes() != self.id.as_bytes() {
                return Err(std::io::Error::other(corrupt(self.id, &self.location, "BLAKE3 mismatch".into())));
            }
            self.verified = true;
        }
        Ok(n)
    }
}
