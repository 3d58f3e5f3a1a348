//! Replays every input kept under `fuzz/regressions/<target>/` for the importer's targets (RPM
//! packages, rpm-md metadata, jigdo RPMs) through the same checks the fuzz targets run, on
//! stable Rust, on every `cargo test`.

#![allow(clippy::unwrap_used)]

use std::path::Path;

fn inputs(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            (path, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no kept inputs for {target}");
    out
}

fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    for (path, data) in inputs(target) {
        assert!(std::panic::catch_unwind(|| check(&data)).is_ok(), "{} makes {target} fail", path.display());
    }
}

#[test]
fn rpm_header_inputs_replay() {
    replay("rpm_header", rejig_importer::fuzzing::rpm_header);
}

#[test]
fn rpm_signature_tags_inputs_replay() {
    replay("rpm_signature_tags", rejig_importer::fuzzing::rpm_signature_tags);
}

/// Every signature-tag seed yields signatures: the fuzzer starts past the header checks.
#[test]
fn rpm_signature_tags_seeds_hold_signatures() {
    for (path, data) in inputs("rpm_signature_tags") {
        let found = rejig_importer::rpm::signature::read_signatures(&mut data.as_slice())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!found.is_empty(), "{}: no signature", path.display());
    }
}

#[test]
fn rpm_file_table_inputs_replay() {
    replay("rpm_file_table", rejig_importer::fuzzing::rpm_file_table);
}

#[test]
fn rpm_package_inputs_replay() {
    replay("rpm_package", rejig_importer::fuzzing::rpm_package);
}

#[test]
fn rpm_payload_inputs_replay() {
    // The packages of the fuzz target, in its order (`fuzz/fuzz_targets/rpm_payload.rs`).
    let packages: Vec<Vec<u8>> = rejig_test_support::corpus::RPM_PAYLOAD_PACKAGES
        .iter()
        .map(|key| std::fs::read(rejig_test_support::corpus::package(key)).unwrap())
        .collect();
    replay("rpm_payload", |data| {
        if let Some((&pick, archive)) = data.split_first() {
            rejig_importer::fuzzing::rpm_payload(&packages[usize::from(pick) % packages.len()], archive);
        }
    });
}

#[test]
fn repomd_xml_inputs_replay() {
    replay("repomd_xml", rejig_importer::fuzzing::repomd_xml);
}

#[test]
fn primary_xml_inputs_replay() {
    replay("primary_xml", rejig_importer::fuzzing::primary_xml);
}

#[test]
fn jigdo_rpm_inputs_replay() {
    replay("jigdo_rpm", rejig_importer::fuzzing::jigdo_rpm);
}

#[test]
fn jigdo_part_inputs_replay() {
    replay("jigdo_part", rejig_importer::fuzzing::jigdo_part);
}

/// The part seeds are accepted as what they are: the fuzzer starts past the digests.
#[test]
fn jigdo_part_seeds_are_accepted() {
    use rejig_format::jigdo::PartKind;
    use rejig_importer::jigdo::part::{read_part_from, Expect};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/jigdo_part");
    for (seed, kind) in [("seed-records", PartKind::Records), ("seed-object", PartKind::Object)] {
        let path = dir.join(seed);
        let data = std::fs::read(&path).unwrap();
        let read = read_part_from(&data[..], seed, data.len() as u64, Expect::Kind(kind), None);
        assert!(read.is_ok(), "{}: {}", path.display(), read.unwrap_err());
    }
}

/// The jigdo seeds get past the headers, digests and payload: the fuzzer starts deep.
#[test]
fn jigdo_rpm_seeds_are_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/jigdo_rpm");
    for seed in ["seed-built", "seed-undigested"] {
        let path = dir.join(seed);
        let data = std::fs::read(&path).unwrap();
        let read = rejig_importer::jigdo::read::read_jigdo_from(&data[..], &path, data.len() as u64);
        assert!(read.is_ok(), "{}: {}", path.display(), read.unwrap_err());
    }
}
