//! rejig_importer::fuzzing::rpm_header on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::rpm_header(data));
