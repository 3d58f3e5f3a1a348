//! rejig_importer::fuzzing::rpm_file_table on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::rpm_file_table(data));
