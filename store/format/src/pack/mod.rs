//! Pack files: immutable files of blobs followed by a trailer that lists every blob and
//! every object record the pack brought into the store, so that the index can be rebuilt
//! from the packs alone (FORMAT.md "packs"). This module is the byte layout; reading and
//! writing pack files is the store's (`store/src/pack/`).
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

pub mod trailer;

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
