//! `vendir.yml` with Secrets and ConfigMaps, through the config loader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendoras::fuzzing::config(data));
