//! The jigdo tables decoder and validation on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_format::fuzzing::jigdo_tables(data));
