//! rejig_importer::fuzzing::jigdo_part on arbitrary bytes: a jigdo part RPM of either kind,
//! read without a store (headers, name, payload walk, bounds, contents digest).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::jigdo_part(data));
