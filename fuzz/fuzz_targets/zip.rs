//! A zip download extracted into a `Root`: confined, no panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendoras::fuzzing::zip(data));
