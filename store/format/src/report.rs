//! How reports show typed values in JSON (with the `serde` feature): identifiers, NEVRAs and
//! modes as their display form (hex checksums, `name-version-release.arch`, mode names). The
//! report structs of the store, importer and exporter name these in `serialize_with`.

use std::fmt::Display;

use serde::ser::{SerializeSeq, Serializer};

/// Serialises a value as its display form.
pub fn display<T: Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Serialises a list as the display forms of its items.
pub fn display_seq<T: Display, S: Serializer>(values: &[T], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(values.len()))?;
    for value in values {
        seq.serialize_element(&value.to_string())?;
    }
    seq.end()
}

/// Serialises an optional value as its display form, and `None` as the empty string.
pub fn display_or_empty<T: Display, S: Serializer>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_str(""),
    }
}
