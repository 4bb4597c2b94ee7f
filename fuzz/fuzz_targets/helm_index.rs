//! A chart repository `index.yaml`, and version selection from it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendoras::fuzzing::helm_index(data));
