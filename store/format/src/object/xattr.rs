//! Extended attributes in OSTree's canonical form (ostree-format.md §1.1): sorted by name
//! with `strcmp`, unique, names non-empty. On the wire each name carries a trailing NUL and
//! each value does not.

use crate::error::{Error, Result};
use crate::gvariant::{decode, encode};

/// One extended attribute. The name is stored without its NUL terminator.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Xattr {
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Xattr {
    /// The attribute name, e.g. `user.foo`, without a terminator.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The raw value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// A canonical set of extended attributes. Every value of this type encodes to the exact
/// bytes `ostree commit` would hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct XattrSet(Vec<Xattr>);

fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name.contains(&0) {
        return Err(Error::invalid(
            "xattr name",
            format!("{:?} is empty or contains NUL", String::from_utf8_lossy(name)),
        ));
    }
    Ok(())
}

impl XattrSet {
    /// No attributes.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Canonicalises attributes as read from a filesystem: attributes with empty values are
    /// dropped (libglnx skips them, so ostree never hashes them), the rest are sorted.
    /// Duplicate or invalid names are refused.
    pub fn from_filesystem<I, N, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<Vec<u8>>,
        V: Into<Vec<u8>>,
    {
        let mut attrs = Vec::new();
        for (name, value) in pairs {
            let (name, value) = (name.into(), value.into());
            check_name(&name)?;
            if !value.is_empty() {
                attrs.push(Xattr { name, value });
            }
        }
        attrs.sort();
        if let Some(pair) = attrs.windows(2).find(|w| w.first().map(|a| &a.name) == w.get(1).map(|b| &b.name)) {
            let name = pair.first().map(|a| String::from_utf8_lossy(&a.name).into_owned()).unwrap_or_default();
            return Err(Error::invalid("xattrs", format!("duplicate attribute {name}")));
        }
        Ok(Self(attrs))
    }

    /// True when there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The attributes in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = &Xattr> {
        self.0.iter()
    }

    /// The `a(ayay)` encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode::variable_array(
            self.0.iter().map(|x| {
                let mut name = x.name.clone();
                name.push(0);
                encode::TupleWriter::new().variable(1, &name).last(1, &x.value).finish()
            }),
            1,
        )
    }

    /// Decodes `a(ayay)` in normal form. Names must be NUL-terminated, non-empty, sorted and
    /// unique. Values may be empty here, because ostree accepts such headers.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut attrs: Vec<Xattr> = Vec::new();
        for element in decode::variable_array(bytes, 1, "xattrs")? {
            let mut tuple = decode::TupleReader::new(element, "xattr");
            let raw_name = tuple.variable(1)?;
            let value = tuple.last(1)?;
            tuple.finish()?;
            let name = match raw_name.split_last() {
                Some((0, name)) => name,
                _ => return Err(Error::malformed("xattr", "name is not NUL-terminated")),
            };
            check_name(name)?;
            if let Some(previous) = attrs.last() {
                if previous.name.as_slice() >= name {
                    return Err(Error::malformed("xattrs", "names are not sorted and unique"));
                }
            }
            attrs.push(Xattr { name: name.to_vec(), value: value.to_vec() });
        }
        // The readers above accept framing offsets wider than needed (254 bytes of members in
        // a 256-byte tuple); only re-encoding tells such a second spelling of the same set.
        let set = Self(attrs);
        if set.encode() != bytes {
            return Err(Error::malformed("xattrs", "not in normal form"));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_empty_values_dropped_and_golden_bytes() {
        let set = XattrSet::from_filesystem([("user.foo", "bar"), ("user.empty", ""), ("user.abc", "xyz")]).unwrap();
        assert_eq!(set.len(), 2);
        // ostree-format.md §4, the xattr part of xattr.txt's header.
        let expected = hex::decode("757365722e6162630078797a09757365722e666f6f0062617209".to_owned() + "0d1a").unwrap();
        assert_eq!(set.encode(), expected);
        assert_eq!(XattrSet::decode(&expected).unwrap(), set);
    }

    #[test]
    fn unsorted_duplicate_and_bad_names_are_refused() {
        assert!(XattrSet::from_filesystem([("user.a", "1"), ("user.a", "2")]).is_err());
        assert!(XattrSet::from_filesystem([("", "1")]).is_err());
        let a = XattrSet::from_filesystem([("user.a", "1")]).unwrap().encode();
        let b = XattrSet::from_filesystem([("user.b", "1")]).unwrap().encode();
        // Splice b's element before a's to make an unsorted array.
        let unsorted = encode::variable_array([&b[..b.len() - 1], &a[..a.len() - 1]], 1);
        assert!(XattrSet::decode(&unsorted).is_err());
    }

    #[test]
    fn offsets_wider_than_needed_are_refused() {
        // An 8-byte name and a 246-byte value fit a 255-byte tuple with a one-byte offset. The
        // same tuple spelled with two-byte offsets (256 bytes) is another encoding of the same
        // set; the fuzzer found the decoder taking it (fuzz/regressions/ostree_objects/crash-67ab…).
        let set = XattrSet::from_filesystem([("fixture", vec![7u8; 246])]).unwrap();
        let normal = set.encode();
        assert_eq!(normal.len(), 257);
        let mut tuple = b"fixture\0".to_vec();
        tuple.extend_from_slice(&[7u8; 246]);
        tuple.extend_from_slice(&8u16.to_le_bytes());
        let mut wide = tuple.clone();
        wide.extend_from_slice(&(tuple.len() as u16).to_le_bytes());
        assert_eq!(wide.len(), 258);
        assert_eq!(XattrSet::decode(&normal).unwrap(), set);
        assert!(XattrSet::decode(&wide).is_err());
    }
}
