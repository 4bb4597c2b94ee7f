//! The lock reader; an accepted lock survives a write and a read back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendoras::fuzzing::lock(data));
