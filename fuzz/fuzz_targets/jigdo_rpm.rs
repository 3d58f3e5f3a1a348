//! rejig_importer::fuzzing::jigdo_rpm on arbitrary bytes: a whole jigdo RPM, read without a
//! store (headers, Provides, payload walk, tables, new content).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::jigdo_rpm(data));
