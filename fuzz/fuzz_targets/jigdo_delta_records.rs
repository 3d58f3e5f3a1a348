//! rejig_format::fuzzing::jigdo_delta_records on arbitrary bytes: the contents of a delta
//! records part, decoded with bounds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_format::fuzzing::jigdo_delta_records(data));
