//! Pack files: immutable files of blobs followed by a trailer that lists every blob and
//! every object record the pack brought into the store, so that the index can be rebuilt
//! from the packs alone (FORMAT.md "packs").
//!
//! ```text
//! pack    = MAGIC ‖ blob data… ‖ trailer ‖ trailer_len: u64 LE ‖ END_MAGIC
//! trailer = BLAKE3(body) ‖ body
//! body    = version: u32 LE ‖ section…
//! section = tag: u8 ‖ count: u32 LE ‖ entry…
//!   tag 1 blob:   blob id (32) ‖ offset u64 ‖ stored_len u64 ‖ raw_len u64 ‖ codec u8
//!   tag 2 object: object key (33) ‖ record_len u32 ‖ record
//!   tag 3 root:   object key (33)
//!   tag 4 package: main-header SHA-256 (32) ‖ manifest blob id (32)
//! ```
//! Invariants: every blob lies between `MAGIC` and the trailer; the pack's id is the BLAKE3
//! of its trailer body, so two packs with the same name hold the same entries.

pub mod reader;
pub mod trailer;
pub mod writer;

/// The first 8 bytes of every pack.
pub const MAGIC: &[u8; 8] = b"RJPACK\x00\x01";
/// The last 8 bytes of every pack.
pub const END_MAGIC: &[u8; 8] = b"RJTRAIL\x01";
/// The trailer format version this code writes and reads.
pub const VERSION: u32 = 1;

/// How a blob's bytes are stored in its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Stored as is (zstd did not make it smaller).
    Raw = 0,
    /// One or more zstd frames.
    Zstd = 1,
}

impl Codec {
    /// The codec for a stored byte.
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            _ => None,
        }
    }
}

/// Where a blob lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack file.
    pub pack: crate::id::PackId,
    /// Byte offset of the stored bytes in the pack.
    pub offset: u64,
    /// Length of the stored (possibly compressed) bytes.
    pub stored_len: u64,
    /// Length of the raw bytes.
    pub raw_len: u64,
    /// How the bytes are stored.
    pub codec: Codec,
}

impl BlobLocation {
    /// The fixed 57-byte index encoding.
    pub fn to_bytes(&self) -> [u8; 57] {
        let mut out = [0u8; 57];
        out[..32].copy_from_slice(self.pack.as_bytes());
        out[32..40].copy_from_slice(&self.offset.to_le_bytes());
        out[40..48].copy_from_slice(&self.stored_len.to_le_bytes());
        out[48..56].copy_from_slice(&self.raw_len.to_le_bytes());
        out[56] = self.codec as u8;
        out
    }

    /// Decodes [`BlobLocation::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 57]) -> crate::Result<Self> {
        let u64_at = |at: usize| {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(raw)
        };
        Ok(Self {
            pack: crate::id::PackId::from_slice(&bytes[..32])?,
            offset: u64_at(32),
            stored_len: u64_at(40),
            raw_len: u64_at(48),
            codec: Codec::from_u8(bytes[56])
                .ok_or_else(|| crate::Error::malformed("blob location", "unknown codec"))?,
        })
    }
}
