//! rejig_importer::fuzzing::primary_xml on arbitrary bytes: primary metadata, decompressed by
//! magic (gzip, xz, zstd, bzip2 or none), and the offers of its packages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_importer::fuzzing::primary_xml(data));
