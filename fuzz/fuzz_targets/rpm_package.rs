//! rejig_importer::fuzzing::rpm_package on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::rpm_package(data));
