//! Pack files on disk: [`writer`] builds one in `tmp/` and makes it durable in `packs/`,
//! [`reader`] reads its trailer and streams its blobs back verified. The byte layout, the
//! trailer codec and the storage codecs are `rejig_format::pack` (FORMAT.md "packs").

pub mod cache;
pub mod reader;
pub mod writer;

use rejig_format::pack::Codec;

/// Where a blob lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack file.
    pub pack: rejig_format::PackId,
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
            pack: rejig_format::PackId::from_slice(&bytes[..32])?,
            offset: u64_at(32),
            stored_len: u64_at(40),
            raw_len: u64_at(48),
            codec: Codec::from_u8(bytes[56])
                .ok_or_else(|| crate::Error::malformed("blob location", "unknown codec"))?,
        })
    }
}
