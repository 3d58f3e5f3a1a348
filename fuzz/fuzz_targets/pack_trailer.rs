//! The pack trailer decoder on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_format::fuzzing::pack_trailer(data));
