//! What reports share: how typed values become JSON. Reports are plain structs deriving
//! `Serialize`; identifiers, NEVRAs and modes appear in JSON as their display form (hex
//! checksums, `name-version-release.arch`, mode names). The helpers live in
//! `rejig_format::report`, so that the store, importer and exporter reports, which the core
//! reports embed, serialise the same way.

pub use rejig_format::report::{display, display_or_empty, display_seq};

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
