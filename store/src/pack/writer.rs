//! Writes one pack. Durability lives here and in `index.rs` only: a pack is written under
//! `tmp/`, fsynced, renamed into `packs/`, and the directory is fsynced before the caller
//! commits the index. A crash before the rename leaves a temp file (cleared at open); a crash
//! after it leaves an unreferenced pack (rebuilt into the index by `fsck --repair`, or
//! collected). The index never points at bytes that are not durable.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::durable;
use crate::error::{Error, IoContext, Result};
use rejig_format::digest::HeaderSha256;
use rejig_format::id::{BlobId, ObjectKey, PackId};
use rejig_format::pack::trailer::{BlobEntry, Trailer};
use rejig_format::pack::{Codec, END_MAGIC, MAGIC};
use rejig_format::record::ObjectRecord;

/// zstd level for blobs. Level 1 (zstd's "fast" strategy) rather than 3: importing packages
/// spent a third of its CPU compressing at level 3, and level 1 compresses about 1.5 times as
/// fast for packs about 10 % larger (BENCHMARKS.md, "Jigdo format 2", the store-side
/// follow-ups).
pub const ZSTD_LEVEL: i32 = 1;

/// Copies `reader` to `writer` in 1 MiB pieces (`std::io::copy` writes 8 KiB at a time, a
/// system call each into the pack).
fn copy_large(reader: &mut dyn Read, writer: &mut dyn Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(buf.get(..n).unwrap_or_default())?;
        total += n as u64;
    }
}

/// A pack being written.
pub struct PackWriter {
    file: File,
    tmp_path: PathBuf,
    /// Set once the pack is renamed into place; until then, dropping removes the temp file.
    finished: bool,
    packs_dir: PathBuf,
    offset: u64,
    trailer: Trailer,
    blobs_here: HashSet<BlobId>,
}

/// A pack that is durable in `packs/`.
pub struct FinishedPack {
    /// Its id and file name.
    pub id: PackId,
    /// What it holds.
    pub trailer: Trailer,
    /// Its size in bytes.
    pub size: u64,
}

/// Writes at a moving position without seeking, so a streamed blob can be rolled back.
struct PositionalWriter<'a> {
    file: &'a File,
    position: u64,
}

impl Write for PositionalWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write_all_at(buf, self.position)?;
        self.position += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Feeds everything read through BLAKE3 and counts it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    len: u64,
}

impl<R> HashingReader<R> {
    /// Hashes what is read from `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, hasher: blake3::Hasher::new(), len: 0 }
    }

    /// The blob id and length of everything read so far.
    pub(crate) fn finish(self) -> (BlobId, u64) {
        (BlobId::from_bytes(*self.hasher.finalize().as_bytes()), self.len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.hasher.update(read);
        self.len += n as u64;
        Ok(n)
    }
}

/// Compresses `raw` for storage, or keeps it raw when zstd does not help. One compression
/// context per thread, reused: most blobs are small files, and a fresh context per blob costs
/// more than compressing it.
pub fn compress(raw: &[u8]) -> Result<(Codec, Vec<u8>)> {
    if raw.len() < 64 {
        return Ok((Codec::Raw, raw.to_vec()));
    }
    let compressed = compress_zstd(raw)?;
    if compressed.len() < raw.len() {
        Ok((Codec::Zstd, compressed))
    } else {
        Ok((Codec::Raw, raw.to_vec()))
    }
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// `raw` compressed at [`ZSTD_LEVEL`] with this thread's context.
fn compress_zstd(raw: &[u8]) -> Result<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|e| Error::io("<zstd>", e))?);
        }
        match slot.as_mut() {
            Some(compressor) => compressor.compress(raw).map_err(|e| Error::io("<zstd>", e)),
            None => zstd::bulk::compress(raw, ZSTD_LEVEL).map_err(|e| Error::io("<zstd>", e)),
        }
    })
}

/// How much of a streamed blob is compressed as a sample to decide how to store it.
const STREAM_SAMPLE: u64 = 1 << 20;

/// True when zstd saves less than 3 % on `sample`: the data is already compressed (an
/// initramfs, an image, an archive), and compressing it again would cost time on every write
/// and read for nothing.
fn incompressible(sample: &[u8]) -> Result<bool> {
    if sample.len() < 4096 {
        return Ok(false);
    }
    let compressed = compress_zstd(sample)?;
    Ok(compressed.len() as u64 * 100 >= sample.len() as u64 * 97)
}

