//! Identifiers: every id is a fixed-size digest with its own type, so an OSTree
//! checksum can never be passed where a BLAKE3 blob key is expected.

use std::fmt;

use crate::error::{Error, Result};

macro_rules! digest_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps raw digest bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// Takes the id from a slice that must be exactly 32 bytes long.
            pub fn from_slice(bytes: &[u8]) -> $crate::error::Result<Self> {
                let array: [u8; 32] = bytes.try_into().map_err(|_| {
                    $crate::error::Error::malformed(stringify!($name), format!("expected 32 bytes, got {}", bytes.len()))
                })?;
                Ok(Self(array))
            }

            /// The raw digest bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Lowercase hex, 64 characters.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err($crate::error::Error::malformed(
                        stringify!($name),
                        format!("{s:?} is not 64 lowercase hex characters"),
                    ));
                }
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(s, &mut bytes)
                    .map_err(|e| $crate::error::Error::malformed(stringify!($name), e.to_string()))?;
                Ok(Self(bytes))
            }
        }
    };
}

pub(crate) use digest_id;

digest_id!(
    /// An OSTree object checksum: SHA-256 of the object's canonical bytes.
    ObjectId
);
digest_id!(
    /// A content blob key: BLAKE3 of the raw bytes, whatever metadata uses them.
    BlobId
);
digest_id!(
    /// A pack file's name: BLAKE3 of the whole pack file.
    PackId
);

impl BlobId {
    /// The BLAKE3 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }
}

/// The OSTree object types rejig stores. Numbers are ostree's `OstreeObjectType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    /// A content object: a regular file or a symlink with its metadata.
    File = 1,
    /// A directory listing.
    DirTree = 2,
    /// A directory's owner, mode and xattrs.
    DirMeta = 3,
    /// A commit.
    Commit = 4,
    /// Detached commit metadata, named after its commit.
    CommitMeta = 6,
    /// Not an OSTree type: the list of jigdo parts (BLAKE3 of each) a commit rebuilt from a
    /// jigdo came with, named after its commit, so that gc keeps them while it keeps the
    /// commit and the next update fetches only new parts (FORMAT.md "jigdo parts").
    JigdoParts = 0x80,
}

impl ObjectType {
    /// The loose-object file extension (`archive` mode appends `z` to `file`).
    pub const fn extension(self) -> &'static str {
        match self {
            ObjectType::File => "file",
            ObjectType::DirTree => "dirtree",
            ObjectType::DirMeta => "dirmeta",
            ObjectType::Commit => "commit",
            ObjectType::CommitMeta => "commitmeta",
            ObjectType::JigdoParts => "rejig-jigdo-parts",
        }
    }

    /// The type for an ostree enum value.
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            1 => ObjectType::File,
            2 => ObjectType::DirTree,
            3 => ObjectType::DirMeta,
            4 => ObjectType::Commit,
            6 => ObjectType::CommitMeta,
            0x80 => ObjectType::JigdoParts,
            other => return Err(Error::malformed("object type", format!("unknown type {other}"))),
        })
    }

    /// Metadata objects are stored byte-for-byte; content objects are split into a blob and
    /// a header.
    pub const fn is_metadata(self) -> bool {
        !matches!(self, ObjectType::File)
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// An object's full name: its checksum and type. A commit and its detached metadata share a
/// checksum, so the type is part of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The object's checksum.
    pub id: ObjectId,
    /// The object's type.
    pub kind: ObjectType,
}

impl ObjectKey {
    /// A key from its parts.
    pub const fn new(id: ObjectId, kind: ObjectType) -> Self {
        Self { id, kind }
    }

    /// The 33-byte index encoding: type byte, then the checksum.
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = self.kind as u8;
        out[1..].copy_from_slice(self.id.as_bytes());
        out
    }

    /// Decodes [`ObjectKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 33]) -> Result<Self> {
        let (kind, id) = bytes.split_at(1);
        Ok(Self { kind: ObjectType::from_u8(kind[0])?, id: ObjectId::from_slice(id)? })
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.kind)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_bad_text() {
        let hex = "36dadcd6c20fc06952a019d06370033421453e492a199444ec8b90cdc8621191";
        let id: ObjectId = hex.parse().unwrap();
        assert_eq!(id.to_hex(), hex);
        assert!("36DADCD6".parse::<ObjectId>().is_err());
        assert!(hex.to_uppercase().parse::<ObjectId>().is_err());
        assert!(format!("{hex}0").parse::<ObjectId>().is_err());
    }

    #[test]
    fn key_bytes_round_trip() {
        let key = ObjectKey::new(ObjectId::from_bytes([7; 32]), ObjectType::DirMeta);
        assert_eq!(ObjectKey::from_bytes(&key.to_bytes()).unwrap(), key);
        let mut bad = key.to_bytes();
        bad[0] = 9;
        assert!(ObjectKey::from_bytes(&bad).is_err());
    }
}
