//! The OCI reference parser; what it prints parses back the same.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendoras::fuzzing::reference(data));
