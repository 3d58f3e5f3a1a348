//! Replays every input kept under `fuzz/regressions/<target>/` through the same checks the
//! fuzz targets run, on stable Rust, on every `cargo test`.

#![allow(clippy::unwrap_used)]

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} makes the {target} check fail", path.display());
        count += 1;
    }
    count
}

#[test]
fn ostree_object_inputs_replay() {
    assert!(replay("ostree_objects", rejig_format::fuzzing::ostree_objects) > 0, "no kept inputs to replay");
}

#[test]
fn pack_trailer_inputs_replay() {
    assert!(replay("pack_trailer", rejig_format::fuzzing::pack_trailer) > 0, "no kept inputs to replay");
}

#[test]
fn jigdo_tables_inputs_replay() {
    assert!(replay("jigdo_tables", rejig_format::fuzzing::jigdo_tables) > 0, "no kept inputs to replay");
}

#[test]
fn jigdo_delta_records_inputs_replay() {
    assert!(replay("jigdo_delta_records", rejig_format::fuzzing::jigdo_delta_records) > 0, "no kept inputs to replay");
}

#[test]
fn jigdo_records_inputs_replay() {
    assert!(replay("jigdo_records", rejig_format::fuzzing::jigdo_parts) > 0, "no kept inputs to replay");
}
