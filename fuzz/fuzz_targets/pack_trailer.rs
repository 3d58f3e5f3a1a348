//! The pack trailer decoder on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_store::fuzzing::pack_trailer(data));
