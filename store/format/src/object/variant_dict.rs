//! `a{sv}` dictionaries: commit metadata and detached commit metadata. Values are kept as
//! their serialised bytes with their type string; rejig only needs to carry them exactly,
//! read string values (such as `version`) and build string entries.

use crate::error::{Error, Result};
use crate::gvariant::{decode, encode};

/// One entry: a key, the value's GVariant type string and its serialised bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantEntry {
    key: String,
    type_string: String,
    value: Vec<u8>,
}

impl VariantEntry {
    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value's type, e.g. `s` or `as`.
    pub fn type_string(&self) -> &str {
        &self.type_string
    }

    /// The value's serialised bytes (its type says how to read them).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The value when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        (self.type_string == "s").then(|| decode::string(&self.value, "string value").ok()).flatten()
    }
}

/// An `a{sv}` in insertion order (GVariant does not sort dictionaries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VariantDict(Vec<VariantEntry>);

impl VariantDict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a string entry. Keys must be non-empty (ostree fsck rejects empty keys).
    pub fn push_string(&mut self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() || key.contains('\0') || value.contains('\0') {
            return Err(Error::invalid("metadata entry", format!("key {key:?} or its value is not a valid string")));
        }
        self.0.push(VariantEntry { key: key.to_owned(), type_string: "s".to_owned(), value: encode::string(value) });
        Ok(())
    }

    /// The entries in order.
    pub fn entries(&self) -> &[VariantEntry] {
        &self.0
    }

    /// The first entry with this key.
    pub fn get(&self, key: &str) -> Option<&VariantEntry> {
        self.0.iter().find(|e| e.key == key)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The serialised `a{sv}`.
    pub fn encode(&self) -> Vec<u8> {
        encode::variable_array(
            self.0.iter().map(|e| {
                let mut variant = e.value.clone();
                variant.push(0);
                variant.extend_from_slice(e.type_string.as_bytes());
                encode::TupleWriter::new().variable(1, &encode::string(&e.key)).last(8, &variant).finish()
            }),
            8,
        )
    }

    /// Decodes an `a{sv}`. The framing is checked exactly (the bytes must re-encode to
    /// themselves); the values are checked to carry a plausible type string but are not
    /// decoded further.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut entries = Vec::new();
        for element in decode::variable_array(bytes, 8, "a{sv}")? {
            let mut entry = decode::TupleReader::new(element, "a{sv} entry");
            let key = decode::string(entry.variable(1)?, "metadata key")?;
            let variant = entry.last(8)?;
            entry.finish()?;
            if key.is_empty() {
                return Err(Error::malformed("a{sv} entry", "empty key"));
            }
            let split = variant
                .iter()
                .rposition(|&b| b == 0)
                .ok_or_else(|| Error::malformed("variant", "no type string separator"))?;
            let (value, type_with_nul) = variant.split_at(split);
            let type_string = type_with_nul.get(1..).unwrap_or_default();
            if type_string.is_empty() || !type_string.iter().all(|b| b"bynqiuxthdsogvam(){}".contains(b)) {
                return Err(Error::malformed(
                    "variant",
                    format!("bad type string {:?}", String::from_utf8_lossy(type_string)),
                ));
            }
            entries.push(VariantEntry {
                key: key.to_owned(),
                type_string: String::from_utf8_lossy(type_string).into_owned(),
                value: value.to_vec(),
            });
        }
        let dict = Self(entries);
        if dict.encode() != bytes {
            return Err(Error::malformed("a{sv}", "not in normal form"));
        }
        Ok(dict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_commitmeta_bytes() {
        let mut dict = VariantDict::new();
        dict.push_string("foo", "bar").unwrap();
        assert_eq!(hex::encode(dict.encode()), "666f6f0000000000626172000073040f");
        let decoded = VariantDict::decode(&dict.encode()).unwrap();
        assert_eq!(decoded.get("foo").and_then(VariantEntry::as_str), Some("bar"));
    }

    #[test]
    fn truncations_are_errors() {
        let mut dict = VariantDict::new();
        dict.push_string("version", "1.0").unwrap();
        dict.push_string("other", "x").unwrap();
        let bytes = dict.encode();
        for len in 0..bytes.len() {
            assert!(VariantDict::decode(&bytes[..len]).is_err() || len == 0);
        }
    }
}
