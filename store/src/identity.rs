//! The store's identity (FORMAT.md §1, §3): 16 random bytes chosen when the store is created,
//! kept in `<store>/store.id` and in the index's `meta` table. An index is this store's
//! trusted index only when it opens and holds the same identity. Anything else (no index, an
//! empty or damaged file, another store's index) is never taken for an empty store: the store
//! refuses to open until `fsck --repair` rebuilds the index from the packs.

use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// The file name of the identity in the store directory.
pub const FILE: &str = "store.id";
/// The identity file's magic, whose last byte is its version.
pub const MAGIC: &[u8; 8] = b"RJSTORE\x01";

/// A store's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreId(pub [u8; 16]);

impl StoreId {
    /// A new identity: the BLAKE3 of the time, the process, the path and a stack address,
    /// which no other store shares in practice.
    pub fn generate(root: &Path) -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"rejig store id");
        hasher.update(&now.to_le_bytes());
        hasher.update(&std::process::id().to_le_bytes());
        hasher.update(root.as_os_str().as_encoded_bytes());
        let marker = 0u8;
        hasher.update(&(std::ptr::addr_of!(marker) as usize).to_le_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        Self(id)
    }

    /// The identity as hex, for messages.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Decodes the bytes of `store.id` or of the index's `meta` entry.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        Some(Self(rest.try_into().ok()?))
    }

    /// The bytes written to `store.id` and to the index.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.0);
        out
    }
}

/// Reads `<root>/store.id`: `Ok(None)` when there is none, an error when it is not an identity.
pub fn read(root: &Path) -> Result<Option<StoreId>> {
    let path = root.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => StoreId::decode(&bytes)
            .map(Some)
            .ok_or_else(|| Error::invalid("store identity", format!("{} is not a store identity", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(path),
    }
}

/// Writes `<root>/store.id` durably, through `<root>/tmp`.
pub fn write(root: &Path, id: &StoreId) -> Result<()> {
    crate::durable::write_file_via(&root.join("tmp"), &root.join(FILE), &id.encode())
}
