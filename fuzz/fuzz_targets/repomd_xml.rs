//! rejig_importer::fuzzing::repomd_xml on arbitrary bytes: repomd.xml's primary entry.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::repomd_xml(data));
