//! rejig_format::fuzzing::jigdo_parts on arbitrary bytes: a raw jigdo head (length-prefixed)
//! and the records its parts carry, decoded with bounds and assembled.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rejig_format::fuzzing::jigdo_parts(data));
