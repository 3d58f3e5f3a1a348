//! rejig_importer::fuzzing::rpm_signature_tags on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::rpm_signature_tags(data));
