//! Every OSTree object decoder on arbitrary bytes: no panic, and normal-form round trips.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_format::fuzzing::ostree_objects(data));
