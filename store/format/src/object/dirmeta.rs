//! Directory metadata, `(uuua(ayay))` (ostree-format.md §1.2): uid, gid and mode big-endian,
//! then sorted xattrs. With no xattrs the object is exactly 12 bytes.

use crate::error::{Error, Result};
use crate::gvariant::{decode, encode};
use crate::object::meta::{FileMeta, S_IFDIR};
use crate::object::xattr::XattrSet;

/// A directory's owner, permissions and xattrs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirMeta(pub FileMeta);

impl DirMeta {
    /// The serialised object.
    pub fn encode(&self) -> Vec<u8> {
        encode_owner_mode_xattrs(self.0.uid(), self.0.gid(), S_IFDIR | self.0.permissions(), self.0.xattrs())
    }

    /// Decodes a dirmeta object; it must be in normal form and have the directory type bits.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (uid, gid, mode, xattrs) = decode_owner_mode_xattrs(bytes, "dirmeta")?;
        let (kind, meta) = FileMeta::from_mode(uid, gid, mode, xattrs)?;
        if kind != S_IFDIR {
            return Err(Error::invalid("dirmeta", format!("mode {mode:#o} is not a directory")));
        }
        let dirmeta = Self(meta);
        if dirmeta.encode() != bytes {
            return Err(Error::malformed("dirmeta", "not in normal form"));
        }
        Ok(dirmeta)
    }
}

/// `(uuua(ayay))`: the layout of a dirmeta and of bare-user's `user.ostreemeta` xattr.
pub fn encode_owner_mode_xattrs(uid: u32, gid: u32, mode: u32, xattrs: &XattrSet) -> Vec<u8> {
    let mut fixed = [0u8; 12];
    fixed[0..4].copy_from_slice(&uid.to_be_bytes());
    fixed[4..8].copy_from_slice(&gid.to_be_bytes());
    fixed[8..12].copy_from_slice(&mode.to_be_bytes());
    encode::TupleWriter::new().fixed(4, &fixed).last(1, &xattrs.encode()).finish()
}

/// Decodes `(uuua(ayay))` into uid, gid, full mode and xattrs.
pub fn decode_owner_mode_xattrs(bytes: &[u8], what: &'static str) -> Result<(u32, u32, u32, XattrSet)> {
    let mut tuple = decode::TupleReader::new(bytes, what);
    let (uid, gid, mode) = (tuple.u32_be()?, tuple.u32_be()?, tuple.u32_be()?);
    let xattrs = XattrSet::decode(tuple.last(1)?)?;
    tuple.finish()?;
    Ok((uid, gid, mode, xattrs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::metadata_checksum;

    #[test]
    fn golden_dirmetas() {
        let root = DirMeta(FileMeta::new(0, 0, 0o755, XattrSet::new()).unwrap());
        assert_eq!(hex::encode(root.encode()), "00000000000000000000".to_owned() + "41ed");
        assert_eq!(
            metadata_checksum(&root.encode()).to_hex(),
            "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"
        );
        let private = DirMeta(FileMeta::new(0, 0, 0o700, XattrSet::new()).unwrap());
        assert_eq!(
            metadata_checksum(&private.encode()).to_hex(),
            "84641b0a39d8c873690da8f32aea21cf5d6fff354f85e045f6f5ecdc8e7758d0"
        );
        let xattrs = XattrSet::from_filesystem([("user.z", "1"), ("user.a", "2")]).unwrap();
        let labelled = DirMeta(FileMeta::new(0, 0, 0o755, xattrs).unwrap());
        assert_eq!(labelled.encode().len(), 32);
        assert_eq!(
            metadata_checksum(&labelled.encode()).to_hex(),
            "7cd47be74f7d91507329053990c97072cd515af3ac9dd35d53e6ebc3ca66e909"
        );
        assert_eq!(DirMeta::decode(&labelled.encode()).unwrap(), labelled);
    }

    #[test]
    fn non_directory_mode_is_refused() {
        let bytes = encode_owner_mode_xattrs(0, 0, 0o100644, &XattrSet::new());
        assert!(DirMeta::decode(&bytes).is_err());
    }
}
