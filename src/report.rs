//! What reports share: how typed values become JSON. Reports are plain structs deriving
//! `Serialize`; identifiers, NEVRAs and modes appear in JSON as their display form (hex
//! checksums, `name-version-release.arch`, mode names).

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

#[cfg(test)]
mod tests {
    use serde::Serialize;

    #[derive(Serialize)]
    struct Sample {
        #[serde(serialize_with = "super::display")]
        one: u32,
        #[serde(serialize_with = "super::display_seq")]
        many: Vec<u32>,
        #[serde(serialize_with = "super::display_or_empty")]
        some: Option<u32>,
        #[serde(serialize_with = "super::display_or_empty")]
        none: Option<u32>,
    }

    #[test]
    fn values_serialise_as_their_display_form() {
        let sample = Sample { one: 1, many: vec![2, 3], some: Some(4), none: None };
        assert_eq!(serde_json::to_string(&sample).unwrap(), r#"{"one":"1","many":["2","3"],"some":"4","none":""}"#);
    }
}