impl PackWriter {
    /// Starts a pack in `tmp_dir` that will be renamed into `packs_dir`.
    pub fn create(tmp_dir: &Path, packs_dir: &Path) -> Result<Self> {
        let name = format!("{}-{:016x}.pack", std::process::id(), rand_u64());
        let tmp_path = tmp_dir.join(name);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp_path).at(&tmp_path)?;
        file.write_all_at(MAGIC, 0).at(&tmp_path)?;
        Ok(Self {
            file,
            tmp_path,
            finished: false,
            packs_dir: packs_dir.to_path_buf(),
            offset: MAGIC.len() as u64,
            trailer: Trailer::default(),
            blobs_here: HashSet::new(),
        })
    }

    /// True when this pack already holds the blob.
    pub fn contains_blob(&self, id: &BlobId) -> bool {
        self.blobs_here.contains(id)
    }

    /// Appends a blob whose stored form is ready. Does nothing if the pack has it already.
    pub fn append(&mut self, id: BlobId, codec: Codec, stored: &[u8], raw_len: u64) -> Result<()> {
        if !self.blobs_here.insert(id) {
            return Ok(());
        }
        self.file.write_all_at(stored, self.offset).at(&self.tmp_path)?;
        let stored_len = stored.len() as u64;
        self.trailer.blobs.push(BlobEntry { id, offset: self.offset, stored_len, raw_len, codec });
        self.offset += stored_len;
        Ok(())
    }

    /// Streams a blob of any size into the pack, compressing as it goes, so it is never held
    /// in memory; a blob whose first MiB does not compress is stored raw. If `known` says the
    /// blob is already stored elsewhere (or this pack has it), the bytes are rolled back.
    /// Returns the blob id and raw length.
    pub fn append_stream(&mut self, reader: &mut dyn Read, known: &dyn Fn(&BlobId) -> bool) -> Result<(BlobId, u64)> {
        let start = self.offset;
        let mut source = HashingReader::new(reader);
        let mut head = Vec::with_capacity(STREAM_SAMPLE as usize);
        (&mut source).take(STREAM_SAMPLE).read_to_end(&mut head).at(&self.tmp_path)?;
        let mut sink = PositionalWriter { file: &self.file, position: start };
        let (codec, end) = if incompressible(&head)? {
            sink.write_all(&head).at(&self.tmp_path)?;
            copy_large(&mut source, &mut sink).at(&self.tmp_path)?;
            (Codec::Raw, sink.position)
        } else {
            let mut encoder = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL).at(&self.tmp_path)?;
            encoder.write_all(&head).at(&self.tmp_path)?;
            std::io::copy(&mut source, &mut encoder).at(&self.tmp_path)?;
            (Codec::Zstd, encoder.finish().at(&self.tmp_path)?.position)
        };
        let (id, raw_len) = source.finish();
        if self.blobs_here.contains(&id) || known(&id) {
            self.file.set_len(start).at(&self.tmp_path)?;
            return Ok((id, raw_len));
        }
        self.blobs_here.insert(id);
        let stored_len = end - start;
        self.trailer.blobs.push(BlobEntry { id, offset: start, stored_len, raw_len, codec });
        self.offset = end;
        Ok((id, raw_len))
    }

    /// Copies a blob's stored bytes from another pack as they are (no recompression), in
    /// bounded chunks, so blobs of any size move without being held in memory.
    pub fn append_copy(&mut self, entry: &BlobEntry, source: &File, source_path: &Path) -> Result<()> {
        if !self.blobs_here.insert(entry.id) {
            return Ok(());
        }
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        while done < entry.stored_len {
            let n = usize::try_from((entry.stored_len - done).min(buf.len() as u64)).unwrap_or(buf.len());
            let chunk = buf.get_mut(..n).unwrap_or_default();
            source.read_exact_at(chunk, entry.offset + done).at(source_path)?;
            self.file.write_all_at(chunk, self.offset + done).at(&self.tmp_path)?;
            done += n as u64;
        }
        self.trailer.blobs.push(BlobEntry { offset: self.offset, ..*entry });
        self.offset += entry.stored_len;
        Ok(())
    }

    /// Records an object in the pack's trailer.
    pub fn add_object(&mut self, key: ObjectKey, record: &ObjectRecord) {
        self.trailer.objects.push((key, record.encode()));
    }

    /// Records an object whose record is already encoded (copied from another trailer).
    pub fn add_object_encoded(&mut self, key: ObjectKey, record: Vec<u8>) {
        self.trailer.objects.push((key, record));
    }

    /// Records a root (a commit to keep).
    pub fn add_root(&mut self, key: ObjectKey) {
        self.trailer.roots.push(key);
    }

    /// Records a package and the blob holding its manifest.
    pub fn add_package(&mut self, header_sha256: HeaderSha256, manifest: BlobId) {
        self.trailer.packages.push((header_sha256, manifest));
    }

    /// Bytes written so far (the trailer not counted).
    pub fn size(&self) -> u64 {
        self.offset
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.trailer.blobs.is_empty()
            && self.trailer.objects.is_empty()
            && self.trailer.roots.is_empty()
            && self.trailer.packages.is_empty()
    }

    /// Writes the trailer, fsyncs, renames into `packs/` and fsyncs the directory.
    /// Returns `None` (and removes the temp file) when the pack is empty.
    pub fn finish(mut self) -> Result<Option<FinishedPack>> {
        if self.is_empty() {
            return Ok(None);
        }
        let (trailer_bytes, id) = self.trailer.encode();
        let mut tail = trailer_bytes;
        let trailer_len = tail.len() as u64;
        tail.extend_from_slice(&trailer_len.to_le_bytes());
        tail.extend_from_slice(END_MAGIC);
        self.file.write_all_at(&tail, self.offset).at(&self.tmp_path)?;
        let size = self.offset + tail.len() as u64;
        self.file.set_len(size).at(&self.tmp_path)?;
        durable::sync_file(&self.file, &self.tmp_path)?;
        let final_path = pack_path(&self.packs_dir, &id);
        // A pack of the same name lists the same entries, but its bytes may have rotted (a
        // repair dropped them, and this batch stores them again): the fresh, fsynced copy
        // replaces it in one rename. Readers of the old file keep reading the old inode.
        durable::rename(&self.tmp_path, &final_path)?;
        self.finished = true;
        Ok(Some(FinishedPack { id, trailer: std::mem::take(&mut self.trailer), size }))
    }
}

impl Drop for PackWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Abandoned or empty: nothing references the temp file.
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// The file of pack `id` in `packs_dir`.
pub fn pack_path(packs_dir: &Path, id: &PackId) -> PathBuf {
    packs_dir.join(format!("{id}.pack"))
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}
